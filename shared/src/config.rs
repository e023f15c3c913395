//! The model configuration: one TOML file (`infra/hawkins.toml`, deployed with the stack) that
//! declares every model the pipeline trains, registers and deploys.
//!
//! [`parse`] turns the text into a [`Config`] whose models have `[defaults]` applied and every field
//! typed, or into [`ConfigErrors`]: every problem found, each with the line, column and field it is
//! about. The deploy, each function at start and `hawkins config check` call the same function, so
//! a file that passes locally is accepted everywhere.
//!
//! `infra/hawkins.toml` documents each field. The rules that are not obvious from it:
//! - A model's `name` is lowercase letters, digits and single hyphens. It names the model's jobs
//!   ([`ModelConfig::job_name`]): a training job is `<name>-<corpus version>`, at most
//!   [`JOB_NAME_MAX`] characters, so a name has at most [`MODEL_NAME_MAX`]; a tuning job is
//!   `<name>-<first 8 characters of the version>`, at most [`TUNING_JOB_NAME_MAX`], so a tuned
//!   model's name has at most [`TUNED_MODEL_NAME_MAX`]. `<project_tag>-<name>` also fits in 63.
//! - `[defaults]` holds any model field except `name`, `kind`, `dataset`, `character` and the
//!   `tuning`, `gate` and `deploy` sections. A model's own value replaces the default, except for
//!   `hyperparameters`, which are merged key by key.
//! - Hyperparameters are scalars and reach the container as strings. `model_kind`, `base_model`,
//!   `character` and `hf_token_secret_arn` are added by Hawkins from the model's fields; keys that
//!   look like secrets are refused, since the token only ever travels as a Secrets Manager ARN.
//! - A key that is tuned (`[model.tuning.ranges]`) is not also sent as a fixed hyperparameter.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeArray, DeTable, DeValue};

use crate::manifest::VERSION_LEN;
use crate::source::slug;

/// The longest SageMaker training job name (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`).
pub const JOB_NAME_MAX: usize = 63;
/// The longest SageMaker hyperparameter tuning job name.
pub const TUNING_JOB_NAME_MAX: usize = 32;
/// Characters of the corpus version in a tuning job's name.
pub const TUNING_VERSION_LEN: usize = 8;
/// The longest model name: `<name>-<corpus version>` must fit a training job name.
pub const MODEL_NAME_MAX: usize = JOB_NAME_MAX - 1 - VERSION_LEN;
/// The longest name of a model with `[model.tuning]`: `<name>-<8 characters>` must fit a tuning
/// job name.
pub const TUNED_MODEL_NAME_MAX: usize = TUNING_JOB_NAME_MAX - 1 - TUNING_VERSION_LEN;
/// The longest `project_tag`: `<project_tag>-<name>` fits the 63 characters of an endpoint or a
/// model package group name.
pub const PROJECT_TAG_MAX: usize = JOB_NAME_MAX - 1 - MODEL_NAME_MAX;
/// SageMaker's limit on a training job's run time (and spot wait): 28 days.
pub const MAX_RUNTIME_SECONDS: u32 = 28 * 24 * 3600;
/// The longest quiet period: one day.
pub const MAX_QUIET_PERIOD_SECONDS: u32 = 24 * 3600;

const DEFAULT_QUIET_PERIOD_SECONDS: u32 = 300;
const DEFAULT_PROJECT_TAG: &str = "hawkins";
const DEFAULT_VOLUME_SIZE_GB: u32 = 30;
const MAX_VOLUME_SIZE_GB: i64 = 16_384;
const MAX_HYPERPARAMETERS: usize = 100;
const MAX_HYPERPARAMETER_VALUE_CHARS: usize = 2_500;
const MAX_METRICS: usize = 40;
const MAX_METRIC_REGEX_CHARS: usize = 500;
const MAX_RANGES: usize = 30;
const MAX_CATEGORICAL_VALUES: usize = 30;
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;
const MAX_WAIT_MINUTES: i64 = 60;
const DEFAULT_WAIT_MINUTES: u32 = 10;
const DEFAULT_CANARY_PERCENT: u8 = 10;
const DEFAULT_TARGET_INVOCATIONS: u32 = 100;
const DEFAULT_MAX_CONCURRENCY: u32 = 5;
/// Default hours without invocations before an endpoint counts as idle.
pub const DEFAULT_IDLE_HOURS: u32 = 24;
/// The longest idle threshold: 30 days.
pub const MAX_IDLE_HOURS: u32 = 720;

/// Metric names the Hawkins training container prints, as `METRIC step=<int> <name>=<float>`.
pub const CONTAINER_METRICS: [&str; 4] = ["loss", "eval_loss", "accuracy", "f1"];

/// Hyperparameters Hawkins sets from the model's own fields.
const RESERVED_HYPERPARAMETERS: [(&str, &str); 4] = [
    ("model_kind", "kind"),
    ("base_model", "base_model"),
    ("character", "character"),
    ("hf_token_secret_arn", "hf_token_secret_arn"),
];

/// The whole file: the pipeline's settings and the models, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub pipeline: Pipeline,
    pub models: Vec<ModelConfig>,
    /// `[costs]`: budgets, the idle threshold and price overrides (all optional).
    pub costs: Costs,
}

impl Config {
    /// The model with this name.
    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// `[pipeline]`: settings that are not about one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// Training starts once no upload has arrived for this long (1 s to 1 day; default 300).
    pub quiet_period_seconds: u32,
    /// The default training image of every model (see [`image_uri`]).
    pub training_image: Option<String>,
    /// The default serving image; the training image when unset (it also serves).
    pub inference_image: Option<String>,
    /// Prefix and tag value of what the pipeline creates (default `hawkins`).
    pub project_tag: String,
}

/// `[costs]`: what the scheduled cost run compares spend against, and prices that replace the
/// bundled table's (for every region).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Costs {
    /// Spend in 24 hours above which the team is alerted (dollars, > 0).
    pub daily_usd: Option<f64>,
    /// Spend in a calendar month, or its forecast, above which the team is alerted.
    pub monthly_usd: Option<f64>,
    /// Hours without invocations after which an endpoint is reported idle (1 to 720; default 24).
    pub idle_hours: u32,
    /// Instance type → $/hour for training and hosting.
    pub prices: BTreeMap<String, PriceOverride>,
}

/// One `[costs.prices]` entry: on-demand dollars per instance-hour.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PriceOverride {
    pub training: Option<f64>,
    pub hosting: Option<f64>,
}

/// What a model is: which container code trains it and which dataset it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// A character's chatbot: LoRA on an instruct model, over `chatbot/<character>.jsonl`.
    Chatbot,
    /// The location classifier: a fine-tuned encoder, over `locations/...`.
    Location,
    /// The zero-shot theme classifier, run as a batch job over `themes/...`.
    Theme,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [ModelKind::Chatbot, ModelKind::Location, ModelKind::Theme];

    /// The name in the config and in the container's `model_kind` hyperparameter.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chatbot => "chatbot",
            ModelKind::Location => "location",
            ModelKind::Theme => "theme",
        }
    }

    /// The folder of `datasets/<version>/` the ingest writes this kind's datasets into.
    pub fn dataset_folder(self) -> &'static str {
        match self {
            ModelKind::Chatbot => "chatbot/",
            ModelKind::Location => "locations/",
            ModelKind::Theme => "themes/",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a metric is better low or high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    /// The word SageMaker's tuning objective takes.
    pub fn as_sagemaker(self) -> &'static str {
        match self {
            Direction::Minimize => "Minimize",
            Direction::Maximize => "Maximize",
        }
    }

    /// True when `candidate` is better than `than`.
    pub fn better(self, candidate: f64, than: f64) -> bool {
        match self {
            Direction::Minimize => candidate < than,
            Direction::Maximize => candidate > than,
        }
    }
}

/// One of the model's training jobs: one model on one corpus version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub name: String,
    pub kind: ModelKind,
    /// Path under `datasets/<corpus version>/`, such as `chatbot/eleven.jsonl`.
    pub dataset: String,
    /// The cast name the chatbot speaks as (chatbots only).
    pub character: Option<String>,
    /// A Hugging Face model id (or a path the container can read).
    pub base_model: String,
    /// The Secrets Manager secret holding the Hugging Face token; the container reads it.
    pub hf_token_secret_arn: Option<String>,
    /// ECR image of the training job (see [`image_uri`]).
    pub training_image: String,
    /// ECR image of the endpoint or batch job; the training image unless set.
    pub inference_image: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub volume_size_gb: u32,
    /// Managed spot training; when true, `max_wait_seconds` is set and at least the run time.
    pub spot: bool,
    pub max_runtime_seconds: u32,
    /// Set exactly when `spot` is.
    pub max_wait_seconds: Option<u32>,
    /// The user's hyperparameters, as the strings SageMaker passes (see
    /// [`ModelConfig::job_hyperparameters`] for what the job gets).
    pub hyperparameters: BTreeMap<String, String>,
    pub metrics: Vec<MetricDefinition>,
    pub vpc: Option<Vpc>,
    /// KMS key (id, alias or ARN) for the job's volume and output.
    pub kms_key_id: Option<String>,
    pub network_isolation: bool,
    /// A tuning job instead of a training job.
    pub tuning: Option<Tuning>,
    /// When a trained model package is approved; none: a person approves it.
    pub gate: Option<Gate>,
    /// How an approved package is served; none: registered only.
    pub deploy: Option<Deploy>,
}

/// A metric SageMaker reads from the training log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDefinition {
    pub name: String,
    /// Compiles, with exactly one capture group: the value.
    pub regex: String,
}

/// Subnets and security groups the job runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

/// `[model.tuning]`: a hyperparameter tuning job.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// One of the model's metric names.
    pub objective: String,
    pub direction: Direction,
    pub strategy: TuningStrategy,
    pub max_jobs: u32,
    /// At most `max_jobs`.
    pub max_parallel_jobs: u32,
    pub ranges: BTreeMap<String, ParameterRange>,
}

/// How the tuning job picks the next hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuningStrategy {
    Bayesian,
    Random,
    Hyperband,
}

impl TuningStrategy {
    pub fn as_sagemaker(self) -> &'static str {
        match self {
            TuningStrategy::Bayesian => "Bayesian",
            TuningStrategy::Random => "Random",
            TuningStrategy::Hyperband => "Hyperband",
        }
    }
}

/// The values one tuned hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterRange {
    /// `min < max`; logarithmic needs `min > 0`, reverse logarithmic `0 <= min` and `max < 1`.
    Continuous {
        min: f64,
        max: f64,
        scaling: Scaling,
    },
    /// `min < max`; logarithmic needs `min > 0`.
    Integer {
        min: i64,
        max: i64,
        scaling: Scaling,
    },
    /// Distinct values, as strings.
    Categorical { values: Vec<String> },
}

/// How a numeric range is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    Auto,
    Linear,
    Logarithmic,
    ReverseLogarithmic,
}

impl Scaling {
    pub fn as_sagemaker(self) -> &'static str {
        match self {
            Scaling::Auto => "Auto",
            Scaling::Linear => "Linear",
            Scaling::Logarithmic => "Logarithmic",
            Scaling::ReverseLogarithmic => "ReverseLogarithmic",
        }
    }
}

/// `[model.gate]`: when a new model package is approved.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// One of the model's metric names.
    pub metric: String,
    pub direction: Direction,
    /// The metric must be at least this good, when set.
    pub threshold: Option<f64>,
    /// And better than the approved package's by at least this much (0: not worse).
    pub min_improvement: f64,
}

/// `[model.deploy]`: how an approved model is served.
#[derive(Debug, Clone, PartialEq)]
pub enum Deploy {
    /// An endpoint on instances, with auto scaling between `min` and `max` instances.
    Realtime {
        instance_type: String,
        initial_instance_count: u32,
        min_instances: u32,
        max_instances: u32,
        target_invocations_per_instance: u32,
        strategy: Strategy,
    },
    /// A serverless endpoint (CPU only, one variant).
    Serverless {
        memory_mb: u32,
        max_concurrency: u32,
        strategy: Strategy,
    },
    /// A batch transform job over the model's dataset (the theme model).
    Batch {
        instance_type: String,
        instance_count: u32,
    },
}

/// The three deploy modes, without their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployMode {
    Realtime,
    Serverless,
    Batch,
}

impl DeployMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployMode::Realtime => "realtime",
            DeployMode::Serverless => "serverless",
            DeployMode::Batch => "batch",
        }
    }
}

impl Deploy {
    pub fn mode(&self) -> DeployMode {
        match self {
            Deploy::Realtime { .. } => DeployMode::Realtime,
            Deploy::Serverless { .. } => DeployMode::Serverless,
            Deploy::Batch { .. } => DeployMode::Batch,
        }
    }

    /// How traffic moves to a new model (endpoints only).
    pub fn strategy(&self) -> Option<&Strategy> {
        match self {
            Deploy::Realtime { strategy, .. } | Deploy::Serverless { strategy, .. } => {
                Some(strategy)
            }
            Deploy::Batch { .. } => None,
        }
    }
}

/// How an endpoint moves from the serving model to the new one. `wait_minutes` is the baking time
/// (after each step, and after the last) during which an alarm rolls the update back.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Blue/green, all traffic at once.
    AllAtOnce { wait_minutes: u32 },
    /// `percent` of the traffic first, the rest after `wait_minutes`.
    Canary { percent: u8, wait_minutes: u32 },
    /// `step_percent` more of the traffic every `wait_minutes`.
    Linear { step_percent: u8, wait_minutes: u32 },
    /// A second variant beside the serving one, taking `weight` (0 to 1) of the traffic.
    AB { weight: f64 },
}

impl Strategy {
    /// The name in the config.
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::AllAtOnce { .. } => "all_at_once",
            Strategy::Canary { .. } => "canary",
            Strategy::Linear { .. } => "linear",
            Strategy::AB { .. } => "ab",
        }
    }
}

impl ModelConfig {
    /// The name of the job this model starts for a corpus version: `<name>-<version>`, so the
    /// same model on the same corpus is always the same job (an event delivered twice cannot start
    /// a second one). The version is lowercased and cut to letters and digits; a training job takes
    /// its first [`VERSION_LEN`] characters (at most [`JOB_NAME_MAX`] in all), a tuning job its
    /// first [`TUNING_VERSION_LEN`] (at most [`TUNING_JOB_NAME_MAX`]). Valid for SageMaker's
    /// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$` because [`parse`] checks the name.
    pub fn job_name(&self, corpus_version: &str) -> String {
        let keep = if self.tuning.is_some() {
            TUNING_VERSION_LEN
        } else {
            VERSION_LEN
        };
        let version: String = corpus_version
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(keep)
            .collect();
        if version.is_empty() {
            self.name.clone()
        } else {
            format!("{}-{version}", self.name)
        }
    }

    /// The dataset's key in the bucket for a corpus version.
    pub fn dataset_key(&self, corpus_version: &str) -> String {
        format!(
            "{}{corpus_version}/{}",
            crate::manifest::DATASETS_PREFIX,
            self.dataset
        )
    }

    /// The hyperparameters the job gets: the user's, minus the tuned ones (the tuning job sets
    /// those), plus `model_kind`, `base_model`, `character` and `hf_token_secret_arn` from the
    /// model's fields.
    pub fn job_hyperparameters(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .hyperparameters
            .iter()
            .filter(|(key, _)| {
                self.tuning
                    .as_ref()
                    .is_none_or(|t| !t.ranges.contains_key(*key))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("model_kind".into(), self.kind.as_str().into());
        out.insert("base_model".into(), self.base_model.clone());
        if let Some(character) = &self.character {
            out.insert("character".into(), character.clone());
        }
        if let Some(arn) = &self.hf_token_secret_arn {
            out.insert("hf_token_secret_arn".into(), arn.clone());
        }
        out
    }
}

/// The full image URI of an `image` value: a full ECR URI as it is, and a bare `repository:tag`
/// (or `repository@sha256:...`) in the stack's own account and region.
pub fn image_uri(image: &str, account: &str, region: &str) -> String {
    if is_full_image_uri(image) {
        image.to_string()
    } else {
        let suffix = if region.starts_with("cn-") { ".cn" } else { "" };
        format!("{account}.dkr.ecr.{region}.amazonaws.com{suffix}/{image}")
    }
}

fn is_full_image_uri(image: &str) -> bool {
    image
        .split_once('/')
        .is_some_and(|(host, _)| host.contains('.'))
}

/// One problem in the file. `line` and `column` start at 1 (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub column: usize,
    /// Where in the config, such as `model[chatbot-eleven].tuning.max_jobs`; empty for a syntax
    /// error.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one file, in the order of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .errors))]
pub struct ConfigErrors {
    /// The file name the messages start with.
    pub file: String,
    pub errors: Vec<ConfigError>,
}

/// A bad config fails the same way every time: an event that met one is not worth retrying.
impl crate::error::Retry for ConfigErrors {
    fn retryable(&self) -> bool {
        false
    }
}

fn render(file: &str, errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.line > 0 {
                format!("{file}:{e}")
            } else {
                format!("{file}: {e}")
            }
        })
        .collect();
    lines.join("\n")
}

/// For a function's build script: refuses (panics, so the build and `sam build` stop) when the
/// model config embedded in the function is invalid, naming every problem.
pub fn check_at_build(path: &str) {
    println!("cargo::rerun-if-changed={path}");
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read the model config {path}: {e}"),
    };
    if let Err(errors) = parse("infra/hawkins.toml", &text) {
        panic!("the model config is invalid:\n{errors}");
    }
}

/// Reads and parses a config file; a file that cannot be read is one error without a line.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(error) => Err(ConfigErrors {
            file,
            errors: vec![ConfigError {
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot be read: {error}"),
            }],
        }),
    }
}

/// Parses and validates a config. `file_name` only labels the messages. All problems are
/// reported, not just the first; a TOML syntax error stops before the fields are checked.
pub fn parse(file_name: &str, text: &str) -> Result<Config, ConfigErrors> {
    let mut cx = Cx {
        text,
        found: Vec::new(),
    };
    let (document, syntax) = DeTable::parse_recoverable(text);
    for error in &syntax {
        let span = error.span().unwrap_or(0..0);
        cx.push(
            span,
            String::new(),
            format!("invalid TOML: {}", error.message()),
        );
    }
    let config = if syntax.is_empty() {
        let root = Tbl {
            table: document.get_ref(),
            span: 0..0,
            path: String::new(),
        };
        read_config(&mut cx, &root)
    } else {
        None
    };
    match config {
        Some(config) if cx.found.is_empty() => Ok(config),
        _ => Err(cx.finish(file_name)),
    }
}

// ---------------------------------------------------------------------------------------------
// The reader: typed values with the place they came from, and the errors found so far.

/// Where a value is: its span in the text and its field path.
#[derive(Debug, Clone)]
struct At {
    span: Range<usize>,
    field: String,
}

#[derive(Debug, Clone)]
struct Val<T> {
    value: T,
    at: At,
}

struct Found {
    span: Range<usize>,
    field: String,
    message: String,
}

struct Cx<'t> {
    text: &'t str,
    found: Vec<Found>,
}

impl Cx<'_> {
    fn push(&mut self, span: Range<usize>, field: String, message: String) {
        self.found.push(Found {
            span,
            field,
            message,
        });
    }

    fn error(&mut self, at: &At, message: impl Into<String>) {
        self.push(at.span.clone(), at.field.clone(), message.into());
    }

    fn line_of(&self, at: &At) -> usize {
        position(self.text, at.span.start).0
    }

    fn finish(self, file: &str) -> ConfigErrors {
        let mut errors: Vec<ConfigError> = self
            .found
            .into_iter()
            .map(|f| {
                let (line, column) = position(self.text, f.span.start);
                ConfigError {
                    line,
                    column,
                    field: f.field,
                    message: f.message,
                }
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        ConfigErrors {
            file: file.to_string(),
            errors,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A table and its path in the config.
struct Tbl<'a, 'i> {
    table: &'a DeTable<'i>,
    span: Range<usize>,
    path: String,
}

impl<'a, 'i> Tbl<'a, 'i> {
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn at(&self, key: &str) -> At {
        let span = self.table.get(key).map_or(self.span.clone(), |v| v.span());
        At {
            span,
            field: self.field(key),
        }
    }

    fn here(&self) -> At {
        At {
            span: self.span.clone(),
            field: self.path.clone(),
        }
    }

    fn key_at(&self, key: &str) -> At {
        let span = self
            .table
            .get_key_value(key)
            .map_or(self.span.clone(), |(k, _)| k.span());
        At {
            span,
            field: self.field(key),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Some other key of the table is a likely misspelling of `key`.
    fn misspells(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| {
            let k: &str = k.get_ref();
            k != key && closest(k, &[key]).is_some()
        })
    }

    fn get(&self, key: &str) -> Option<(&'a DeValue<'i>, At)> {
        let table: &'a DeTable<'i> = self.table;
        table.get(key).map(|v| {
            (
                v.get_ref(),
                At {
                    span: v.span(),
                    field: self.field(key),
                },
            )
        })
    }

    /// Reports each key not in `allowed`, suggesting the closest allowed one.
    fn check_keys(&self, cx: &mut Cx<'_>, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            let key: &str = key.get_ref();
            if !allowed.contains(&key) {
                cx.error(&self.key_at(key), unknown_key(key, allowed));
            }
        }
    }

    /// Reports a missing required key at the table, unless a misspelling of it is there (that
    /// is reported as an unknown field, with the right spelling).
    fn require(&self, cx: &mut Cx<'_>, key: &str, what: &str) -> bool {
        if self.has(key) {
            return true;
        }
        if self.misspells(key) {
            return false;
        }
        let at = At {
            span: self.span.clone(),
            field: self.field(key),
        };
        cx.error(&at, format!("is missing: {what}"));
        false
    }

    fn string(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<String>> {
        let (value, at) = self.get(key)?;
        expect_string(cx, value, at)
    }

    fn int(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<i64>> {
        let (value, at) = self.get(key)?;
        expect_int(cx, value, at)
    }

    /// A whole number in `min..=max`, or an error naming the bounds and `why`.
    fn bounded(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        min: i64,
        max: i64,
        why: &str,
    ) -> Option<Val<u32>> {
        let value = self.int(cx, key)?;
        if value.value < min || value.value > max {
            let bounds = if max == i64::from(u32::MAX) {
                format!("must be at least {min}")
            } else {
                format!("must be between {min} and {max}")
            };
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            };
            cx.error(&value.at, format!("{bounds}{why}, got {}", value.value));
            return None;
        }
        Some(Val {
            value: u32::try_from(value.value).ok()?,
            at: value.at,
        })
    }

    fn float(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<f64>> {
        let (value, at) = self.get(key)?;
        expect_float(cx, value, at)
    }

    fn bool(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<bool>> {
        let (value, at) = self.get(key)?;
        match value {
            DeValue::Boolean(b) => Some(Val { value: *b, at }),
            other => {
                cx.error(&at, wrong_type("true or false", other));
                None
            }
        }
    }

    fn table(&self, cx: &mut Cx<'_>, key: &str) -> Option<Tbl<'a, 'i>> {
        let (value, at) = self.get(key)?;
        expect_table(cx, value, at)
    }

    fn array(&self, cx: &mut Cx<'_>, key: &str) -> Option<(&'a DeArray<'i>, At)> {
        let (value, at) = self.get(key)?;
        match value {
            DeValue::Array(array) => Some((array, at)),
            other => {
                cx.error(&at, wrong_type("an array", other));
                None
            }
        }
    }

    /// One of `options`, by name.
    fn choice<T: Copy>(&self, cx: &mut Cx<'_>, key: &str, options: &[(&str, T)]) -> Option<Val<T>> {
        let text = self.string(cx, key)?;
        match options.iter().find(|(name, _)| *name == text.value) {
            Some((_, value)) => Some(Val {
                value: *value,
                at: text.at,
            }),
            None => {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                let hint = match closest(&text.value, &names) {
                    Some(near) => format!(" (did you mean \"{near}\"?)"),
                    None => String::new(),
                };
                cx.error(
                    &text.at,
                    format!(
                        "must be one of {}, got \"{}\"{hint}",
                        names.join(", "),
                        text.value
                    ),
                );
                None
            }
        }
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn wrong_type(expected: &str, found: &DeValue<'_>) -> String {
    format!("must be {expected}, found {}", type_name(found))
}

fn expect_string(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<String>> {
    match value {
        DeValue::String(s) if s.trim().is_empty() => {
            cx.error(&at, "must not be empty");
            None
        }
        DeValue::String(s) => Some(Val {
            value: s.to_string(),
            at,
        }),
        other => {
            cx.error(&at, wrong_type("a string", other));
            None
        }
    }
}

fn parse_int(value: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(value.as_str(), value.radix()).ok()
}

fn expect_int(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<i64>> {
    match value {
        DeValue::Integer(i) => match parse_int(i) {
            Some(n) => Some(Val { value: n, at }),
            None => {
                cx.error(&at, "is too large");
                None
            }
        },
        DeValue::Float(f) => {
            cx.error(
                &at,
                format!("must be a whole number, found the float {}", f.as_str()),
            );
            None
        }
        other => {
            cx.error(&at, wrong_type("a whole number", other));
            None
        }
    }
}

fn expect_float(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<f64>> {
    let number = match value {
        DeValue::Integer(i) => parse_int(i).map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        other => {
            cx.error(&at, wrong_type("a number", other));
            return None;
        }
    };
    match number {
        Some(n) if n.is_finite() => Some(Val { value: n, at }),
        _ => {
            cx.error(&at, "must be a finite number");
            None
        }
    }
}

fn expect_table<'a, 'i>(cx: &mut Cx<'_>, value: &'a DeValue<'i>, at: At) -> Option<Tbl<'a, 'i>> {
    match value {
        DeValue::Table(table) => Some(Tbl {
            table,
            span: at.span,
            path: at.field,
        }),
        other => {
            cx.error(&at, wrong_type("a table", other));
            None
        }
    }
}

/// A scalar as the string SageMaker passes: strings as they are, numbers as written.
fn scalar_string(cx: &mut Cx<'_>, value: &DeValue<'_>, at: &At, what: &str) -> Option<String> {
    match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => match parse_int(i) {
            Some(n) => Some(n.to_string()),
            None => {
                cx.error(at, "is too large");
                None
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(f.as_str().to_string()),
            _ => {
                cx.error(at, "must be a finite number");
                None
            }
        },
        DeValue::Boolean(b) => Some(b.to_string()),
        other => {
            cx.error(
                at,
                format!(
                    "{what} must be a string, number or boolean, found {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

fn unknown_key(key: &str, allowed: &[&str]) -> String {
    match closest(key, allowed) {
        Some(near) => format!("unknown field `{key}` (did you mean `{near}`?)"),
        None => format!(
            "unknown field `{key}`; expected one of: {}",
            allowed.join(", ")
        ),
    }
}

/// The allowed word nearest to `word`, when it is close enough to be a typo of it.
fn closest<'w>(word: &str, allowed: &[&'w str]) -> Option<&'w str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The model's value when its own table sets the key (even to something invalid, already
/// reported), else the default.
fn pick<T>(own: Option<Val<T>>, own_set: bool, inherited: Option<Val<T>>) -> Option<Val<T>> {
    if own_set { own } else { inherited }
}

// ---------------------------------------------------------------------------------------------
// The sections.

const TOP_KEYS: &[&str] = &["pipeline", "defaults", "model", "costs"];
const COSTS_KEYS: &[&str] = &["daily_usd", "monthly_usd", "idle_hours", "prices"];
const PRICE_KEYS: &[&str] = &["training", "hosting"];
const PIPELINE_KEYS: &[&str] = &[
    "quiet_period_seconds",
    "training_image",
    "inference_image",
    "project_tag",
];
/// Fields a model shares with `[defaults]`.
const COMMON_KEYS: &[&str] = &[
    "base_model",
    "hf_token_secret_arn",
    "image",
    "inference_image",
    "instance_type",
    "instance_count",
    "volume_size_gb",
    "spot",
    "max_runtime_seconds",
    "max_wait_seconds",
    "hyperparameters",
    "metrics",
    "vpc",
    "kms_key_id",
    "network_isolation",
];
/// Fields only a model has.
const MODEL_ONLY_KEYS: &[&str] = &[
    "name",
    "kind",
    "dataset",
    "character",
    "tuning",
    "gate",
    "deploy",
];

fn read_config(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> Option<Config> {
    root.check_keys(cx, TOP_KEYS);
    let pipeline_table = root.table(cx, "pipeline");
    let pipeline = match &pipeline_table {
        Some(table) => read_pipeline(cx, table),
        None if root.has("pipeline") => None,
        None => Some(Pipeline {
            quiet_period_seconds: DEFAULT_QUIET_PERIOD_SECONDS,
            training_image: None,
            inference_image: None,
            project_tag: DEFAULT_PROJECT_TAG.into(),
        }),
    };
    let empty = DeTable::new();
    let defaults_table = root.table(cx, "defaults");
    let defaults_table = defaults_table.unwrap_or(Tbl {
        table: &empty,
        span: 0..0,
        path: "defaults".into(),
    });
    for key in MODEL_ONLY_KEYS {
        if defaults_table.has(key) {
            cx.error(
                &defaults_table.key_at(key),
                format!("`{key}` is set per model, in its [[model]] table, not in [defaults]"),
            );
        }
    }
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(MODEL_ONLY_KEYS).copied().collect();
    let unknown: Vec<&str> = defaults_table
        .table
        .iter()
        .map(|(k, _)| -> &str { k.get_ref() })
        .filter(|k| !allowed.contains(k))
        .collect();
    for key in unknown {
        cx.error(&defaults_table.key_at(key), unknown_key(key, COMMON_KEYS));
    }
    let defaults = read_common(cx, &defaults_table);
    let images = Images {
        training: pipeline.as_ref().and_then(|p| p.training_image.clone()),
        training_set: pipeline_table
            .as_ref()
            .is_some_and(|p| p.has("training_image")),
        inference: pipeline.as_ref().and_then(|p| p.inference_image.clone()),
    };

    let mut models = Vec::new();
    let mut names: BTreeMap<String, At> = BTreeMap::new();
    match root.get("model") {
        None => cx.error(
            &At {
                span: 0..0,
                field: "model".into(),
            },
            "no models: declare each model in a [[model]] table",
        ),
        Some((DeValue::Array(array), at)) => {
            if array.is_empty() {
                cx.error(&at, "no models: declare each model in a [[model]] table");
            }
            for (index, item) in array.iter().enumerate() {
                let DeValue::Table(table) = item.get_ref() else {
                    let at = At {
                        span: item.span(),
                        field: format!("model[#{}]", index + 1),
                    };
                    cx.error(&at, wrong_type("a table ([[model]])", item.get_ref()));
                    continue;
                };
                let name = match table.get("name").map(|v| v.get_ref()) {
                    Some(DeValue::String(name)) if !name.trim().is_empty() => {
                        Some(name.to_string())
                    }
                    _ => None,
                };
                let label = name.clone().unwrap_or_else(|| format!("#{}", index + 1));
                let tbl = Tbl {
                    table,
                    span: item.span(),
                    path: format!("model[{label}]"),
                };
                if let Some(name) = name {
                    if let Some(first) = names.get(&name) {
                        let line = cx.line_of(first);
                        cx.error(
                            &tbl.at("name"),
                            format!(
                                "the name \"{name}\" is already used by the model on line {line}"
                            ),
                        );
                    } else {
                        names.insert(name, tbl.at("name"));
                    }
                }
                models.extend(read_model(cx, &tbl, &defaults_table, &defaults, &images));
            }
        }
        Some((other, at)) => cx.error(
            &at,
            format!(
                "{}; write each model as a [[model]] table",
                wrong_type("an array of tables", other)
            ),
        ),
    }
    let costs = match root.table(cx, "costs") {
        Some(table) => read_costs(cx, &table),
        None if root.has("costs") => None,
        None => Some(Costs {
            idle_hours: DEFAULT_IDLE_HOURS,
            ..Costs::default()
        }),
    };
    Some(Config {
        pipeline: pipeline?,
        models,
        costs: costs?,
    })
}

/// A dollar amount that must be above zero.
fn positive_usd(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, key: &str, what: &str) -> Option<f64> {
    let value = t.float(cx, key)?;
    if value.value <= 0.0 {
        cx.error(
            &value.at,
            format!("must be more than 0 (dollars {what}), got {}", value.value),
        );
        return None;
    }
    Some(value.value)
}

fn read_costs(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Costs> {
    t.check_keys(cx, COSTS_KEYS);
    let daily_usd = positive_usd(cx, t, "daily_usd", "in 24 hours");
    let monthly_usd = positive_usd(cx, t, "monthly_usd", "in a calendar month");
    let idle = t.bounded(
        cx,
        "idle_hours",
        1,
        i64::from(MAX_IDLE_HOURS),
        "hours without invocations before an endpoint is reported idle; at most 30 days",
    );
    let mut prices = BTreeMap::new();
    let mut ok = true;
    if let Some(table) = t.table(cx, "prices") {
        for (key, _) in table.table.iter() {
            let instance_type: &str = key.get_ref();
            let name = Val {
                value: instance_type.to_string(),
                at: table.key_at(instance_type),
            };
            check_instance_type(cx, &name);
            let Some(entry) = table.table(cx, instance_type) else {
                ok = false;
                continue;
            };
            entry.check_keys(cx, PRICE_KEYS);
            let mut rate = PriceOverride::default();
            for (field, slot) in [
                ("training", &mut rate.training),
                ("hosting", &mut rate.hosting),
            ] {
                if let Some(value) = entry.float(cx, field) {
                    if value.value < 0.0 {
                        cx.error(
                            &value.at,
                            format!(
                                "must not be negative (dollars per instance-hour), got {}",
                                value.value
                            ),
                        );
                        ok = false;
                    } else {
                        *slot = Some(value.value);
                    }
                }
            }
            if !entry.has("training") && !entry.has("hosting") {
                cx.error(
                    &entry.here(),
                    "sets no price: give `training`, `hosting` or both, in dollars per instance-hour",
                );
                ok = false;
            }
            prices.insert(instance_type.to_string(), rate);
        }
    } else if t.has("prices") {
        ok = false;
    }
    let idle_hours = match idle {
        Some(v) => v.value,
        None if t.has("idle_hours") => return None,
        None => DEFAULT_IDLE_HOURS,
    };
    if !ok
        || (t.has("daily_usd") && daily_usd.is_none())
        || (t.has("monthly_usd") && monthly_usd.is_none())
    {
        return None;
    }
    Some(Costs {
        daily_usd,
        monthly_usd,
        idle_hours,
        prices,
    })
}

fn read_pipeline(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Pipeline> {
    t.check_keys(cx, PIPELINE_KEYS);
    let quiet = t.bounded(
        cx,
        "quiet_period_seconds",
        1,
        i64::from(MAX_QUIET_PERIOD_SECONDS),
        "seconds without uploads before training starts; at most one day",
    );
    let training_image = t.string(cx, "training_image");
    let inference_image = t.string(cx, "inference_image");
    for image in [&training_image, &inference_image].into_iter().flatten() {
        check_image(cx, image);
    }
    let tag = t.string(cx, "project_tag");
    if let Some(tag) = &tag {
        let ok = tag.value.len() <= PROJECT_TAG_MAX
            && tag
                .value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !tag.value.starts_with('-')
            && !tag.value.ends_with('-');
        if !ok {
            cx.error(
                &tag.at,
                format!(
                    "must be at most {PROJECT_TAG_MAX} lowercase letters, digits and hyphens (it prefixes endpoint and model package group names), got \"{}\"",
                    tag.value
                ),
            );
        }
    }
    let quiet = match quiet {
        Some(q) => Some(q.value),
        None if t.has("quiet_period_seconds") => None,
        None => Some(DEFAULT_QUIET_PERIOD_SECONDS),
    };
    Some(Pipeline {
        quiet_period_seconds: quiet?,
        training_image: training_image.map(|v| v.value),
        inference_image: inference_image.map(|v| v.value),
        project_tag: tag.map_or_else(|| DEFAULT_PROJECT_TAG.to_string(), |v| v.value),
    })
}

/// The fields `[defaults]` and a model share, each checked on its own.
#[derive(Default)]
struct Common {
    base_model: Option<Val<String>>,
    hf_token_secret_arn: Option<Val<String>>,
    image: Option<Val<String>>,
    inference_image: Option<Val<String>>,
    instance_type: Option<Val<String>>,
    instance_count: Option<Val<u32>>,
    volume_size_gb: Option<Val<u32>>,
    spot: Option<Val<bool>>,
    max_runtime_seconds: Option<Val<u32>>,
    max_wait_seconds: Option<Val<u32>>,
    hyperparameters: BTreeMap<String, Val<String>>,
    metrics: Option<Val<Vec<Metric>>>,
    vpc: Option<Val<Vpc>>,
    kms_key_id: Option<Val<String>>,
    network_isolation: Option<Val<bool>>,
}

#[derive(Clone)]
struct Metric {
    name: Val<String>,
    regex: Val<String>,
}

fn read_common(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Common {
    let base_model = t.string(cx, "base_model");
    if let Some(base) = &base_model
        && base.value.chars().any(char::is_whitespace)
    {
        cx.error(
            &base.at,
            format!(
                "must be a Hugging Face model id such as meta-llama/Llama-3.2-3B-Instruct, got \"{}\"",
                base.value
            ),
        );
    }
    let hf_token_secret_arn = t.string(cx, "hf_token_secret_arn");
    if let Some(arn) = &hf_token_secret_arn
        && !is_secret_arn(&arn.value)
    {
        cx.error(
            &arn.at,
            format!(
                "must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>), got \"{}\"",
                arn.value
            ),
        );
    }
    let image = t.string(cx, "image");
    let inference_image = t.string(cx, "inference_image");
    for image in [&image, &inference_image].into_iter().flatten() {
        check_image(cx, image);
    }
    let instance_type = t.string(cx, "instance_type");
    if let Some(instance) = &instance_type {
        check_instance_type(cx, instance);
    }
    let runtime_why = "seconds; SageMaker allows at most 28 days";
    Common {
        base_model,
        hf_token_secret_arn,
        image,
        inference_image,
        instance_type,
        instance_count: t.bounded(cx, "instance_count", 1, i64::from(u32::MAX), ""),
        volume_size_gb: t.bounded(cx, "volume_size_gb", 1, MAX_VOLUME_SIZE_GB, "GB"),
        spot: t.bool(cx, "spot"),
        max_runtime_seconds: t.bounded(
            cx,
            "max_runtime_seconds",
            1,
            i64::from(MAX_RUNTIME_SECONDS),
            runtime_why,
        ),
        max_wait_seconds: t.bounded(
            cx,
            "max_wait_seconds",
            1,
            i64::from(MAX_RUNTIME_SECONDS),
            runtime_why,
        ),
        hyperparameters: read_hyperparameters(cx, t),
        metrics: read_metrics(cx, t),
        vpc: read_vpc(cx, t),
        kms_key_id: read_kms(cx, t),
        network_isolation: t.bool(cx, "network_isolation"),
    }
}

fn read_hyperparameters(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> BTreeMap<String, Val<String>> {
    let mut out = BTreeMap::new();
    let Some(table) = t.table(cx, "hyperparameters") else {
        return out;
    };
    for (key, value) in table.table.iter() {
        let key: &str = key.get_ref();
        let key_at = table.key_at(key);
        if !check_hyperparameter_key(cx, key, &key_at) {
            continue;
        }
        let at = table.at(key);
        let Some(text) = scalar_string(cx, value.get_ref(), &at, "a hyperparameter") else {
            continue;
        };
        if text.chars().count() > MAX_HYPERPARAMETER_VALUE_CHARS {
            cx.error(
                &at,
                format!("is longer than SageMaker's {MAX_HYPERPARAMETER_VALUE_CHARS} characters"),
            );
            continue;
        }
        if looks_like_hf_token(&text) {
            cx.error(
                &at,
                "looks like a Hugging Face token: never put it in the config; store it in Secrets Manager and set hf_token_secret_arn",
            );
            continue;
        }
        out.insert(key.to_string(), Val { value: text, at });
    }
    out
}

/// Key checks shared by hyperparameters and tuning ranges; false when the key is refused.
fn check_hyperparameter_key(cx: &mut Cx<'_>, key: &str, at: &At) -> bool {
    if let Some((_, field)) = RESERVED_HYPERPARAMETERS
        .iter()
        .find(|(name, _)| *name == key)
    {
        cx.error(
            at,
            format!("is set by Hawkins from the model's `{field}` field; set that field instead"),
        );
        return false;
    }
    if looks_secret(key) {
        cx.error(
            at,
            "looks like a secret: hyperparameters are visible to anyone who can describe the job; use hf_token_secret_arn (the container reads the secret)",
        );
        return false;
    }
    if key.len() > 256
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        cx.error(at, "must be at most 256 letters, digits, '_', '.' or '-'");
        return false;
    }
    true
}

/// A key naming a credential: `hf_token`, `api_key`, `db_password`, `client_secret`, ...
fn looks_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let word = |w: &&str| {
        w.ends_with("token")
            || w.contains("secret")
            || w.contains("password")
            || w.contains("passwd")
            || w.contains("credential")
            || *w == "apikey"
    };
    let pair = |p: &[&str]| {
        matches!(
            (p[0], p[1]),
            ("api" | "access" | "private" | "secret", "key")
        )
    };
    words.iter().any(word) || words.windows(2).any(pair)
}

fn looks_like_hf_token(text: &str) -> bool {
    text.strip_prefix("hf_")
        .is_some_and(|rest| rest.len() >= 30 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn read_metrics(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Val<Vec<Metric>>> {
    let (array, at) = t.array(cx, "metrics")?;
    if array.len() > MAX_METRICS {
        cx.error(
            &at,
            format!(
                "SageMaker reads at most {MAX_METRICS} metrics, got {}",
                array.len()
            ),
        );
    }
    let mut metrics: Vec<Metric> = Vec::new();
    for (index, item) in array.iter().enumerate() {
        let item_at = At {
            span: item.span(),
            field: format!("{}[{index}]", at.field),
        };
        let Some(table) = expect_table(cx, item.get_ref(), item_at) else {
            continue;
        };
        table.check_keys(cx, &["name", "regex"]);
        table.require(cx, "name", "the metric's name, such as \"eval_loss\"");
        table.require(
            cx,
            "regex",
            "the regex over the training log whose one group is the value",
        );
        let (Some(name), Some(regex)) = (table.string(cx, "name"), table.string(cx, "regex"))
        else {
            continue;
        };
        let mut ok = true;
        if name.value.len() > 255 || name.value.chars().any(char::is_whitespace) {
            cx.error(&name.at, "must be at most 255 characters, without spaces");
            ok = false;
        }
        if let Some(first) = metrics.iter().find(|m| m.name.value == name.value) {
            let line = cx.line_of(&first.name.at);
            cx.error(
                &name.at,
                format!(
                    "the metric \"{}\" is already defined on line {line}",
                    name.value
                ),
            );
            ok = false;
        }
        // A metric with a bad regex (reported) still counts as defined for tuning and the gate.
        check_metric_regex(cx, &name.value, &regex);
        if ok {
            metrics.push(Metric { name, regex });
        }
    }
    Some(Val { value: metrics, at })
}

/// Reports a regex that does not compile, lacks exactly one capture group, or (for the container's
/// own metrics) does not read the value from the line the container prints.
fn check_metric_regex(cx: &mut Cx<'_>, name: &str, regex: &Val<String>) {
    if regex.value.len() > MAX_METRIC_REGEX_CHARS {
        cx.error(
            &regex.at,
            format!("is longer than SageMaker's {MAX_METRIC_REGEX_CHARS} characters"),
        );
        return;
    }
    let compiled = match regex::Regex::new(&regex.value) {
        Ok(compiled) => compiled,
        Err(error) => {
            let detail = error.to_string();
            let last = detail.lines().last().unwrap_or_default().trim();
            let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
            cx.error(&regex.at, format!("does not compile: {last}"));
            return;
        }
    };
    let groups = compiled.captures_len() - 1;
    if groups != 1 {
        cx.error(
            &regex.at,
            format!(
                "must have exactly one capture group, the value (use (?:...) for other groups), found {groups}"
            ),
        );
        return;
    }
    if CONTAINER_METRICS.contains(&name) {
        let line = format!("METRIC step=20 {name}=0.123456");
        let value = compiled
            .captures(&line)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        if value != Some("0.123456") {
            cx.error(
                &regex.at,
                format!(
                    "does not read the value from the line the training container prints for {name}, such as `{line}`; use \"^METRIC step=\\\\d+ {name}=([0-9.eE+-]+)$\""
                ),
            );
        }
    }
}

fn read_vpc(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Val<Vpc>> {
    let table = t.table(cx, "vpc")?;
    table.check_keys(cx, &["subnets", "security_groups"]);
    let subnets = read_ids(cx, &table, "subnets", "subnet-", MAX_SUBNETS);
    let groups = read_ids(cx, &table, "security_groups", "sg-", MAX_SECURITY_GROUPS);
    let at = table.here();
    match (table.has("subnets"), table.has("security_groups")) {
        (true, false) => {
            table.require(
                cx,
                "security_groups",
                "a job in a VPC needs both subnets and security groups",
            );
        }
        (false, true) => {
            table.require(
                cx,
                "subnets",
                "a job in a VPC needs both subnets and security groups",
            );
        }
        (false, false) => {
            cx.error(
                &at,
                "is empty: list subnets and security_groups, or remove vpc",
            );
        }
        (true, true) => {}
    }
    Some(Val {
        value: Vpc {
            subnets: subnets?,
            security_groups: groups?,
        },
        at,
    })
}

fn read_ids(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    key: &str,
    prefix: &str,
    max: usize,
) -> Option<Vec<String>> {
    let (array, at) = t.array(cx, key)?;
    if array.is_empty() || array.len() > max {
        cx.error(
            &at,
            format!("must list 1 to {max} ids, got {}", array.len()),
        );
    }
    let mut ids = Vec::new();
    let mut ok = true;
    for (index, item) in array.iter().enumerate() {
        let item_at = At {
            span: item.span(),
            field: format!("{}[{index}]", at.field),
        };
        match expect_string(cx, item.get_ref(), item_at) {
            Some(id) if id.value.starts_with(prefix) && id.value.len() > prefix.len() => {
                ids.push(id.value)
            }
            Some(id) => {
                cx.error(
                    &id.at,
                    format!("must be an id starting with {prefix}, got \"{}\"", id.value),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(ids)
}

fn read_kms(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Val<String>> {
    let key = t.string(cx, "kms_key_id")?;
    let v = key.value.as_str();
    let is_uuid = v.len() == 36
        && v.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let is_multi_region = v
        .strip_prefix("mrk-")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let is_alias = v.strip_prefix("alias/").is_some_and(|a| !a.is_empty());
    let is_arn = v.starts_with("arn:aws")
        && v.contains(":kms:")
        && (v.contains(":key/") || v.contains(":alias/"));
    if is_uuid || is_multi_region || is_alias || is_arn {
        Some(key)
    } else {
        cx.error(
            &key.at,
            format!("must be a KMS key id, alias/<name>, or a key or alias ARN, got \"{v}\""),
        );
        None
    }
}

fn is_secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "secret"
        && !parts[6].is_empty()
}

fn check_instance_type(cx: &mut Cx<'_>, instance: &Val<String>) {
    let parts: Vec<&str> = instance.value.split('.').collect();
    let ok = parts.len() == 3
        && parts[0] == "ml"
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !ok {
        cx.error(
            &instance.at,
            format!(
                "must be a SageMaker instance type such as ml.g5.2xlarge, got \"{}\"",
                instance.value
            ),
        );
    }
}

/// A full ECR image URI, or `repository:tag` / `repository@sha256:<digest>` in the stack's ECR.
fn check_image(cx: &mut Cx<'_>, image: &Val<String>) {
    let value = image.value.as_str();
    let (host, rest) = match value.split_once('/') {
        Some((host, rest)) if host.contains('.') => (Some(host), rest),
        _ => (None, value),
    };
    if let Some(host) = host {
        let labels: Vec<&str> = host.split('.').collect();
        let ecr = labels.len() >= 6
            && labels[0].len() == 12
            && labels[0].bytes().all(|b| b.is_ascii_digit())
            && labels[1] == "dkr"
            && labels[2] == "ecr"
            && labels[4] == "amazonaws";
        if !ecr {
            cx.error(
                &image.at,
                format!("must be an ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>, or <repository>:<tag> in the stack's own ECR), got \"{value}\""),
            );
            return;
        }
    }
    let (repository, pinned) = if let Some((repository, digest)) = rest.split_once('@') {
        let ok = digest
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        (repository, ok)
    } else if let Some((repository, tag)) = rest.rsplit_once(':') {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        (repository, ok)
    } else {
        cx.error(
            &image.at,
            format!("must name a tag or a digest (such as hawkins-training:1.0.0), so each deploy runs a known image; got \"{value}\""),
        );
        return;
    };
    let repository_ok = (2..=256).contains(&repository.len())
        && repository
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-".contains(&b));
    if !pinned || !repository_ok {
        cx.error(
            &image.at,
            format!("is not a valid image reference (a lowercase repository name and a tag or sha256 digest), got \"{value}\""),
        );
    }
}

fn check_model_name(cx: &mut Cx<'_>, name: &Val<String>, tuned: bool) -> bool {
    let value = name.value.as_str();
    let shape = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--");
    if !shape {
        cx.error(
            &name.at,
            format!("must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit (it names SageMaker jobs and endpoints), got \"{value}\""),
        );
        return false;
    }
    let (max, why) = if tuned {
        (
            TUNED_MODEL_NAME_MAX,
            format!(
                "a tuned model's job is <name>-<{TUNING_VERSION_LEN} characters of the corpus version> and SageMaker caps tuning job names at {TUNING_JOB_NAME_MAX}"
            ),
        )
    } else {
        (
            MODEL_NAME_MAX,
            format!(
                "its jobs are <name>-<{VERSION_LEN}-character corpus version> and SageMaker caps training job names at {JOB_NAME_MAX}"
            ),
        )
    };
    if value.len() > max {
        cx.error(
            &name.at,
            format!("is {} characters, at most {max} fit: {why}", value.len()),
        );
        return false;
    }
    true
}

/// Relative, under the kind's folder, a `.jsonl` file; for a chatbot, the file the ingest writes
/// for its character.
fn check_dataset(
    cx: &mut Cx<'_>,
    dataset: &Val<String>,
    kind: Option<ModelKind>,
    character: Option<&str>,
) {
    let value = dataset.value.as_str();
    let segments: Vec<&str> = value.split('/').collect();
    let problem = if value.contains("://") {
        Some("must be a path under datasets/<corpus version>/, not a URI".to_string())
    } else if value.starts_with('/') || value.contains('\\') {
        Some(
            "must be a relative path under datasets/<corpus version>/, with '/' between folders"
                .into(),
        )
    } else if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        Some("must not contain empty, '.' or '..' segments".into())
    } else if value.starts_with("datasets/") {
        Some("is already relative to datasets/<corpus version>/: leave that part out".into())
    } else if !value.ends_with(".jsonl") {
        Some("must name a .jsonl file the ingest writes".into())
    } else {
        None
    };
    if let Some(problem) = problem {
        cx.error(&dataset.at, format!("{problem}, got \"{value}\""));
        return;
    }
    let Some(kind) = kind else { return };
    if !value.starts_with(kind.dataset_folder()) {
        let owner = ModelKind::ALL
            .into_iter()
            .find(|k| value.starts_with(k.dataset_folder()));
        let whose = owner.map_or(String::new(), |k| {
            format!(" (\"{value}\" is a {k} dataset)")
        });
        cx.error(
            &dataset.at,
            format!(
                "a {kind} model reads a dataset under {}{whose}",
                kind.dataset_folder()
            ),
        );
        return;
    }
    if let (ModelKind::Chatbot, Some(character)) = (kind, character) {
        let expected = format!("chatbot/{}.jsonl", slug(character));
        if value != expected {
            cx.error(
                &dataset.at,
                format!("the ingest writes {character}'s conversations to \"{expected}\", got \"{value}\""),
            );
        }
    }
}

/// The pipeline's default images, for the models.
struct Images {
    training: Option<String>,
    /// Set in [pipeline], even if invalid (already reported).
    training_set: bool,
    inference: Option<String>,
}

fn read_model(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    defaults_table: &Tbl<'_, '_>,
    defaults: &Common,
    images: &Images,
) -> Option<ModelConfig> {
    let before = cx.found.len();
    let allowed: Vec<&str> = MODEL_ONLY_KEYS.iter().chain(COMMON_KEYS).copied().collect();
    t.check_keys(cx, &allowed);

    let tuned = t.has("tuning");
    t.require(cx, "name", "a unique name such as \"chatbot-eleven\"");
    let name = t
        .string(cx, "name")
        .filter(|name| check_model_name(cx, name, tuned));

    t.require(cx, "kind", "chatbot, location or theme");
    let kinds: Vec<(&str, ModelKind)> = ModelKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let kind = t.choice(cx, "kind", &kinds);
    let kind_value = kind.as_ref().map(|k| k.value);

    let character = t.string(cx, "character");
    match (kind_value, &character) {
        (Some(ModelKind::Chatbot), None) if !t.has("character") => {
            t.require(
                cx,
                "character",
                "a chatbot speaks as one character, such as \"Eleven\"",
            );
        }
        (Some(k @ (ModelKind::Location | ModelKind::Theme)), Some(c)) => {
            cx.error(
                &c.at,
                format!("only a chatbot has a character; a {k} model does not"),
            );
        }
        _ => {}
    }

    t.require(
        cx,
        "dataset",
        "the path under datasets/<corpus version>/, such as \"chatbot/eleven.jsonl\"",
    );
    let dataset = t.string(cx, "dataset");
    if let Some(dataset) = &dataset {
        check_dataset(
            cx,
            dataset,
            kind_value,
            character.as_ref().map(|c| c.value.as_str()),
        );
    }

    let own = read_common(cx, t);
    let d = defaults;
    let set = |key: &str| t.has(key);
    // Set here or in [defaults] (or misspelt in [defaults], which is reported there).
    let present =
        |key: &str| t.has(key) || defaults_table.has(key) || defaults_table.misspells(key);

    let base_model = pick(own.base_model, set("base_model"), d.base_model.clone());
    if !present("base_model") {
        let hint = match kind_value {
            Some(ModelKind::Location) => {
                "a Hugging Face encoder such as \"distilbert-base-uncased\""
            }
            Some(ModelKind::Theme) => {
                "a Hugging Face NLI model such as \"facebook/bart-large-mnli\""
            }
            _ => {
                "a Hugging Face model id such as \"meta-llama/Llama-3.2-3B-Instruct\" (here or in [defaults])"
            }
        };
        t.require(cx, "base_model", hint);
    }
    let hf_token_secret_arn = pick(
        own.hf_token_secret_arn,
        set("hf_token_secret_arn"),
        d.hf_token_secret_arn.clone(),
    );
    let image = pick(own.image, set("image"), d.image.clone())
        .map(|v| v.value)
        .or(images.training.clone());
    if !present("image") && !images.training_set {
        cx.error(
            &t.at("image"),
            "is missing: no training image; set training_image in [pipeline], or image in [defaults] or in the model",
        );
    }
    let inference_image = pick(
        own.inference_image,
        set("inference_image"),
        d.inference_image.clone(),
    )
    .map(|v| v.value)
    .or(images.inference.clone());
    let instance_type = pick(
        own.instance_type,
        set("instance_type"),
        d.instance_type.clone(),
    );
    if !present("instance_type") {
        t.require(
            cx,
            "instance_type",
            "the training instance, such as \"ml.g5.2xlarge\" (here or in [defaults])",
        );
    }
    let instance_count = pick(
        own.instance_count,
        set("instance_count"),
        d.instance_count.clone(),
    );
    let volume_size_gb = pick(
        own.volume_size_gb,
        set("volume_size_gb"),
        d.volume_size_gb.clone(),
    );
    let spot = pick(own.spot, set("spot"), d.spot.clone());
    let max_runtime = pick(
        own.max_runtime_seconds,
        set("max_runtime_seconds"),
        d.max_runtime_seconds.clone(),
    );
    if !present("max_runtime_seconds") {
        t.require(
            cx,
            "max_runtime_seconds",
            "the longest the job may run, in seconds (here or in [defaults])",
        );
    }
    let own_wait = own.max_wait_seconds.is_some();
    let max_wait = pick(
        own.max_wait_seconds,
        set("max_wait_seconds"),
        d.max_wait_seconds.clone(),
    );
    let metrics = pick(own.metrics, set("metrics"), d.metrics.clone());
    let vpc = pick(own.vpc, set("vpc"), d.vpc.clone());
    let kms_key_id = pick(own.kms_key_id, set("kms_key_id"), d.kms_key_id.clone());
    let network_isolation = pick(
        own.network_isolation,
        set("network_isolation"),
        d.network_isolation.clone(),
    );

    let mut hyperparameters = d.hyperparameters.clone();
    hyperparameters.extend(own.hyperparameters);
    if hyperparameters.len() + RESERVED_HYPERPARAMETERS.len() > MAX_HYPERPARAMETERS {
        cx.error(
            &t.at("hyperparameters"),
            format!(
                "SageMaker takes at most {MAX_HYPERPARAMETERS} hyperparameters, and Hawkins adds {}: {} are set",
                RESERVED_HYPERPARAMETERS.len(),
                hyperparameters.len()
            ),
        );
    }
    if kind_value == Some(ModelKind::Theme) && !hyperparameters.contains_key("themes") {
        let at = if t.has("hyperparameters") {
            t.at("hyperparameters")
        } else {
            t.at("kind")
        };
        let at = At {
            field: t.field("hyperparameters.themes"),
            ..at
        };
        cx.error(&at, "is missing: a theme model needs its themes, comma-separated, such as themes = \"friendship,fear,loss\"");
    }

    // Spot: SageMaker needs a wait of at least the run time, and refuses one without spot.
    let spot_on = spot.as_ref().is_some_and(|s| s.value);
    if spot_on {
        match (&max_wait, &max_runtime) {
            (None, _) if !present("max_wait_seconds") => {
                let at = spot.as_ref().map_or_else(|| t.at("spot"), |s| s.at.clone());
                cx.error(
                    &At { field: t.field("max_wait_seconds"), ..at },
                    "is missing: spot training needs max_wait_seconds, at least max_runtime_seconds (the extra is the time allowed waiting for spot capacity)",
                );
            }
            (Some(wait), Some(runtime)) if wait.value < runtime.value => {
                let at = if own_wait || !set("max_runtime_seconds") {
                    &wait.at
                } else {
                    &runtime.at
                };
                cx.error(
                    at,
                    format!(
                        "max_wait_seconds ({}, {}) must be at least max_runtime_seconds ({}, {}): the wait includes the run",
                        wait.value,
                        where_set(cx, &wait.at),
                        runtime.value,
                        where_set(cx, &runtime.at)
                    ),
                );
            }
            _ => {}
        }
    } else if let (true, Some(wait)) = (own_wait, &max_wait) {
        cx.error(
            &wait.at,
            "applies only to spot training: remove it or set spot = true",
        );
    }

    let hf_arn_on = hf_token_secret_arn.is_some();
    if let (Some(isolated), true) = (&network_isolation, hf_arn_on)
        && isolated.value
    {
        cx.error(
            &isolated.at,
            "a network-isolated job cannot reach Secrets Manager or the Hugging Face Hub, so it cannot use hf_token_secret_arn; turn isolation off or remove the token",
        );
    }

    let metric_names: Vec<String> = metrics
        .as_ref()
        .map(|m| m.value.iter().map(|m| m.name.value.clone()).collect())
        .unwrap_or_default();

    let tuning = match t.table(cx, "tuning") {
        Some(table) => read_tuning(cx, &table, kind_value, &metric_names),
        None => None,
    };
    let gate = match t.table(cx, "gate") {
        Some(table) => read_gate(cx, &table, &metric_names),
        None => None,
    };
    let deploy = match t.table(cx, "deploy") {
        Some(table) => read_deploy(cx, &table, kind_value),
        None => None,
    };

    if cx.found.len() > before {
        return None;
    }
    let hyperparameters: BTreeMap<String, String> = hyperparameters
        .into_iter()
        .map(|(k, v)| (k, v.value))
        .collect();
    let training_image = image?;
    Some(ModelConfig {
        name: name?.value,
        kind: kind?.value,
        dataset: dataset?.value,
        character: character.map(|c| c.value),
        base_model: base_model?.value,
        hf_token_secret_arn: hf_token_secret_arn.map(|v| v.value),
        inference_image: inference_image.unwrap_or_else(|| training_image.clone()),
        training_image,
        instance_type: instance_type?.value,
        instance_count: instance_count.map_or(1, |v| v.value),
        volume_size_gb: volume_size_gb.map_or(DEFAULT_VOLUME_SIZE_GB, |v| v.value),
        spot: spot_on,
        max_runtime_seconds: max_runtime?.value,
        max_wait_seconds: if spot_on {
            max_wait.map(|v| v.value)
        } else {
            None
        },
        hyperparameters,
        metrics: metrics
            .map(|m| {
                m.value
                    .into_iter()
                    .map(|m| MetricDefinition {
                        name: m.name.value,
                        regex: m.regex.value,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        vpc: vpc.map(|v| v.value),
        kms_key_id: kms_key_id.map(|v| v.value),
        network_isolation: network_isolation.is_some_and(|v| v.value),
        tuning,
        gate,
        deploy,
    })
}

/// "line N" or "[defaults] line N": where a merged value was set.
fn where_set(cx: &Cx<'_>, at: &At) -> String {
    let line = cx.line_of(at);
    if at.field.starts_with("defaults.") {
        format!("[defaults] line {line}")
    } else {
        format!("line {line}")
    }
}

const DIRECTIONS: &[(&str, Direction)] = &[
    ("minimize", Direction::Minimize),
    ("maximize", Direction::Maximize),
];

/// The metric is one of the model's.
fn check_metric_name(cx: &mut Cx<'_>, metric: &Val<String>, metric_names: &[String]) -> bool {
    if metric_names.contains(&metric.value) {
        return true;
    }
    let names: Vec<&str> = metric_names.iter().map(String::as_str).collect();
    let message = match closest(&metric.value, &names) {
        _ if names.is_empty() => {
            format!(
                "names the metric \"{}\", but this model defines no metrics: add it to metrics",
                metric.value
            )
        }
        Some(near) => format!(
            "names the metric \"{}\" (did you mean \"{near}\"?)",
            metric.value
        ),
        None => format!(
            "names the metric \"{}\", which is not one of this model's metrics ({}): add it to metrics",
            metric.value,
            names.join(", ")
        ),
    };
    cx.error(&metric.at, message);
    false
}

fn read_tuning(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
    metric_names: &[String],
) -> Option<Tuning> {
    t.check_keys(
        cx,
        &[
            "objective",
            "direction",
            "strategy",
            "max_jobs",
            "max_parallel_jobs",
            "ranges",
        ],
    );
    if kind == Some(ModelKind::Theme) {
        cx.error(
            &t.here(),
            "a theme model is not trained (its zero-shot model is only packaged), so there is nothing to tune: remove this section",
        );
    }
    t.require(
        cx,
        "objective",
        "the metric the tuning job optimises, such as \"eval_loss\"",
    );
    let objective = t
        .string(cx, "objective")
        .filter(|o| check_metric_name(cx, o, metric_names));
    t.require(cx, "direction", "minimize or maximize");
    let direction = t.choice(cx, "direction", DIRECTIONS);
    let strategy = t.choice(
        cx,
        "strategy",
        &[
            ("bayesian", TuningStrategy::Bayesian),
            ("random", TuningStrategy::Random),
            ("hyperband", TuningStrategy::Hyperband),
        ],
    );
    let strategy_set = t.has("strategy");
    t.require(
        cx,
        "max_jobs",
        "how many training jobs the tuning job may start in all",
    );
    let max_jobs = t.bounded(cx, "max_jobs", 1, i64::from(u32::MAX), "");
    let parallel = t.bounded(cx, "max_parallel_jobs", 1, i64::from(u32::MAX), "");
    if let (Some(jobs), Some(parallel)) = (&max_jobs, &parallel)
        && parallel.value > jobs.value
    {
        cx.error(
            &parallel.at,
            format!(
                "is {}, more than max_jobs ({}): at most max_jobs can run at once",
                parallel.value, jobs.value
            ),
        );
    }
    t.require(cx, "ranges", "the hyperparameters to tune, such as { learning_rate = { type = \"continuous\", min = 1e-5, max = 1e-3 } }");
    let mut ranges = BTreeMap::new();
    let mut ranges_ok = true;
    if let Some(table) = t.table(cx, "ranges") {
        let count = table.table.len();
        if count == 0 || count > MAX_RANGES {
            cx.error(
                &table.here(),
                format!("must tune 1 to {MAX_RANGES} hyperparameters, got {count}"),
            );
        }
        for (key, value) in table.table.iter() {
            let key: &str = key.get_ref();
            if !check_hyperparameter_key(cx, key, &table.key_at(key)) {
                ranges_ok = false;
                continue;
            }
            let Some(range_table) = expect_table(cx, value.get_ref(), table.at(key)) else {
                ranges_ok = false;
                continue;
            };
            match read_range(cx, &range_table) {
                Some(range) => {
                    ranges.insert(key.to_string(), range);
                }
                None => ranges_ok = false,
            }
        }
    } else {
        ranges_ok = false;
    }
    let strategy = match strategy {
        Some(s) => Some(s.value),
        None if strategy_set => None,
        None => Some(TuningStrategy::Bayesian),
    };
    let parallel = match parallel {
        Some(p) => Some(p.value),
        None if t.has("max_parallel_jobs") => None,
        None => Some(1),
    };
    if !ranges_ok || kind == Some(ModelKind::Theme) {
        return None;
    }
    Some(Tuning {
        objective: objective?.value,
        direction: direction?.value,
        strategy: strategy?,
        max_jobs: max_jobs?.value,
        max_parallel_jobs: parallel?,
        ranges,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Continuous,
    Integer,
    Categorical,
}

fn read_range(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<ParameterRange> {
    t.check_keys(cx, &["type", "min", "max", "scaling", "values"]);
    t.require(cx, "type", "continuous, integer or categorical");
    let kind = t.choice(
        cx,
        "type",
        &[
            ("continuous", RangeType::Continuous),
            ("integer", RangeType::Integer),
            ("categorical", RangeType::Categorical),
        ],
    )?;
    let (needed, refused): (&[&str], &[&str]) = match kind.value {
        RangeType::Continuous | RangeType::Integer => (&["min", "max"], &["values"]),
        RangeType::Categorical => (&["values"], &["min", "max", "scaling"]),
    };
    let label = match kind.value {
        RangeType::Continuous => "continuous",
        RangeType::Integer => "integer",
        RangeType::Categorical => "categorical",
    };
    for key in refused {
        if t.has(key) {
            cx.error(&t.key_at(key), format!("does not apply to a {label} range"));
        }
    }
    for key in needed {
        t.require(
            cx,
            key,
            &format!("a {label} range needs {}", needed.join(" and ")),
        );
    }
    if kind.value == RangeType::Categorical {
        let (array, at) = t.array(cx, "values")?;
        if array.is_empty() || array.len() > MAX_CATEGORICAL_VALUES {
            cx.error(
                &at,
                format!(
                    "must list 1 to {MAX_CATEGORICAL_VALUES} values, got {}",
                    array.len()
                ),
            );
        }
        let mut values: Vec<String> = Vec::new();
        for (index, item) in array.iter().enumerate() {
            let item_at = At {
                span: item.span(),
                field: format!("{}[{index}]", at.field),
            };
            let value = scalar_string(cx, item.get_ref(), &item_at, "a categorical value")?;
            if values.contains(&value) {
                cx.error(&item_at, format!("\"{value}\" is listed twice"));
                return None;
            }
            values.push(value);
        }
        return Some(ParameterRange::Categorical { values });
    }

    let mut scalings = vec![
        ("auto", Scaling::Auto),
        ("linear", Scaling::Linear),
        ("logarithmic", Scaling::Logarithmic),
    ];
    if kind.value == RangeType::Continuous {
        scalings.push(("reverse_logarithmic", Scaling::ReverseLogarithmic));
    }
    let scaling = match t.choice(cx, "scaling", &scalings) {
        Some(s) => s,
        None if t.has("scaling") => return None,
        None => Val {
            value: Scaling::Auto,
            at: t.at("scaling"),
        },
    };
    let (min, max) = if kind.value == RangeType::Integer {
        let (min, max) = (t.int(cx, "min")?, t.int(cx, "max")?);
        (
            Val {
                value: min.value as f64,
                at: min.at,
            },
            Val {
                value: max.value as f64,
                at: max.at,
            },
        )
    } else {
        (t.float(cx, "min")?, t.float(cx, "max")?)
    };
    if min.value >= max.value {
        cx.error(
            &min.at,
            format!("min ({}) must be less than max ({})", min.value, max.value),
        );
        return None;
    }
    match scaling.value {
        Scaling::Logarithmic if min.value <= 0.0 => {
            cx.error(
                &scaling.at,
                format!("logarithmic scaling needs min > 0, got min = {}", min.value),
            );
            return None;
        }
        Scaling::ReverseLogarithmic if min.value < 0.0 || max.value >= 1.0 => {
            cx.error(
                &scaling.at,
                format!(
                    "reverse_logarithmic scaling needs 0 <= min and max < 1, got {} to {}",
                    min.value, max.value
                ),
            );
            return None;
        }
        _ => {}
    }
    Some(match kind.value {
        RangeType::Integer => ParameterRange::Integer {
            min: min.value as i64,
            max: max.value as i64,
            scaling: scaling.value,
        },
        _ => ParameterRange::Continuous {
            min: min.value,
            max: max.value,
            scaling: scaling.value,
        },
    })
}

fn read_gate(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, metric_names: &[String]) -> Option<Gate> {
    t.check_keys(cx, &["metric", "direction", "threshold", "min_improvement"]);
    t.require(
        cx,
        "metric",
        "the metric that decides approval, such as \"eval_loss\"",
    );
    let metric = t
        .string(cx, "metric")
        .filter(|m| check_metric_name(cx, m, metric_names));
    t.require(cx, "direction", "minimize or maximize");
    let direction = t.choice(cx, "direction", DIRECTIONS);
    let threshold = t.float(cx, "threshold");
    let min_improvement = t.float(cx, "min_improvement");
    if let Some(improvement) = &min_improvement
        && improvement.value < 0.0
    {
        cx.error(
            &improvement.at,
            format!(
                "must be 0 or more (0: not worse than the approved model), got {}",
                improvement.value
            ),
        );
        return None;
    }
    if (t.has("threshold") && threshold.is_none())
        || (t.has("min_improvement") && min_improvement.is_none())
    {
        return None;
    }
    Some(Gate {
        metric: metric?.value,
        direction: direction?.value,
        threshold: threshold.map(|v| v.value),
        min_improvement: min_improvement.map_or(0.0, |v| v.value),
    })
}

const DEPLOY_KEYS: &[(&str, &[DeployMode])] = &[
    (
        "mode",
        &[
            DeployMode::Realtime,
            DeployMode::Serverless,
            DeployMode::Batch,
        ],
    ),
    ("instance_type", &[DeployMode::Realtime, DeployMode::Batch]),
    ("initial_instance_count", &[DeployMode::Realtime]),
    ("min_instances", &[DeployMode::Realtime]),
    ("max_instances", &[DeployMode::Realtime]),
    ("target_invocations_per_instance", &[DeployMode::Realtime]),
    ("instance_count", &[DeployMode::Batch]),
    ("strategy", &[DeployMode::Realtime, DeployMode::Serverless]),
    (
        "canary_percent",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    (
        "linear_step_percent",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    (
        "wait_minutes",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    ("ab_weight", &[DeployMode::Realtime]),
    ("serverless", &[DeployMode::Serverless]),
];

fn read_deploy(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, kind: Option<ModelKind>) -> Option<Deploy> {
    let keys: Vec<&str> = DEPLOY_KEYS.iter().map(|(k, _)| *k).collect();
    t.check_keys(cx, &keys);
    t.require(cx, "mode", "realtime, serverless or batch");
    let mode = t.choice(
        cx,
        "mode",
        &[
            ("realtime", DeployMode::Realtime),
            ("serverless", DeployMode::Serverless),
            ("batch", DeployMode::Batch),
        ],
    )?;
    if kind == Some(ModelKind::Theme) && mode.value != DeployMode::Batch {
        cx.error(
            &mode.at,
            format!("a theme model scores the theme batches in a batch transform job: use mode = \"batch\", got \"{}\"", mode.value.as_str()),
        );
        return None;
    }
    let mut ok = true;
    for (key, modes) in DEPLOY_KEYS {
        if t.has(key) && !modes.contains(&mode.value) {
            let names: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
            cx.error(
                &t.key_at(key),
                format!(
                    "applies only to mode = {}, not {}",
                    names.join(" or "),
                    mode.value.as_str()
                ),
            );
            ok = false;
        }
    }
    let deploy = match mode.value {
        DeployMode::Batch => {
            t.require(
                cx,
                "instance_type",
                "the batch transform instance, such as \"ml.g4dn.xlarge\"",
            );
            let instance_type = t.string(cx, "instance_type");
            if let Some(instance) = &instance_type {
                check_instance_type(cx, instance);
            }
            let count = default_u32(cx, t, "instance_count", 1, i64::from(u32::MAX), 1)?;
            Deploy::Batch {
                instance_type: instance_type?.value,
                instance_count: count,
            }
        }
        DeployMode::Realtime => {
            t.require(
                cx,
                "instance_type",
                "the endpoint instance, such as \"ml.g5.xlarge\"",
            );
            let instance_type = t.string(cx, "instance_type");
            if let Some(instance) = &instance_type {
                check_instance_type(cx, instance);
            }
            let min = default_u32(cx, t, "min_instances", 1, i64::from(u32::MAX), 1);
            let max = default_u32(
                cx,
                t,
                "max_instances",
                1,
                i64::from(u32::MAX),
                min.unwrap_or(1),
            );
            let initial = default_u32(
                cx,
                t,
                "initial_instance_count",
                1,
                i64::from(u32::MAX),
                min.unwrap_or(1),
            );
            let target = default_u32(
                cx,
                t,
                "target_invocations_per_instance",
                1,
                i64::from(u32::MAX),
                DEFAULT_TARGET_INVOCATIONS,
            );
            let strategy = read_strategy(cx, t, true);
            let (min, max, initial) = (min?, max?, initial?);
            if min > max {
                cx.error(
                    &t.at("max_instances"),
                    format!("max_instances ({max}) must be at least min_instances ({min})"),
                );
                return None;
            }
            if initial < min || initial > max {
                cx.error(
                    &t.at("initial_instance_count"),
                    format!("initial_instance_count ({initial}) must be between min_instances ({min}) and max_instances ({max})"),
                );
                return None;
            }
            let strategy = strategy?;
            Deploy::Realtime {
                instance_type: instance_type?.value,
                initial_instance_count: initial,
                min_instances: min,
                max_instances: max,
                target_invocations_per_instance: target?,
                strategy,
            }
        }
        DeployMode::Serverless => {
            t.require(cx, "serverless", "the endpoint's memory and concurrency, such as { memory_mb = 4096, max_concurrency = 5 }");
            let strategy = read_strategy(cx, t, false);
            let table = t.table(cx, "serverless")?;
            table.check_keys(cx, &["memory_mb", "max_concurrency"]);
            table.require(cx, "memory_mb", "1024, 2048, 3072, 4096, 5120 or 6144");
            let memory = table.int(cx, "memory_mb");
            if let Some(memory) = &memory
                && (!(1024..=6144).contains(&memory.value) || memory.value % 1024 != 0)
            {
                cx.error(
                    &memory.at,
                    format!("must be 1024, 2048, 3072, 4096, 5120 or 6144 (serverless memory comes in 1 GB steps up to 6 GB), got {}", memory.value),
                );
                return None;
            }
            let concurrency = default_u32(
                cx,
                &table,
                "max_concurrency",
                1,
                200,
                DEFAULT_MAX_CONCURRENCY,
            );
            Deploy::Serverless {
                memory_mb: u32::try_from(memory?.value).ok()?,
                max_concurrency: concurrency?,
                strategy: strategy?,
            }
        }
    };
    ok.then_some(deploy)
}

/// A bounded whole number, or `default` when the key is absent; None when it is set but invalid.
fn default_u32(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    key: &str,
    min: i64,
    max: i64,
    default: u32,
) -> Option<u32> {
    match t.bounded(cx, key, min, max, "") {
        Some(v) => Some(v.value),
        None if t.has(key) => None,
        None => Some(default),
    }
}

fn read_strategy(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, ab_allowed: bool) -> Option<Strategy> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Name {
        AllAtOnce,
        Canary,
        Linear,
        AB,
    }
    let name = match t.choice(
        cx,
        "strategy",
        &[
            ("all_at_once", Name::AllAtOnce),
            ("canary", Name::Canary),
            ("linear", Name::Linear),
            ("ab", Name::AB),
        ],
    ) {
        Some(name) => name,
        None if t.has("strategy") => return None,
        None => Val {
            value: Name::AllAtOnce,
            at: t.at("strategy"),
        },
    };
    if name.value == Name::AB && !ab_allowed {
        cx.error(&name.at, "a serverless endpoint has a single variant, so it cannot run an A/B test: use canary, linear or all_at_once, or mode = \"realtime\"");
        return None;
    }
    let applies: &[(&str, &[Name], &str)] = &[
        ("canary_percent", &[Name::Canary], "canary"),
        ("linear_step_percent", &[Name::Linear], "linear"),
        (
            "wait_minutes",
            &[Name::AllAtOnce, Name::Canary, Name::Linear],
            "all_at_once, canary or linear",
        ),
        ("ab_weight", &[Name::AB], "ab"),
    ];
    let mut ok = true;
    for (key, names, label) in applies {
        // A serverless ab_weight is already reported as not applying to the mode.
        let refused_by_mode = *key == "ab_weight" && !ab_allowed;
        if t.has(key) && !names.contains(&name.value) && !refused_by_mode {
            cx.error(
                &t.key_at(key),
                format!("applies only to strategy = {label}"),
            );
            ok = false;
        }
    }
    let wait_why = "SageMaker waits at most an hour between steps";
    let wait = match t.bounded(cx, "wait_minutes", 0, MAX_WAIT_MINUTES, wait_why) {
        Some(v) => v.value,
        None if t.has("wait_minutes") => return None,
        None => DEFAULT_WAIT_MINUTES,
    };
    let percent = |cx: &mut Cx<'_>, key: &str| -> Option<u8> {
        match t.bounded(
            cx,
            key,
            1,
            99,
            "a percentage of the traffic, leaving some for each side",
        ) {
            Some(v) => u8::try_from(v.value).ok(),
            None if t.has(key) => None,
            None => Some(DEFAULT_CANARY_PERCENT),
        }
    };
    let strategy = match name.value {
        Name::AllAtOnce => Strategy::AllAtOnce { wait_minutes: wait },
        Name::Canary => Strategy::Canary {
            percent: percent(cx, "canary_percent")?,
            wait_minutes: wait,
        },
        Name::Linear => Strategy::Linear {
            step_percent: percent(cx, "linear_step_percent")?,
            wait_minutes: wait,
        },
        Name::AB => {
            t.require(
                cx,
                "ab_weight",
                "the share of traffic the new variant takes, between 0 and 1, such as 0.1",
            );
            let weight = t.float(cx, "ab_weight")?;
            if weight.value <= 0.0 || weight.value >= 1.0 {
                cx.error(
                    &weight.at,
                    format!("must be between 0 and 1, exclusive (the new variant's share of the traffic), got {}", weight.value),
                );
                return None;
            }
            Strategy::AB {
                weight: weight.value,
            }
        }
    };
    ok.then_some(strategy)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small valid config; tests append to its one model or replace a line of it.
    const BASE: &str = r#"[pipeline]
training_image = "hawkins-training:1.0.0"

[defaults]
base_model = "meta-llama/Llama-3.2-3B-Instruct"
instance_type = "ml.g5.2xlarge"
max_runtime_seconds = 3600
metrics = [
    { name = "loss", regex = "^METRIC step=\\d+ loss=([0-9.eE+-]+)$" },
    { name = "eval_loss", regex = "^METRIC step=\\d+ eval_loss=([0-9.eE+-]+)$" },
]

[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
"#;

    const MODEL: &str = "model[chatbot-eleven]";

    fn with(extra: &str) -> String {
        format!("{BASE}{extra}")
    }

    fn replace(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    fn errors(text: &str) -> Vec<ConfigError> {
        match parse("test.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(errors) => errors.errors,
        }
    }

    /// The 1-based line of the last line holding `marker`.
    fn line_of(text: &str, marker: &str) -> usize {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(marker))
            .last()
            .expect(marker)
            .0
            + 1
    }

    /// Exactly one error, on the line holding `marker`, about `field`, saying `needle`.
    #[track_caller]
    fn only(text: &str, marker: &str, field: &str, needle: &str) -> ConfigError {
        let found = errors(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        let error = found.into_iter().next().expect("one");
        assert_eq!(
            (error.line, error.field.as_str()),
            (line_of(text, marker), field),
            "{error:#?}"
        );
        assert!(
            error.message.contains(needle),
            "{:?} lacks {needle:?}",
            error.message
        );
        error
    }

    /// One of the errors is on the line holding `marker`, about `field`, saying `needle`.
    #[track_caller]
    fn has(text: &str, marker: &str, field: &str, needle: &str) {
        let found = errors(text);
        let line = line_of(text, marker);
        assert!(
            found
                .iter()
                .any(|e| e.line == line && e.field == field && e.message.contains(needle)),
            "no error at line {line} on {field} saying {needle:?}: {found:#?}"
        );
    }

    fn ok(text: &str) -> Config {
        parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_base_is_valid_and_takes_the_defaults() {
        let config = ok(BASE);
        let m = &config.models[0];
        assert_eq!(m.kind, ModelKind::Chatbot);
        assert_eq!(m.instance_type, "ml.g5.2xlarge");
        assert_eq!((m.instance_count, m.volume_size_gb, m.spot), (1, 30, false));
        assert_eq!(m.training_image, "hawkins-training:1.0.0");
        assert_eq!(m.inference_image, m.training_image);
        assert_eq!(m.metrics.len(), 2);
        assert_eq!(config.pipeline.quiet_period_seconds, 300);
        assert_eq!(config.pipeline.project_tag, "hawkins");
    }

    #[test]
    fn the_project_config_is_valid() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/hawkins.toml"
        ));
        let config = parse("infra/hawkins.toml", text).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "chatbot-eleven",
                "chatbot-mike",
                "chatbot-dustin",
                "chatbot-hopper",
                "location-classifier",
                "themes"
            ]
        );
        let hopper = config.model("chatbot-hopper").expect("hopper");
        assert!(hopper.base_model.starts_with("Qwen/"));
        assert_eq!(hopper.hf_token_secret_arn, None);
        for model in &config.models {
            if model.spot {
                assert!(
                    model.max_wait_seconds >= Some(model.max_runtime_seconds),
                    "{}",
                    model.name
                );
            }
            assert!(model.instance_type.starts_with("ml."));
        }
        let themes = config.model("themes").expect("themes");
        assert_eq!(
            themes.deploy.as_ref().map(Deploy::mode),
            Some(DeployMode::Batch)
        );
        assert!(themes.max_wait_seconds.is_none());
        assert!(
            config
                .model("chatbot-eleven")
                .expect("eleven")
                .tuning
                .is_some()
        );
    }

    #[test]
    fn a_toml_syntax_error_names_its_line() {
        let text = replace("character = \"Eleven\"", "character = \"Eleven");
        let error = only(&text, "character = \"Eleven", "", "invalid TOML");
        assert_eq!(
            error.to_string().split(':').next(),
            Some(error.line.to_string().as_str())
        );
    }

    #[test]
    fn a_key_set_twice_is_a_syntax_error() {
        only(
            &with("kind = \"theme\"\n"),
            "kind = \"theme\"",
            "",
            "duplicate key",
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_nearest_spelling() {
        let text = with("instace_type = \"ml.g5.xlarge\"\n");
        let error = only(
            &text,
            "instace_type",
            &format!("{MODEL}.instace_type"),
            "did you mean `instance_type`",
        );
        assert_eq!(error.column, 1);
        only(
            &replace("[defaults]", "[defaults]\nspto = true"),
            "spto",
            "defaults.spto",
            "`spot`",
        );
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period = 300"),
            "quiet_period",
            "pipeline.quiet_period",
            "quiet_period_seconds",
        );
        only(
            &format!("{BASE}\n[modle]\nx = 1\n"),
            "[modle]",
            "modle",
            "`model`",
        );
        let text = with(
            "[model.deploy]\nmode = \"realtime\"\ninstance_type = \"ml.g5.xlarge\"\nstratgy = \"canary\"\n",
        );
        only(
            &text,
            "stratgy",
            &format!("{MODEL}.deploy.stratgy"),
            "`strategy`",
        );
        only(
            &with("metrics = [{ name = \"loss\", regx = \"x\" }]\n"),
            "regx",
            &format!("{MODEL}.metrics[0].regx"),
            "`regex`",
        );
    }

    #[test]
    fn a_model_field_in_defaults_is_refused() {
        let text = replace("[defaults]", "[defaults]\nkind = \"chatbot\"  # here");
        only(&text, "# here", "defaults.kind", "per model");
    }

    #[test]
    fn a_model_field_in_defaults_is_found_on_its_line() {
        let text = replace("[defaults]", "[defaults]\ncharacter = \"Eleven\"  # here");
        only(&text, "# here", "defaults.character", "per model");
    }

    #[test]
    fn duplicate_model_names_point_at_the_second() {
        let text = format!(
            "{BASE}\n[[model]]\nname = \"chatbot-eleven\"  # again\nkind = \"chatbot\"\ndataset = \"chatbot/eleven.jsonl\"\ncharacter = \"Eleven\"\n"
        );
        let error = only(
            &text,
            "# again",
            "model[chatbot-eleven].name",
            "already used by the model on line 14",
        );
        assert_eq!(error.column, 8);
    }

    #[test]
    fn model_names_must_fit_job_names() {
        only(
            &replace("\"chatbot-eleven\"", "\"Chatbot_Eleven\""),
            "Chatbot_Eleven",
            "model[Chatbot_Eleven].name",
            "lowercase letters",
        );
        let long = "c".repeat(MODEL_NAME_MAX + 1);
        only(
            &replace("\"chatbot-eleven\"", &format!("\"{long}\"")),
            &long,
            &format!("model[{long}].name"),
            "at most 46 fit",
        );
        let ok_long = "c".repeat(MODEL_NAME_MAX);
        ok(&replace("\"chatbot-eleven\"", &format!("\"{ok_long}\"")));
        let tuned = "chatbot-eleven-llama-3b2";
        let text = replace("\"chatbot-eleven\"", &format!("\"{tuned}\""))
            + "[model.tuning]\nobjective = \"eval_loss\"\ndirection = \"minimize\"\nmax_jobs = 4\nranges = { lora_r = { type = \"integer\", min = 8, max = 64 } }\n";
        only(
            &text,
            tuned,
            &format!("model[{tuned}].name"),
            "at most 23 fit",
        );
    }

    #[test]
    fn an_unknown_kind_suggests_the_right_one() {
        only(
            &replace("\"chatbot\"", "\"chatbott\""),
            "chatbott",
            &format!("{MODEL}.kind"),
            "did you mean \"chatbot\"",
        );
    }

    #[test]
    fn a_chatbot_needs_a_character_and_a_base_model() {
        let text = replace("character = \"Eleven\"\n", "");
        only(
            &text,
            "[[model]]",
            &format!("{MODEL}.character"),
            "is missing",
        );
        let text = replace("base_model = \"meta-llama/Llama-3.2-3B-Instruct\"\n", "");
        only(
            &text,
            "[[model]]",
            &format!("{MODEL}.base_model"),
            "is missing",
        );
    }

    #[test]
    fn only_a_chatbot_has_a_character() {
        let text = format!(
            "{BASE}\n[[model]]\nname = \"location\"\nkind = \"location\"\ndataset = \"locations/locations.jsonl\"\ncharacter = \"Hopper\"\n"
        );
        only(
            &text,
            "\"Hopper\"",
            "model[location].character",
            "only a chatbot",
        );
    }

    #[test]
    fn the_dataset_must_fit_the_kind_and_stay_relative() {
        let field = format!("{MODEL}.dataset");
        only(
            &replace("chatbot/eleven.jsonl", "themes/batches.jsonl"),
            "themes/",
            &field,
            "a theme dataset",
        );
        only(
            &replace("chatbot/eleven.jsonl", "/chatbot/eleven.jsonl"),
            "/chatbot",
            &field,
            "relative path",
        );
        only(
            &replace("chatbot/eleven.jsonl", "chatbot/../eleven.jsonl"),
            "..",
            &field,
            "'..'",
        );
        only(
            &replace("chatbot/eleven.jsonl", "datasets/chatbot/eleven.jsonl"),
            "datasets/",
            &field,
            "leave that part out",
        );
        only(
            &replace("chatbot/eleven.jsonl", "chatbot/mike-wheeler.jsonl"),
            "mike",
            &field,
            "\"chatbot/eleven.jsonl\"",
        );
        only(
            &replace("chatbot/eleven.jsonl", "chatbot/eleven.csv"),
            "eleven.csv",
            &field,
            ".jsonl",
        );
    }

    #[test]
    fn the_instance_type_is_a_sagemaker_one() {
        only(
            &with("instance_type = \"g5.2xlarge\"\n"),
            "\"g5.2xlarge\"",
            &format!("{MODEL}.instance_type"),
            "ml.g5.2xlarge",
        );
        only(
            &with("instance_count = 0\n"),
            "instance_count",
            &format!("{MODEL}.instance_count"),
            "at least 1",
        );
        only(
            &with("instance_count = \"2\"\n"),
            "instance_count",
            &format!("{MODEL}.instance_count"),
            "found a string",
        );
    }

    #[test]
    fn spot_needs_a_wait_of_at_least_the_run_time() {
        let error = only(
            &with("spot = true\n"),
            "spot = true",
            &format!("{MODEL}.max_wait_seconds"),
            "is missing",
        );
        assert_eq!(error.column, 8);
        let text = with("spot = true\nmax_wait_seconds = 1800\n");
        only(
            &text,
            "max_wait_seconds = 1800",
            &format!("{MODEL}.max_wait_seconds"),
            "(1800, line 19) must be at least max_runtime_seconds (3600, [defaults] line 7)",
        );
        only(
            &with("max_wait_seconds = 7200\n"),
            "max_wait_seconds",
            &format!("{MODEL}.max_wait_seconds"),
            "only to spot",
        );
        let config = ok(&with("spot = true\nmax_wait_seconds = 3600\n"));
        assert_eq!(config.models[0].max_wait_seconds, Some(3600));
    }

    #[test]
    fn the_run_time_is_within_sagemakers_limit() {
        let field = format!("{MODEL}.max_runtime_seconds");
        only(
            &with("max_runtime_seconds = 0\n"),
            "max_runtime_seconds = 0",
            &field,
            "between 1 and 2419200",
        );
        only(
            &with("max_runtime_seconds = 2419201\n"),
            "2419201",
            &field,
            "28 days",
        );
        ok(&with("max_runtime_seconds = 2419200\n"));
    }

    #[test]
    fn hyperparameters_are_scalars() {
        let text =
            with("hyperparameters = { epochs = 3, target_modules = [\"q_proj\", \"v_proj\"] }\n");
        only(
            &text,
            "target_modules",
            &format!("{MODEL}.hyperparameters.target_modules"),
            "string, number or boolean",
        );
        let text = with("hyperparameters = { when = 1979-11-06 }\n");
        only(
            &text,
            "when",
            &format!("{MODEL}.hyperparameters.when"),
            "found a date-time",
        );
    }

    #[test]
    fn hyperparameters_that_look_like_secrets_are_refused() {
        for key in [
            "hf_token",
            "HF_TOKEN",
            "api_key",
            "wandb_api_key",
            "password",
            "client_secret",
            "hftoken",
        ] {
            let text = with(&format!("hyperparameters = {{ {key} = \"x\" }}\n"));
            only(
                &text,
                key,
                &format!("{MODEL}.hyperparameters.{key}"),
                "use hf_token_secret_arn",
            );
        }
        let text =
            with("hyperparameters = { note = \"hf_abcdefghijklmnopqrstuvwxyz0123456789\" }\n");
        only(
            &text,
            "note",
            &format!("{MODEL}.hyperparameters.note"),
            "Hugging Face token",
        );
        ok(&with(
            "hyperparameters = { max_new_tokens = 128, tokenizer_padding = \"left\" }\n",
        ));
    }

    #[test]
    fn hyperparameters_hawkins_sets_are_refused() {
        let text = with("hyperparameters = { base_model = \"gpt2\" }\n");
        only(
            &text,
            "gpt2",
            &format!("{MODEL}.hyperparameters.base_model"),
            "model's `base_model` field",
        );
        let text = with("hyperparameters = { model_kind = \"theme\" }\n");
        only(
            &text,
            "model_kind",
            &format!("{MODEL}.hyperparameters.model_kind"),
            "`kind`",
        );
    }

    #[test]
    fn the_token_secret_is_a_secrets_manager_arn() {
        let field = format!("{MODEL}.hf_token_secret_arn");
        only(
            &with("hf_token_secret_arn = \"hf_abc\"\n"),
            "hf_abc",
            &field,
            "Secrets Manager",
        );
        only(
            &with("hf_token_secret_arn = \"arn:aws:ssm:eu-west-1:123456789012:parameter/hf\"\n"),
            "ssm",
            &field,
            "Secrets Manager",
        );
        ok(&with(
            "hf_token_secret_arn = \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-token-AbCdEf\"\n",
        ));
    }

    #[test]
    fn metric_regexes_compile_with_one_group() {
        let field = format!("{MODEL}.metrics[0].regex");
        let text =
            with("metrics = [{ name = \"loss\", regex = \"^METRIC step=\\\\d+ loss=([0-9.\" }]\n");
        only(&text, "metrics = [", &field, "does not compile");
        let text = with("metrics = [{ name = \"perplexity\", regex = \"perplexity=[0-9.]+\" }]\n");
        only(&text, "perplexity", &field, "exactly one capture group");
        let text = with(
            "metrics = [{ name = \"perplexity\", regex = \"(step=\\\\d+) perplexity=([0-9.]+)\" }]\n",
        );
        only(&text, "perplexity", &field, "found 2");
        ok(&with(
            "metrics = [{ name = \"perplexity\", regex = \"(?:step=\\\\d+) perplexity=([0-9.]+)\" }]\n",
        ));
    }

    #[test]
    fn a_container_metric_regex_must_read_the_containers_line() {
        let text = with("metrics = [{ name = \"eval_loss\", regex = \"eval-loss: ([0-9.]+)\" }]\n");
        only(
            &text,
            "eval-loss",
            &format!("{MODEL}.metrics[0].regex"),
            "METRIC step=20 eval_loss=0.123456",
        );
    }

    #[test]
    fn a_metric_defined_twice_names_the_first() {
        let text = with(
            "metrics = [\n    { name = \"loss\", regex = \"loss=([0-9.]+)\" },\n    { name = \"loss\", regex = \"loss=([0-9.]+)\" },  # again\n]\n",
        );
        only(
            &text,
            "# again",
            &format!("{MODEL}.metrics[1].name"),
            "already defined on line 19",
        );
    }

    #[test]
    fn gate_and_tuning_name_defined_metrics() {
        let text = with("[model.gate]\nmetric = \"accuracy\"\ndirection = \"maximize\"\n");
        only(
            &text,
            "\"accuracy\"",
            &format!("{MODEL}.gate.metric"),
            "not one of this model's metrics (loss, eval_loss)",
        );
        let text = with(
            "metrics = []\n[model.tuning]\nobjective = \"eval_loss\"\ndirection = \"minimize\"\nmax_jobs = 4\nranges = { lora_r = { type = \"integer\", min = 8, max = 64 } }\n",
        );
        only(
            &text,
            "objective",
            &format!("{MODEL}.tuning.objective"),
            "defines no metrics",
        );
    }

    const TUNING: &str = "[model.tuning]\nobjective = \"eval_loss\"\ndirection = \"minimize\"\nmax_jobs = 8\nmax_parallel_jobs = 2\n[model.tuning.ranges]\n";

    #[test]
    fn tuning_ranges_are_checked() {
        let field = |key: &str| format!("{MODEL}.tuning.ranges.{key}");
        let text = with(&format!(
            "{TUNING}learning_rate = {{ type = \"continuous\", min = 1e-3, max = 1e-5 }}\n"
        ));
        only(
            &text,
            "learning_rate",
            &format!("{}.min", field("learning_rate")),
            "must be less than max",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64, scaling = \"exponential\" }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.scaling", field("lora_r")),
            "must be one of auto, linear, logarithmic",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64, scaling = \"reverse_logarithmic\" }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.scaling", field("lora_r")),
            "got \"reverse_logarithmic\"",
        );
        let text = with(&format!(
            "{TUNING}warmup = {{ type = \"continuous\", min = 0, max = 0.1, scaling = \"logarithmic\" }}\n"
        ));
        only(
            &text,
            "warmup",
            &format!("{}.scaling", field("warmup")),
            "needs min > 0",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8.5, max = 64 }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.min", field("lora_r")),
            "whole number",
        );
        let text = with(&format!(
            "{TUNING}precision = {{ type = \"categorical\", values = [\"bf16\", \"bf16\"] }}\n"
        ));
        only(
            &text,
            "precision",
            &format!("{}.values[1]", field("precision")),
            "listed twice",
        );
        let text = with(&format!(
            "{TUNING}precision = {{ type = \"categorical\", values = [\"bf16\"], min = 1 }}\n"
        ));
        only(
            &text,
            "precision",
            &format!("{}.min", field("precision")),
            "does not apply to a categorical range",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integr\", min = 8, max = 64 }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.type", field("lora_r")),
            "did you mean \"integer\"",
        );
        let text = with(&format!(
            "{TUNING}hf_token = {{ type = \"categorical\", values = [\"a\"] }}\n"
        ));
        only(&text, "hf_token", &field("hf_token"), "hf_token_secret_arn");
    }

    #[test]
    fn tuning_runs_no_more_jobs_at_once_than_in_all() {
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64 }}\n"
        ))
        .replace("max_parallel_jobs = 2", "max_parallel_jobs = 10");
        only(
            &text,
            "max_parallel_jobs",
            &format!("{MODEL}.tuning.max_parallel_jobs"),
            "more than max_jobs (8)",
        );
    }

    #[test]
    fn a_tuned_model_parses_and_drops_tuned_keys_from_its_fixed_hyperparameters() {
        let text = with(&format!(
            "hyperparameters = {{ learning_rate = 2e-4, epochs = 3 }}\n{TUNING}learning_rate = {{ type = \"continuous\", min = 1e-5, max = 1e-3, scaling = \"logarithmic\" }}\nlora_dropout = {{ type = \"categorical\", values = [0.0, 0.05] }}\n"
        ));
        let config = ok(&text);
        let model = &config.models[0];
        let tuning = model.tuning.as_ref().expect("tuning");
        assert_eq!(
            (tuning.max_jobs, tuning.max_parallel_jobs, tuning.strategy),
            (8, 2, TuningStrategy::Bayesian)
        );
        assert_eq!(
            tuning.ranges["learning_rate"],
            ParameterRange::Continuous {
                min: 1e-5,
                max: 1e-3,
                scaling: Scaling::Logarithmic
            }
        );
        assert_eq!(
            tuning.ranges["lora_dropout"],
            ParameterRange::Categorical {
                values: vec!["0.0".into(), "0.05".into()]
            }
        );
        assert_eq!(model.hyperparameters["learning_rate"], "2e-4");
        let job = model.job_hyperparameters();
        assert!(!job.contains_key("learning_rate"));
        assert_eq!(job["epochs"], "3");
        assert_eq!(job["model_kind"], "chatbot");
        assert_eq!(job["character"], "Eleven");
        assert_eq!(job["base_model"], "meta-llama/Llama-3.2-3B-Instruct");
    }

    #[test]
    fn a_theme_model_is_not_tuned_and_is_served_in_batch() {
        let theme = "\n[[model]]\nname = \"themes\"\nkind = \"theme\"\ndataset = \"themes/batches.jsonl\"\nbase_model = \"facebook/bart-large-mnli\"\nhyperparameters = { themes = \"fear,friendship\" }\n";
        ok(&format!(
            "{BASE}{theme}[model.deploy]\nmode = \"batch\"\ninstance_type = \"ml.m5.xlarge\"\n"
        ));
        let text = format!(
            "{BASE}{theme}[model.deploy]\nmode = \"realtime\"\ninstance_type = \"ml.m5.xlarge\"\n"
        );
        only(
            &text,
            "mode = \"realtime\"",
            "model[themes].deploy.mode",
            "use mode = \"batch\"",
        );
        let text = format!(
            "{BASE}{theme}[model.tuning]\nobjective = \"loss\"\ndirection = \"minimize\"\nmax_jobs = 2\nranges = {{ seed = {{ type = \"integer\", min = 1, max = 9 }} }}\n"
        );
        only(
            &text,
            "[model.tuning]",
            "model[themes].tuning",
            "nothing to tune",
        );
        let text = format!("{BASE}{theme}")
            .replace("hyperparameters = { themes = \"fear,friendship\" }\n", "");
        only(
            &text,
            "kind = \"theme\"",
            "model[themes].hyperparameters.themes",
            "needs its themes",
        );
    }

    #[test]
    fn a_vpc_needs_subnets_and_security_groups() {
        let text = with("vpc = { subnets = [\"subnet-0a1b2c3d\"] }\n");
        only(
            &text,
            "vpc = ",
            &format!("{MODEL}.vpc.security_groups"),
            "both subnets and security groups",
        );
        let text =
            with("vpc = { subnets = [\"subnet-0a1b2c3d\"], security_groups = [\"0a1b2c3d\"] }\n");
        only(
            &text,
            "vpc = ",
            &format!("{MODEL}.vpc.security_groups[0]"),
            "starting with sg-",
        );
        let config = ok(&with(
            "vpc = { subnets = [\"subnet-0a1b2c3d\"], security_groups = [\"sg-0a1b2c3d\"] }\n",
        ));
        assert_eq!(
            config.models[0]
                .vpc
                .as_ref()
                .map(|v| v.security_groups.len()),
            Some(1)
        );
    }

    #[test]
    fn the_kms_key_and_isolation_are_checked() {
        only(
            &with("kms_key_id = \"my key\"\n"),
            "kms_key_id",
            &format!("{MODEL}.kms_key_id"),
            "KMS key id",
        );
        ok(&with("kms_key_id = \"alias/hawkins\"\n"));
        ok(&with(
            "kms_key_id = \"1234abcd-12ab-34cd-56ef-1234567890ab\"\n",
        ));
        let text = with(
            "hf_token_secret_arn = \"arn:aws:secretsmanager:eu-west-1:123456789012:secret:hf-AbCdEf\"\nnetwork_isolation = true\n",
        );
        only(
            &text,
            "network_isolation",
            &format!("{MODEL}.network_isolation"),
            "cannot reach Secrets Manager",
        );
    }

    const DEPLOY: &str = "[model.deploy]\nmode = \"realtime\"\ninstance_type = \"ml.g5.xlarge\"\n";

    #[test]
    fn realtime_deploy_settings_are_checked() {
        let field = |key: &str| format!("{MODEL}.deploy.{key}");
        let text = with(&format!("{DEPLOY}min_instances = 3\nmax_instances = 2\n"));
        only(
            &text,
            "max_instances",
            &field("max_instances"),
            "must be at least min_instances (3)",
        );
        let text = with(&format!(
            "{DEPLOY}strategy = \"canary\"\ncanary_percent = 100\n"
        ));
        only(
            &text,
            "canary_percent",
            &field("canary_percent"),
            "between 1 and 99",
        );
        let text = with(&format!(
            "{DEPLOY}strategy = \"canary\"\ncanary_percent = 0\n"
        ));
        only(
            &text,
            "canary_percent",
            &field("canary_percent"),
            "between 1 and 99",
        );
        let text = with(&format!("{DEPLOY}strategy = \"ab\"\nab_weight = 1.0\n"));
        only(
            &text,
            "ab_weight",
            &field("ab_weight"),
            "between 0 and 1, exclusive",
        );
        let text = with(&format!("{DEPLOY}strategy = \"ab\"\n"));
        only(&text, "[model.deploy]", &field("ab_weight"), "is missing");
        let text = with(&format!("{DEPLOY}strategy = \"canary\"\nab_weight = 0.5\n"));
        only(
            &text,
            "ab_weight",
            &field("ab_weight"),
            "only to strategy = ab",
        );
        let text = with(&format!("{DEPLOY}wait_minutes = 90\n"));
        only(
            &text,
            "wait_minutes",
            &field("wait_minutes"),
            "between 0 and 60",
        );
        let text = with(&format!("{DEPLOY}instance_type = \"ml.g5.xlarge\"\n"));
        only(
            &text,
            "instance_type = \"ml.g5.xlarge\"",
            "",
            "duplicate key",
        );
    }

    #[test]
    fn a_realtime_deploy_parses_with_its_defaults() {
        let config = ok(&with(&format!(
            "{DEPLOY}max_instances = 4\nstrategy = \"linear\"\nlinear_step_percent = 25\n"
        )));
        assert_eq!(
            config.models[0].deploy,
            Some(Deploy::Realtime {
                instance_type: "ml.g5.xlarge".into(),
                initial_instance_count: 1,
                min_instances: 1,
                max_instances: 4,
                target_invocations_per_instance: 100,
                strategy: Strategy::Linear {
                    step_percent: 25,
                    wait_minutes: 10
                },
            })
        );
    }

    #[test]
    fn serverless_deploy_settings_are_checked() {
        let field = |key: &str| format!("{MODEL}.deploy.{key}");
        let serverless = "[model.deploy]\nmode = \"serverless\"\n";
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 5000 }}\n"
        ));
        only(
            &text,
            "memory_mb",
            &field("serverless.memory_mb"),
            "1024, 2048",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 8192 }}\n"
        ));
        only(
            &text,
            "memory_mb",
            &field("serverless.memory_mb"),
            "up to 6 GB",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\nstrategy = \"ab\"\n"
        ));
        has(
            &text,
            "strategy = \"ab\"",
            &field("strategy"),
            "single variant",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\ninstance_type = \"ml.m5.large\"\n"
        ));
        only(
            &text,
            "instance_type",
            &field("instance_type"),
            "applies only to mode = realtime or batch",
        );
        let text = with(serverless);
        only(&text, "[model.deploy]", &field("serverless"), "is missing");
        let config = ok(&with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\n"
        )));
        assert_eq!(
            config.models[0].deploy,
            Some(Deploy::Serverless {
                memory_mb: 2048,
                max_concurrency: 5,
                strategy: Strategy::AllAtOnce { wait_minutes: 10 }
            })
        );
    }

    #[test]
    fn the_quiet_period_is_between_a_second_and_a_day() {
        let field = "pipeline.quiet_period_seconds";
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period_seconds = 0"),
            "quiet_period_seconds",
            field,
            "between 1 and 86400",
        );
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period_seconds = 86401"),
            "quiet_period_seconds",
            field,
            "at most one day",
        );
        let config = ok(&replace(
            "[pipeline]",
            "[pipeline]\nquiet_period_seconds = 600",
        ));
        assert_eq!(config.pipeline.quiet_period_seconds, 600);
    }

    #[test]
    fn images_are_pinned_ecr_images() {
        let field = "pipeline.training_image";
        only(
            &replace("hawkins-training:1.0.0", "hawkins-training"),
            "training_image",
            field,
            "must name a tag or a digest",
        );
        only(
            &replace("hawkins-training:1.0.0", "docker.io/library/python:3.11"),
            "training_image",
            field,
            "must be an ECR image",
        );
        ok(&replace(
            "hawkins-training:1.0.0",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hawkins-training:abc123",
        ));
        let text = replace("training_image = \"hawkins-training:1.0.0\"\n", "");
        only(
            &text,
            "[[model]]",
            &format!("{MODEL}.image"),
            "no training image",
        );
        let config = ok(&with(
            "image = \"hawkins-chatbot:2\"\ninference_image = \"hawkins-serve:2\"\n",
        ));
        assert_eq!(
            (
                config.models[0].training_image.as_str(),
                config.models[0].inference_image.as_str()
            ),
            ("hawkins-chatbot:2", "hawkins-serve:2")
        );
    }

    #[test]
    fn image_uris_resolve_in_the_stacks_account() {
        assert_eq!(
            image_uri("hawkins-training:1.0.0", "123456789012", "eu-west-1"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hawkins-training:1.0.0"
        );
        let full = "210987654321.dkr.ecr.us-east-1.amazonaws.com/hawkins-training:1.0.0";
        assert_eq!(image_uri(full, "123456789012", "eu-west-1"), full);
    }

    #[test]
    fn the_model_list_is_an_array_of_tables() {
        let text = "[pipeline]\ntraining_image = \"hawkins-training:1\"\n";
        let found = errors(text);
        assert_eq!((found.len(), found[0].field.as_str()), (1, "model"));
        assert!(found[0].message.contains("no models"));
        let text = "[model]\nname = \"x\"\n";
        only(text, "[model]", "model", "[[model]]");
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = with("instance_count = 0\nspot = true\nhyperparameters = { hf_token = \"x\" }\n[model.gate]\nmetric = \"f1\"\ndirection = \"up\"\n")
            .replace("kind = \"chatbot\"", "kind = \"chatbt\"");
        let found = errors(&text);
        let fields: Vec<&str> = found
            .iter()
            .map(|e| e.field.rsplit('.').next().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            [
                "kind",
                "instance_count",
                "max_wait_seconds",
                "hf_token",
                "metric",
                "direction"
            ],
            "{found:#?}"
        );
        let lines: Vec<usize> = found.iter().map(|e| e.line).collect();
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    }

    #[test]
    fn errors_display_as_file_line_column_field_message() {
        let err = parse("infra/hawkins.toml", &with("instance_count = 0\n")).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            format!("infra/hawkins.toml:18:18: {MODEL}.instance_count: must be at least 1, got 0")
        );
        let err = parse("a.toml", &with("instance_count = 0\nvolume_size_gb = 0\n"))
            .expect_err("rejected");
        assert_eq!(err.to_string().lines().count(), 2);
    }

    #[test]
    fn defaults_merge_and_models_override() {
        let text = replace(
            "max_runtime_seconds = 3600",
            "max_runtime_seconds = 3600\nspot = true\nmax_wait_seconds = 7200\nhyperparameters = { seed = 1, epochs = 2 }",
        ) + "hyperparameters = { epochs = 5, learning_rate = 0.0001 }\nspot = false\ninstance_type = \"ml.g5.4xlarge\"\n";
        let config = ok(&text);
        let model = &config.models[0];
        assert_eq!(model.instance_type, "ml.g5.4xlarge");
        assert!(!model.spot);
        assert_eq!(model.max_wait_seconds, None);
        let hyper: Vec<(&str, &str)> = model
            .hyperparameters
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            hyper,
            [("epochs", "5"), ("learning_rate", "0.0001"), ("seed", "1")]
        );
    }

    #[test]
    fn job_names_are_deterministic_and_valid_for_sagemaker() {
        let long = "c".repeat(MODEL_NAME_MAX);
        let config = ok(&replace("\"chatbot-eleven\"", &format!("\"{long}\"")));
        let model = &config.models[0];
        let version = "0123456789abcdef";
        let name = model.job_name(version);
        assert_eq!(name, format!("{long}-{version}"));
        assert_eq!(name.len(), JOB_NAME_MAX);
        assert_eq!(model.job_name(version), name);
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert_eq!(
            model.dataset_key(version),
            format!("datasets/{version}/chatbot/eleven.jsonl")
        );

        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64 }}\n"
        ))
        .replace(
            "\"chatbot-eleven\"",
            &format!("\"{}\"", "t".repeat(TUNED_MODEL_NAME_MAX)),
        );
        let config = ok(&text);
        let tuned = config.models[0].job_name(version);
        assert_eq!(tuned.len(), TUNING_JOB_NAME_MAX);
        assert!(tuned.ends_with("-01234567"));
    }

    #[test]
    fn limits_are_what_sagemaker_allows() {
        assert_eq!(
            (MODEL_NAME_MAX, TUNED_MODEL_NAME_MAX, PROJECT_TAG_MAX),
            (46, 23, 16)
        );
        assert_eq!(MAX_RUNTIME_SECONDS, 2_419_200);
    }

    #[test]
    fn a_missing_file_is_one_error() {
        let err = load(Path::new("/nonexistent/hawkins.toml")).expect_err("missing");
        assert_eq!(err.errors.len(), 1);
        assert!(
            err.to_string()
                .starts_with("/nonexistent/hawkins.toml: cannot be read"),
            "{err}"
        );
    }
    #[test]
    fn costs_default_to_no_budget_and_a_day_of_idleness() {
        let config = ok(BASE);
        assert_eq!(config.costs.idle_hours, DEFAULT_IDLE_HOURS);
        assert_eq!(
            (config.costs.daily_usd, config.costs.monthly_usd),
            (None, None)
        );
        assert!(config.costs.prices.is_empty());
    }

    #[test]
    fn costs_read_budgets_and_price_overrides() {
        let config = ok(&with(
            "\n[costs]\ndaily_usd = 50\nmonthly_usd = 1000.5\nidle_hours = 12\nprices = { \"ml.g5.2xlarge\" = { training = 1.515, hosting = 1.6 }, \"ml.inf2.xlarge\" = { hosting = 0.99 } }\n",
        ));
        let costs = &config.costs;
        assert_eq!(
            (costs.daily_usd, costs.monthly_usd, costs.idle_hours),
            (Some(50.0), Some(1000.5), 12)
        );
        assert_eq!(
            costs.prices["ml.g5.2xlarge"],
            PriceOverride {
                training: Some(1.515),
                hosting: Some(1.6)
            }
        );
        assert_eq!(costs.prices["ml.inf2.xlarge"].training, None);
    }

    #[test]
    fn an_unknown_costs_field_is_named() {
        only(
            &with("\n[costs]\nmonthly_budget = 10\n"),
            "monthly_budget",
            "costs.monthly_budget",
            "unknown field `monthly_budget`",
        );
    }

    #[test]
    fn a_budget_must_be_positive() {
        only(
            &with("\n[costs]\ndaily_usd = 0\n"),
            "daily_usd",
            "costs.daily_usd",
            "must be more than 0",
        );
        only(
            &with("\n[costs]\nmonthly_usd = \"lots\"\n"),
            "monthly_usd",
            "costs.monthly_usd",
            "must be a number",
        );
    }

    #[test]
    fn idle_hours_are_bounded() {
        only(
            &with("\n[costs]\nidle_hours = 0\n"),
            "idle_hours",
            "costs.idle_hours",
            "must be between 1 and 720",
        );
        only(
            &with("\n[costs]\nidle_hours = 721\n"),
            "idle_hours",
            "costs.idle_hours",
            "must be between 1 and 720",
        );
    }

    #[test]
    fn a_price_override_names_a_sagemaker_instance_type() {
        only(
            &with("\n[costs.prices]\n\"g5.2xlarge\" = { training = 1.0 }\n"),
            "g5.2xlarge",
            "costs.prices.g5.2xlarge",
            "must be a SageMaker instance type",
        );
    }

    #[test]
    fn a_price_must_not_be_negative() {
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = { training = -1.0 }\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge.training",
            "must not be negative",
        );
    }

    #[test]
    fn a_price_override_sets_a_price_and_nothing_else() {
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = {}\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge",
            "sets no price",
        );
        has(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = { trainig = 1.0 }\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge.trainig",
            "did you mean `training`",
        );
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = 1.5\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge",
            "must be a table",
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    const PROJECT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/hawkins.toml"
    ));

    /// Every error points inside the file.
    fn check(text: &str) {
        if let Err(errors) = parse("p.toml", text) {
            assert!(!errors.errors.is_empty());
            let lines = text.split('\n').count();
            for error in &errors.errors {
                assert!(
                    (1..=lines).contains(&error.line),
                    "{error:?} in {lines} lines"
                );
                assert!(error.column >= 1);
            }
        }
    }

    proptest! {
        // Each case compiles the project's metric regexes: fewer cases keep the suite quick.
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in "\\PC{0,400}") {
            check(&text);
        }

        #[test]
        fn the_project_config_with_a_line_removed_never_panics(index in 0usize..400) {
            let lines: Vec<&str> = PROJECT.lines().collect();
            let index = index % lines.len();
            let text: Vec<&str> =
                lines.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, l)| *l).collect();
            check(&text.join("\n"));
        }

        #[test]
        fn the_project_config_with_a_value_changed_never_panics(
            index in 0usize..400,
            value in prop_oneof![
                Just("0".to_string()),
                Just("-1".to_string()),
                Just("\"\"".to_string()),
                Just("[]".to_string()),
                Just("{}".to_string()),
                Just("1e400".to_string()),
                Just("9223372036854775808".to_string()),
                Just("nan".to_string()),
                Just("true".to_string()),
                "\"[a-z_./-]{0,12}\"",
            ],
        ) {
            let lines: Vec<String> = PROJECT.lines().map(String::from).collect();
            let index = index % lines.len();
            let mut changed = lines.clone();
            if let Some((key, _)) = lines[index].split_once(" = ") {
                changed[index] = format!("{key} = {value}");
            }
            check(&changed.join("\n"));
        }
    }
}
