//! Batch transform job state changes: recorded in the ledger (the cost run prices them), a
//! failure told once, and a theme model's completed output combined per episode
//! ([`crate::themes`]).
//!
//! Idempotent: the record is written only when it changes and never replaces a later or newer
//! status ([`supersedes`]); a stale event tells nothing; the message goes out once. The theme
//! report is a pure function of the dataset and the output objects, written only when its bytes
//! change, so a replay stores nothing; a report or pointer of a newer package is never replaced
//! by an older one's ([`crate::themes::moves_latest`]).

use std::collections::BTreeMap;

use super::alerts;
use super::events::TransformJob;
use super::job::{FINISHED, JobOutcome, StopCause, job_status, rank, supersedes};
use super::names::{model_version, tagged_model};
use super::package::predictions_prefix;
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry};
use crate::config::{ModelConfig, ModelKind};
use crate::ledger::{self, JobRecord};
use crate::store::{Notifier, ObjectStore, Written};
use crate::themes::{self, Latest, ThemeReport};
use crate::time::format_rfc3339;
use crate::training::tags as tag;

/// The model of a transform job, by its tags.
pub fn transform_model<'c>(
    job: &TransformJob,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    tagged_model(&job.tags, project, models)
}

/// The ledger record of a transform job event.
pub fn transform_record(job: &TransformJob, model: &ModelConfig, region: &str) -> JobRecord {
    let resources = job.transform_resources.clone().unwrap_or_default();
    let status = job_status(&job.transform_job_status);
    let seconds = match (job.transform_start_time, job.transform_end_time) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as u64),
        _ => None,
    };
    JobRecord {
        job_name: job.transform_job_name.clone(),
        model: model.name.clone(),
        kind: model.kind.as_str().to_string(),
        corpus_version: job
            .tags
            .get(tag::CORPUS_VERSION)
            .cloned()
            .unwrap_or_default(),
        instance_type: resources.instance_type.unwrap_or_default(),
        instance_count: resources.instance_count.unwrap_or(1),
        spot: false,
        training_seconds: seconds,
        billable_seconds: seconds,
        status,
        started_at: job.transform_start_time.map(format_rfc3339),
        ended_at: if rank(status) == FINISHED {
            job.transform_end_time.map(format_rfc3339)
        } else {
            None
        },
        expected_seconds: None,
        region: Some(region.to_string()),
        metrics: BTreeMap::new(),
        status_at: job.last_modified_time.map(format_rfc3339),
        created_at: job.creation_time.map(format_rfc3339),
    }
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    /// A batch transform job: recorded in the ledger (the cost run prices it); a failure is told.
    /// `sent` is the event's time, which dates the record when the detail has no
    /// LastModifiedTime; `now` stands for it when the event has none.
    pub(super) async fn transform_job(
        &self,
        job: &TransformJob,
        sent: Option<i64>,
        now: i64,
    ) -> Result<Outcome, LifecycleError> {
        let name = &job.transform_job_name;
        let Some(model) = transform_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("transform job {name} has no project tag of a configured model"),
            });
        };
        let mut record = transform_record(job, model, &self.stack.region);
        if record.status_at.is_none() {
            record.status_at = sent.map(format_rfc3339);
        }
        // The record's key: the partition of the job's creation month, or wherever the job's
        // record already is (see `ledger`'s layout).
        let times = [
            job.last_modified_time,
            job.transform_end_time,
            job.transform_start_time,
            sent,
        ];
        let (key, stored): (String, Option<JobRecord>) = self
            .job_record_at(
                ledger::TRANSFORMS_PREFIX,
                name,
                job.creation_time,
                &times,
                now,
            )
            .await?;
        // An event the ledger's record supersedes (older, or after the job completed) is stale:
        // it is neither recorded nor told, so a late Failed never pages about a finished job.
        let current = supersedes(stored.as_ref(), &record);
        let recorded = current
            && self
                .store
                .put_if_changed(
                    &key,
                    serde_json::to_vec_pretty(&record).unwrap_or_default(),
                    "application/json",
                )
                .await?
                == crate::store::Written::Stored;
        let outcome = match job.transform_job_status.as_str() {
            "Failed" => JobOutcome::Failed {
                reason: job
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "SageMaker gave no reason".into()),
                spot_capacity: false,
            },
            "Completed" => JobOutcome::Completed,
            "Stopped" => JobOutcome::Stopped {
                cause: StopCause::Requested,
                reason: job.failure_reason.clone(),
            },
            _ => JobOutcome::Running,
        };
        let alerted = match &outcome {
            JobOutcome::Failed { reason, .. } if current => {
                self.send_once(&alerts::transform_failed(
                    &model.name,
                    name,
                    reason,
                    &self.links(),
                ))
                .await?
            }
            _ => false,
        };
        if outcome == JobOutcome::Completed && model.kind == ModelKind::Theme {
            return self.theme_report(job, model, recorded).await;
        }
        Ok(Outcome::Job {
            job: name.clone(),
            outcome,
            recorded,
            alerted,
        })
    }

    /// A theme model's completed transform: its output combined per episode into
    /// `processed/themes/<version>/episodes.json`, and `processed/themes/latest.json` pointed at
    /// it unless a newer package's report is there already.
    async fn theme_report(
        &self,
        job: &TransformJob,
        model: &ModelConfig,
        recorded: bool,
    ) -> Result<Outcome, LifecycleError> {
        let name = &job.transform_job_name;
        let Some(corpus) = job.tags.get(tag::CORPUS_VERSION).filter(|v| !v.is_empty()) else {
            return Ok(Outcome::Ignored {
                reason: format!("transform job {name} has no corpus version tag: no theme report"),
            });
        };
        let input_key = model.dataset_key(corpus);
        let output_key = themes::output_key(&input_key, &predictions_prefix(&model.name, corpus));
        let missing = |key: &str| LifecycleError::ThemeOutput {
            job: name.clone(),
            message: format!("{key} is missing"),
        };
        let input = self
            .store
            .get(&input_key)
            .await?
            .ok_or_else(|| missing(&input_key))?;
        let output = self
            .store
            .get(&output_key)
            .await?
            .ok_or_else(|| missing(&output_key))?;
        let episodes = themes::combine(&input.bytes, &output.bytes).map_err(|e| {
            LifecycleError::ThemeOutput {
                job: name.clone(),
                message: format!("{output_key}: {e}"),
            }
        })?;
        let version = model_version(name).unwrap_or(0);
        let report = themes::report(&model.name, corpus, name, version, episodes);
        let key = themes::episodes_key(corpus);
        // Two packages trained on one corpus version write the same output prefix: the report of
        // the newer one stays, whichever event comes last.
        let stored: Option<ThemeReport> = self.read(&key).await?;
        let written = themes::moves_latest(stored.map(|r| r.package_version), version)
            && self
                .store
                .put_if_changed(&key, report.to_json(), "application/json")
                .await?
                == Written::Stored;
        let pointer: Option<Latest> = self.read(themes::LATEST_KEY).await?;
        let latest = themes::moves_latest(pointer.map(|p| p.package_version), version)
            && self
                .store
                .put_if_changed(
                    themes::LATEST_KEY,
                    report.latest().to_json(),
                    "application/json",
                )
                .await?
                == Written::Stored;
        Ok(Outcome::Themes {
            job: name.clone(),
            recorded,
            report: key,
            episodes: report.episodes.len(),
            written,
            latest,
        })
    }
}
