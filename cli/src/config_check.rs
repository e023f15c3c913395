//! `hawkins config check <file>`: validates a model configuration the way the deploy and the
//! functions do, and prints either its models or every problem, one `file:line:column: field:
//! message` per line.

use std::path::Path;

use anyhow::{Context, bail};
use hawkins::config::{self, Config, Deploy, ModelConfig, Strategy};

pub fn run(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = path.display().to_string();
    match config::parse(&file, &text) {
        Ok(config) => {
            print!("{}", summary(&file, &config));
            Ok(())
        }
        Err(errors) => {
            eprintln!("{errors}");
            let count = errors.errors.len();
            let plural = if count == 1 { "" } else { "s" };
            bail!("{file}: {count} problem{plural}; the configuration was not accepted")
        }
    }
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
        Some(Strategy::AB { weight }) => format!(", A/B {}%", (weight * 100.0).round()),
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
        let error = run(&path).expect_err("rejected");
        assert!(error.to_string().contains("problems"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
