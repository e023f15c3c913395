//! Lifecycle: what happens after a training job. SageMaker's state-change events (from EventBridge)
//! record jobs in the ledger, register finished models behind a metric gate, deploy approved
//! packages with blue/green traffic shifting, and tell the team about every failure.
//!
//! Events arrive at least once and in any order, so every step is idempotent and reads the truth
//! before it acts:
//! - ledger records are written only when they change, and an older status never replaces a later
//!   one ([`plan::supersedes`]);
//! - a job registers one package: the group is searched for a package naming the job before one is
//!   created (with the job name as client token), and the approval is set at creation;
//! - deployments are planned from the endpoint as DescribeEndpoint shows it: an endpoint already
//!   serving the package (or a newer one) is left alone, models and endpoint configs have names
//!   derived from the package and settings (a replay finds them and creates nothing), and alarms
//!   and scaling policies are upserts;
//! - endpoint events compare the endpoint's config with the one Hawkins asked for
//!   (`state/lifecycle/endpoints/`), which also catches an update that failed while the endpoint
//!   stayed InService;
//! - every message has an id and a marker under `alerts/sent/`: a replay sends nothing new.

pub mod alerts;
pub mod events;
pub mod plan;
#[cfg(test)]
mod tests;

use std::future::Future;

use serde::Serialize;
use serde_json::Value;
use tracing::info;

use self::alerts::Links;
use self::events::{
    EndpointChange, EventError, LifecycleEvent, PackageChange, TrainingJob, TransformJob, TuningJob,
};
use self::plan::{
    AlarmSpec, DeployPlan, Deployment, Endpoint, EndpointConfigSpec, EndpointOutcome,
    EndpointState, JobOutcome, ModelSpec, Package, PackageSpec, ScalingSpec, TransformSpec,
    Verdict,
};
use crate::config::{Config, ModelConfig};
use crate::costs::ledger::{self, EndpointRecord, HistoryEntry, JobRecord};
use crate::costs::time::format_rfc3339;
use crate::error::{Retry, StoreError};
use crate::store::{Alert, Notifier, ObjectStore};
use crate::training::StackSettings;

/// The model registry.
pub trait Registry: Sync {
    /// Creates the group when it does not exist.
    fn ensure_group(
        &self,
        group: &str,
        description: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The group's package registered from `job`, if any.
    fn find_package(
        &self,
        group: &str,
        job: &str,
    ) -> impl Future<Output = Result<Option<Package>, StoreError>> + Send;
    /// The group's newest approved package.
    fn latest_approved(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Option<Package>, StoreError>> + Send;
    /// Registers a package; its ARN.
    fn create_package(
        &self,
        spec: &PackageSpec,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    fn package(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<Package>, StoreError>> + Send;
}

/// Models, endpoint configs and endpoints. Creating what already exists succeeds.
pub trait Hosting: Sync {
    fn create_model(&self, spec: &ModelSpec)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    fn create_endpoint_config(
        &self,
        spec: &EndpointConfigSpec,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The endpoint with its current config's variants, or `None` when there is none.
    fn endpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Endpoint>, StoreError>> + Send;
    fn create_endpoint(
        &self,
        name: &str,
        config: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn update_endpoint(
        &self,
        name: &str,
        config: &str,
        deployment: Option<&Deployment>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn create_transform_job(
        &self,
        spec: &TransformSpec,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Alarms and auto scaling around an endpoint. All are upserts; removing what is absent succeeds.
pub trait Guards: Sync {
    fn put_alarm(&self, alarm: &AlarmSpec) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn register_scaling(
        &self,
        spec: &ScalingSpec,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn deregister_scaling(
        &self,
        resource_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why an event failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Aws(#[from] StoreError),
    /// A tuning job finished before the event of its best training job was recorded.
    #[error(
        "tuning job {tuning} names {best} as its best training job, whose Completed event has not been recorded yet: retried"
    )]
    BestJobNotRecorded { tuning: String, best: String },
}

impl Retry for LifecycleError {
    fn retryable(&self) -> bool {
        match self {
            LifecycleError::Event(_) => false,
            LifecycleError::Aws(e) => e.retryable(),
            LifecycleError::BestJobNotRecorded { .. } => true,
        }
    }
}

/// What one event did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    Ignored {
        reason: String,
    },
    /// A job's state, recorded (or skipped as older than the ledger's).
    Job {
        job: String,
        outcome: JobOutcome,
        recorded: bool,
        alerted: bool,
    },
    Registered {
        job: String,
        package: String,
        approval: String,
        created: bool,
        deploy: Option<DeployPlan>,
    },
    Package {
        package: String,
        approval: String,
        deploy: Option<DeployPlan>,
    },
    Endpoint {
        endpoint: String,
        outcome: EndpointOutcome,
        alerted: bool,
    },
}

/// The lifecycle function's capabilities and settings.
pub struct Lifecycle<'a, S, N, R, H, G> {
    pub store: &'a S,
    pub notifier: &'a N,
    pub registry: &'a R,
    pub hosting: &'a H,
    pub guards: &'a G,
    pub config: &'a Config,
    pub stack: &'a StackSettings,
}

/// Where a tuning job's completed trial is kept until the tuning job names the best one.
pub fn tuning_trial_key(tuning_job: &str, training_job: &str) -> String {
    format!("state/lifecycle/tuning/{tuning_job}/{training_job}.json")
}

/// Where a sent alert is remembered.
pub fn sent_marker(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}{safe}.json", crate::costs::alerts::SENT_PREFIX)
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    fn links(&self) -> Links {
        Links {
            region: self.stack.region.clone(),
        }
    }

    fn project(&self) -> &str {
        &self.stack.project
    }

    /// One EventBridge event; `now` (seconds) dates ledger entries of events without a time.
    pub async fn handle(&self, event: Value, now: i64) -> Result<Outcome, LifecycleError> {
        let detail = event.get("detail").cloned().unwrap_or(Value::Null);
        let (event, time) = events::parse(event)?;
        let at = time
            .as_deref()
            .and_then(crate::costs::time::parse_rfc3339)
            .unwrap_or(now);
        let outcome = match event {
            LifecycleEvent::TrainingJob(job) => self.training_job(&job, &detail).await?,
            LifecycleEvent::TuningJob(job) => self.tuning_job(&job).await?,
            LifecycleEvent::TransformJob(job) => self.transform_job(&job).await?,
            LifecycleEvent::ModelPackage(change) => self.package_change(&change).await?,
            LifecycleEvent::Endpoint(change) => self.endpoint_change(&change, at).await?,
        };
        info!(outcome = %serde_json::to_string(&outcome).unwrap_or_default(), "lifecycle event handled");
        Ok(outcome)
    }

    /// The JSON object at `key`, or `None` when there is none or it does not parse (it is then
    /// rewritten from the event).
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .store
            .get(key)
            .await?
            .and_then(|o| serde_json::from_slice(&o.bytes).ok()))
    }

    /// Publishes an alert unless its marker says it went out already. Alert first, marker second:
    /// a crash in between repeats one message, never loses one.
    async fn send_once(&self, alert: &Alert) -> Result<bool, StoreError> {
        let marker = sent_marker(&alert.id);
        if self.store.head(&marker).await?.is_some() {
            return Ok(false);
        }
        self.notifier.publish(alert).await?;
        let body =
            serde_json::json!({"id": alert.id, "kind": alert.kind, "subject": alert.subject});
        self.store
            .put_if_changed(&marker, body.to_string().into_bytes(), "application/json")
            .await?;
        Ok(true)
    }

    async fn training_job(
        &self,
        job: &TrainingJob,
        detail: &Value,
    ) -> Result<Outcome, LifecycleError> {
        let Some(model) = plan::job_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "job {} has no {} tag of a configured model",
                    job.training_job_name,
                    crate::training::tags::PROJECT
                ),
            });
        };
        let record = plan::job_record(job, model, &self.stack.region);
        let key = format!("{}{}.json", ledger::TRAINING_PREFIX, job.training_job_name);
        let stored: Option<JobRecord> = self.read(&key).await?;
        let outcome = plan::job_outcome(job);
        if !plan::supersedes(stored.as_ref(), &record) {
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
    async fn register(
        &self,
        job: &TrainingJob,
        model: &ModelConfig,
    ) -> Result<Outcome, LifecycleError> {
        let name = &job.training_job_name;
        let group = plan::group_name(self.project(), &model.name);
        self.registry
            .ensure_group(&group, &format!("Hawkins model {}", model.name))
            .await?;
        let links = self.links();
        if let Some(existing) = self.registry.find_package(&group, name).await? {
            // A replay, or a retry after a crash: finish what the first delivery may not have.
            let verdict_text = existing
                .metadata
                .get(plan::meta::GATE)
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
        let verdict = plan::gate(
            model.gate.as_ref(),
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
        let Some(spec) = plan::package_spec(
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

    /// A tuning job: when Completed, its best trial is registered like a training job of its
    /// own; a failed or stopped tuning job is told like a failed job.
    async fn tuning_job(&self, job: &TuningJob) -> Result<Outcome, LifecycleError> {
        let name = &job.hyper_parameter_tuning_job_name;
        let Some(model) = plan::tuning_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("tuning job {name} is not a Hawkins job of a configured model"),
            });
        };
        let links = self.links();
        match job.hyper_parameter_tuning_job_status.as_str() {
            "Completed" => {
                let Some(best) = &job.best_training_job else {
                    return Ok(Outcome::Ignored {
                        reason: format!("tuning job {name} completed without a best training job"),
                    });
                };
                let stored = self
                    .store
                    .get(&tuning_trial_key(name, &best.training_job_name))
                    .await?;
                let trial: Option<TrainingJob> =
                    stored.and_then(|o| serde_json::from_slice(&o.bytes).ok());
                match trial {
                    Some(trial) => self.register(&trial, model).await,
                    None => Err(LifecycleError::BestJobNotRecorded {
                        tuning: name.clone(),
                        best: best.training_job_name.clone(),
                    }),
                }
            }
            "Failed" | "Stopped" => {
                let reason = job.failure_reason.clone().unwrap_or_else(|| {
                    format!(
                        "the tuning job is {}",
                        job.hyper_parameter_tuning_job_status
                    )
                });
                let alerted = self
                    .send_once(&alerts::job_failed(
                        &model.name,
                        name,
                        &reason,
                        false,
                        &links,
                    ))
                    .await?;
                Ok(Outcome::Job {
                    job: name.clone(),
                    outcome: JobOutcome::Failed {
                        reason,
                        spot_capacity: false,
                    },
                    recorded: false,
                    alerted,
                })
            }
            _ => Ok(Outcome::Job {
                job: name.clone(),
                outcome: JobOutcome::Running,
                recorded: false,
                alerted: false,
            }),
        }
    }

    /// A batch transform job: recorded in the ledger (the cost run prices it); a failure is told.
    async fn transform_job(&self, job: &TransformJob) -> Result<Outcome, LifecycleError> {
        let name = &job.transform_job_name;
        let Some(model) = plan::transform_model(job, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("transform job {name} has no project tag of a configured model"),
            });
        };
        let record = plan::transform_record(job, model, &self.stack.region);
        let key = format!("{}{name}.json", ledger::TRANSFORMS_PREFIX);
        let stored: Option<JobRecord> = self.read(&key).await?;
        let recorded = plan::supersedes(stored.as_ref(), &record)
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
                cause: plan::StopCause::Requested,
                reason: job.failure_reason.clone(),
            },
            _ => JobOutcome::Running,
        };
        let alerted = match &outcome {
            JobOutcome::Failed { reason, .. } => {
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
        Ok(Outcome::Job {
            job: name.clone(),
            outcome,
            recorded,
            alerted,
        })
    }

    async fn package_change(&self, change: &PackageChange) -> Result<Outcome, LifecycleError> {
        let Some(package) = self.registry.package(&change.model_package_arn).await? else {
            return Ok(Outcome::Ignored {
                reason: format!("package {} no longer exists", change.model_package_arn),
            });
        };
        let Some(model) = package
            .model()
            .and_then(|m| self.config.models.iter().find(|c| c.name == m))
        else {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "package {} was not registered by Hawkins for a configured model",
                    package.arn
                ),
            });
        };
        // The registry, not the event, says whether the package is approved now: a late event
        // about an approval since revoked deploys nothing.
        let deploy = if package.approval == "Approved" {
            Some(self.deploy(model, &package).await?)
        } else {
            None
        };
        Ok(Outcome::Package {
            package: package.arn,
            approval: package.approval,
            deploy,
        })
    }

    /// Deploys exactly `package` on the model's endpoint (see [`plan::plan_deploy`]).
    async fn deploy(
        &self,
        model: &ModelConfig,
        package: &Package,
    ) -> Result<DeployPlan, LifecycleError> {
        let endpoint = plan::endpoint_name(self.project(), &model.name);
        let current = self.hosting.endpoint(&endpoint).await?;
        let plan = plan::plan_deploy(
            model,
            package,
            current.as_ref(),
            self.project(),
            &self.stack.role_arn,
            &self.stack.bucket,
        );
        let (rollout, create) = match &plan {
            // The endpoint's next InService event takes this package up (`plan::next_to_deploy`).
            DeployPlan::Busy { status } => {
                info!(endpoint, status, package = %package.arn, "endpoint busy: deployment deferred to its next InService event");
                return Ok(plan);
            }
            DeployPlan::Batch(batch) => {
                self.hosting.create_model(&batch.model).await?;
                self.hosting.create_transform_job(&batch.job).await?;
                return Ok(plan);
            }
            DeployPlan::Create(r) => (r, true),
            DeployPlan::Update(r) => (r, false),
            _ => return Ok(plan),
        };
        self.hosting.create_model(&rollout.model).await?;
        self.hosting.create_endpoint_config(&rollout.config).await?;
        for alarm in &rollout.alarms {
            self.guards.put_alarm(alarm).await?;
        }
        let state = EndpointState {
            endpoint: endpoint.clone(),
            pending_config: Some(rollout.config.name.clone()),
            pending_package: Some(package.arn.clone()),
            pending_version: Some(package.version),
            failed_package: None,
        };
        self.store
            .put_if_changed(
                &EndpointState::key(&endpoint),
                serde_json::to_vec_pretty(&state).unwrap_or_default(),
                "application/json",
            )
            .await?;
        if create {
            self.hosting
                .create_endpoint(&endpoint, &rollout.config.name, &rollout.config.tags)
                .await?;
        } else {
            for resource in &rollout.deregister {
                self.guards.deregister_scaling(resource).await?;
            }
            self.hosting
                .update_endpoint(&endpoint, &rollout.config.name, rollout.deployment.as_ref())
                .await?;
        }
        Ok(plan)
    }

    async fn endpoint_change(
        &self,
        change: &EndpointChange,
        at: i64,
    ) -> Result<Outcome, LifecycleError> {
        let name = &change.endpoint_name;
        let Some(model) = plan::endpoint_model(name, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("endpoint {name} is not a Hawkins endpoint of a configured model"),
            });
        };
        let current = self.hosting.endpoint(name).await?;
        let state_key = EndpointState::key(name);
        let state: EndpointState = self.read(&state_key).await?.unwrap_or_default();
        let outcome = plan::endpoint_outcome(current.as_ref(), &state);
        self.record_endpoint(model, name, current.as_ref(), at)
            .await?;
        let links = self.links();
        let alerted = match &outcome {
            EndpointOutcome::Deployed { config } => {
                self.scale(model, name, current.as_ref()).await?;
                self.send_once(&alerts::deployed(&model.name, name, config, &links))
                    .await?
            }
            EndpointOutcome::UpdateFailed {
                wanted,
                serving,
                reason,
            } => {
                // The scaling targets removed before the update go back on the serving variants.
                self.scale(model, name, current.as_ref()).await?;
                self.send_once(&alerts::update_failed(
                    &model.name,
                    name,
                    wanted,
                    serving,
                    reason,
                    &links,
                ))
                .await?
            }
            EndpointOutcome::Failed { reason } => {
                self.send_once(&alerts::endpoint_failed(&model.name, name, reason, &links))
                    .await?
            }
            EndpointOutcome::Steady => {
                self.scale(model, name, current.as_ref()).await?;
                false
            }
            EndpointOutcome::InProgress | EndpointOutcome::Deleted => false,
        };
        // What the state is once this event is handled: a finished create or update is no
        // longer pending.
        let mut state = state;
        if matches!(
            outcome,
            EndpointOutcome::Deployed { .. }
                | EndpointOutcome::UpdateFailed { .. }
                | EndpointOutcome::Failed { .. }
        ) {
            let settled = EndpointState {
                endpoint: name.clone(),
                failed_package: match &outcome {
                    EndpointOutcome::UpdateFailed { .. } | EndpointOutcome::Failed { .. } => {
                        state.pending_package.clone()
                    }
                    _ => state.failed_package.clone(),
                },
                ..EndpointState::default()
            };
            self.store
                .put_if_changed(
                    &state_key,
                    serde_json::to_vec_pretty(&settled).unwrap_or_default(),
                    "application/json",
                )
                .await?;
            state = settled;
        }
        // An approval that came while the endpoint was busy is taken up now.
        if let (EndpointOutcome::Deployed { .. } | EndpointOutcome::Steady, Some(current)) =
            (&outcome, current.as_ref())
        {
            let group = plan::group_name(self.project(), &model.name);
            let latest = self.registry.latest_approved(&group).await?;
            if let Some(package) = plan::next_to_deploy(latest.as_ref(), current, &state) {
                self.deploy(model, package).await?;
            }
        }
        Ok(Outcome::Endpoint {
            endpoint: name.clone(),
            outcome,
            alerted,
        })
    }

    /// Target tracking on every instance variant the endpoint serves (upserts).
    async fn scale(
        &self,
        model: &ModelConfig,
        endpoint: &str,
        current: Option<&Endpoint>,
    ) -> Result<(), StoreError> {
        let (Some(deploy), Some(current)) = (model.deploy.as_ref(), current) else {
            return Ok(());
        };
        for variant in &current.variants {
            if let Some(spec) = plan::scaling(endpoint, &variant.name, deploy) {
                self.guards.register_scaling(&spec).await?;
            }
        }
        Ok(())
    }

    /// Adds the endpoint's status to its ledger history when it changed (the cost run bills by
    /// it). Entries are kept in time order, so a late event lands where it belongs.
    async fn record_endpoint(
        &self,
        model: &ModelConfig,
        name: &str,
        current: Option<&Endpoint>,
        at: i64,
    ) -> Result<(), StoreError> {
        let (status, variants) = match current {
            None => ("Deleted".to_string(), Vec::new()),
            Some(e) if matches!(e.status.as_str(), "InService" | "Failed") => (
                e.status.clone(),
                e.variants
                    .iter()
                    .map(|v| ledger::Variant {
                        name: v.name.clone(),
                        instance_type: v.instance_type.clone(),
                        instance_count: v.instance_count,
                        serverless: v.serverless.map(|(memory_mb, c)| ledger::Serverless {
                            memory_mb,
                            max_concurrency: Some(c),
                        }),
                    })
                    .collect(),
            ),
            Some(_) => return Ok(()),
        };
        let key = format!("{}{name}.json", ledger::ENDPOINTS_PREFIX);
        let mut record: EndpointRecord = self.read(&key).await?.unwrap_or(EndpointRecord {
            endpoint: name.to_string(),
            model: model.name.clone(),
            history: Vec::new(),
        });
        let entry = HistoryEntry {
            at: format_rfc3339(at),
            status,
            variants,
        };
        if !plan::history_needs(&record, &entry) {
            return Ok(());
        }
        record.history.push(entry);
        record
            .history
            .sort_by_key(|e| crate::costs::time::parse_rfc3339(&e.at).unwrap_or(0));
        self.store
            .put_if_changed(
                &key,
                serde_json::to_vec_pretty(&record).unwrap_or_default(),
                "application/json",
            )
            .await?;
        Ok(())
    }
}
