//! `hawkins preprocess`: the ingest code over local files, writing into a folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest};
use hawkins::store::{AlertLog, DirStore, Object};

use crate::summary::Summary;

/// Files under `paths`, sorted, each with the key it would have under `raw/`.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_file() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((format!("raw/{name}"), path.clone()));
            continue;
        }
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot list {}", dir.display()))?;
            for entry in entries.flatten() {
                let file = entry.path();
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if hidden {
                    continue;
                }
                if file.is_dir() {
                    stack.push(file);
                } else if let Ok(rel) = file.strip_prefix(path) {
                    out.push((
                        format!("raw/{}", rel.to_string_lossy().replace('\\', "/")),
                        file.clone(),
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

pub async fn run(paths: &[PathBuf], out: &Path, json: bool) -> Result<()> {
    let files = collect(paths)?;
    if files.is_empty() {
        anyhow::bail!("no files found under the paths given");
    }
    let store = DirStore::new(out);
    let alerts = AlertLog::default();
    let ingest = Ingest {
        store: &store,
        notifier: &alerts,
        location: out.display().to_string(),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    let mut outcomes = Vec::with_capacity(files.len());
    for (key, path) in &files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let object = Object {
            bytes,
            last_modified: None,
        };
        outcomes.push(ingest.upload(key, &object).await?);
    }
    let corpus = ingest.corpus().await?;
    let summary = Summary::read(&store, outcomes, Some(corpus), alerts.alerts()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!(
            "{}",
            summary.text(&out.join("processed/network/corpus.html"))
        );
    }
    Ok(())
}
