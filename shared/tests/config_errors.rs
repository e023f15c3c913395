//! Bad model configurations from `tests/fixtures/config/`, each with every error it must produce:
//! the line, the field and part of the message. Each file holds several mistakes, so the table
//! also shows that one check reports all of them, in the order of the file.

use std::path::{Path, PathBuf};

use hawkins::config;

/// An error a fixture must produce: its line, its field and part of its message.
type Expected = (usize, &'static str, &'static str);

/// Each fixture with its errors, in the order they are reported.
const CASES: &[(&str, &[Expected])] = &[
    ("syntax.toml", &[(3, "", "invalid TOML")]),
    (
        "typos.toml",
        &[
            (
                3,
                "pipeline.quiet_period",
                "unknown field `quiet_period`; expected one of: quiet_period_seconds",
            ),
            (8, "defaults.instace_type", "did you mean `instance_type`?"),
            (
                13,
                "model[chatbot-eleven].kind",
                "did you mean \"chatbot\"?",
            ),
            (
                17,
                "model[chatbot-eleven].metrics[0].regx",
                "did you mean `regex`?",
            ),
            (
                20,
                "model[chatbot-eleven].deploy.mode",
                "did you mean \"realtime\"?",
            ),
            (
                21,
                "model[chatbot-eleven].deploy.stratgy",
                "did you mean `strategy`?",
            ),
        ],
    ),
    (
        "secrets.toml",
        &[
            (
                13,
                "model[chatbot-eleven].hf_token_secret_arn",
                "must be the ARN of a Secrets Manager secret",
            ),
            (
                14,
                "model[chatbot-eleven].hyperparameters.hf_token",
                "use hf_token_secret_arn",
            ),
            (
                14,
                "model[chatbot-eleven].hyperparameters.wandb_api_key",
                "looks like a secret",
            ),
            (
                14,
                "model[chatbot-eleven].hyperparameters.note",
                "looks like a Hugging Face token",
            ),
            (
                25,
                "model[chatbot-mike].network_isolation",
                "cannot reach Secrets Manager",
            ),
        ],
    ),
    (
        "limits.toml",
        &[
            (3, "pipeline.quiet_period_seconds", "at most one day"),
            (5, "pipeline.project_tag", "at most 16"),
            (
                9,
                "defaults.instance_type",
                "must be a SageMaker instance type",
            ),
            (
                15,
                "model[chatbot-eleven-llama-3-2-3b-instruct-lora-r16-v2].name",
                "is 48 characters, at most 46 fit",
            ),
            (
                20,
                "model[chatbot-eleven-llama-3-2-3b-instruct-lora-r16-v2].instance_count",
                "at least 1",
            ),
            (
                21,
                "model[chatbot-eleven-llama-3-2-3b-instruct-lora-r16-v2].max_runtime_seconds",
                "28 days",
            ),
            (
                29,
                "model[chatbot-dustin].max_wait_seconds",
                "must be at least max_runtime_seconds (14400, [defaults] line 10)",
            ),
        ],
    ),
    (
        "references.toml",
        &[
            (
                15,
                "model[chatbot-hopper].metrics[1].name",
                "already defined on line 14",
            ),
            (
                16,
                "model[chatbot-hopper].metrics[2].regex",
                "exactly one capture group",
            ),
            (
                17,
                "model[chatbot-hopper].metrics[3].regex",
                "does not compile",
            ),
            (
                21,
                "model[chatbot-hopper].tuning.objective",
                "not one of this model's metrics (loss, eval_loss, perplexity)",
            ),
            (
                24,
                "model[chatbot-hopper].tuning.max_parallel_jobs",
                "more than max_jobs (4)",
            ),
            (
                27,
                "model[chatbot-hopper].tuning.ranges.learning_rate.min",
                "must be less than max",
            ),
            (
                28,
                "model[chatbot-hopper].tuning.ranges.lora_r.scaling",
                "needs min > 0",
            ),
            (
                29,
                "model[chatbot-hopper].tuning.ranges.lora_alpha.scaling",
                "must be one of auto, linear, logarithmic",
            ),
            (
                32,
                "model[chatbot-hopper].gate.metric",
                "\"f1\", which is not one of this model's metrics",
            ),
            (
                34,
                "model[chatbot-hopper].gate.min_improvement",
                "must be 0 or more",
            ),
        ],
    ),
    (
        "deploy.toml",
        &[
            (
                21,
                "model[chatbot-eleven].deploy.max_instances",
                "must be at least min_instances (4)",
            ),
            (
                23,
                "model[chatbot-eleven].deploy.canary_percent",
                "between 1 and 99",
            ),
            (
                36,
                "model[chatbot-mike].deploy.ab_weight",
                "between 0 and 1, exclusive",
            ),
            (
                46,
                "model[location-classifier].deploy.serverless.memory_mb",
                "1024, 2048, 3072, 4096, 5120 or 6144",
            ),
            (
                47,
                "model[location-classifier].deploy.ab_weight",
                "applies only to mode = realtime",
            ),
            (58, "model[themes].deploy.mode", "use mode = \"batch\""),
        ],
    ),
    (
        "structure.toml",
        &[
            (10, "model[chatbot-eleven].character", "is missing"),
            (
                13,
                "model[chatbot-eleven].dataset",
                "a chatbot model reads a dataset under chatbot/",
            ),
            (
                16,
                "model[chatbot-eleven].name",
                "already used by the model on line 11",
            ),
            (
                20,
                "model[chatbot-eleven].vpc.security_groups",
                "both subnets and security groups",
            ),
            (
                21,
                "model[chatbot-eleven].hyperparameters.target_modules",
                "string, number or boolean",
            ),
            (
                24,
                "model[Location Classifier].name",
                "lowercase letters, digits and single hyphens",
            ),
            (26, "model[Location Classifier].dataset", "'..'"),
            (
                27,
                "model[Location Classifier].character",
                "only a chatbot has a character",
            ),
        ],
    ),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/config")
}

#[test]
fn each_bad_config_reports_every_mistake_on_its_line() {
    for (file, expected) in CASES {
        let path = fixtures().join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let errors = match config::parse(file, &text) {
            Ok(_) => panic!("{file} was accepted"),
            Err(errors) => errors,
        };
        let found: Vec<(usize, &str, &str)> = errors
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(found.len(), expected.len(), "{file}:\n{errors}");
        for ((line, field, message), (want_line, want_field, part)) in
            found.iter().zip(expected.iter())
        {
            assert_eq!((line, field), (want_line, want_field), "{file}:\n{errors}");
            assert!(
                message.contains(part),
                "{file}:{line}: {message:?} lacks {part:?}"
            );
        }
        for (line, error) in errors.to_string().lines().zip(&errors.errors) {
            let prefix = format!("{file}:{}:{}: ", error.line, error.column);
            assert!(
                line.starts_with(&prefix),
                "{line:?} does not start with {prefix:?}"
            );
        }
    }
}

#[test]
fn every_fixture_is_in_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures/config")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = CASES.iter().map(|(file, _)| *file).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn the_project_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/hawkins.toml");
    let config = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.models.len(), 6);
}
