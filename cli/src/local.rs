//! `hawkins local`: the pipeline on the local AWS, fed with the project's sample corpus.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hawkins::aws::local::LocalStack;
use hawkins::events::s3_notification;
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest, handle_event};
use hawkins::store::ObjectStore;

use crate::preprocess::collect;
use crate::summary::Summary;

/// The quiet period of the local run: short, so the run ends in seconds.
const LOCAL_QUIET_SECONDS: u32 = 3;

/// The workspace root: where `.venv` and the samples live.
pub fn root() -> Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join(hawkins::aws::local_aws::REQUIREMENTS).exists() {
            return Ok(dir);
        }
        if !dir.pop() {
            let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            return Ok(built);
        }
    }
}

pub async fn run(samples: &[PathBuf], out: &Path) -> Result<()> {
    let root = root()?;
    let samples = if samples.is_empty() {
        vec![
            root.join("tests/fixtures/corpus"),
            root.join("tests/fixtures/bad/notes.srt"),
        ]
    } else {
        samples.to_vec()
    };
    eprintln!("starting the local AWS...");
    let stack = LocalStack::start(&root)
        .await
        .context("starting the local AWS")?;
    eprintln!(
        "local AWS at {}; bucket {}",
        stack.server.endpoint(),
        stack.bucket
    );
    let store = stack.store();
    let notifier = stack.notifier();
    let ingest = Ingest {
        store: &store,
        notifier: &notifier,
        location: format!("s3://{}", stack.bucket),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    let files = collect(&samples)?;
    let mut outcomes = Vec::new();
    let mut corpus = None;
    for (key, path) in &files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let size = bytes.len() as u64;
        stack.upload(key, bytes).await?;
        eprintln!("uploaded {key}; delivering its event to ingest");
        let report = handle_event(
            &ingest,
            &stack.bucket,
            s3_notification(&stack.bucket, key, size),
        )
        .await
        .with_context(|| format!("ingest of {key}"))?;
        stack.route_latest(&report).await?;
        outcomes.extend(report.objects);
        corpus = report.corpus.or(corpus);
    }
    let config = hawkins::config::load(&root.join("infra/hawkins.toml"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "training: waiting {LOCAL_QUIET_SECONDS} s of quiet (the deployed stack waits {} s), then starting the jobs",
        config.pipeline.quiet_period_seconds
    );
    let trained = stack
        .drain_train_queue(&config, LOCAL_QUIET_SECONDS)
        .await?;
    let delivered = stack.delivered().await?;
    let alerts = delivered
        .into_iter()
        .map(|d| hawkins::store::Alert {
            kind: d.attributes.get("kind").cloned().unwrap_or_default(),
            severity: hawkins::store::Severity::Warning,
            subject: d.subject,
            body: d.message,
            attributes: d.attributes,
            id: String::new(),
        })
        .collect();
    let mut summary = Summary::read(&store, outcomes, corpus, alerts).await?;
    summary.add_training(&trained);
    std::fs::create_dir_all(out)?;
    for page in [
        "processed/network/corpus.html",
        "processed/network/corpus.json",
        "datasets/latest.json",
    ] {
        if let Some(object) = store.get(page).await? {
            let target = out.join(page.rsplit('/').next().unwrap_or(page));
            std::fs::write(&target, object.bytes)?;
        }
    }
    print!(
        "{}",
        summary.text(&out.join("corpus.html")).replacen(
            "Hawkins preprocess",
            "Hawkins local run",
            1
        )
    );
    Ok(())
}
