//! In-memory stand-ins for every AWS trait, for unit tests here and in the other crates (feature
//! `fakes`). Each keeps its state behind a mutex, records every call it gets (its AWS operation
//! and resource, failed calls included), and behaves like the service where idempotency depends
//! on it: creating what exists succeeds without a second one, package versions count up per
//! group, and endpoint status changes are the test's to make. Each can be told to fail its next
//! call, or the next call of one operation, with a chosen [`StoreError`] (see [`Faults`]).
//!
//! The real adapters these mirror are in `aws/`: `sagemaker.rs` ([`TrainingJobs`]),
//! `sqs.rs` ([`Queue`]), `lifecycle.rs` ([`Registry`], [`Hosting`]), `autoscaling.rs`
//! ([`Guards`], and [`VariantMetrics`] for the A/B tests) and `cloudwatch.rs` ([`EndpointMetrics`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

pub use crate::costs::MemMetrics;
use crate::costs::{Bucket, EndpointMetrics};
use crate::error::StoreError;
use crate::lifecycle::ab::{Traffic, VariantMetrics};
use crate::lifecycle::endpoint::{Endpoint, EndpointVariant, ScalingSpec};
use crate::lifecycle::job::PackageSpec;
use crate::lifecycle::package::{
    AlarmSpec, Deployment, EndpointConfigSpec, ModelSpec, Package, TransformSpec,
};
use crate::lifecycle::{Guards, Hosting, Registry};
pub use crate::store::{AlertLog, MemStore};
use crate::training::{JobSpec, Queue, Started, TrainingJobs};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A throttling error of `op`: the event is retried.
pub fn throttled(op: &'static str) -> StoreError {
    StoreError::Transient {
        op,
        resource: "fake".into(),
        message: "ThrottlingException: Rate exceeded".into(),
    }
}

/// An access-denied error of `op`: a person must fix the stack.
pub fn denied(op: &'static str) -> StoreError {
    StoreError::Refused {
        op,
        resource: "fake".into(),
        message: "AccessDeniedException: not authorized".into(),
    }
}

/// Failures a fake was told to give, in order, and the calls it received.
#[derive(Debug, Default)]
pub struct Faults {
    /// `(operation or any, error)`: the first that matches a call is given and dropped.
    pending: Mutex<Vec<(Option<&'static str>, StoreError)>>,
    calls: Mutex<Vec<String>>,
}

impl Faults {
    /// The next call, whatever its operation, fails with `error`. Called again, the call after
    /// that fails too.
    pub fn fail_next(&self, error: StoreError) {
        lock(&self.pending).push((None, error));
    }

    /// The next call of `op` (its AWS name, such as `CreateEndpoint`) fails with `error`.
    pub fn fail_on(&self, op: &'static str, error: StoreError) {
        lock(&self.pending).push((Some(op), error));
    }

    /// Every call received, as `<operation> <resource>`, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// How many calls of `op` were received.
    pub fn count(&self, op: &str) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|c| c.split(' ').next() == Some(op))
            .count()
    }

    /// Records a call; the error it was told to give, if any.
    fn call(&self, op: &'static str, resource: &str) -> Result<(), StoreError> {
        lock(&self.calls).push(format!("{op} {resource}"));
        let mut pending = lock(&self.pending);
        match pending.iter().position(|(o, _)| o.is_none_or(|o| o == op)) {
            Some(at) => Err(pending.remove(at).1),
            None => Ok(()),
        }
    }
}

/// SageMaker's training and tuning jobs: a job name is taken once, as CreateTrainingJob's
/// `ResourceInUse` makes it.
#[derive(Debug, Default)]
pub struct FakeTrainingJobs {
    pub faults: Faults,
    jobs: Mutex<BTreeMap<String, JobSpec>>,
}

impl FakeTrainingJobs {
    /// The jobs that exist, by name.
    pub fn jobs(&self) -> BTreeMap<String, JobSpec> {
        lock(&self.jobs).clone()
    }
}

impl TrainingJobs for FakeTrainingJobs {
    async fn start(&self, job: &JobSpec) -> Result<Started, StoreError> {
        let op = match job {
            JobSpec::Training(_) => "CreateTrainingJob",
            JobSpec::Tuning(_) => "CreateHyperParameterTuningJob",
        };
        self.faults.call(op, job.name())?;
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(job.name()) {
            return Ok(Started::AlreadyExists);
        }
        jobs.insert(job.name().to_string(), job.clone());
        Ok(Started::Created)
    }
}

/// The train queue: what was sent, with its delay (SQS' limit of 900 seconds applied).
#[derive(Debug, Default)]
pub struct FakeQueue {
    pub faults: Faults,
    sent: Mutex<Vec<(String, u32)>>,
}

impl FakeQueue {
    /// `(body, delay seconds)` of every message sent.
    pub fn sent(&self) -> Vec<(String, u32)> {
        lock(&self.sent).clone()
    }
}

impl Queue for FakeQueue {
    async fn send_delayed(&self, body: &str, delay_seconds: u32) -> Result<(), StoreError> {
        self.faults.call("SendMessage", "train-queue")?;
        lock(&self.sent).push((body.to_string(), delay_seconds.min(900)));
        Ok(())
    }
}

/// One registered package and the client token it was created with.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPackage {
    pub package: Package,
    pub spec: PackageSpec,
}

#[derive(Debug, Default)]
struct RegistryState {
    groups: BTreeMap<String, String>,
    packages: Vec<StoredPackage>,
}

/// The model registry: groups must exist before packages; versions count from 1 per group; a
/// client token already used returns that package's ARN instead of a second package.
#[derive(Debug)]
pub struct FakeRegistry {
    pub faults: Faults,
    /// `<region>:<account>` of the ARNs.
    pub arn_prefix: String,
    state: Mutex<RegistryState>,
}

impl Default for FakeRegistry {
    fn default() -> Self {
        Self {
            faults: Faults::default(),
            arn_prefix: "us-east-1:123456789012".into(),
            state: Mutex::default(),
        }
    }
}

impl FakeRegistry {
    /// The groups, with their descriptions.
    pub fn groups(&self) -> BTreeMap<String, String> {
        lock(&self.state).groups.clone()
    }

    /// Every package, in creation order.
    pub fn packages(&self) -> Vec<StoredPackage> {
        lock(&self.state).packages.clone()
    }

    /// UpdateModelPackage: a person approves or rejects. False when there is no such package.
    pub fn set_approval(&self, arn: &str, approval: &str) -> bool {
        let mut state = lock(&self.state);
        match state.packages.iter_mut().find(|p| p.package.arn == arn) {
            Some(stored) => {
                stored.package.approval = approval.to_string();
                true
            }
            None => false,
        }
    }
}

impl Registry for FakeRegistry {
    async fn ensure_group(&self, group: &str, description: &str) -> Result<(), StoreError> {
        self.faults.call("CreateModelPackageGroup", group)?;
        lock(&self.state)
            .groups
            .entry(group.to_string())
            .or_insert_with(|| description.to_string());
        Ok(())
    }

    async fn find_package(&self, group: &str, job: &str) -> Result<Option<Package>, StoreError> {
        self.faults.call("ListModelPackages", group)?;
        Ok(lock(&self.state)
            .packages
            .iter()
            .rev()
            .map(|p| &p.package)
            .find(|p| p.group == group && p.job() == Some(job))
            .cloned())
    }

    async fn approved_versions(&self, group: &str) -> Result<Vec<(u32, String)>, StoreError> {
        self.faults.call("ListModelPackages", group)?;
        let mut out: Vec<(u32, String)> = lock(&self.state)
            .packages
            .iter()
            .map(|p| &p.package)
            .filter(|p| p.group == group && p.approval == "Approved")
            .map(|p| (p.version, p.arn.clone()))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn latest_approved(&self, group: &str) -> Result<Option<Package>, StoreError> {
        self.faults.call("ListModelPackages", group)?;
        Ok(lock(&self.state)
            .packages
            .iter()
            .map(|p| &p.package)
            .filter(|p| p.group == group && p.approval == "Approved")
            .max_by_key(|p| p.version)
            .cloned())
    }

    async fn create_package(&self, spec: &PackageSpec) -> Result<String, StoreError> {
        self.faults.call("CreateModelPackage", &spec.group)?;
        let mut state = lock(&self.state);
        if !state.groups.contains_key(&spec.group) {
            return Err(StoreError::Other {
                op: "CreateModelPackage",
                resource: spec.group.clone(),
                message: format!(
                    "ValidationException: Model Package Group {} does not exist",
                    spec.group
                ),
            });
        }
        if let Some(existing) = state
            .packages
            .iter()
            .find(|p| p.spec.group == spec.group && p.spec.client_token == spec.client_token)
        {
            return Ok(existing.package.arn.clone());
        }
        let version = state
            .packages
            .iter()
            .filter(|p| p.package.group == spec.group)
            .count() as u32
            + 1;
        let arn = format!(
            "arn:aws:sagemaker:{}:model-package/{}/{version}",
            self.arn_prefix, spec.group
        );
        state.packages.push(StoredPackage {
            package: Package {
                arn: arn.clone(),
                group: spec.group.clone(),
                version,
                approval: spec.approval.clone(),
                image: spec.image.clone(),
                model_data_url: spec.model_data_url.clone(),
                metadata: spec.metadata.clone(),
            },
            spec: spec.clone(),
        });
        Ok(arn)
    }

    async fn package(&self, arn: &str) -> Result<Option<Package>, StoreError> {
        self.faults.call("DescribeModelPackage", arn)?;
        Ok(lock(&self.state)
            .packages
            .iter()
            .find(|p| p.package.arn == arn)
            .map(|p| p.package.clone()))
    }

    async fn update_approval(
        &self,
        arn: &str,
        approval: &str,
        _note: &str,
    ) -> Result<(), StoreError> {
        self.faults.call("UpdateModelPackage", arn)?;
        if self.set_approval(arn, approval) {
            Ok(())
        } else {
            Err(missing("UpdateModelPackage", arn, "model package"))
        }
    }
}

/// An endpoint as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeEndpoint {
    /// Creating, Updating, InService, Failed...
    pub status: String,
    /// The config it serves (an update's config becomes this once [`FakeHosting::settle`]d).
    pub config: String,
    /// The config of the create or update in flight.
    pub pending: Option<String>,
    pub failure_reason: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The last update's blue/green policy.
    pub deployment: Option<Deployment>,
}

#[derive(Debug, Default)]
struct HostingState {
    models: BTreeMap<String, ModelSpec>,
    configs: BTreeMap<String, EndpointConfigSpec>,
    endpoints: BTreeMap<String, FakeEndpoint>,
    transforms: BTreeMap<String, TransformSpec>,
}

/// Models, endpoint configs, endpoints and transform jobs. Creating what exists succeeds and
/// changes nothing; an endpoint needs its config and a transform job its model, as in SageMaker;
/// updating an endpoint that is being created or updated fails as retryable, like the adapter's
/// "in-progress" answer. The test moves endpoints on ([`settle`](Self::settle),
/// [`roll_back`](Self::roll_back), [`set_status`](Self::set_status)).
#[derive(Debug, Default)]
pub struct FakeHosting {
    pub faults: Faults,
    state: Mutex<HostingState>,
}

impl FakeHosting {
    pub fn models(&self) -> BTreeMap<String, ModelSpec> {
        lock(&self.state).models.clone()
    }

    pub fn endpoint_configs(&self) -> BTreeMap<String, EndpointConfigSpec> {
        lock(&self.state).configs.clone()
    }

    pub fn endpoint_state(&self, name: &str) -> Option<FakeEndpoint> {
        lock(&self.state).endpoints.get(name).cloned()
    }

    pub fn transform_jobs(&self) -> BTreeMap<String, TransformSpec> {
        lock(&self.state).transforms.clone()
    }

    /// The create or update in flight finishes: InService on the config asked for. False when
    /// there is no such endpoint.
    pub fn settle(&self, name: &str) -> bool {
        self.change(name, |e| {
            if let Some(config) = e.pending.take() {
                e.config = config;
            }
            e.status = "InService".into();
            e.failure_reason = None;
        })
    }

    /// The update in flight is rolled back: InService on the config it served before, with
    /// `reason`.
    pub fn roll_back(&self, name: &str, reason: &str) -> bool {
        self.change(name, |e| {
            e.pending = None;
            e.status = "InService".into();
            e.failure_reason = Some(reason.to_string());
        })
    }

    /// Any status, such as `Failed` with its reason.
    pub fn set_status(&self, name: &str, status: &str, reason: Option<&str>) -> bool {
        self.change(name, |e| {
            e.status = status.to_string();
            e.failure_reason = reason.map(str::to_string);
        })
    }

    /// Removes the endpoint (DeleteEndpoint).
    pub fn delete(&self, name: &str) -> bool {
        lock(&self.state).endpoints.remove(name).is_some()
    }

    fn change(&self, name: &str, f: impl FnOnce(&mut FakeEndpoint)) -> bool {
        match lock(&self.state).endpoints.get_mut(name) {
            Some(endpoint) => {
                f(endpoint);
                true
            }
            None => false,
        }
    }
}

fn missing(op: &'static str, resource: &str, what: &str) -> StoreError {
    StoreError::Other {
        op,
        resource: resource.to_string(),
        message: format!("ValidationException: Could not find {what} \"{resource}\""),
    }
}

impl Hosting for FakeHosting {
    async fn create_model(&self, spec: &ModelSpec) -> Result<(), StoreError> {
        self.faults.call("CreateModel", &spec.name)?;
        lock(&self.state)
            .models
            .entry(spec.name.clone())
            .or_insert_with(|| spec.clone());
        Ok(())
    }

    async fn create_endpoint_config(&self, spec: &EndpointConfigSpec) -> Result<(), StoreError> {
        self.faults.call("CreateEndpointConfig", &spec.name)?;
        let mut state = lock(&self.state);
        if let Some(v) = spec
            .variants
            .iter()
            .find(|v| !state.models.contains_key(&v.model))
        {
            return Err(missing("CreateEndpointConfig", &v.model, "model"));
        }
        state
            .configs
            .entry(spec.name.clone())
            .or_insert_with(|| spec.clone());
        Ok(())
    }

    async fn endpoint(&self, name: &str) -> Result<Option<Endpoint>, StoreError> {
        self.faults.call("DescribeEndpoint", name)?;
        let state = lock(&self.state);
        let Some(endpoint) = state.endpoints.get(name) else {
            return Ok(None);
        };
        let variants = state
            .configs
            .get(&endpoint.config)
            .map(|c| {
                c.variants
                    .iter()
                    .map(|v| EndpointVariant {
                        name: v.name.clone(),
                        model: v.model.clone(),
                        instance_type: v.instance_type.clone(),
                        instance_count: v.instance_type.as_ref().map(|_| v.instance_count),
                        serverless: v.serverless,
                        weight: v.weight,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(Endpoint {
            name: name.to_string(),
            status: endpoint.status.clone(),
            config: endpoint.config.clone(),
            failure_reason: endpoint.failure_reason.clone(),
            variants,
        }))
    }

    async fn create_endpoint(
        &self,
        name: &str,
        config: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        self.faults.call("CreateEndpoint", name)?;
        let mut state = lock(&self.state);
        if state.endpoints.contains_key(name) {
            return Ok(());
        }
        if !state.configs.contains_key(config) {
            return Err(missing("CreateEndpoint", config, "endpoint configuration"));
        }
        state.endpoints.insert(
            name.to_string(),
            FakeEndpoint {
                status: "Creating".into(),
                config: config.to_string(),
                pending: Some(config.to_string()),
                failure_reason: None,
                tags: tags.to_vec(),
                deployment: None,
            },
        );
        Ok(())
    }

    async fn update_endpoint(
        &self,
        name: &str,
        config: &str,
        deployment: Option<&Deployment>,
    ) -> Result<(), StoreError> {
        self.faults.call("UpdateEndpoint", name)?;
        let mut state = lock(&self.state);
        if !state.configs.contains_key(config) {
            return Err(missing("UpdateEndpoint", config, "endpoint configuration"));
        }
        let Some(endpoint) = state.endpoints.get_mut(name) else {
            return Err(missing("UpdateEndpoint", name, "endpoint"));
        };
        if matches!(endpoint.status.as_str(), "Creating" | "Updating") {
            return Err(StoreError::Transient {
                op: "UpdateEndpoint",
                resource: name.to_string(),
                message: "Cannot update in-progress endpoint".into(),
            });
        }
        endpoint.status = "Updating".into();
        endpoint.pending = Some(config.to_string());
        endpoint.deployment = deployment.cloned();
        Ok(())
    }

    async fn create_transform_job(&self, spec: &TransformSpec) -> Result<(), StoreError> {
        self.faults.call("CreateTransformJob", &spec.name)?;
        let mut state = lock(&self.state);
        if !state.models.contains_key(&spec.model) {
            return Err(missing("CreateTransformJob", &spec.model, "model"));
        }
        state
            .transforms
            .entry(spec.name.clone())
            .or_insert_with(|| spec.clone());
        Ok(())
    }
}

#[derive(Debug, Default)]
struct GuardState {
    alarms: BTreeMap<String, AlarmSpec>,
    scaling: BTreeMap<String, ScalingSpec>,
    /// What each `(endpoint, variant)` served, whatever the range asked.
    traffic: BTreeMap<(String, String), Traffic>,
}

/// CloudWatch alarms and scaling targets: puts and registrations are upserts by name and
/// resource; deregistering what is absent succeeds.
#[derive(Debug, Default)]
pub struct FakeGuards {
    pub faults: Faults,
    state: Mutex<GuardState>,
}

impl FakeGuards {
    pub fn alarms(&self) -> BTreeMap<String, AlarmSpec> {
        lock(&self.state).alarms.clone()
    }

    /// The scaling targets, by resource id.
    pub fn scaling(&self) -> BTreeMap<String, ScalingSpec> {
        lock(&self.state).scaling.clone()
    }

    /// What a variant's metrics show from now on ([`VariantMetrics`] answers it for any range).
    pub fn set_traffic(&self, endpoint: &str, variant: &str, traffic: Traffic) {
        lock(&self.state)
            .traffic
            .insert((endpoint.to_string(), variant.to_string()), traffic);
    }
}

impl VariantMetrics for FakeGuards {
    async fn variant_traffic(
        &self,
        endpoint: &str,
        variant: &str,
        _start: i64,
        _end: i64,
    ) -> Result<Traffic, StoreError> {
        self.faults
            .call("GetMetricStatistics", &format!("{endpoint}/{variant}"))?;
        Ok(lock(&self.state)
            .traffic
            .get(&(endpoint.to_string(), variant.to_string()))
            .copied()
            .unwrap_or_default())
    }
}

impl Guards for FakeGuards {
    async fn put_alarm(&self, alarm: &AlarmSpec) -> Result<(), StoreError> {
        self.faults.call("PutMetricAlarm", &alarm.name)?;
        lock(&self.state)
            .alarms
            .insert(alarm.name.clone(), alarm.clone());
        Ok(())
    }

    async fn register_scaling(&self, spec: &ScalingSpec) -> Result<(), StoreError> {
        self.faults
            .call("RegisterScalableTarget", &spec.resource_id)?;
        lock(&self.state)
            .scaling
            .insert(spec.resource_id.clone(), spec.clone());
        Ok(())
    }

    async fn deregister_scaling(&self, resource_id: &str) -> Result<(), StoreError> {
        self.faults.call("DeregisterScalableTarget", resource_id)?;
        lock(&self.state).scaling.remove(resource_id);
        Ok(())
    }
}

/// [`MemMetrics`] that records its reads and can fail.
#[derive(Debug, Default)]
pub struct FakeMetrics {
    pub faults: Faults,
    pub metrics: MemMetrics,
}

impl EndpointMetrics for FakeMetrics {
    async fn usage(
        &self,
        endpoint: &str,
        variant: &str,
        serverless: bool,
        start: i64,
        end: i64,
    ) -> Result<Vec<Bucket>, StoreError> {
        self.faults
            .call("GetMetricStatistics", &format!("{endpoint}/{variant}"))?;
        self.metrics
            .usage(endpoint, variant, serverless, start, end)
            .await
    }
}

/// A hook run before each write of a [`Watched`] store.
type BeforePut<'a> = Box<dyn Fn(&str) -> Result<(), StoreError> + Send + Sync + 'a>;

/// Any object store, with each call it gets written down (`get <key>`, `head <key>`, `sha <key>`,
/// `put <key>`, `list <prefix>`, `direct <prefix>`) and a hook run before each write: a test
/// makes a write fail for a while, or changes the bucket just as something is written.
pub struct Watched<'a, S> {
    pub inner: &'a S,
    calls: Mutex<Vec<String>>,
    before_put: BeforePut<'a>,
}

impl<'a, S> Watched<'a, S> {
    pub fn new(inner: &'a S) -> Self {
        Watched {
            inner,
            calls: Mutex::new(Vec::new()),
            before_put: Box::new(|_| Ok(())),
        }
    }

    /// Runs `hook` before each write; its error is the write's.
    pub fn before_put(
        mut self,
        hook: impl Fn(&str) -> Result<(), StoreError> + Send + Sync + 'a,
    ) -> Self {
        self.before_put = Box::new(hook);
        self
    }

    /// The calls so far, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    /// The keys read (`get`) under `prefix`, sorted.
    pub fn reads_under(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .calls()
            .iter()
            .filter_map(|c| c.strip_prefix("get "))
            .filter(|k| k.starts_with(prefix))
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    pub fn forget(&self) {
        lock(&self.calls).clear();
    }

    fn note(&self, op: &str, key: &str) {
        lock(&self.calls).push(format!("{op} {key}"));
    }
}

impl<S: crate::store::ObjectStore> crate::store::ObjectStore for Watched<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<crate::store::Object>, StoreError> {
        self.note("get", key);
        self.inner.get(key).await
    }

    async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.note("sha", key);
        self.inner.stored_sha256(key).await
    }

    async fn head(&self, key: &str) -> Result<Option<crate::store::Head>, StoreError> {
        self.note("head", key);
        self.inner.head(key).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.note("put", key);
        (self.before_put)(key)?;
        self.inner.put(key, bytes, content_type, sha256).await
    }

    /// The inner store's own, so a store that streams files still does under watch.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.note("put", key);
        (self.before_put)(key)?;
        self.inner.put_file(key, path, content_type, sha256).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.note("list", prefix);
        self.inner.list(prefix).await
    }
}

impl<S: crate::ledger::LedgerStore> crate::ledger::LedgerStore for Watched<'_, S> {
    async fn list_direct(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.note("direct", prefix);
        self.inner.list_direct(prefix).await
    }
}

impl crate::storage::PackageLineage for FakeRegistry {
    async fn live_packages(
        &self,
        group_prefix: &str,
    ) -> Result<Vec<crate::storage::LivePackage>, StoreError> {
        self.faults.call("ListModelPackages", group_prefix)?;
        Ok(lock(&self.state)
            .packages
            .iter()
            .map(|p| &p.package)
            .filter(|p| {
                p.group.starts_with(group_prefix)
                    && matches!(p.approval.as_str(), "Approved" | "PendingManualApproval")
            })
            .map(|p| crate::storage::LivePackage {
                model_data_url: p.model_data_url.clone(),
                corpus_version: p
                    .metadata
                    .get(crate::lifecycle::names::meta::CORPUS_VERSION)
                    .cloned(),
            })
            .collect())
    }
}
