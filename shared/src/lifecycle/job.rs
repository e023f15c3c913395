//! Training job state changes: the ledger record of every status, one message for a failed or
//! stopped job, and the registration of a completed job's model behind the metric gate (which a
//! tuning job's best trial goes through too). The decisions are the pure functions here; the
//! handler methods on [`Lifecycle`] execute them.
//!
//! Idempotent: a record is written only when it changes and never replaces a later or newer
//! status, nor a completion ([`supersedes`]), and a stale event tells nothing; a job registers
//! one package (the group is searched for a package naming the job before one is created, with
//! the job name as client token); messages go out once.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::alerts;
use super::events::TrainingJob;
use super::names::{group_name, meta, tagged_model};
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry, tuning_trial_key};
use crate::config::{Direction, Gate, ModelConfig};
use crate::ledger::{self, JobRecord, JobStatus};
use crate::store::{Notifier, ObjectStore};
use crate::time::format_rfc3339;
use crate::training::tags as tag;

/// The model a job belongs to, when Hawkins started it: its project tag matches and its model is
/// in the config.
pub fn job_model<'c>(
    job: &TrainingJob,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    tagged_model(&job.tags, project, models)
}

/// Where a job status stands: a later stage never gives way to an earlier one.
pub(super) fn rank(status: JobStatus) -> u8 {
    match status {
        JobStatus::InProgress => 0,
        JobStatus::Stopping => 1,
        JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped | JobStatus::Other => {
            FINISHED
        }
    }
}

/// The rank of a job that has ended.
pub(super) const FINISHED: u8 = 2;

pub fn job_status(text: &str) -> JobStatus {
    match text {
        "InProgress" => JobStatus::InProgress,
        "Completed" => JobStatus::Completed,
        "Failed" => JobStatus::Failed,
        "Stopping" => JobStatus::Stopping,
        "Stopped" => JobStatus::Stopped,
        _ => JobStatus::Other,
    }
}

/// The ledger record of a job event (what the cost run prices).
pub fn job_record(job: &TrainingJob, model: &ModelConfig, region: &str) -> JobRecord {
    let resources = job.resource_config.clone().unwrap_or_default();
    let status = job_status(&job.training_job_status);
    JobRecord {
        job_name: job.training_job_name.clone(),
        model: model.name.clone(),
        kind: model.kind.as_str().to_string(),
        corpus_version: job
            .tags
            .get(tag::CORPUS_VERSION)
            .cloned()
            .unwrap_or_default(),
        instance_type: resources
            .instance_type
            .unwrap_or_else(|| model.instance_type.clone()),
        instance_count: resources.instance_count.unwrap_or(model.instance_count),
        spot: job.enable_managed_spot_training,
        training_seconds: job.training_time_in_seconds,
        billable_seconds: job.billable_time_in_seconds,
        status,
        started_at: job.training_start_time.map(format_rfc3339),
        ended_at: if rank(status) == FINISHED {
            job.training_end_time.map(format_rfc3339)
        } else {
            None
        },
        // Warned about at three quarters of the limit, before SageMaker stops it at the limit.
        expected_seconds: Some(u64::from(model.max_runtime_seconds) * 3 / 4),
        region: Some(region.to_string()),
        metrics: job
            .metrics()
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (k, serde_json::Value::from(v)))
            .collect(),
        status_at: job.last_modified_time.map(format_rfc3339),
        created_at: job.creation_time.map(format_rfc3339),
    }
}

/// Whether an event's record may replace the one in the ledger, and so whether the event is
/// told. Events come in any order and more than once, and the handler does not ask SageMaker
/// again, so the event's own status and time decide:
/// - a later stage never gives way to an earlier one: an InProgress event delivered after
///   Completed does not bring a finished job back to life;
/// - an event older than the recorded one (by `status_at`, SageMaker's time of the status) is a
///   stale delivery: a Failed event of 10:14 arriving after the Stopped of 18:23 changes nothing;
/// - when either time is unknown, a finished record keeps its status: the first end recorded
///   stands, and only a replay of it (the same status) is taken;
/// - Completed is final: SageMaker never moves a job out of it, and the job's model has been
///   registered (and perhaps deployed) on the strength of it, so no later event about the job
///   may record or tell a failure.
pub fn supersedes(stored: Option<&JobRecord>, incoming: &JobRecord) -> bool {
    let Some(old) = stored else {
        return true;
    };
    if rank(incoming.status) < rank(old.status) {
        return false;
    }
    let same = incoming.status == old.status;
    if old.status == JobStatus::Completed && !same {
        return false;
    }
    match (old.status_time(), incoming.status_time()) {
        (Some(recorded), Some(event)) => event >= recorded,
        _ => same || rank(old.status) < FINISHED,
    }
}

/// What a terminal job event tells the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum JobOutcome {
    /// Not finished: recorded only.
    Running,
    Completed,
    Failed {
        reason: String,
        spot_capacity: bool,
    },
    Stopped {
        cause: StopCause,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// MaxRuntimeInSeconds reached.
    MaxRuntime,
    /// Managed spot: no capacity before MaxWaitTimeInSeconds.
    SpotCapacity,
    /// StopTrainingJob: a person or a script.
    Requested,
}

pub fn job_outcome(job: &TrainingJob) -> JobOutcome {
    let secondary = job.secondary_status.as_deref().unwrap_or("");
    match job.training_job_status.as_str() {
        "Completed" => JobOutcome::Completed,
        "Failed" => JobOutcome::Failed {
            reason: job
                .failure_reason
                .clone()
                .unwrap_or_else(|| "SageMaker gave no reason".into()),
            spot_capacity: secondary == "MaxWaitTimeExceeded",
        },
        "Stopped" => JobOutcome::Stopped {
            cause: match secondary {
                "MaxRuntimeExceeded" => StopCause::MaxRuntime,
                "MaxWaitTimeExceeded" | "Interrupted" => StopCause::SpotCapacity,
                _ => StopCause::Requested,
            },
            reason: job.failure_reason.clone(),
        },
        _ => JobOutcome::Running,
    }
}

/// The gate's verdict on a new package.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Approve { reason: String },
    Hold { reason: String },
}

impl Verdict {
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Approve { reason } | Verdict::Hold { reason } => reason,
        }
    }
}

fn better(direction: Direction) -> &'static str {
    match direction {
        Direction::Minimize => "lower",
        Direction::Maximize => "higher",
    }
}

/// Decides a new package of `model`: approved outright when its `[model.gate]` says
/// `approval = "auto"`, else by [`gate`].
pub fn model_verdict(
    model: &ModelConfig,
    metrics: &BTreeMap<String, f64>,
    approved: Option<(u32, Option<f64>)>,
) -> Verdict {
    if model.auto_approve {
        return Verdict::Approve {
            reason: "[model.gate] approval = \"auto\": approved on registration, no metric read"
                .into(),
        };
    }
    gate(model.gate.as_ref(), metrics, approved)
}

/// Decides a new package: its metric against the config's threshold and against the approved
/// package's (`approved`: its version and metric value, when one is approved).
pub fn gate(
    gate: Option<&Gate>,
    metrics: &BTreeMap<String, f64>,
    approved: Option<(u32, Option<f64>)>,
) -> Verdict {
    let Some(gate) = gate else {
        return Verdict::Hold {
            reason:
                "the model has no [model.gate] in the config, so every package waits for a person"
                    .into(),
        };
    };
    let name = &gate.metric;
    let Some(&value) = metrics.get(name).filter(|v| v.is_finite()) else {
        return Verdict::Hold {
            reason: format!("the job reported no final {name}, the gate's metric"),
        };
    };
    // Positive when `a` is better than `b`.
    let gain = |a: f64, b: f64| match gate.direction {
        Direction::Minimize => b - a,
        Direction::Maximize => a - b,
    };
    if let Some(threshold) = gate.threshold
        && gain(value, threshold) < 0.0
    {
        return Verdict::Hold {
            reason: format!(
                "{name} {value} misses the threshold {threshold} ({} is better)",
                better(gate.direction)
            ),
        };
    }
    match approved {
        Some((version, Some(current))) if gain(value, current) < gate.min_improvement => {
            Verdict::Hold {
                reason: format!(
                    "{name} {value} is not better than the approved version {version}'s {current} by at least {} ({} is better)",
                    gate.min_improvement,
                    better(gate.direction)
                ),
            }
        }
        Some((version, Some(current))) => Verdict::Approve {
            reason: format!(
                "{name} {value} passes the gate (threshold {}; approved version {version}: {current})",
                gate.threshold.map_or("none".into(), |t| t.to_string())
            ),
        },
        _ => Verdict::Approve {
            reason: format!(
                "{name} {value} passes the gate (threshold {}; no approved version to beat)",
                gate.threshold.map_or("none".into(), |t| t.to_string())
            ),
        },
    }
}

/// What CreateModelPackage gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageSpec {
    pub group: String,
    pub description: String,
    pub image: String,
    pub model_data_url: String,
    /// Approved or PendingManualApproval, set at creation so no crash can leave it half-decided.
    pub approval: String,
    pub metadata: BTreeMap<String, String>,
    /// The metrics JSON in S3 (ModelMetrics' model quality statistics).
    pub metrics_s3_uri: String,
    /// The job's ARN (MetadataProperties.GeneratedBy).
    pub generated_by: String,
    pub project: String,
    /// The corpus version (MetadataProperties.CommitId).
    pub corpus_version: String,
    /// The job name: the same job never registers twice even if two deliveries race.
    pub client_token: String,
}

/// The package spec of a completed job. CustomerMetadataProperties values are at most 256
/// characters: the gate's reason is cut to fit.
pub fn package_spec(
    job: &TrainingJob,
    model: &ModelConfig,
    project: &str,
    image: &str,
    metrics_s3_uri: &str,
    manifest_uri: &str,
    verdict: &Verdict,
) -> Option<PackageSpec> {
    let artifact = job.model_artifacts.as_ref()?.s3_model_artifacts.clone();
    let corpus = job
        .tags
        .get(tag::CORPUS_VERSION)
        .cloned()
        .unwrap_or_default();
    let mut metadata = BTreeMap::new();
    metadata.insert(meta::MODEL.to_string(), model.name.clone());
    metadata.insert(meta::JOB.to_string(), job.training_job_name.clone());
    metadata.insert(meta::CORPUS_VERSION.to_string(), corpus.clone());
    if let Some(sha) = job.tags.get(tag::DATASET_SHA256) {
        metadata.insert(meta::DATASET_SHA256.to_string(), sha.clone());
    }
    metadata.insert(meta::MANIFEST.to_string(), manifest_uri.to_string());
    metadata.insert(
        meta::GATE.to_string(),
        verdict.reason().chars().take(256).collect(),
    );
    for (name, value) in job.metrics() {
        if value.is_finite() {
            metadata.insert(format!("{}{name}", meta::METRIC), value.to_string());
        }
    }
    Some(PackageSpec {
        group: group_name(project, &model.name),
        description: format!(
            "{} trained by {} on corpus {}",
            model.name, job.training_job_name, corpus
        ),
        image: image.to_string(),
        model_data_url: artifact,
        approval: match verdict {
            Verdict::Approve { .. } => "Approved".into(),
            Verdict::Hold { .. } => "PendingManualApproval".into(),
        },
        metadata,
        metrics_s3_uri: metrics_s3_uri.to_string(),
        generated_by: job
            .training_job_arn
            .clone()
            .unwrap_or_else(|| job.training_job_name.clone()),
        project: project.to_string(),
        corpus_version: corpus,
        client_token: job.training_job_name.clone(),
    })
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    /// A training job's state change; `sent` is the event's time, which dates its record when
    /// the detail has no LastModifiedTime; `now` stands for it when the event has none.
    pub(super) async fn training_job(
        &self,
        job: &TrainingJob,
        detail: &Value,
        sent: Option<i64>,
        now: i64,
    ) -> Result<Outcome, LifecycleError> {
        let Some(model) = job_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "job {} has no {} tag of a configured model",
                    job.training_job_name,
                    crate::training::tags::PROJECT
                ),
            });
        };
        let mut record = job_record(job, model, &self.stack.region);
        if record.status_at.is_none() {
            record.status_at = sent.map(format_rfc3339);
        }
        // The record's key: the partition of the job's creation month, or wherever the job's
        // record already is (see `ledger`'s layout).
        let times = [
            job.last_modified_time,
            job.training_end_time,
            job.training_start_time,
            sent,
        ];
        let (key, stored): (String, Option<JobRecord>) = self
            .job_record_at(
                ledger::TRAINING_PREFIX,
                &job.training_job_name,
                job.creation_time,
                &times,
                now,
            )
            .await?;
        let outcome = job_outcome(job);
        if !supersedes(stored.as_ref(), &record) {
            return Ok(Outcome::Job {
                job: job.training_job_name.clone(),
                outcome,
                recorded: false,
                alerted: false,
            });
        }
        let bytes = serde_json::to_vec_pretty(&record).unwrap_or_default();
        let recorded = self
            .store
            .put_if_changed(&key, bytes, "application/json")
            .await?
            == crate::store::Written::Stored;
        let name = &job.training_job_name;
        let links = self.links();
        let alerted = match &outcome {
            JobOutcome::Running => false,
            JobOutcome::Failed {
                reason,
                spot_capacity,
            } => {
                self.send_once(&alerts::job_failed(
                    &model.name,
                    name,
                    reason,
                    *spot_capacity,
                    &links,
                ))
                .await?
            }
            JobOutcome::Stopped { cause, reason } => {
                self.send_once(&alerts::job_stopped(
                    &model.name,
                    name,
                    *cause,
                    reason.as_deref(),
                    &links,
                ))
                .await?
            }
            JobOutcome::Completed if job.tuning_job_arn.is_some() => {
                // One of a tuning job's trials: kept whole until the tuning job names the best.
                let tuning = job
                    .tuning_job_arn
                    .as_deref()
                    .and_then(|arn| arn.rsplit('/').next())
                    .unwrap_or_default();
                self.store
                    .put_if_changed(
                        &tuning_trial_key(tuning, name),
                        serde_json::to_vec(detail).unwrap_or_default(),
                        "application/json",
                    )
                    .await?;
                false
            }
            JobOutcome::Completed => return self.register(job, model).await,
        };
        Ok(Outcome::Job {
            job: name.clone(),
            outcome,
            recorded,
            alerted,
        })
    }

    /// Registers a completed job's model once, approved or held by the gate, and deploys it when
    /// approved.
    pub(super) async fn register(
        &self,
        job: &TrainingJob,
        model: &ModelConfig,
    ) -> Result<Outcome, LifecycleError> {
        let name = &job.training_job_name;
        let group = group_name(self.project(), &model.name);
        self.registry
            .ensure_group(&group, &format!("Hawkins model {}", model.name))
            .await?;
        let links = self.links();
        if let Some(existing) = self.registry.find_package(&group, name).await? {
            // A replay, or a retry after a crash: finish what the first delivery may not have.
            let verdict_text = existing
                .metadata
                .get(meta::GATE)
                .cloned()
                .unwrap_or_default();
            let deploy = if existing.approval == "Approved" {
                let verdict = Verdict::Approve {
                    reason: verdict_text,
                };
                self.send_once(&alerts::package_approved(
                    &model.name,
                    &existing.arn,
                    &verdict,
                    model.deploy.is_some(),
                    &links,
                    &group,
                ))
                .await?;
                Some(self.deploy(model, &existing).await?)
            } else {
                if existing.approval == "PendingManualApproval" {
                    let verdict = Verdict::Hold {
                        reason: verdict_text,
                    };
                    self.send_once(&alerts::package_held(
                        model,
                        name,
                        &existing.arn,
                        &group,
                        &verdict,
                        &links,
                    ))
                    .await?;
                }
                None
            };
            return Ok(Outcome::Registered {
                job: name.clone(),
                package: existing.arn,
                approval: existing.approval,
                created: false,
                deploy,
            });
        }
        let approved = self.registry.latest_approved(&group).await?;
        let metrics = job.metrics();
        let verdict = model_verdict(
            model,
            &metrics,
            approved.as_ref().map(|p| {
                (
                    p.version,
                    model.gate.as_ref().and_then(|g| p.metric(&g.metric)),
                )
            }),
        );
        let metrics_key = format!("models/{}/{name}/metrics.json", model.name);
        let report = serde_json::json!({
            "job": name,
            "model": model.name,
            "metrics": metrics.iter().filter(|(_, v)| v.is_finite()).collect::<std::collections::BTreeMap<_, _>>(),
            "gate": verdict,
        });
        self.store
            .put_if_changed(
                &metrics_key,
                serde_json::to_vec_pretty(&report).unwrap_or_default(),
                "application/json",
            )
            .await?;
        let corpus = job
            .tags
            .get(crate::training::tags::CORPUS_VERSION)
            .cloned()
            .unwrap_or_default();
        let image = crate::config::image_uri(
            &model.inference_image,
            &self.stack.account,
            &self.stack.region,
        );
        let Some(spec) = package_spec(
            job,
            model,
            self.project(),
            &image,
            &format!("s3://{}/{metrics_key}", self.stack.bucket),
            &format!(
                "s3://{}/{}{corpus}/manifest.json",
                self.stack.bucket,
                crate::manifest::DATASETS_PREFIX
            ),
            &verdict,
        ) else {
            return Ok(Outcome::Ignored {
                reason: format!("job {name} completed without a model artifact"),
            });
        };
        let arn = self.registry.create_package(&spec).await?;
        let deploy = match &verdict {
            Verdict::Hold { .. } => {
                self.send_once(&alerts::package_held(
                    model, name, &arn, &group, &verdict, &links,
                ))
                .await?;
                None
            }
            Verdict::Approve { .. } => {
                self.send_once(&alerts::package_approved(
                    &model.name,
                    &arn,
                    &verdict,
                    model.deploy.is_some(),
                    &links,
                    &group,
                ))
                .await?;
                match self.registry.package(&arn).await? {
                    Some(package) => Some(self.deploy(model, &package).await?),
                    None => None,
                }
            }
        };
        Ok(Outcome::Registered {
            job: name.clone(),
            package: arn,
            approval: spec.approval,
            created: true,
            deploy,
        })
    }
}
