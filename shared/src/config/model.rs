//! `[[model]]` and `[defaults]`: each model's identity (name, kind, dataset, character), its
//! training job (base model, images, instances, spot, run time, hyperparameters, metrics, VPC,
//! KMS key, network isolation) with `[defaults]` applied, and its own sections, read by
//! `tuning`, `gate` and `deploy`. Also the checks those sections share: instance types, images,
//! hyperparameter keys and metric names.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::deploy::{Deploy, read_deploy};
use super::gate::{Gate, GateSection, read_gate_section};
use super::pipeline::Images;
use super::reader::{
    At, Cx, Tbl, Val, closest, expect_string, expect_table, scalar_string, unknown_key, wrong_type,
};
use super::tuning::{Tuning, read_tuning};
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
/// SageMaker's limit on a training job's run time (and spot wait): 28 days.
pub const MAX_RUNTIME_SECONDS: u32 = 28 * 24 * 3600;

const DEFAULT_VOLUME_SIZE_GB: u32 = 30;
const MAX_VOLUME_SIZE_GB: i64 = 16_384;
const MAX_HYPERPARAMETERS: usize = 100;
const MAX_HYPERPARAMETER_VALUE_CHARS: usize = 2_500;
const MAX_METRICS: usize = 40;
const MAX_METRIC_REGEX_CHARS: usize = 500;
const MAX_SUBNETS: usize = 16;
const MAX_SECURITY_GROUPS: usize = 5;

/// Metric names the Hawkins training container prints, as `METRIC step=<int> <name>=<float>`.
pub const CONTAINER_METRICS: [&str; 4] = ["loss", "eval_loss", "accuracy", "f1"];

/// Hyperparameters Hawkins sets from the model's own fields.
const RESERVED_HYPERPARAMETERS: [(&str, &str); 4] = [
    ("model_kind", "kind"),
    ("base_model", "base_model"),
    ("character", "character"),
    ("hf_token_secret_arn", "hf_token_secret_arn"),
];

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
    /// `[model.gate] approval = "auto"` (theme models only): every package is approved when it is
    /// registered, with no metric read; `gate` is then none.
    pub auto_approve: bool,
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

impl ModelConfig {
    /// The name of a job of this model: `<name>-<suffix>`, where the suffix is the first half of
    /// its length taken from the corpus version and the second half from `identity` (a hash of
    /// the model's training config and the attempt, see
    /// [`crate::training::job_identity`]). So the same model on the same corpus with the same
    /// config is always the same job (an event delivered twice cannot start a second one), while
    /// a changed config or a person's new attempt is a new job. Both parts are lowercased and cut
    /// to letters and digits; a training job's suffix has [`VERSION_LEN`] characters (at most
    /// [`JOB_NAME_MAX`] in all), a tuning job's [`TUNING_VERSION_LEN`] (at most
    /// [`TUNING_JOB_NAME_MAX`]). Valid for SageMaker's `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`
    /// because [`parse`](super::parse) checks the name.
    pub fn job_name(&self, corpus_version: &str, identity: &str) -> String {
        let keep = if self.tuning.is_some() {
            TUNING_VERSION_LEN
        } else {
            VERSION_LEN
        };
        let clean = |text: &str, n: usize| -> String {
            text.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .take(n)
                .collect()
        };
        let version = clean(corpus_version, keep / 2);
        let suffix = version.clone() + &clean(identity, keep - version.len());
        if suffix.is_empty() {
            self.name.clone()
        } else {
            format!("{}-{suffix}", self.name)
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
/// The fields `[defaults]` and a model share, each checked on its own.
#[derive(Default)]
pub(super) struct Common {
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

/// A metric as read, with where its name and regex are.
#[derive(Clone)]
struct Metric {
    name: Val<String>,
    regex: Val<String>,
}

/// The fields a model shares with `[defaults]`, from one table.
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

/// `hyperparameters`: scalars as SageMaker's strings; reserved, secret-looking and invalid keys
/// refused.
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
pub(super) fn check_hyperparameter_key(cx: &mut Cx<'_>, key: &str, at: &At) -> bool {
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

/// A value that looks like a Hugging Face access token.
fn looks_like_hf_token(text: &str) -> bool {
    text.strip_prefix("hf_")
        .is_some_and(|rest| rest.len() >= 30 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `metrics`: named regexes over the training log, each name defined once.
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

/// `vpc`: the subnets and security groups the job runs in, both needed.
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

/// A list of 1 to `max` AWS ids starting with `prefix`.
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

/// `kms_key_id`: a KMS key id, multi-region key id, alias, or key or alias ARN.
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

/// The ARN of a Secrets Manager secret.
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

/// A SageMaker instance type, such as `ml.g5.2xlarge`.
pub(super) fn check_instance_type(cx: &mut Cx<'_>, instance: &Val<String>) {
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
pub(super) fn check_image(cx: &mut Cx<'_>, image: &Val<String>) {
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

/// Lowercase letters, digits and single hyphens, short enough for the model's job names.
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
                "a tuned model's job is <name>-<{TUNING_VERSION_LEN} characters of corpus version and config> and SageMaker caps tuning job names at {TUNING_JOB_NAME_MAX}"
            ),
        )
    } else {
        (
            MODEL_NAME_MAX,
            format!(
                "its jobs are <name>-<{VERSION_LEN} characters of corpus version and config> and SageMaker caps training job names at {JOB_NAME_MAX}"
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
/// `[defaults]`: the fields models share, each checked; the fields set per model are refused.
pub(super) fn read_defaults(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Common {
    for key in MODEL_ONLY_KEYS {
        if t.has(key) {
            cx.error(
                &t.key_at(key),
                format!("`{key}` is set per model, in its [[model]] table, not in [defaults]"),
            );
        }
    }
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(MODEL_ONLY_KEYS).copied().collect();
    let unknown: Vec<&str> = t
        .table
        .iter()
        .map(|(k, _)| -> &str { k.get_ref() })
        .filter(|k| !allowed.contains(k))
        .collect();
    for key in unknown {
        cx.error(&t.key_at(key), unknown_key(key, COMMON_KEYS));
    }
    read_common(cx, t)
}

/// Every `[[model]]` table, `[defaults]` and the pipeline's images applied; the models with a
/// problem (already reported) are left out.
pub(super) fn read_models(
    cx: &mut Cx<'_>,
    root: &Tbl<'_, '_>,
    defaults_table: &Tbl<'_, '_>,
    defaults: &Common,
    images: &Images,
) -> Vec<ModelConfig> {
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
                let tbl = model_table(cx, table, item.span(), index, &mut names);
                models.extend(read_model(cx, &tbl, defaults_table, defaults, images));
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
    models
}

/// The `index`th model's table, labelled with its name; a name already in `names` is reported.
fn model_table<'a, 'i>(
    cx: &mut Cx<'_>,
    table: &'a DeTable<'i>,
    span: Range<usize>,
    index: usize,
    names: &mut BTreeMap<String, At>,
) -> Tbl<'a, 'i> {
    let name = match table.get("name").map(|v| v.get_ref()) {
        Some(DeValue::String(name)) if !name.trim().is_empty() => Some(name.to_string()),
        _ => None,
    };
    let label = name.clone().unwrap_or_else(|| format!("#{}", index + 1));
    let tbl = Tbl {
        table,
        span,
        path: format!("model[{label}]"),
    };
    if let Some(name) = name {
        if let Some(first) = names.get(&name) {
            let line = cx.line_of(first);
            cx.error(
                &tbl.at("name"),
                format!("the name \"{name}\" is already used by the model on line {line}"),
            );
        } else {
            names.insert(name, tbl.at("name"));
        }
    }
    tbl
}

/// One model, `[defaults]` applied; none when anything in it is wrong (already reported).
fn read_model(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    defaults_table: &Tbl<'_, '_>,
    defaults: &Common,
    images: &Images,
) -> Option<ModelConfig> {
    let before = cx.found();
    let allowed: Vec<&str> = MODEL_ONLY_KEYS.iter().chain(COMMON_KEYS).copied().collect();
    t.check_keys(cx, &allowed);
    let identity = read_identity(cx, t);
    let kind = identity.kind.as_ref().map(|k| k.value);
    let own = read_common(cx, t);
    let own_wait = own.max_wait_seconds.is_some();
    let merged = merge(t, own, defaults);
    check_required(cx, t, defaults_table, kind, images);
    check_hyperparameters(cx, t, &merged.hyperparameters, kind);
    let wait_present = present(t, defaults_table, "max_wait_seconds");
    check_spot(cx, t, &merged, own_wait, wait_present);
    check_isolation(cx, &merged);
    let sections = read_sections(cx, t, kind, merged.metrics.as_ref());
    if cx.found() > before {
        return None;
    }
    assemble(identity, merged, images, sections)
}

/// The fields only a model has, besides its sections: what it is and what it reads.
struct Identity {
    name: Option<Val<String>>,
    kind: Option<Val<ModelKind>>,
    character: Option<Val<String>>,
    dataset: Option<Val<String>>,
}

/// `name`, `kind`, `character` and `dataset`, each checked against the others.
fn read_identity(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Identity {
    let tuned = t.has("tuning");
    t.require(cx, "name", "a unique name such as \"chatbot-eleven\"");
    let name = t
        .string(cx, "name")
        .filter(|name| check_model_name(cx, name, tuned));

    t.require(cx, "kind", "chatbot, location or theme");
    let kinds: Vec<(&str, ModelKind)> = ModelKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    let kind = t.choice(cx, "kind", &kinds);
    let kind_value = kind.as_ref().map(|k| k.value);

    let character = read_character(cx, t, kind_value);

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
    Identity {
        name,
        kind,
        character,
        dataset,
    }
}

/// `character`: a chatbot needs one, the other kinds have none.
fn read_character(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
) -> Option<Val<String>> {
    let character = t.string(cx, "character");
    match (kind, &character) {
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
    character
}

/// Set in the model's table or in `[defaults]` (or misspelt in `[defaults]`, which is reported
/// there).
fn present(t: &Tbl<'_, '_>, defaults_table: &Tbl<'_, '_>, key: &str) -> bool {
    t.has(key) || defaults_table.has(key) || defaults_table.misspells(key)
}

/// The model's own fields over `[defaults]`'s; hyperparameters merged key by key.
fn merge(t: &Tbl<'_, '_>, own: Common, d: &Common) -> Common {
    let set = |key: &str| t.has(key);
    let mut hyperparameters = d.hyperparameters.clone();
    hyperparameters.extend(own.hyperparameters);
    Common {
        base_model: pick(own.base_model, set("base_model"), d.base_model.clone()),
        hf_token_secret_arn: pick(
            own.hf_token_secret_arn,
            set("hf_token_secret_arn"),
            d.hf_token_secret_arn.clone(),
        ),
        image: pick(own.image, set("image"), d.image.clone()),
        inference_image: pick(
            own.inference_image,
            set("inference_image"),
            d.inference_image.clone(),
        ),
        instance_type: pick(
            own.instance_type,
            set("instance_type"),
            d.instance_type.clone(),
        ),
        instance_count: pick(
            own.instance_count,
            set("instance_count"),
            d.instance_count.clone(),
        ),
        volume_size_gb: pick(
            own.volume_size_gb,
            set("volume_size_gb"),
            d.volume_size_gb.clone(),
        ),
        spot: pick(own.spot, set("spot"), d.spot.clone()),
        max_runtime_seconds: pick(
            own.max_runtime_seconds,
            set("max_runtime_seconds"),
            d.max_runtime_seconds.clone(),
        ),
        max_wait_seconds: pick(
            own.max_wait_seconds,
            set("max_wait_seconds"),
            d.max_wait_seconds.clone(),
        ),
        hyperparameters,
        metrics: pick(own.metrics, set("metrics"), d.metrics.clone()),
        vpc: pick(own.vpc, set("vpc"), d.vpc.clone()),
        kms_key_id: pick(own.kms_key_id, set("kms_key_id"), d.kms_key_id.clone()),
        network_isolation: pick(
            own.network_isolation,
            set("network_isolation"),
            d.network_isolation.clone(),
        ),
    }
}

/// The model's value when its own table sets the key (even to something invalid, already
/// reported), else the default.
fn pick<T>(own: Option<Val<T>>, own_set: bool, inherited: Option<Val<T>>) -> Option<Val<T>> {
    if own_set { own } else { inherited }
}

/// What a model needs, here or in `[defaults]`: a base model, a training image (or
/// `[pipeline]`'s), an instance type and a run time.
fn check_required(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    defaults_table: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
    images: &Images,
) {
    if !present(t, defaults_table, "base_model") {
        let hint = match kind {
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
    if !present(t, defaults_table, "image") && !images.training_set {
        cx.error(
            &t.at("image"),
            "is missing: no training image; set training_image in [pipeline], or image in [defaults] or in the model",
        );
    }
    if !present(t, defaults_table, "instance_type") {
        t.require(
            cx,
            "instance_type",
            "the training instance, such as \"ml.g5.2xlarge\" (here or in [defaults])",
        );
    }
    if !present(t, defaults_table, "max_runtime_seconds") {
        t.require(
            cx,
            "max_runtime_seconds",
            "the longest the job may run, in seconds (here or in [defaults])",
        );
    }
}

/// The merged hyperparameters fit SageMaker's limit with Hawkins's own, and a theme model has
/// its themes.
fn check_hyperparameters(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    hyperparameters: &BTreeMap<String, Val<String>>,
    kind: Option<ModelKind>,
) {
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
    if kind == Some(ModelKind::Theme) && !hyperparameters.contains_key("themes") {
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
}

/// Spot: SageMaker needs a wait of at least the run time, and refuses one without spot.
/// `own_wait`: the model's own table sets a valid wait; `wait_present`: it or `[defaults]` sets one.
fn check_spot(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, m: &Common, own_wait: bool, wait_present: bool) {
    let spot_on = m.spot.as_ref().is_some_and(|s| s.value);
    if spot_on {
        match (&m.max_wait_seconds, &m.max_runtime_seconds) {
            (None, _) if !wait_present => {
                let at = m
                    .spot
                    .as_ref()
                    .map_or_else(|| t.at("spot"), |s| s.at.clone());
                cx.error(
                    &At { field: t.field("max_wait_seconds"), ..at },
                    "is missing: spot training needs max_wait_seconds, at least max_runtime_seconds (the extra is the time allowed waiting for spot capacity)",
                );
            }
            (Some(wait), Some(runtime)) if wait.value < runtime.value => {
                let at = if own_wait || !t.has("max_runtime_seconds") {
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
    } else if let (true, Some(wait)) = (own_wait, &m.max_wait_seconds) {
        cx.error(
            &wait.at,
            "applies only to spot training: remove it or set spot = true",
        );
    }
}

/// A network-isolated job cannot read the Hugging Face token.
fn check_isolation(cx: &mut Cx<'_>, m: &Common) {
    if let (Some(isolated), true) = (&m.network_isolation, m.hf_token_secret_arn.is_some())
        && isolated.value
    {
        cx.error(
            &isolated.at,
            "a network-isolated job cannot reach Secrets Manager or the Hugging Face Hub, so it cannot use hf_token_secret_arn; turn isolation off or remove the token",
        );
    }
}

/// A model's own sections, each read by its module.
struct Sections {
    tuning: Option<Tuning>,
    gate: Option<GateSection>,
    deploy: Option<Deploy>,
}

/// `[model.tuning]`, `[model.gate]` and `[model.deploy]`, against the model's kind and metrics.
fn read_sections(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
    metrics: Option<&Val<Vec<Metric>>>,
) -> Sections {
    let metric_names: Vec<String> = metrics
        .map(|m| m.value.iter().map(|m| m.name.value.clone()).collect())
        .unwrap_or_default();
    let tuning = match t.table(cx, "tuning") {
        Some(table) => read_tuning(cx, &table, kind, &metric_names),
        None => None,
    };
    let gate = match t.table(cx, "gate") {
        Some(table) => read_gate_section(cx, &table, kind, &metric_names),
        None => None,
    };
    let deploy = match t.table(cx, "deploy") {
        Some(table) => read_deploy(cx, &table, kind),
        None => None,
    };
    Sections {
        tuning,
        gate,
        deploy,
    }
}

/// The model's config from what was read, once nothing in it is wrong; the defaults of the
/// fields left unset filled in.
fn assemble(
    identity: Identity,
    m: Common,
    images: &Images,
    sections: Sections,
) -> Option<ModelConfig> {
    let hyperparameters: BTreeMap<String, String> = m
        .hyperparameters
        .into_iter()
        .map(|(k, v)| (k, v.value))
        .collect();
    let training_image = m.image.map(|v| v.value).or(images.training.clone())?;
    let inference_image = m
        .inference_image
        .map(|v| v.value)
        .or(images.inference.clone());
    let spot = m.spot.is_some_and(|s| s.value);
    Some(ModelConfig {
        name: identity.name?.value,
        kind: identity.kind?.value,
        dataset: identity.dataset?.value,
        character: identity.character.map(|c| c.value),
        base_model: m.base_model?.value,
        hf_token_secret_arn: m.hf_token_secret_arn.map(|v| v.value),
        inference_image: inference_image.unwrap_or_else(|| training_image.clone()),
        training_image,
        instance_type: m.instance_type?.value,
        instance_count: m.instance_count.map_or(1, |v| v.value),
        volume_size_gb: m.volume_size_gb.map_or(DEFAULT_VOLUME_SIZE_GB, |v| v.value),
        spot,
        max_runtime_seconds: m.max_runtime_seconds?.value,
        max_wait_seconds: if spot {
            m.max_wait_seconds.map(|v| v.value)
        } else {
            None
        },
        hyperparameters,
        metrics: m
            .metrics
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
        vpc: m.vpc.map(|v| v.value),
        kms_key_id: m.kms_key_id.map(|v| v.value),
        network_isolation: m.network_isolation.is_some_and(|v| v.value),
        tuning: sections.tuning,
        auto_approve: sections.gate == Some(GateSection::Auto),
        gate: match sections.gate {
            Some(GateSection::Metric(gate)) => Some(gate),
            _ => None,
        },
        deploy: sections.deploy,
    })
}

/// `line N` or `[defaults] line N`: where a merged value was set.
fn where_set(cx: &Cx<'_>, at: &At) -> String {
    let line = cx.line_of(at);
    if at.field.starts_with("defaults.") {
        format!("[defaults] line {line}")
    } else {
        format!("line {line}")
    }
}

/// The directions `[model.tuning]` and `[model.gate]` take.
pub(super) const DIRECTIONS: &[(&str, Direction)] = &[
    ("minimize", Direction::Minimize),
    ("maximize", Direction::Maximize),
];

/// The metric is one of the model's.
pub(super) fn check_metric_name(
    cx: &mut Cx<'_>,
    metric: &Val<String>,
    metric_names: &[String],
) -> bool {
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

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::{
        JOB_NAME_MAX, MAX_RUNTIME_SECONDS, MODEL_NAME_MAX, PROJECT_TAG_MAX, TUNED_MODEL_NAME_MAX,
        TUNING_JOB_NAME_MAX, image_uri,
    };

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
        let identity = "fedcba9876543210";
        let name = model.job_name(version, identity);
        assert_eq!(name, format!("{long}-01234567fedcba98"));
        assert_eq!(name.len(), JOB_NAME_MAX);
        assert_eq!(model.job_name(version, identity), name);
        assert_ne!(
            model.job_name(version, "0000000000000000"),
            name,
            "another config or attempt is another job"
        );
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
        let tuned = config.models[0].job_name(version, identity);
        assert_eq!(tuned.len(), TUNING_JOB_NAME_MAX);
        assert!(tuned.ends_with("-0123fedc"), "{tuned}");
    }

    #[test]
    fn limits_are_what_sagemaker_allows() {
        assert_eq!(
            (MODEL_NAME_MAX, TUNED_MODEL_NAME_MAX, PROJECT_TAG_MAX),
            (46, 23, 16)
        );
        assert_eq!(MAX_RUNTIME_SECONDS, 2_419_200);
    }
}
