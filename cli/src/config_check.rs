//! `hawkins config check <file>`: validates a model configuration the way the deploy and the
//! functions do, and prints either its models or every problem, one `file:line:column: field:
//! message` per line. Exits with 3 (invalid config) when it is not valid; `--json` prints either
//! the models or the problems as one document. `hawkins config push` checks with [`validate`].

use std::path::Path;

use hawkins::config::{self, Config, ConfigErrors, Deploy, ModelConfig, Strategy};
use serde_json::{Value, json};

use crate::exit::{Exit, coded, coded_after_output};

pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let checked = validate(path, json)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&valid_json(&checked.file, &checked.config))?
        );
    } else {
        print!("{}", summary(&checked.file, &checked.config));
    }
    Ok(())
}

/// A file that passed the checks: its name, text and config.
pub struct Checked {
    pub file: String,
    pub text: String,
    pub config: Config,
}

/// Reads and checks a config file as `hawkins config check` does. When it is not valid, every
/// problem is printed (standard error, or the `--json` document on standard output) and the error
/// exits with 3.
pub fn validate(path: &Path, json: bool) -> anyhow::Result<Checked> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        coded(
            Exit::InvalidConfig,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let file = path.display().to_string();
    match config::parse(&file, &text) {
        Ok(config) => Ok(Checked { file, text, config }),
        Err(errors) => {
            let count = errors.errors.len();
            let plural = if count == 1 { "" } else { "s" };
            let message =
                format!("{file}: {count} problem{plural}; the configuration was not accepted");
            if json {
                println!("{}", serde_json::to_string_pretty(&invalid_json(&errors))?);
                Err(coded_after_output(Exit::InvalidConfig, message))
            } else {
                eprintln!("{errors}");
                Err(coded(Exit::InvalidConfig, message))
            }
        }
    }
}

/// `--json` of a valid config: the pipeline's settings and a row per model.
fn valid_json(file: &str, config: &Config) -> Value {
    let keys = [
        "name", "kind", "dataset", "instance", "spot", "tuning", "deploy",
    ];
    let models: Vec<Value> = config
        .models
        .iter()
        .map(|m| {
            let row = row(m);
            let mut object = serde_json::Map::new();
            for (key, cell) in keys.iter().zip(row) {
                object.insert(key.to_string(), Value::String(cell));
            }
            object.insert("instance_type".into(), json!(m.instance_type));
            object.insert("instance_count".into(), json!(m.instance_count));
            object.insert("spot".into(), json!(m.spot));
            Value::Object(object)
        })
        .collect();
    json!({
        "file": file,
        "valid": true,
        "project_tag": config.pipeline.project_tag,
        "quiet_period_seconds": config.pipeline.quiet_period_seconds,
        "models": models,
        "errors": [],
    })
}

/// `--json` of an invalid config: every problem with its place.
fn invalid_json(errors: &ConfigErrors) -> Value {
    let list: Vec<Value> = errors
        .errors
        .iter()
        .map(|e| {
            json!({
                "line": e.line,
                "column": e.column,
                "field": e.field,
                "message": e.message,
            })
        })
        .collect();
    json!({"file": errors.file, "valid": false, "errors": list})
}

/// One line for the pipeline, then a table of the models.
fn summary(file: &str, config: &Config) -> String {
    let p = &config.pipeline;
    let plural = if config.models.len() == 1 { "" } else { "s" };
    let mut out = format!(
        "{file}: ok, {} model{plural}; quiet period {} s, project tag {}\n",
        config.models.len(),
        p.quiet_period_seconds,
        p.project_tag
    );
    let header = [
        "name", "kind", "dataset", "instance", "spot", "tuning", "deploy",
    ]
    .map(String::from);
    let mut rows = vec![header];
    rows.extend(config.models.iter().map(row));
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn row(model: &ModelConfig) -> [String; 7] {
    let tuning = match &model.tuning {
        Some(t) => format!("{} jobs on {}", t.max_jobs, t.objective),
        None => "no".into(),
    };
    [
        model.name.clone(),
        model.kind.to_string(),
        model.dataset.clone(),
        format!("{} x{}", model.instance_type, model.instance_count),
        if model.spot { "yes" } else { "no" }.into(),
        tuning,
        deploy(model.deploy.as_ref()),
    ]
}

fn deploy(deploy: Option<&Deploy>) -> String {
    let Some(deploy) = deploy else {
        return "register only".into();
    };
    let strategy = match deploy.strategy() {
        Some(Strategy::AllAtOnce { .. }) => ", all at once".to_string(),
        Some(Strategy::Canary { percent, .. }) => format!(", canary {percent}%"),
        Some(Strategy::Linear { step_percent, .. }) => format!(", linear {step_percent}% steps"),
        Some(Strategy::AB { weight, .. }) => format!(", A/B {}%", (weight * 100.0).round()),
        None => String::new(),
    };
    format!("{}{strategy}", deploy.mode().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_the_project_config() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/hawkins.toml"
        ));
        let text = std::fs::read_to_string(path).expect("infra/hawkins.toml");
        let config = config::parse("hawkins.toml", &text).expect("valid");
        let out = summary("hawkins.toml", &config);
        assert!(out.starts_with("hawkins.toml: ok, 6 models"), "{out}");
        assert!(out.contains("chatbot-eleven"), "{out}");
        assert!(out.contains("realtime, canary 10%"), "{out}");
        assert!(out.contains("batch"), "{out}");
    }

    #[test]
    fn a_bad_config_is_an_error() {
        let dir = std::env::temp_dir().join(format!("hawkins-config-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[pipeline]\nquiet_period_seconds = 0\n").expect("write");
        let error = run(&path, false).expect_err("rejected");
        assert!(error.to_string().contains("problem"), "{error}");
        assert_eq!(crate::exit::of(&error), Exit::InvalidConfig);
        let error = run(&dir.join("missing.toml"), false).expect_err("no file");
        assert_eq!(crate::exit::of(&error), Exit::InvalidConfig);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_json_lists_every_problem_with_its_place() {
        let errors = config::parse("bad.toml", "[pipeline]\nquiet_period_seconds = 0\n")
            .expect_err("rejected");
        let document = invalid_json(&errors);
        assert_eq!(document["valid"], false);
        let list = document["errors"].as_array().expect("a list");
        assert_eq!(list.len(), errors.errors.len());
        assert!(!list.is_empty());
        assert_eq!(list[0]["line"], errors.errors[0].line);
        assert_eq!(list[0]["message"], errors.errors[0].message.as_str());
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/hawkins.toml"
        ));
        let text = std::fs::read_to_string(path).expect("infra/hawkins.toml");
        let config = config::parse("hawkins.toml", &text).expect("valid");
        let valid = valid_json("hawkins.toml", &config);
        assert_eq!(valid["valid"], true);
        assert_eq!(valid["models"].as_array().map(Vec::len), Some(6));
        assert_eq!(valid["models"][0]["name"], config.models[0].name.as_str());
    }
}
