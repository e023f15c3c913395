//! Lifecycle: what happens after a training job. SageMaker's state-change events (from EventBridge)
//! record jobs in the ledger, register finished models behind a metric gate, deploy approved
//! packages with blue/green traffic shifting, and tell the team about every failure.
//!
//! Events arrive at least once and in any order, so every step is idempotent and reads the truth
//! before it acts:
//! - ledger records are written only when they change, and an older status never replaces a later
//!   one ([`plan::supersedes`]); a job's record has one key whatever event comes first, the month
//!   partition of the job's creation time (see [`crate::ledger`]'s layout);
//! - a job registers one package: the group is searched for a package naming the job before one is
//!   created (with the job name as client token), and the approval is set at creation;
//! - deployments are planned from the endpoint as DescribeEndpoint shows it: an endpoint already
//!   serving the package (or a newer one) is left alone, models and endpoint configs have names
//!   derived from the package and settings (a replay finds them and creates nothing), and alarms
//!   and scaling policies are upserts;
//! - endpoint events compare the endpoint's config with the one Hawkins asked for
//!   (`state/lifecycle/endpoints/`), which also catches an update that failed while the endpoint
//!   stayed InService;
//! - every message has an id and a marker under `alerts/sent/`: a replay sends nothing new;
//! - an A/B test is decided once: its conclusion is recorded before it is acted on ([`ab`]).
//!
//! One module per event, each with its handler methods on [`Lifecycle`] and the pure decisions
//! they execute: [`job`] (training jobs, and registering a completed job's model), [`tuning`],
//! [`transform`], [`package`] (approvals and deployments), [`endpoint`] and [`manual`] (a
//! person's `hawkins deploy` and `hawkins rollback`); the hourly schedule concludes A/B tests
//! ([`ab`]). [`names`] holds the
//! names they share; [`plan`] gathers every pure decision in one place.

pub mod ab;
#[cfg(test)]
mod ab_tests;
pub mod alerts;
pub mod endpoint;
pub mod events;
#[cfg(test)]
mod handler_tests;
pub mod job;
pub mod manual;
pub mod names;
pub mod package;
pub mod plan;
#[cfg(test)]
mod tests;
pub mod transform;
pub mod tuning;

use std::future::Future;

use serde::Serialize;
use serde_json::Value;
use tracing::info;

use self::alerts::Links;
use self::endpoint::ScalingSpec;
use self::endpoint::{Endpoint, EndpointOutcome};
use self::events::{EventError, LifecycleEvent};
use self::job::{JobOutcome, PackageSpec};
use self::package::{
    AlarmSpec, DeployPlan, Deployment, EndpointConfigSpec, ModelSpec, Package, TransformSpec,
};
use crate::config::Config;
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
    /// The group's approved packages as (version, ARN), oldest first.
    fn approved_versions(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<(u32, String)>, StoreError>> + Send;
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
    /// Sets a package's approval (`Approved`, `Rejected`...) with a note a person reads in the
    /// registry. Setting the approval it already has succeeds.
    fn update_approval(
        &self,
        arn: &str,
        approval: &str,
        note: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
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
    /// An approved package of a deployed model, and no role for its models to run as.
    /// A theme model's transform output that cannot be combined per episode.
    #[error(
        "transform job {job} completed, but its themes cannot be combined per episode: {message}; the ledger has the job, replay the event once the output is there"
    )]
    ThemeOutput { job: String, message: String },
    #[error(
        "package {package} is approved but the stack settings name no hosting role (HAWKINS_HOSTING_ROLE_ARN) for its models to run as: nothing was deployed; set it and replay the event"
    )]
    NoHostingRole { package: String },
    /// A person's A/B promotion that cannot be done now.
    #[error(transparent)]
    Ab(#[from] ab::AbError),
}

impl Retry for LifecycleError {
    fn retryable(&self) -> bool {
        match self {
            LifecycleError::Event(_) => false,
            LifecycleError::Aws(e) => e.retryable(),
            LifecycleError::BestJobNotRecorded { .. } => true,
            LifecycleError::NoHostingRole { .. } => false,
            LifecycleError::ThemeOutput { .. } => false,
            LifecycleError::Ab(e) => e.retryable(),
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
    /// A person's deploy or rollback request, carried out.
    Requested {
        request: String,
        model: String,
        version: u32,
        deploy: DeployPlan,
    },
    /// A request that cannot be carried out: the person was told.
    RequestRefused {
        request: String,
        reason: String,
    },
    /// A theme model's completed transform, combined per episode: `written` when the report at
    /// `report` changed, `latest` when the pointer did.
    Themes {
        job: String,
        recorded: bool,
        report: String,
        episodes: usize,
        written: bool,
        latest: bool,
    },
    /// The scheduled A/B check, one entry per model whose strategy is `ab`.
    AbChecked {
        checks: Vec<ab::AbOutcome>,
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

    /// A job's ledger record under `prefix` and the key it lives at: the first of
    /// [`crate::ledger::job_keys`] that holds an object (its record, or `None` when it does not
    /// parse: it is then rewritten there from the event), else [`crate::ledger::new_job_key`] and
    /// `None`. A job keeps one key whatever order its events come in: the key of its creation
    /// month, or the flat key of a record written before month partitions or from an event
    /// without a creation time. `times` are the times the event gives (the latest of them, or
    /// `now`, bounds the months the job can have been created in).
    async fn job_record_at<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        job: &str,
        created: Option<i64>,
        times: &[Option<i64>],
        now: i64,
    ) -> Result<(String, Option<T>), StoreError> {
        let latest = times.iter().flatten().copied().max().unwrap_or(now);
        for key in crate::ledger::job_keys(prefix, job, created, latest) {
            if let Some(object) = self.store.get(&key).await? {
                return Ok((key, serde_json::from_slice(&object.bytes).ok()));
            }
        }
        Ok((crate::ledger::new_job_key(prefix, job, created), None))
    }

    /// Publishes an alert unless its marker says it went out already. Alert first, marker second:
    /// a crash in between repeats one message, never loses one.
    async fn send_once(&self, alert: &Alert) -> Result<bool, StoreError> {
        crate::store::send_once(
            self.store,
            self.notifier,
            alert,
            &sent_marker(&alert.id),
            None,
        )
        .await
    }
}

/// The function's entry: every event it receives. Reading the A/B tests' metrics is what the
/// guards' CloudWatch side adds ([`ab::VariantMetrics`]).
impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards + ab::VariantMetrics,
{
    /// One EventBridge event: a SageMaker state change, a person's deploy request, or the hourly
    /// schedule that checks the A/B tests; `now` (seconds) dates ledger entries of events without
    /// a time.
    pub async fn handle(&self, event: Value, now: i64) -> Result<Outcome, LifecycleError> {
        let detail = event.get("detail").cloned().unwrap_or(Value::Null);
        let (event, time) = events::parse(event)?;
        let sent = time.as_deref().and_then(crate::time::parse_rfc3339);
        let at = sent.unwrap_or(now);
        let outcome = match event {
            LifecycleEvent::TrainingJob(job) => self.training_job(&job, &detail, sent, now).await?,
            LifecycleEvent::TuningJob(job) => self.tuning_job(&job).await?,
            LifecycleEvent::TransformJob(job) => self.transform_job(&job, sent, now).await?,
            LifecycleEvent::ModelPackage(change) => self.package_change(&change).await?,
            LifecycleEvent::Endpoint(change) => self.endpoint_change(&change, at).await?,
            LifecycleEvent::Request { key } => self.deploy_request(&key).await?,
            // The event's time is the check's "now": a redelivered event judges the same window.
            LifecycleEvent::Schedule => Outcome::AbChecked {
                checks: self.ab_checks(at).await?,
            },
        };
        info!(outcome = %serde_json::to_string(&outcome).unwrap_or_default(), "lifecycle event handled");
        Ok(outcome)
    }
}
