//! The summary a person reads in ten seconds after a preprocess or a local run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use hawkins::ingest::{CorpusOutcome, ObjectOutcome};
use hawkins::manifest::{CorpusManifest, LATEST_KEY, SOURCES_PREFIX, SourceEntry};
use hawkins::source::SourceKind;
use hawkins::store::{Alert, ObjectStore};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub files: usize,
    pub processed: usize,
    pub quarantined: Vec<(String, String)>,
    pub ignored: usize,
    pub episodes: usize,
    pub cues: u64,
    pub lines: u64,
    pub lines_with_speaker: u64,
    /// Speakers named by subtitle labels, with their line counts.
    pub subtitle_speakers: BTreeMap<String, u64>,
    pub corpus: Option<CorpusOutcome>,
    pub manifest: Option<CorpusManifest>,
    /// Alerts sent: (subject, text).
    pub alerts: Vec<(String, String)>,
    /// Jobs started: (model, job name, created or already there).
    pub jobs: Vec<(String, String, String)>,
    /// Models without a job, and why.
    pub skipped: Vec<(String, String)>,
    /// The local run: registry, endpoints and transform jobs as the local AWS holds them.
    pub deployment: Option<hawkins_localaws::deployment::Deployment>,
    /// The local run: the cost run's figures.
    pub cost: Option<hawkins::costs::RunOutcome>,
    /// Pages to open.
    pub pages: Vec<std::path::PathBuf>,
    /// The local run: where the web app answers.
    pub web: Option<String>,
    /// Stages that failed.
    pub failures: Vec<String>,
    /// The local run with `--faults`: what the fault layer did.
    pub faults: Option<hawkins_localaws::faults::FaultReport>,
}

impl Summary {
    pub async fn read(
        store: &impl ObjectStore,
        outcomes: Vec<ObjectOutcome>,
        corpus: Option<CorpusOutcome>,
        alerts: Vec<Alert>,
    ) -> Result<Summary> {
        let mut entries = Vec::new();
        for key in store.list(SOURCES_PREFIX).await? {
            if let Some(object) = store.get(&key).await? {
                entries.push(
                    serde_json::from_slice::<SourceEntry>(&object.bytes)
                        .with_context(|| format!("reading {key}"))?,
                );
            }
        }
        let manifest = match store.get(LATEST_KEY).await? {
            Some(object) => {
                Some(serde_json::from_slice(&object.bytes).context("reading the manifest")?)
            }
            None => None,
        };
        let mut summary = Summary {
            files: outcomes.len(),
            processed: 0,
            quarantined: Vec::new(),
            ignored: 0,
            episodes: 0,
            cues: 0,
            lines: 0,
            lines_with_speaker: 0,
            subtitle_speakers: BTreeMap::new(),
            corpus,
            manifest,
            alerts: alerts.into_iter().map(|a| (a.subject, a.body)).collect(),
            jobs: Vec::new(),
            skipped: Vec::new(),
            deployment: None,
            cost: None,
            pages: Vec::new(),
            web: None,
            failures: Vec::new(),
            faults: None,
        };
        for outcome in outcomes {
            match outcome {
                ObjectOutcome::Processed { .. } => summary.processed += 1,
                ObjectOutcome::Quarantined { key, reason, .. } => {
                    let at = reason
                        .line
                        .map(|l| format!(" at line {l}"))
                        .unwrap_or_default();
                    summary
                        .quarantined
                        .push((key, format!("{}{at}: {}", reason.code, reason.message)));
                }
                ObjectOutcome::Ignored { .. } | ObjectOutcome::Superseded { .. } => {
                    summary.ignored += 1
                }
            }
        }
        let mut episodes = std::collections::BTreeSet::new();
        for entry in &entries {
            if matches!(entry.kind, SourceKind::Subtitles | SourceKind::Transcript) {
                episodes.insert(entry.name.clone());
                summary.lines += entry.counts.records;
                summary.lines_with_speaker += entry.counts.with_speaker;
            }
            if entry.kind == SourceKind::Subtitles {
                summary.cues += entry.counts.cues;
                for (speaker, n) in &entry.counts.speakers {
                    *summary
                        .subtitle_speakers
                        .entry(speaker.clone())
                        .or_default() += n;
                }
            }
        }
        summary.episodes = episodes.len();
        Ok(summary)
    }

    /// Adds what the train function did.
    pub fn add_training(&mut self, outcomes: &[hawkins::training::MessageOutcome]) {
        for outcome in outcomes {
            if let hawkins::training::MessageOutcome::Trained { models, .. } = outcome {
                for m in models {
                    match &m.job_name {
                        Some(job) => {
                            self.jobs
                                .push((m.model.clone(), job.clone(), m.result.clone()))
                        }
                        None => self.skipped.push((m.model.clone(), m.result.clone())),
                    }
                }
            }
        }
    }

    pub fn text(&self, page: &Path) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Hawkins preprocess: {} files, {} processed, {} quarantined",
            self.files,
            self.processed,
            self.quarantined.len()
        );
        let _ = writeln!(
            out,
            "  episodes {}   subtitle cues {}   dialogue lines {} ({} with a speaker)",
            self.episodes, self.cues, self.lines, self.lines_with_speaker
        );
        if !self.subtitle_speakers.is_empty() {
            let mut top: Vec<_> = self.subtitle_speakers.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown: Vec<String> = top
                .iter()
                .take(12)
                .map(|(s, n)| format!("{s} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "  speakers labelled in subtitles ({}): {}",
                top.len(),
                shown.join(", ")
            );
        }
        if let Some(manifest) = &self.manifest {
            let _ = writeln!(
                out,
                "  corpus version {} ({} sources, cast: {})",
                manifest.version,
                manifest.sources.len(),
                manifest.cast
            );
            let mut chat: Vec<_> = manifest
                .datasets
                .iter()
                .filter(|d| d.character.is_some())
                .collect();
            chat.sort_by_key(|d| std::cmp::Reverse(d.records));
            let shown: Vec<String> = chat
                .iter()
                .take(10)
                .map(|d| {
                    format!(
                        "{} {}",
                        d.character.as_deref().unwrap_or_default(),
                        d.records
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  chatbot datasets ({} characters): {}",
                chat.len(),
                shown.join(", ")
            );
            for d in manifest.datasets.iter().filter(|d| d.character.is_none()) {
                let _ = writeln!(out, "  {}: {} records", d.key, d.records);
            }
        }
        if let Some(corpus) = &self.corpus {
            let _ = writeln!(
                out,
                "  files written {}, unchanged {}",
                corpus.written, corpus.unchanged
            );
        }
        if !self.jobs.is_empty() || !self.skipped.is_empty() {
            let _ = writeln!(out, "  training jobs started: {}", self.jobs.len());
            for (model, job, result) in &self.jobs {
                let _ = writeln!(out, "    {model:<22} {job} ({result})");
            }
            for (model, why) in &self.skipped {
                let _ = writeln!(out, "    {model:<22} no job: {why}");
            }
        }
        for (key, reason) in &self.quarantined {
            let _ = writeln!(out, "  QUARANTINED {key}: {reason}");
        }
        if let Some(d) = &self.deployment {
            let _ = writeln!(out, "  model packages: {}", d.packages.len());
            for (group, version, approval) in &d.packages {
                let _ = writeln!(out, "    {group:<32} v{version:<3} {approval}");
            }
            let _ = writeln!(out, "  endpoints: {}", d.endpoints.len());
            for (name, status, config, variants) in &d.endpoints {
                let _ = writeln!(out, "    {name:<32} {status:<10} {config}");
                for v in variants {
                    let _ = writeln!(out, "      {v}");
                }
            }
            for (job, status) in &d.transforms {
                let _ = writeln!(out, "  batch transform {job}: {status}");
            }
        }
        if let Some(c) = &self.cost {
            let _ = writeln!(
                out,
                "  costs ({}): last 24 h ${:.2}, month to date ${:.2}, forecast ${:.2} ({} jobs, {} endpoints{})",
                c.date,
                c.last_24h_usd,
                c.month_to_date_usd,
                c.forecast_usd,
                c.jobs,
                c.endpoints,
                if c.unknown_prices > 0 {
                    format!(", {} unpriced", c.unknown_prices)
                } else {
                    String::new()
                }
            );
        }
        if !self.alerts.is_empty() {
            let _ = writeln!(out, "  alerts sent: {}", self.alerts.len());
        }
        for (subject, text) in &self.alerts {
            let _ = writeln!(out, "    {subject}");
            if let Some(first) = text.lines().find(|l| !l.trim().is_empty()) {
                let _ = writeln!(out, "      {first}");
            }
        }
        if let Some(faults) = &self.faults {
            let _ = writeln!(out, "  {}", faults.line());
        }
        for failure in &self.failures {
            let _ = writeln!(out, "  FAILED {failure}");
        }
        if let Some(url) = &self.web {
            let _ = writeln!(out, "  web app: {url}");
        }
        let _ = writeln!(out, "  character network: {}", page.display());
        for p in self.pages.iter().filter(|p| p.as_path() != page) {
            let _ = writeln!(out, "  open: {}", p.display());
        }
        out
    }
}
