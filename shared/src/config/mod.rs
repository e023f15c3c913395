//! The model configuration: one TOML file that declares every model the pipeline trains, registers
//! and deploys. `infra/hawkins.toml` is built into the functions; the one in force is the object
//! `hawkins config push` writes to the stack's config location, when there is one ([`live`]).
//!
//! [`parse`] turns the text into a [`Config`] whose models have `[defaults]` applied and every field
//! typed, or into [`ConfigErrors`]: every problem found, each with the line, column and field it is
//! about. The build, each function (on the pushed object), `hawkins config check` and `hawkins config push` call the same function, so
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
//!
//! Each section has its own module, with its types, its reader and its tests: `pipeline`, `model`
//! (with `[defaults]`), `tuning`, `gate`, `deploy`, `costs` and `storage`. `reader` is what they share: the
//! typed getters that report each problem with its place in the text.

use std::path::Path;

use toml::de::DeTable;

mod costs;
mod deploy;
mod gate;
pub mod live;
mod model;
mod pipeline;
mod reader;
mod storage;
mod tuning;

pub use costs::{Costs, DEFAULT_IDLE_HOURS, MAX_IDLE_HOURS, PriceOverride};
pub use deploy::{AbPromote, AbWindow, Deploy, DeployMode, Strategy};
pub use gate::Gate;
pub use live::{ConfigLocation, LiveConfig, LiveSettings};
pub use model::{
    CONTAINER_METRICS, Direction, JOB_NAME_MAX, MAX_RUNTIME_SECONDS, MODEL_NAME_MAX,
    MetricDefinition, ModelConfig, ModelKind, TUNED_MODEL_NAME_MAX, TUNING_JOB_NAME_MAX,
    TUNING_VERSION_LEN, Vpc, image_uri,
};
pub use pipeline::{MAX_QUIET_PERIOD_SECONDS, PROJECT_TAG_MAX, Pipeline};
pub use reader::{ConfigError, ConfigErrors};
pub use storage::{
    DEFAULT_CHECKPOINT_DAYS, DEFAULT_DATASET_DAYS, DEFAULT_UNAPPROVED_OUTPUT_DAYS,
    DEFAULT_USD_PER_GB_MONTH, MAX_RETENTION_DAYS, Storage,
};
pub use tuning::{ParameterRange, Scaling, Tuning, TuningStrategy};

use reader::{Cx, Tbl};

/// The top-level sections.
const TOP_KEYS: &[&str] = &["pipeline", "defaults", "model", "costs", "storage"];

/// The whole file: the pipeline's settings and the models, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub pipeline: Pipeline,
    pub models: Vec<ModelConfig>,
    /// `[costs]`: budgets, the idle threshold and price overrides (all optional).
    pub costs: Costs,
    /// `[storage]`: what expires when, and the S3 price (all optional).
    pub storage: Storage,
}

impl Config {
    /// The model with this name.
    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.name == name)
    }
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
    let mut cx = Cx::new(text);
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
        Some(config) if cx.found() == 0 => Ok(config),
        _ => Err(cx.finish(file_name)),
    }
}

/// The whole file: each section in turn, `[defaults]` applied to the models.
fn read_config(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> Option<Config> {
    root.check_keys(cx, TOP_KEYS);
    let (pipeline, images) = pipeline::read_section(cx, root);
    let empty = DeTable::new();
    let defaults_table = root.table(cx, "defaults").unwrap_or(Tbl {
        table: &empty,
        span: 0..0,
        path: "defaults".into(),
    });
    let defaults = model::read_defaults(cx, &defaults_table);
    let models = model::read_models(cx, root, &defaults_table, &defaults, &images);
    let costs = costs::read_section(cx, root);
    let storage = storage::read_section(cx, root);
    Some(Config {
        pipeline: pipeline?,
        models,
        costs: costs?,
        storage: storage?,
    })
}

/// What the sections' tests share: a small valid config and checks of the errors a change makes.
#[cfg(test)]
mod testing {
    use super::{Config, ConfigError, parse};

    /// A small valid config; tests append to its one model or replace a line of it.
    pub(super) const BASE: &str = r#"[pipeline]
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

    pub(super) const MODEL: &str = "model[chatbot-eleven]";

    pub(super) fn with(extra: &str) -> String {
        format!("{BASE}{extra}")
    }

    pub(super) fn replace(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    pub(super) fn errors(text: &str) -> Vec<ConfigError> {
        match parse("test.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(errors) => errors.errors,
        }
    }

    /// The 1-based line of the last line holding `marker`.
    pub(super) fn line_of(text: &str, marker: &str) -> usize {
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
    pub(super) fn only(text: &str, marker: &str, field: &str, needle: &str) -> ConfigError {
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
    pub(super) fn has(text: &str, marker: &str, field: &str, needle: &str) {
        let found = errors(text);
        let line = line_of(text, marker);
        assert!(
            found
                .iter()
                .any(|e| e.line == line && e.field == field && e.message.contains(needle)),
            "no error at line {line} on {field} saying {needle:?}: {found:#?}"
        );
    }

    pub(super) fn ok(text: &str) -> Config {
        parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"))
    }

    pub(super) const TUNING: &str = "[model.tuning]\nobjective = \"eval_loss\"\ndirection = \"minimize\"\nmax_jobs = 8\nmax_parallel_jobs = 2\n[model.tuning.ranges]\n";
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

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
    fn a_missing_file_is_one_error() {
        let err = load(Path::new("/nonexistent/hawkins.toml")).expect_err("missing");
        assert_eq!(err.errors.len(), 1);
        assert!(
            err.to_string()
                .starts_with("/nonexistent/hawkins.toml: cannot be read"),
            "{err}"
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
