//! Training: when a corpus is built, which jobs a corpus version starts, and exactly what each
//! job asks SageMaker for.
//!
//! # The quiet period (debounce)
//! Ingest rewrites `manifest/pending.json` each time a source changes. Each write emits an S3
//! "Object Created" event that EventBridge puts on the train queue (SQS). The train function
//! reads each message and asks [`settle`]:
//! - the message names an older write of `pending.json` than the current one → **drop** it: the
//!   newer write has its own message;
//! - it names the current write but that write is younger than the quiet period → **re-queue** it
//!   with a delay of the time left (SQS `DelaySeconds`, at most 15 minutes a hop);
//! - it names the current write and the quiet period has passed → **build** the corpus from every
//!   source ([`crate::corpus::CorpusBuild`]), point `datasets/latest.json` at it, and **train** on
//!   that version.
//!
//! So a burst of uploads builds one corpus version and starts its jobs once, a quiet period
//! after the last upload; a second burst later makes the next version. A change recorded while a
//! build runs makes the build stop short of the pointer (its own message builds again, with it).
//! Duplicate messages and concurrent invocations are harmless: the build writes only what
//! changed, and job names are deterministic from (model, corpus version, training config,
//! request): SageMaker refuses a second job of the same name, and that refusal counts as success
//! ([`Started::AlreadyExists`]). A model whose dataset and training config did not change since
//! its last job (recorded in `state/training/<model>.json`) is not retrained.
//!
//! # A person's request
//! `hawkins train` writes `requests/train/<id>.json` ([`crate::requests::TrainRequest`]); its
//! event reaches the same queue and starts, with no quiet period, a new attempt of each model it
//! names on the corpus version it names ([`plan_request`]), named after the request's id.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ModelConfig, ParameterRange};
use crate::error::StoreError;
use crate::manifest::{CorpusManifest, PENDING_KEY};

/// Where the training state of each model is kept.
pub const STATE_PREFIX: &str = "state/training/";
/// The longest delay SQS gives one message.
pub const MAX_QUEUE_DELAY_SECONDS: u32 = 900;
/// Clock tolerance between S3's LastModified and the function's clock.
pub const CLOCK_SKEW_SECONDS: i64 = 2;

/// What the train function does with one queued "pending.json written" event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "settle", rename_all = "snake_case")]
pub enum Settle {
    /// The event is about a write that has been replaced: its successor carries on.
    Superseded,
    /// Not quiet long enough yet: queue the event again for this many seconds.
    Requeue { delay_seconds: u32 },
    /// Quiet long enough: train on the current version.
    Train,
}

/// The current state of `manifest/pending.json`, as read when the event is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestHead {
    /// Object version id (versioned bucket) or ETag: what the event's object names.
    pub revision: String,
    /// Seconds since the epoch.
    pub last_modified: i64,
}

/// Decides what to do with an event naming `event_revision` of `pending.json`.
pub fn settle(event_revision: &str, current: &LatestHead, now: i64, quiet_seconds: u32) -> Settle {
    if event_revision != current.revision {
        return Settle::Superseded;
    }
    let age = now - current.last_modified;
    let remaining = i64::from(quiet_seconds) - age;
    if remaining <= CLOCK_SKEW_SECONDS.min(i64::from(quiet_seconds)) {
        Settle::Train
    } else {
        Settle::Requeue {
            delay_seconds: remaining.min(MAX_QUEUE_DELAY_SECONDS.into()) as u32,
        }
    }
}

/// What the stack gives every job: where data lives and who the jobs run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSettings {
    pub bucket: String,
    /// The SageMaker execution role: training and tuning jobs run as it (train passes it).
    pub role_arn: String,
    /// The role the deployed models (endpoints, batch transform jobs) run as (lifecycle passes
    /// it): it reads model artifacts and writes predictions, never training output or the token
    /// secret. `None` for the train function, which deploys nothing and need not be told it.
    pub hosting_role_arn: Option<String>,
    /// The project tag on every job (cost attribution).
    pub project: String,
    /// For image names given as `repository:tag`.
    pub account: String,
    pub region: String,
}

/// A SageMaker job channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub name: String,
    pub s3_uri: String,
    pub content_type: String,
}

/// Everything CreateTrainingJob needs, as plain values: built by [`training_job`], sent by an
/// adapter, and asserted field by field in tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingJobSpec {
    pub name: String,
    pub role_arn: String,
    pub image: String,
    pub hyperparameters: BTreeMap<String, String>,
    pub metric_definitions: Vec<(String, String)>,
    pub channels: Vec<Channel>,
    pub output_s3_uri: String,
    pub checkpoint_s3_uri: Option<String>,
    pub instance_type: String,
    pub instance_count: u32,
    pub volume_size_gb: u32,
    pub max_runtime_seconds: u32,
    pub max_wait_seconds: Option<u32>,
    pub spot: bool,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub kms_key_id: Option<String>,
    pub network_isolation: bool,
    pub tags: Vec<(String, String)>,
}

/// A tuning job: the training definition, minus the tuned hyperparameters, plus the search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuningJobSpec {
    pub name: String,
    pub objective_metric: String,
    /// `Minimize` or `Maximize`.
    pub objective_type: String,
    /// `Bayesian`, `Random`, `Hyperband` or `Grid`.
    pub strategy: String,
    pub max_jobs: u32,
    pub max_parallel_jobs: u32,
    pub continuous: Vec<(String, f64, f64, String)>,
    pub integer: Vec<(String, i64, i64, String)>,
    pub categorical: Vec<(String, Vec<String>)>,
    pub training: TrainingJobSpec,
}

/// One job to start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobSpec {
    Training(TrainingJobSpec),
    Tuning(TuningJobSpec),
}

impl JobSpec {
    pub fn name(&self) -> &str {
        match self {
            JobSpec::Training(t) => &t.name,
            JobSpec::Tuning(t) => &t.name,
        }
    }

    /// The training definition (a tuning job's, for its trials).
    pub fn training(&self) -> &TrainingJobSpec {
        match self {
            JobSpec::Training(t) => t,
            JobSpec::Tuning(t) => &t.training,
        }
    }
}

/// Tag keys on every job (and so on its cost lines).
pub mod tags {
    pub const PROJECT: &str = "hawkins:project";
    pub const MODEL: &str = "hawkins:model";
    pub const KIND: &str = "hawkins:kind";
    pub const CORPUS_VERSION: &str = "hawkins:corpus-version";
    pub const DATASET_SHA256: &str = "hawkins:dataset-sha256";
    /// [`super::training_config_sha256`] of the model when the job started.
    pub const CONFIG_SHA256: &str = "hawkins:config-sha256";
    /// The id of the person's request that started the job (`hawkins train`), if one did.
    pub const REQUEST: &str = "hawkins:request";
}

/// What a model's last started job was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainState {
    pub model: String,
    pub job_name: String,
    pub corpus_version: String,
    pub dataset_sha256: String,
    /// [`training_config_sha256`] of the model's config then. Absent in states written before
    /// the config was part of a job's identity: read as "unchanged", so an upgrade of the stack
    /// retrains nothing by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// The request that started it (`hawkins train`), if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

impl TrainState {
    pub fn key(model: &str) -> String {
        format!("{STATE_PREFIX}{model}.json")
    }
}

/// Why a model gets no job for this version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "skip", rename_all = "snake_case")]
pub enum Skip {
    /// The corpus has no such dataset (yet): e.g. no lines of that character.
    NoDataset { dataset: String },
    /// Its dataset and its training config are the ones its last job trained with.
    Unchanged { job_name: String },
    /// A request names a model the config does not have.
    UnknownModel,
}

/// One model's decision for a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub model: String,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Start {
        job: Box<JobSpec>,
        dataset_sha256: String,
    },
    Skip(Skip),
}

/// Decides, for every configured model, whether this corpus version starts its job: it does
/// unless the model's last job trained on the same dataset with the same training config. So a
/// new corpus version retrains the models whose data changed, and a changed config (a
/// hyperparameter, an instance type, a new model) retrains those models once, on the current
/// version. Pure.
pub fn plan(
    config: &Config,
    manifest: &CorpusManifest,
    states: &BTreeMap<String, TrainState>,
    stack: &StackSettings,
) -> Vec<Decision> {
    config
        .models
        .iter()
        .map(|model| {
            let config_sha = training_config_sha256(model, config);
            let action = match dataset_sha(model, manifest) {
                Err(skip) => Action::Skip(skip),
                Ok(dataset_sha) => match states.get(&model.name) {
                    Some(state)
                        if state.dataset_sha256 == dataset_sha
                            && state
                                .config_sha256
                                .as_deref()
                                .is_none_or(|c| c == config_sha) =>
                    {
                        Action::Skip(Skip::Unchanged {
                            job_name: state.job_name.clone(),
                        })
                    }
                    _ => Action::Start {
                        job: Box::new(job(model, manifest, dataset_sha, config, stack, None)),
                        dataset_sha256: dataset_sha.to_string(),
                    },
                },
            };
            Decision {
                model: model.name.clone(),
                action,
            }
        })
        .collect()
}

/// The decisions for a person's request (`hawkins train`): a new attempt of each named model (of
/// every configured model when it names none) on the manifest's version, whatever its last job
/// did. The attempt's job names come from the request's id, so a redelivered request names the
/// same jobs (SageMaker refuses them as existing) and a new request new ones. Pure.
pub fn plan_request(
    config: &Config,
    manifest: &CorpusManifest,
    request: &crate::requests::TrainRequest,
    stack: &StackSettings,
) -> Vec<Decision> {
    let named: Vec<&str> = if request.models.is_empty() {
        config.models.iter().map(|m| m.name.as_str()).collect()
    } else {
        request.models.iter().map(String::as_str).collect()
    };
    named
        .into_iter()
        .map(|name| {
            let action = match config.models.iter().find(|m| m.name == name) {
                None => Action::Skip(Skip::UnknownModel),
                Some(model) => match dataset_sha(model, manifest) {
                    Err(skip) => Action::Skip(skip),
                    Ok(dataset_sha) => Action::Start {
                        job: Box::new(job(
                            model,
                            manifest,
                            dataset_sha,
                            config,
                            stack,
                            Some(&request.id),
                        )),
                        dataset_sha256: dataset_sha.to_string(),
                    },
                },
            };
            Decision {
                model: name.to_string(),
                action,
            }
        })
        .collect()
}

/// The SHA-256 of the model's dataset in the manifest, or why there is none.
fn dataset_sha<'m>(model: &ModelConfig, manifest: &'m CorpusManifest) -> Result<&'m str, Skip> {
    let key = model.dataset_key(&manifest.version);
    manifest
        .datasets
        .iter()
        .find(|d| d.key == key)
        .map(|d| d.sha256.as_str())
        .ok_or(Skip::NoDataset { dataset: key })
}

/// A hash of everything in a model's config that shapes its training job (image, instances,
/// hyperparameters, metrics, tuning, network, encryption), and nothing that does not (the gate,
/// the deployment, the stack's role and bucket). Two configs with the same hash train the same
/// way on the same data. The hash is over the job request Hawkins sends, so a release that
/// changes that request (a new field) also retrains each model once, which is what it should do.
/// Pure.
pub fn training_config_sha256(model: &ModelConfig, config: &Config) -> String {
    let neutral = StackSettings {
        bucket: String::new(),
        role_arn: String::new(),
        hosting_role_arn: None,
        project: String::new(),
        account: String::new(),
        region: String::new(),
    };
    let ids = JobIds {
        name: model.name.clone(),
        checkpoint: String::new(),
        tags: Vec::new(),
    };
    let spec = job_spec(model, "", "", config, &neutral, ids);
    crate::hash::sha256_hex(&serde_json::to_vec(&spec).unwrap_or_default())
}

/// The identity a job's name carries beside its corpus version: the model's training config
/// and, for a person's request, the request. Hex.
pub fn job_identity(config_sha256: &str, request: Option<&str>) -> String {
    let seed = format!("{config_sha256}\n{}", request.unwrap_or_default());
    crate::hash::sha256_hex(seed.as_bytes())
}

/// The job for a model on a corpus version (a tuning job where the model configures tuning);
/// `request` is the person's request that asks for it, if one does.
pub fn job(
    model: &ModelConfig,
    manifest: &CorpusManifest,
    dataset_sha256: &str,
    config: &Config,
    stack: &StackSettings,
    request: Option<&str>,
) -> JobSpec {
    let version = &manifest.version;
    let config_sha = training_config_sha256(model, config);
    let mut ids = JobIds {
        name: model.job_name(version, &job_identity(&config_sha, request)),
        checkpoint: format!("{version}-{}", &config_sha[..8]),
        tags: vec![(tags::CONFIG_SHA256.to_string(), config_sha)],
    };
    if let Some(id) = request {
        ids.tags.push((tags::REQUEST.to_string(), id.to_string()));
    }
    job_spec(model, version, dataset_sha256, config, stack, ids)
}

fn job_spec(
    model: &ModelConfig,
    version: &str,
    dataset_sha256: &str,
    config: &Config,
    stack: &StackSettings,
    ids: JobIds,
) -> JobSpec {
    let training = training_job(model, version, dataset_sha256, config, stack, ids);
    let Some(tuning) = &model.tuning else {
        return JobSpec::Training(training);
    };
    let mut spec = TuningJobSpec {
        name: training.name.clone(),
        objective_metric: tuning.objective.clone(),
        objective_type: tuning.direction.as_sagemaker().into(),
        strategy: tuning.strategy.as_sagemaker().into(),
        max_jobs: tuning.max_jobs,
        max_parallel_jobs: tuning.max_parallel_jobs,
        continuous: Vec::new(),
        integer: Vec::new(),
        categorical: Vec::new(),
        training,
    };
    for (name, range) in &tuning.ranges {
        match range {
            ParameterRange::Continuous { min, max, scaling } => {
                spec.continuous
                    .push((name.clone(), *min, *max, scaling.as_sagemaker().into()))
            }
            ParameterRange::Integer { min, max, scaling } => {
                spec.integer
                    .push((name.clone(), *min, *max, scaling.as_sagemaker().into()))
            }
            ParameterRange::Categorical { values } => {
                spec.categorical.push((name.clone(), values.clone()))
            }
        }
    }
    JobSpec::Tuning(spec)
}

/// What tells one job of a model from another: its name, its checkpoint folder and the tags
/// that record why it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIds {
    pub name: String,
    /// The folder under `checkpoints/<model>/`: one per corpus version and training config, so
    /// an interrupted job (spot) resumes from its own checkpoints, and a person's new attempt
    /// with the same config from the last attempt's, never from another version's or config's.
    pub checkpoint: String,
    pub tags: Vec<(String, String)>,
}

/// The CreateTrainingJob request for a model on a corpus version. Pure.
pub fn training_job(
    model: &ModelConfig,
    version: &str,
    dataset_sha256: &str,
    config: &Config,
    stack: &StackSettings,
    ids: JobIds,
) -> TrainingJobSpec {
    let JobIds {
        name,
        checkpoint,
        tags: extra_tags,
    } = ids;
    let bucket = &stack.bucket;
    let mut hyperparameters = model.job_hyperparameters();
    hyperparameters.insert("corpus_version".into(), version.to_string());
    let (max_wait_seconds, checkpoint_s3_uri) = if model.spot {
        (
            Some(model.max_wait_seconds.unwrap_or(model.max_runtime_seconds)),
            Some(format!(
                "s3://{bucket}/checkpoints/{}/{checkpoint}/",
                model.name
            )),
        )
    } else {
        (None, None)
    };
    let (subnets, security_groups) = match &model.vpc {
        Some(vpc) => (vpc.subnets.clone(), vpc.security_groups.clone()),
        None => (Vec::new(), Vec::new()),
    };
    TrainingJobSpec {
        name,
        role_arn: stack.role_arn.clone(),
        image: crate::config::image_uri(&model.training_image, &stack.account, &stack.region),
        hyperparameters,
        metric_definitions: model
            .metrics
            .iter()
            .map(|m| (m.name.clone(), m.regex.clone()))
            .collect(),
        channels: vec![Channel {
            name: "train".into(),
            s3_uri: format!("s3://{bucket}/{}", model.dataset_key(version)),
            content_type: "application/jsonlines".into(),
        }],
        output_s3_uri: format!("s3://{bucket}/training-output/{}/", model.name),
        checkpoint_s3_uri,
        instance_type: model.instance_type.clone(),
        instance_count: model.instance_count,
        volume_size_gb: model.volume_size_gb,
        max_runtime_seconds: model.max_runtime_seconds,
        max_wait_seconds,
        spot: model.spot,
        subnets,
        security_groups,
        kms_key_id: model.kms_key_id.clone(),
        network_isolation: model.network_isolation,
        tags: vec![
            (tags::PROJECT.into(), config.pipeline.project_tag.clone()),
            (tags::MODEL.into(), model.name.clone()),
            (tags::KIND.into(), model.kind.as_str().into()),
            (tags::CORPUS_VERSION.into(), version.to_string()),
            (tags::DATASET_SHA256.into(), dataset_sha256.into()),
        ]
        .into_iter()
        .chain(extra_tags)
        .collect(),
    }
}

/// What starting a job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Started {
    Created,
    /// A job of that name exists: an earlier delivery started it. Success, not an error.
    AlreadyExists,
}

/// The one SageMaker capability the train function uses.
pub trait TrainingJobs: Sync {
    fn start(&self, job: &JobSpec) -> impl Future<Output = Result<Started, StoreError>> + Send;
}

/// Where the train function puts an event back for later (SQS with a delay).
pub trait Queue: Sync {
    fn send_delayed(
        &self,
        body: &str,
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Why a queued event could not be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message is not an "Object Created" event for `manifest/pending.json`: it will never be.
    #[error("message ignored for good: {0}")]
    BadMessage(String),
    /// The corpus could not be built (for now, when retryable: a source is being rewritten).
    #[error("the corpus build failed: {0}")]
    Corpus(#[from] crate::ingest::IngestError),
    #[error(
        "{key} does not read back as a corpus manifest ({message}); the next upload rewrites it"
    )]
    Corrupt { key: String, message: String },
    /// Some models' jobs could not start for now (throttling, a service error); the others did.
    #[error("jobs not started for now, the message comes back: {failed}")]
    StartsFailed { failed: String },
}

impl crate::error::Retry for TrainError {
    fn retryable(&self) -> bool {
        match self {
            TrainError::Store(e) => crate::error::Retry::retryable(e),
            TrainError::StartsFailed { .. } => true,
            TrainError::Corpus(e) => crate::error::Retry::retryable(e),
            TrainError::BadMessage(_) | TrainError::Corrupt { .. } => false,
        }
    }
}

/// One model's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelOutcome {
    pub model: String,
    /// `created`, `already_exists`, `no_dataset`, `unchanged` or `failed`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Why the job did not start (`failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one queued event came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MessageOutcome {
    Superseded,
    Requeued {
        delay_seconds: u32,
    },
    /// `pending.json` or `latest.json` is gone (bucket emptied): nothing to train.
    NoCorpus,
    /// A source changed while the corpus was built: the pointer was left, and the newer change's
    /// message builds again.
    Outrun {
        corpus_version: String,
    },
    Trained {
        corpus_version: String,
        /// The build this message made (`None` when training the current pointer directly).
        #[serde(skip_serializing_if = "Option::is_none")]
        corpus: Option<crate::corpus::CorpusOutcome>,
        models: Vec<ModelOutcome>,
    },
    /// A person's request (`hawkins train`), carried out: a new attempt per named model.
    Requested {
        request: String,
        corpus_version: String,
        models: Vec<ModelOutcome>,
    },
    /// A request that cannot be carried out as written (it does not parse, or names a corpus
    /// version that does not exist): the person was told, and the message is done.
    RequestRefused {
        request: String,
        reason: String,
    },
}

/// Everything the train function needs, built once per container.
pub struct Trainer<'a, S, J, Q, N> {
    pub store: &'a S,
    pub jobs: &'a J,
    pub queue: &'a Q,
    /// Where a model whose job could not start is reported.
    pub notifier: &'a N,
    pub config: &'a Config,
    pub stack: &'a StackSettings,
    pub quiet_seconds: u32,
}

impl<S, J, Q, N> Trainer<'_, S, J, Q, N>
where
    S: crate::store::ObjectStore,
    J: TrainingJobs,
    Q: Queue,
    N: crate::store::Notifier,
{
    /// Handles one queued event (the body EventBridge put on the queue) at time `now`: a
    /// changed source (`manifest/pending.json`) or a person's training request
    /// (`requests/train/<id>.json`).
    pub async fn message(&self, body: &str, now: i64) -> Result<MessageOutcome, TrainError> {
        let (key, revision) = object_event(body)?;
        if let Some(id) = crate::requests::id_of(crate::requests::TRAIN_PREFIX, &key) {
            return self.request(&key, id).await;
        }
        if key == crate::config::live::CONFIG_KEY {
            // A pushed config: the models whose training config it changed (or added) train on
            // the current corpus version; the others are unchanged. The function looks at the
            // config before handling such a message ([`mentions`]), so `self.config` is the one
            // pushed. A redelivery plans again and finds the jobs started (their state records
            // the config's hash), so nothing starts twice.
            tracing::info!(
                revision,
                "the model config changed: the current corpus version is planned again"
            );
            return self.train().await;
        }
        if key != PENDING_KEY {
            return Err(TrainError::BadMessage(format!(
                "event for '{key}', not {PENDING_KEY}, {} or a request under {}",
                crate::config::live::CONFIG_KEY,
                crate::requests::TRAIN_PREFIX
            )));
        }
        let Some(head) = self.store.head(PENDING_KEY).await? else {
            return Ok(MessageOutcome::NoCorpus);
        };
        let current = LatestHead {
            revision: head.revision,
            last_modified: head.last_modified.unwrap_or(now),
        };
        match settle(&revision, &current, now, self.quiet_seconds) {
            Settle::Superseded => {
                tracing::info!(revision, current = %current.revision, "a source changed since: left to its own event");
                Ok(MessageOutcome::Superseded)
            }
            Settle::Requeue { delay_seconds } => {
                tracing::info!(
                    revision,
                    delay_seconds,
                    "uploads not settled yet: event queued again"
                );
                self.queue.send_delayed(body, delay_seconds).await?;
                Ok(MessageOutcome::Requeued { delay_seconds })
            }
            Settle::Train => self.build_and_train(&revision).await,
        }
    }

    /// Carries out a person's training request: a new attempt of each model it names, on the
    /// corpus version it names. Idempotent: the jobs' names come from the request's id, so a
    /// redelivery finds them started ([`Started::AlreadyExists`]) and starts nothing new.
    async fn request(&self, key: &str, id: &str) -> Result<MessageOutcome, TrainError> {
        let object = self.store.get(key).await?;
        let bytes = object.as_ref().map(|o| o.bytes.as_slice());
        let request: crate::requests::TrainRequest = match crate::requests::read(key, id, bytes) {
            Ok(request) => request,
            Err(reason) => return self.refuse(id, reason).await,
        };
        let manifest_key = crate::manifest::manifest_key(&request.corpus_version);
        let Some(manifest) = self.store.get(&manifest_key).await? else {
            return self
                .refuse(
                    id,
                    format!(
                        "corpus version '{}' has no manifest ({manifest_key}): ask again for the current version",
                        request.corpus_version
                    ),
                )
                .await;
        };
        let manifest: CorpusManifest =
            serde_json::from_slice(&manifest.bytes).map_err(|e| TrainError::Corrupt {
                key: manifest_key,
                message: e.to_string(),
            })?;
        let decisions = plan_request(self.config, &manifest, &request, self.stack);
        let models = self.carry_out(&manifest, decisions).await?;
        Ok(MessageOutcome::Requested {
            request: request.id,
            corpus_version: manifest.version,
            models,
        })
    }

    /// Tells the person a request was refused (once per request), and ends its message.
    async fn refuse(&self, id: &str, reason: String) -> Result<MessageOutcome, TrainError> {
        tracing::warn!(request = id, reason, "training request refused");
        let alert = request_refused(id, &reason);
        let marker = crate::lifecycle::sent_marker(&alert.id);
        crate::store::send_once(self.store, self.notifier, &alert, &marker, None).await?;
        Ok(MessageOutcome::RequestRefused {
            request: id.to_string(),
            reason,
        })
    }

    /// Builds the corpus of every source, points `latest.json` at it unless a source changed
    /// meanwhile, and starts the jobs it calls for.
    async fn build_and_train(&self, revision: &str) -> Result<MessageOutcome, TrainError> {
        let built = crate::corpus::CorpusBuild {
            store: self.store,
            network_window: crate::ingest::DEFAULT_NETWORK_WINDOW,
        }
        .build()
        .await?;
        // A change recorded during the build has its own message, which builds again a quiet
        // period later: this version must not overwrite the pointer after that one does.
        let still = self.store.head(PENDING_KEY).await?;
        if still.is_none_or(|head| head.revision != revision) {
            tracing::info!(corpus_version = %built.manifest.version, "a source changed during the build: the pointer is left to the next build");
            return Ok(MessageOutcome::Outrun {
                corpus_version: built.manifest.version,
            });
        }
        let latest = crate::corpus::write_latest(self.store, &built.manifest).await?;
        let corpus = built.outcome(latest);
        self.train_on(&built.manifest, Some(corpus)).await
    }

    /// Starts the jobs the corpus version in `datasets/latest.json` calls for.
    pub async fn train(&self) -> Result<MessageOutcome, TrainError> {
        let key = crate::manifest::LATEST_KEY;
        let Some(object) = self.store.get(key).await? else {
            return Ok(MessageOutcome::NoCorpus);
        };
        let manifest: CorpusManifest =
            serde_json::from_slice(&object.bytes).map_err(|e| TrainError::Corrupt {
                key: key.into(),
                message: e.to_string(),
            })?;
        self.train_on(&manifest, None).await
    }

    /// Starts the jobs `manifest` calls for; `corpus` is the build that made it, when this message
    /// did.
    async fn train_on(
        &self,
        manifest: &CorpusManifest,
        corpus: Option<crate::corpus::CorpusOutcome>,
    ) -> Result<MessageOutcome, TrainError> {
        let mut states = BTreeMap::new();
        for model in &self.config.models {
            if let Some(state) = self.store.get(&TrainState::key(&model.name)).await?
                && let Ok(state) = serde_json::from_slice::<TrainState>(&state.bytes)
            {
                states.insert(model.name.clone(), state);
            }
        }
        let decisions = plan(self.config, manifest, &states, self.stack);
        let models = self.carry_out(manifest, decisions).await?;
        Ok(MessageOutcome::Trained {
            corpus_version: manifest.version.clone(),
            corpus,
            models,
        })
    }

    /// Starts the jobs of `decisions` on `manifest`'s version. Each model succeeds or fails on
    /// its own: one model's refused start (a quota, a bad instance type) must not keep the
    /// others from training.
    async fn carry_out(
        &self,
        manifest: &CorpusManifest,
        decisions: Vec<Decision>,
    ) -> Result<Vec<ModelOutcome>, TrainError> {
        let mut models = Vec::new();
        let mut retry = Vec::new();
        for decision in decisions {
            let outcome = match decision.action {
                Action::Skip(skip) => {
                    let result = match &skip {
                        Skip::NoDataset { .. } => "no_dataset",
                        Skip::Unchanged { .. } => "unchanged",
                        Skip::UnknownModel => "unknown_model",
                    };
                    tracing::info!(model = %decision.model, corpus_version = %manifest.version, ?skip, "no job");
                    ModelOutcome {
                        model: decision.model,
                        result: result.into(),
                        job_name: None,
                        error: None,
                    }
                }
                Action::Start {
                    job,
                    dataset_sha256,
                } => {
                    let tag = |key: &str| {
                        job.training()
                            .tags
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| v.clone())
                    };
                    let state = TrainState {
                        model: decision.model.clone(),
                        job_name: job.name().to_string(),
                        corpus_version: manifest.version.clone(),
                        dataset_sha256,
                        config_sha256: tag(tags::CONFIG_SHA256),
                        request: tag(tags::REQUEST),
                    };
                    match self.start(&job, &state).await {
                        Ok(started) => {
                            tracing::info!(model = %decision.model, corpus_version = %manifest.version, job = job.name(), ?started, "job started");
                            let result = match started {
                                Started::Created => "created",
                                Started::AlreadyExists => "already_exists",
                            };
                            ModelOutcome {
                                model: decision.model,
                                result: result.into(),
                                job_name: Some(job.name().to_string()),
                                error: None,
                            }
                        }
                        Err(error) => {
                            let retryable = crate::error::Retry::retryable(&error);
                            tracing::error!(model = %decision.model, corpus_version = %manifest.version, job = job.name(), %error, retryable, "job not started");
                            if retryable {
                                retry.push(format!("{}: {error}", decision.model));
                            } else {
                                self.report_refused(&decision.model, job.name(), &error)
                                    .await?;
                            }
                            ModelOutcome {
                                model: decision.model,
                                result: "failed".into(),
                                job_name: Some(job.name().to_string()),
                                error: Some(error.to_string()),
                            }
                        }
                    }
                }
            };
            models.push(outcome);
        }
        if !retry.is_empty() {
            // The whole message comes back; the models started this time are found again by
            // name (AlreadyExists) or by their state (unchanged), so only the failed ones start.
            return Err(TrainError::StartsFailed {
                failed: retry.join("; "),
            });
        }
        Ok(models)
    }

    /// Starts one job and records it as the model's last; a start that SageMaker answers with
    /// "already exists" is the same job, started by an earlier delivery.
    async fn start(&self, job: &JobSpec, state: &TrainState) -> Result<Started, StoreError> {
        let started = self.jobs.start(job).await?;
        let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
        self.store
            .put_if_changed(&TrainState::key(&state.model), bytes, "application/json")
            .await?;
        Ok(started)
    }

    /// Tells a person that a model's job was refused for good (the same request fails the same
    /// way until the config or the account changes); once per job name, however often the
    /// message is delivered.
    async fn report_refused(
        &self,
        model: &str,
        job: &str,
        error: &StoreError,
    ) -> Result<(), StoreError> {
        let alert = start_refused(model, job, error);
        let marker = crate::lifecycle::sent_marker(&alert.id);
        crate::store::send_once(self.store, self.notifier, &alert, &marker, None).await?;
        Ok(())
    }
}

/// The alert for a job SageMaker refused to start.
pub fn start_refused(model: &str, job: &str, error: &StoreError) -> crate::store::Alert {
    crate::lifecycle::alerts::alert(
        "training_start_failed",
        crate::store::Severity::Critical,
        format!("training-start-failed-{job}"),
        format!("Hawkins: the training job of {model} could not start"),
        format!(
            "SageMaker refused to start the job {job} of the model {model}:\n\n{error}\n\n\
             The other models of this corpus version were started on their own.\n\n\
             Next steps:\n\
             - A quota (ResourceLimitExceeded): ask for more in Service Quotas, or pick another \
             instance type for {model} in infra/hawkins.toml; `hawkins doctor` checks the quotas.\n\
             - A permission (AccessDenied): check the train function's role in the stack.\n\
             - A validation error: fix the model's section of infra/hawkins.toml and deploy.\n\
             The model trains again when its dataset changes (a new or corrected upload).\n"
        ),
        model,
    )
}

/// The alert for a training request that cannot be carried out.
pub fn request_refused(id: &str, reason: &str) -> crate::store::Alert {
    crate::lifecycle::alerts::alert(
        "training_request_refused",
        crate::store::Severity::Warning,
        format!("training-request-refused-{id}"),
        format!("Hawkins: the training request {id} was not carried out"),
        format!(
            "The training request {id} ({prefix}{id}.json in the pipeline bucket) started no job:\n\n\
             {reason}\n\n\
             Ask again with `hawkins train <model>...` (or `--all`): it names the current corpus \
             version.\n",
            prefix = crate::requests::TRAIN_PREFIX
        ),
        "",
    )
}

/// The key and revision (its version id, or its ETag in an unversioned bucket) of the object an
/// "Object Created" event names.
pub fn object_event(body: &str) -> Result<(String, String), TrainError> {
    let event: aws_lambda_events::event::eventbridge::EventBridgeEvent<
        crate::events::ObjectCreatedDetail,
    > = serde_json::from_str(body)
        .map_err(|e| TrainError::BadMessage(format!("not an S3 Object Created event: {e}")))?;
    let object = &event.detail.object;
    let key = crate::events::decode_key(&object.key)
        .map_err(|e| TrainError::BadMessage(e.to_string()))?;
    let revision = object
        .version_id
        .clone()
        .filter(|v| !v.is_empty() && v != "null")
        .or_else(|| object.etag.clone())
        .ok_or_else(|| {
            TrainError::BadMessage("the event names neither a version id nor an ETag".into())
        })?;
    Ok((key, revision))
}

/// Whether a message of the batch is the "Object Created" event of `key` (the function then looks
/// at its config before the batch, rather than at its usual interval).
pub fn mentions(event: &aws_lambda_events::event::sqs::SqsEvent, key: &str) -> bool {
    event.records.iter().any(|message| {
        object_event(message.body.as_deref().unwrap_or_default())
            .is_ok_and(|(named, _)| named == key)
    })
}

/// The revision of `manifest/pending.json` an "Object Created" event names.
pub fn pending_revision(body: &str) -> Result<String, TrainError> {
    let (key, revision) = object_event(body)?;
    if key != PENDING_KEY {
        return Err(TrainError::BadMessage(format!(
            "event for '{key}', not {PENDING_KEY}"
        )));
    }
    Ok(revision)
}

/// Handles an SQS batch: every message on its own; the ones that failed are reported back so
/// SQS redelivers only them (and, past the queue's receive limit, moves them to its DLQ).
pub async fn handle_batch<S, J, Q, N>(
    trainer: &Trainer<'_, S, J, Q, N>,
    event: aws_lambda_events::event::sqs::SqsEvent,
    now: i64,
) -> (
    Vec<MessageOutcome>,
    aws_lambda_events::event::sqs::SqsBatchResponse,
)
where
    S: crate::store::ObjectStore,
    J: TrainingJobs,
    Q: Queue,
    N: crate::store::Notifier,
{
    let mut outcomes = Vec::new();
    let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match trainer
            .message(message.body.as_deref().unwrap_or_default(), now)
            .await
        {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                tracing::error!(message_id = %id, %error, retryable = crate::error::Retry::retryable(&error), "message failed");
                let mut failure = aws_lambda_events::event::sqs::BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    (outcomes, response)
}

impl StackSettings {
    /// The settings for a stack, the account taken from the execution role's ARN
    /// (`arn:aws:iam::<account>:role/...`). Without a hosting role: what the train function needs.
    pub fn from_role(
        bucket: &str,
        role_arn: &str,
        region: &str,
        project: &str,
    ) -> Result<Self, String> {
        let account = role_account(role_arn)?;
        Ok(StackSettings {
            bucket: bucket.into(),
            role_arn: role_arn.into(),
            hosting_role_arn: None,
            project: project.into(),
            account: account.into(),
            region: region.into(),
        })
    }

    /// These settings with the role the deployed models run as (the lifecycle function's). It
    /// must be a role of the stack's account, and not the execution role itself: that one may
    /// write training output and read the token secret, which no serving container should.
    pub fn with_hosting_role(self, hosting_role_arn: &str) -> Result<Self, String> {
        let account = role_account(hosting_role_arn)?;
        if account != self.account {
            return Err(format!(
                "the hosting role '{hosting_role_arn}' is in account {account}, the stack in {}",
                self.account
            ));
        }
        if hosting_role_arn == self.role_arn {
            return Err(format!(
                "the hosting role '{hosting_role_arn}' is the training jobs' execution role: the models must run as the stack's hosting role"
            ));
        }
        Ok(StackSettings {
            hosting_role_arn: Some(hosting_role_arn.into()),
            ..self
        })
    }
}

/// The account of an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
fn role_account(role_arn: &str) -> Result<&str, String> {
    let mut parts = role_arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource))
            if !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|n| !n.is_empty()) =>
        {
            Ok(account)
        }
        _ => Err(format!(
            "'{role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )),
    }
}

/// The quiet period in force: the stack's parameter (environment) when set, else the config's.
pub fn quiet_seconds(env: Option<&str>, config: &Config) -> Result<u32, String> {
    match env.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(config.pipeline.quiet_period_seconds),
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=86_400).contains(v))
            .ok_or_else(|| format!("HAWKINS_QUIET_PERIOD_SECONDS='{value}' is not a number of seconds from 1 to 86400")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::DatasetKind;
    use crate::manifest::DatasetEntry;

    const CONFIG: &str = r#"
[pipeline]
quiet_period_seconds = 120
training_image = "hawkins-training:1.2.3"
project_tag = "hawkins"

[defaults]
instance_type = "ml.g5.2xlarge"
instance_count = 1
spot = true
max_runtime_seconds = 3600
max_wait_seconds = 7200
volume_size_gb = 40

[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "meta-llama/Llama-3.2-3B-Instruct"
hf_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-AbCdEf"
hyperparameters = { epochs = 2, learning_rate = 0.0002 }
metrics = [{ name = "eval_loss", regex = '^METRIC step=\d+ eval_loss=([0-9.eE+-]+)$' }]
vpc = { subnets = ["subnet-0a1b2c3d"], security_groups = ["sg-0a1b2c3d"] }
kms_key_id = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

[[model]]
name = "locations"
kind = "location"
dataset = "locations/locations.jsonl"
base_model = "distilbert-base-uncased"
instance_type = "ml.m5.xlarge"
spot = false
network_isolation = true
metrics = [{ name = "accuracy", regex = '^METRIC step=\d+ accuracy=([0-9.eE+-]+)$' }]

[model.tuning]
objective = "accuracy"
direction = "maximize"
max_jobs = 4
max_parallel_jobs = 2
ranges = { learning_rate = { type = "continuous", min = 0.00001, max = 0.001, scaling = "logarithmic" }, epochs = { type = "integer", min = 1, max = 4 } }
"#;

    fn config() -> Config {
        match crate::config::parse("test.toml", CONFIG) {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        }
    }

    fn stack() -> StackSettings {
        StackSettings::from_role(
            "pipeline-bucket",
            "arn:aws:iam::123456789012:role/hawkins-sagemaker",
            "eu-west-1",
            "hawkins",
        )
        .expect("role arn")
    }

    const HOSTING_ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-hosting";

    #[test]
    fn the_account_comes_from_an_iam_role_arn_and_anything_else_is_refused() {
        let cases = [
            (
                "arn:aws:iam::123456789012:role/hawkins-sagemaker",
                Some("123456789012"),
            ),
            (
                "arn:aws-cn:iam::210987654321:role/path/to/r",
                Some("210987654321"),
            ),
            ("arn:aws:iam::12345678901:role/short-account", None),
            ("arn:aws:iam::1234567890ab:role/letters", None),
            ("arn:aws:iam::123456789012:user/not-a-role", None),
            ("arn:aws:iam::123456789012:role/", None),
            ("arn:aws:sts::123456789012:assumed-role/r/s", None),
            ("arn:aws:iam:eu-west-1:123456789012:role/regional", None),
            ("hawkins-sagemaker", None),
            ("", None),
        ];
        for (arn, account) in cases {
            let settings = StackSettings::from_role("b", arn, "eu-west-1", "hawkins");
            assert_eq!(
                settings.as_ref().ok().map(|s| s.account.as_str()),
                account,
                "{arn}"
            );
            if let Ok(settings) = settings {
                assert_eq!(
                    settings.hosting_role_arn, None,
                    "train's settings name no hosting role"
                );
            }
        }
    }

    #[test]
    fn the_hosting_role_is_a_role_of_the_stacks_account_other_than_the_execution_role() {
        let settings = stack()
            .with_hosting_role(HOSTING_ROLE)
            .expect("hosting role");
        assert_eq!(settings.hosting_role_arn.as_deref(), Some(HOSTING_ROLE));
        let execution = stack().role_arn;
        assert_eq!(settings.role_arn, execution, "the execution role is kept");
        for refused in [
            "arn:aws:iam::210987654321:role/hawkins-hosting",
            "arn:aws:iam::123456789012:user/hawkins-hosting",
            "hawkins-hosting",
            execution.as_str(),
        ] {
            let error = stack()
                .with_hosting_role(refused)
                .expect_err("refused hosting role");
            assert!(error.contains(refused), "{error}");
        }
    }

    fn manifest(eleven_sha: &str) -> CorpusManifest {
        let entry = |path: &str, kind, sha: &str| DatasetEntry {
            key: format!("datasets/0123456789abcdef/{path}"),
            kind,
            character: None,
            records: 10,
            sha256: sha.into(),
        };
        CorpusManifest {
            version: "0123456789abcdef".into(),
            version_sha256: "0123456789abcdef".repeat(4),
            cast: "builtin".into(),
            episodes: vec!["S01E01".into()],
            sources: Vec::new(),
            datasets: vec![
                entry("chatbot/eleven.jsonl", DatasetKind::Chatbot, eleven_sha),
                entry("locations/locations.jsonl", DatasetKind::Locations, "bbb"),
            ],
        }
    }

    #[test]
    fn settle_decides_by_revision_then_age() {
        let head = LatestHead {
            revision: "v2".into(),
            last_modified: 1_000,
        };
        assert_eq!(settle("v1", &head, 5_000, 300), Settle::Superseded);
        assert_eq!(
            settle("v2", &head, 1_010, 300),
            Settle::Requeue { delay_seconds: 290 }
        );
        assert_eq!(
            settle("v2", &head, 1_298, 300),
            Settle::Train,
            "within the clock tolerance"
        );
        assert_eq!(
            settle("v2", &head, 1_297, 300),
            Settle::Requeue { delay_seconds: 3 }
        );
        assert_eq!(settle("v2", &head, 1_300, 300), Settle::Train);
        assert_eq!(
            settle("v2", &head, 1_000, 3_600),
            Settle::Requeue {
                delay_seconds: MAX_QUEUE_DELAY_SECONDS
            }
        );
        assert_eq!(
            settle("v2", &head, 1_000, 1),
            Settle::Train,
            "a quiet period under the tolerance"
        );
    }

    #[test]
    fn training_request_field_by_field() {
        let config = config();
        let model = config.model("chatbot-eleven").expect("model");
        let spec = job(model, &manifest("aaa"), "aaa", &config, &stack(), None);
        let job = spec.training();
        let config_sha = training_config_sha256(model, &config);
        let identity = job_identity(&config_sha, None);
        assert_eq!(
            job.name,
            format!("chatbot-eleven-01234567{}", &identity[..8])
        );
        assert_eq!(
            job.role_arn,
            "arn:aws:iam::123456789012:role/hawkins-sagemaker"
        );
        assert_eq!(
            job.image,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hawkins-training:1.2.3"
        );
        assert_eq!(
            job.hyperparameters.get("model_kind").map(String::as_str),
            Some("chatbot")
        );
        assert_eq!(
            job.hyperparameters.get("character").map(String::as_str),
            Some("Eleven")
        );
        assert_eq!(
            job.hyperparameters.get("epochs").map(String::as_str),
            Some("2")
        );
        assert_eq!(
            job.hyperparameters
                .get("corpus_version")
                .map(String::as_str),
            Some("0123456789abcdef")
        );
        assert_eq!(
            job.hyperparameters
                .get("hf_token_secret_arn")
                .map(String::as_str),
            Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-AbCdEf"),
            "the secret's ARN, never the token"
        );
        assert_eq!(
            job.metric_definitions,
            [(
                "eval_loss".to_string(),
                r"^METRIC step=\d+ eval_loss=([0-9.eE+-]+)$".to_string()
            )]
        );
        assert_eq!(
            job.channels,
            [Channel {
                name: "train".into(),
                s3_uri: "s3://pipeline-bucket/datasets/0123456789abcdef/chatbot/eleven.jsonl"
                    .into(),
                content_type: "application/jsonlines".into(),
            }]
        );
        assert_eq!(
            job.output_s3_uri,
            "s3://pipeline-bucket/training-output/chatbot-eleven/"
        );
        assert_eq!(
            job.checkpoint_s3_uri.as_deref(),
            Some(
                format!(
                    "s3://pipeline-bucket/checkpoints/chatbot-eleven/0123456789abcdef-{}/",
                    &config_sha[..8]
                )
                .as_str()
            )
        );
        assert_eq!(
            (
                job.instance_type.as_str(),
                job.instance_count,
                job.volume_size_gb
            ),
            ("ml.g5.2xlarge", 1, 40)
        );
        assert_eq!(
            (job.spot, job.max_runtime_seconds, job.max_wait_seconds),
            (true, 3600, Some(7200))
        );
        assert_eq!(
            (job.subnets.as_slice(), job.security_groups.as_slice()),
            (
                ["subnet-0a1b2c3d".to_string()].as_slice(),
                ["sg-0a1b2c3d".to_string()].as_slice()
            )
        );
        assert!(job.kms_key_id.is_some() && !job.network_isolation);
        let tags: BTreeMap<_, _> = job.tags.iter().cloned().collect();
        assert_eq!(tags.get(tags::PROJECT).map(String::as_str), Some("hawkins"));
        assert_eq!(
            tags.get(tags::MODEL).map(String::as_str),
            Some("chatbot-eleven")
        );
        assert_eq!(
            tags.get(tags::CORPUS_VERSION).map(String::as_str),
            Some("0123456789abcdef")
        );
        assert_eq!(
            tags.get(tags::DATASET_SHA256).map(String::as_str),
            Some("aaa")
        );
        assert!(
            !job.hyperparameters
                .values()
                .any(|v| v.contains("hf_") && !v.starts_with("arn:"))
        );
    }

    #[test]
    fn on_demand_jobs_have_no_wait_or_checkpoints_and_tuning_moves_ranges_out() {
        let config = config();
        let model = config.model("locations").expect("model");
        let JobSpec::Tuning(tuning) = job(model, &manifest("aaa"), "bbb", &config, &stack(), None)
        else {
            panic!("the locations model is tuned");
        };
        assert!(tuning.name.len() <= 32, "{}", tuning.name);
        assert_eq!(
            (
                tuning.objective_metric.as_str(),
                tuning.objective_type.as_str()
            ),
            ("accuracy", "Maximize")
        );
        assert_eq!((tuning.max_jobs, tuning.max_parallel_jobs), (4, 2));
        assert_eq!(
            tuning.continuous,
            [(
                "learning_rate".to_string(),
                0.00001,
                0.001,
                "Logarithmic".to_string()
            )]
        );
        assert_eq!(tuning.integer.len(), 1);
        let training = &tuning.training;
        assert!(
            !training.spot
                && training.max_wait_seconds.is_none()
                && training.checkpoint_s3_uri.is_none()
        );
        assert!(training.network_isolation);
        assert!(
            !training.hyperparameters.contains_key("learning_rate"),
            "tuned values are the tuner's"
        );
    }

    #[test]
    fn plan_starts_changed_models_only() {
        let config = config();
        let first = plan(&config, &manifest("aaa"), &BTreeMap::new(), &stack());
        assert!(
            first
                .iter()
                .all(|d| matches!(d.action, Action::Start { .. })),
            "{first:?}"
        );

        let states: BTreeMap<_, _> = first
            .iter()
            .map(|d| {
                let Action::Start {
                    job,
                    dataset_sha256,
                } = &d.action
                else {
                    unreachable!()
                };
                let state = TrainState {
                    model: d.model.clone(),
                    job_name: job.name().into(),
                    corpus_version: "0123456789abcdef".into(),
                    dataset_sha256: dataset_sha256.clone(),
                    config_sha256: Some(training_config_sha256(
                        config.model(&d.model).expect("model"),
                        &config,
                    )),
                    request: None,
                };
                (d.model.clone(), state)
            })
            .collect();
        let again = plan(&config, &manifest("aaa"), &states, &stack());
        assert!(
            again
                .iter()
                .all(|d| matches!(d.action, Action::Skip(Skip::Unchanged { .. })))
        );
        // A state from before configs were hashed reads as unchanged: no retrain on upgrade.
        let old: BTreeMap<_, _> = states
            .iter()
            .map(|(m, s)| {
                let mut s = s.clone();
                s.config_sha256 = None;
                (m.clone(), s)
            })
            .collect();
        assert!(
            plan(&config, &manifest("aaa"), &old, &stack())
                .iter()
                .all(|d| matches!(d.action, Action::Skip(Skip::Unchanged { .. })))
        );
        // A changed training config retrains that model, on the same data, under a new name.
        let mut retuned = config.clone();
        retuned.models[0]
            .hyperparameters
            .insert("epochs".into(), "5".into());
        let after = plan(&retuned, &manifest("aaa"), &states, &stack());
        let started: Vec<_> = after
            .iter()
            .filter_map(|d| match &d.action {
                Action::Start { job, .. } => Some((d.model.as_str(), job.name().to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 1, "{started:?}");
        assert_eq!(started[0].0, config.models[0].name);
        assert_ne!(
            Some(started[0].1.as_str()),
            states.get(started[0].0).map(|s| s.job_name.as_str())
        );
        // The gate and the deployment are not part of training: changing them trains nothing.
        let mut regated = config.clone();
        regated.models[0].gate = None;
        regated.models[0].deploy = None;
        assert!(
            plan(&regated, &manifest("aaa"), &states, &stack())
                .iter()
                .all(|d| matches!(d.action, Action::Skip(Skip::Unchanged { .. })))
        );
        let changed = plan(&config, &manifest("ccc"), &states, &stack());
        let started: Vec<_> = changed
            .iter()
            .filter(|d| matches!(d.action, Action::Start { .. }))
            .map(|d| d.model.as_str())
            .collect();
        assert_eq!(started, ["chatbot-eleven"]);

        let mut missing = manifest("aaa");
        missing.datasets.retain(|d| d.kind != DatasetKind::Chatbot);
        let decisions = plan(&config, &missing, &BTreeMap::new(), &stack());
        assert!(matches!(
            decisions[0].action,
            Action::Skip(Skip::NoDataset { .. })
        ));
    }

    #[test]
    fn a_request_is_a_new_attempt_named_by_its_id() {
        let config = config();
        let request = |id: &str, models: &[&str]| crate::requests::TrainRequest {
            id: id.into(),
            models: models.iter().map(|m| m.to_string()).collect(),
            corpus_version: "0123456789abcdef".into(),
            requested_at: "2026-12-07T10:00:00Z".into(),
            requested_by: None,
        };
        let automatic = plan(&config, &manifest("aaa"), &BTreeMap::new(), &stack());
        let name = |decisions: &[Decision], model: &str| {
            decisions
                .iter()
                .find(|d| d.model == model)
                .and_then(|d| match &d.action {
                    Action::Start { job, .. } => Some(job.name().to_string()),
                    _ => None,
                })
        };
        let first = plan_request(
            &config,
            &manifest("aaa"),
            &request("r1", &["chatbot-eleven", "nobody"]),
            &stack(),
        );
        assert_eq!(first.len(), 2, "only what was named: {first:?}");
        assert!(matches!(first[1].action, Action::Skip(Skip::UnknownModel)));
        let attempt = name(&first, "chatbot-eleven").expect("started");
        assert_ne!(Some(attempt.clone()), name(&automatic, "chatbot-eleven"));
        let again = plan_request(
            &config,
            &manifest("aaa"),
            &request("r1", &["chatbot-eleven"]),
            &stack(),
        );
        assert_eq!(
            name(&again, "chatbot-eleven"),
            Some(attempt.clone()),
            "a redelivery names the same job"
        );
        let other = plan_request(
            &config,
            &manifest("aaa"),
            &request("r2", &["chatbot-eleven"]),
            &stack(),
        );
        assert_ne!(
            name(&other, "chatbot-eleven"),
            Some(attempt),
            "another request, another job"
        );
        let all = plan_request(&config, &manifest("aaa"), &request("r3", &[]), &stack());
        assert_eq!(
            all.iter().map(|d| d.model.as_str()).collect::<Vec<_>>(),
            config
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
        );
        let Action::Start { job, .. } = &all[0].action else {
            panic!("started: {all:?}");
        };
        assert!(
            job.training()
                .tags
                .contains(&(tags::REQUEST.to_string(), "r3".to_string())),
            "{:?}",
            job.training().tags
        );
    }

    #[test]
    fn a_batch_mentions_the_config_when_one_of_its_events_names_it() {
        let body = |key: &str| {
            serde_json::json!({"version": "0", "id": "1", "detail-type": "Object Created",
                "source": "aws.s3", "account": "123456789012", "time": "2026-12-07T10:00:00Z",
                "region": "eu-west-1", "resources": [],
                "detail": {"bucket": {"name": "b"}, "object": {"key": key, "etag": "e1"}}})
            .to_string()
        };
        let batch = |bodies: &[String]| {
            let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
            for b in bodies {
                let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
                message.body = Some(b.clone());
                event.records.push(message);
            }
            event
        };
        let key = crate::config::live::CONFIG_KEY;
        assert!(mentions(&batch(&[body(PENDING_KEY), body(key)]), key));
        assert!(!mentions(
            &batch(&[body(PENDING_KEY), "not JSON".into()]),
            key
        ));
        assert!(!mentions(&batch(&[]), key));
    }

    #[test]
    fn events_name_the_pending_revision() {
        let body = |key: &str, version: Option<&str>| {
            let mut event = serde_json::json!({"version": "0", "id": "1", "detail-type": "Object Created",
                "source": "aws.s3", "account": "123456789012", "time": "2026-11-27T10:00:00Z", "region": "eu-west-1",
                "resources": [], "detail": {"bucket": {"name": "b"}, "object": {"key": key, "etag": "e1"}}});
            if let Some(v) = version {
                event["detail"]["object"]["version-id"] = v.into();
            }
            event.to_string()
        };
        assert_eq!(
            pending_revision(&body("manifest/pending.json", Some("v9"))),
            Ok("v9".into())
        );
        assert_eq!(
            pending_revision(&body("manifest/pending.json", None)),
            Ok("e1".into())
        );
        assert!(matches!(
            pending_revision(&body("raw/a.srt", None)),
            Err(TrainError::BadMessage(_))
        ));
        assert!(matches!(
            pending_revision("{}"),
            Err(TrainError::BadMessage(_))
        ));
    }

    #[test]
    fn the_sample_queue_event_names_a_pending_revision() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/sqs-train-source-changed.json"
        );
        let text = std::fs::read_to_string(path).expect("sample");
        let event: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_str(&text).expect("SQS event");
        let body = event.records[0].body.as_deref().expect("body");
        assert_eq!(
            pending_revision(body),
            Ok("Ks7b2oW0y5pNq3H1Zc9Vd8Lr4Tt6Ee2A".into())
        );
    }

    #[test]
    fn quiet_period_from_the_stack_overrides_the_config() {
        let config = config();
        assert_eq!(quiet_seconds(None, &config), Ok(120));
        assert_eq!(quiet_seconds(Some("600"), &config), Ok(600));
        assert!(quiet_seconds(Some("0"), &config).is_err());
        assert!(quiet_seconds(Some("soon"), &config).is_err());
    }

    mod trainer {
        use super::*;
        use crate::error::Retry;
        use crate::fakes::{FakeQueue, FakeTrainingJobs, MemStore, denied, throttled};
        use crate::manifest::LATEST_KEY;
        use crate::store::{AlertLog, ObjectStore};

        const NOW: i64 = 1_795_800_000;

        /// The name of the model's job on `version`, started by the pipeline (no request).
        fn job_of(model: &str, version: &str) -> String {
            let config = config();
            let model = config.model(model).expect("model");
            model.job_name(
                version,
                &job_identity(&training_config_sha256(model, &config), None),
            )
        }

        /// A bucket whose latest.json is the test manifest and whose last source change was
        /// recorded at `written`; the event that names that change.
        fn corpus(eleven_sha: &str, written: i64) -> (MemStore, String) {
            corpus_of(&manifest(eleven_sha), written)
        }

        fn corpus_of(manifest: &CorpusManifest, written: i64) -> (MemStore, String) {
            let store = MemStore::new();
            let bytes = serde_json::to_vec(manifest).expect("manifest JSON");
            store.insert(LATEST_KEY, &bytes);
            let change = format!("{{\"source\": \"{}\"}}", manifest.version);
            store.insert(PENDING_KEY, change.as_bytes());
            store.set_last_modified(PENDING_KEY, written);
            let body = message(&crate::hash::sha256_hex(change.as_bytes()));
            (store, body)
        }

        fn message(revision: &str) -> String {
            serde_json::json!({"version": "0", "id": "1", "detail-type": "Object Created",
                "source": "aws.s3", "account": "123456789012", "time": "2026-11-27T10:00:00Z",
                "region": "eu-west-1", "resources": [],
                "detail": {"bucket": {"name": "pipeline-bucket"},
                    "object": {"key": PENDING_KEY, "version-id": revision}}})
            .to_string()
        }

        struct Parts {
            config: Config,
            stack: StackSettings,
            jobs: FakeTrainingJobs,
            queue: FakeQueue,
            alerts: AlertLog,
        }

        impl Parts {
            fn new() -> Self {
                Parts {
                    config: config(),
                    stack: stack(),
                    jobs: FakeTrainingJobs::default(),
                    queue: FakeQueue::default(),
                    alerts: AlertLog::default(),
                }
            }

            fn trainer<'a>(
                &'a self,
                store: &'a MemStore,
            ) -> Trainer<'a, MemStore, FakeTrainingJobs, FakeQueue, AlertLog> {
                Trainer {
                    store,
                    jobs: &self.jobs,
                    queue: &self.queue,
                    notifier: &self.alerts,
                    config: &self.config,
                    stack: &self.stack,
                    quiet_seconds: 120,
                }
            }
        }

        fn results(outcome: &MessageOutcome) -> Vec<(String, String)> {
            match outcome {
                MessageOutcome::Trained { models, .. } => models
                    .iter()
                    .map(|m| (m.model.clone(), m.result.clone()))
                    .collect(),
                other => panic!("{other:?}"),
            }
        }

        #[tokio::test]
        async fn a_request_starts_a_new_attempt_once_however_often_it_is_delivered() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            parts.trainer(&store).train().await.expect("first round");
            let manifest = manifest("aaa");
            store.insert(
                &manifest.key(),
                &serde_json::to_vec(&manifest).expect("manifest JSON"),
            );
            let request = crate::requests::TrainRequest {
                id: "20261207t100000z-0a1b2c3d".into(),
                models: vec!["chatbot-eleven".into()],
                corpus_version: manifest.version.clone(),
                requested_at: "2026-12-07T10:00:00Z".into(),
                requested_by: None,
            };
            let key = crate::requests::key(crate::requests::TRAIN_PREFIX, &request.id);
            store.insert(&key, &serde_json::to_vec(&request).expect("JSON"));
            let event = message("r").replace(PENDING_KEY, &key);
            let first = parts.trainer(&store).message(&event, NOW).await;
            let Ok(MessageOutcome::Requested { models, .. }) = &first else {
                panic!("{first:?}");
            };
            assert_eq!(models.len(), 1);
            assert_eq!(models[0].result, "created", "{models:?}");
            let attempt = models[0].job_name.clone().expect("a job");
            assert_ne!(attempt, job_of("chatbot-eleven", &manifest.version));
            let again = parts.trainer(&store).message(&event, NOW).await;
            let Ok(MessageOutcome::Requested { models, .. }) = &again else {
                panic!("{again:?}");
            };
            assert_eq!(models[0].result, "already_exists");
            assert_eq!(
                parts.jobs.jobs().len(),
                3,
                "two automatic jobs and one attempt"
            );
            let state: TrainState = serde_json::from_slice(
                &store
                    .get(&TrainState::key("chatbot-eleven"))
                    .await
                    .expect("get")
                    .expect("state")
                    .bytes,
            )
            .expect("state JSON");
            assert_eq!(state.job_name, attempt);
            assert_eq!(state.request.as_deref(), Some(request.id.as_str()));
            // The pipeline's next round on the same data and config trains nothing more.
            let next = parts.trainer(&store).train().await.expect("next round");
            assert!(
                results(&next).iter().all(|(_, r)| r == "unchanged"),
                "{next:?}"
            );
        }

        #[tokio::test]
        async fn a_request_that_cannot_be_carried_out_is_told_once() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            let key = crate::requests::key(crate::requests::TRAIN_PREFIX, "r9");
            let request = serde_json::json!({"id": "r9", "models": [],
                "corpus_version": "ffffffffffffffff", "requested_at": "2026-12-07T10:00:00Z"});
            store.insert(&key, request.to_string().as_bytes());
            let event = message("r").replace(PENDING_KEY, &key);
            for _ in 0..2 {
                let outcome = parts.trainer(&store).message(&event, NOW).await;
                let Ok(MessageOutcome::RequestRefused { reason, .. }) = &outcome else {
                    panic!("{outcome:?}");
                };
                assert!(reason.contains("ffffffffffffffff"), "{reason}");
            }
            let alerts = parts.alerts.alerts();
            assert_eq!(alerts.len(), 1, "told once: {alerts:?}");
            assert!(
                alerts[0].body.contains("hawkins train"),
                "{}",
                alerts[0].body
            );
            assert!(parts.jobs.jobs().is_empty());
        }

        #[tokio::test]
        async fn a_write_younger_than_the_quiet_period_is_queued_for_the_time_left() {
            let parts = Parts::new();
            let (store, body) = corpus("aaa", NOW - 30);
            let outcome = parts.trainer(&store).message(&body, NOW).await;
            assert_eq!(outcome, Ok(MessageOutcome::Requeued { delay_seconds: 90 }));
            assert_eq!(parts.queue.sent(), [(body, 90)], "the same event, delayed");
            assert!(parts.jobs.faults.calls().is_empty(), "no job yet");
        }

        #[tokio::test]
        async fn a_long_quiet_period_is_waited_out_in_hops_of_sqs_longest_delay() {
            let parts = Parts::new();
            let (store, body) = corpus("aaa", NOW);
            let mut trainer = parts.trainer(&store);
            trainer.quiet_seconds = 3_600;
            let outcome = trainer.message(&body, NOW).await;
            assert_eq!(
                outcome,
                Ok(MessageOutcome::Requeued {
                    delay_seconds: MAX_QUEUE_DELAY_SECONDS
                })
            );
            assert_eq!(parts.queue.sent()[0].1, MAX_QUEUE_DELAY_SECONDS);
        }

        #[tokio::test]
        async fn an_event_about_a_replaced_write_is_dropped() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            let outcome = parts
                .trainer(&store)
                .message(&message("an-older-revision"), NOW)
                .await;
            assert_eq!(outcome, Ok(MessageOutcome::Superseded));
            assert!(parts.queue.sent().is_empty());
            assert!(parts.jobs.jobs().is_empty());
        }

        #[tokio::test]
        async fn a_settled_corpus_starts_one_job_per_model_and_records_it() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            let outcome = parts.trainer(&store).train().await.expect("trained");
            assert_eq!(
                results(&outcome),
                [
                    ("chatbot-eleven".to_string(), "created".to_string()),
                    ("locations".to_string(), "created".to_string())
                ]
            );
            let jobs = parts.jobs.jobs();
            assert_eq!(jobs.len(), 2);
            assert!(matches!(
                jobs.get(&job_of("chatbot-eleven", "0123456789abcdef")),
                Some(JobSpec::Training(_))
            ));
            assert!(
                jobs.values().any(|j| matches!(j, JobSpec::Tuning(_))),
                "the tuned model starts a tuning job"
            );
            let state = store
                .get(&TrainState::key("chatbot-eleven"))
                .await
                .expect("read")
                .expect("the state of the model's last job");
            let state: TrainState = serde_json::from_slice(&state.bytes).expect("state JSON");
            assert_eq!(state.job_name, job_of("chatbot-eleven", "0123456789abcdef"));
            assert_eq!(state.dataset_sha256, "aaa");
            assert!(parts.queue.sent().is_empty());
        }

        #[tokio::test]
        async fn the_same_event_twice_starts_nothing_new() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            let trainer = parts.trainer(&store);
            trainer.train().await.expect("first delivery");
            let again = trainer.train().await.expect("replay");
            assert_eq!(
                results(&again),
                [
                    ("chatbot-eleven".to_string(), "unchanged".to_string()),
                    ("locations".to_string(), "unchanged".to_string())
                ]
            );
            assert_eq!(parts.jobs.faults.count("CreateTrainingJob"), 1);
            assert_eq!(parts.jobs.faults.count("CreateHyperParameterTuningJob"), 1);
        }

        #[tokio::test]
        async fn a_job_started_before_a_crash_is_found_and_counted_as_done() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            parts.trainer(&store).train().await.expect("first");
            // The state was never written (the function died after starting the jobs).
            let (fresh, _) = corpus("aaa", NOW - 600);
            let outcome = parts
                .trainer(&fresh)
                .train()
                .await
                .expect("replay after the crash");
            assert_eq!(
                results(&outcome),
                [
                    ("chatbot-eleven".to_string(), "already_exists".to_string()),
                    ("locations".to_string(), "already_exists".to_string())
                ]
            );
            assert_eq!(parts.jobs.jobs().len(), 2, "no second job");
            assert!(
                fresh
                    .snapshot()
                    .contains_key(&TrainState::key("chatbot-eleven")),
                "the state is written this time"
            );
        }

        #[tokio::test]
        async fn a_changed_dataset_starts_only_its_models_next_job() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            parts.trainer(&store).train().await.expect("first");
            let states = store.snapshot();
            let mut changed = manifest("ccc");
            changed.version = "fedcba9876543210".into();
            for dataset in &mut changed.datasets {
                dataset.key = dataset.key.replace("0123456789abcdef", "fedcba9876543210");
            }
            changed.datasets[1].sha256 = "bbb".into();
            let (next, _) = corpus_of(&changed, NOW - 600);
            for (key, bytes) in states.iter().filter(|(k, _)| k.starts_with(STATE_PREFIX)) {
                next.insert(key, bytes);
            }
            let outcome = parts.trainer(&next).train().await.expect("next");
            assert_eq!(
                results(&outcome),
                [
                    ("chatbot-eleven".to_string(), "created".to_string()),
                    ("locations".to_string(), "unchanged".to_string())
                ]
            );
            assert!(
                parts
                    .jobs
                    .jobs()
                    .contains_key(&job_of("chatbot-eleven", "fedcba9876543210"))
            );
            assert_eq!(parts.jobs.jobs().len(), 3);
        }

        #[tokio::test]
        async fn a_throttled_start_is_retried_and_the_retry_starts_the_job() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            parts.jobs.faults.fail_next(throttled("CreateTrainingJob"));
            let failed = parts.trainer(&store).train().await;
            let Err(error) = failed else {
                panic!("{failed:?}")
            };
            assert!(error.retryable(), "{error}");
            assert_eq!(
                parts.jobs.jobs().len(),
                1,
                "only the other model's (tuning) job"
            );
            assert!(
                !store
                    .snapshot()
                    .contains_key(&TrainState::key("chatbot-eleven")),
                "no state for a job that did not start"
            );

            let outcome = parts.trainer(&store).train().await.expect("retry");
            assert_eq!(results(&outcome)[0].1, "created");
            assert_eq!(parts.jobs.faults.count("CreateTrainingJob"), 2);
        }

        #[tokio::test]
        async fn a_refused_start_is_reported_once_and_the_other_models_still_train() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            // The first model in the config is refused for good (a quota, a permission).
            parts
                .jobs
                .faults
                .fail_on("CreateTrainingJob", denied("CreateTrainingJob"));
            let outcome = parts
                .trainer(&store)
                .train()
                .await
                .expect("a refusal is reported, not retried");
            assert_eq!(
                results(&outcome),
                [
                    ("chatbot-eleven".to_string(), "failed".to_string()),
                    ("locations".to_string(), "created".to_string())
                ]
            );
            let MessageOutcome::Trained { models, .. } = &outcome else {
                panic!("{outcome:?}")
            };
            assert!(
                models[0]
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("AccessDenied")),
                "{:?}",
                models[0]
            );
            assert_eq!(parts.jobs.jobs().len(), 1, "the tuning job started");
            assert!(
                !store
                    .snapshot()
                    .contains_key(&TrainState::key("chatbot-eleven")),
                "no state for the job that did not start"
            );
            let alerts = parts.alerts.alerts();
            assert_eq!(alerts.len(), 1, "{alerts:?}");
            assert_eq!(alerts[0].kind, "training_start_failed");
            assert!(alerts[0].subject.contains("chatbot-eleven"));
            assert!(
                alerts[0]
                    .body
                    .contains(&job_of("chatbot-eleven", "0123456789abcdef"))
            );

            // Delivered again and refused again: the alert is not repeated.
            parts
                .jobs
                .faults
                .fail_on("CreateTrainingJob", denied("CreateTrainingJob"));
            let again = parts.trainer(&store).train().await;
            assert_eq!(
                again.map(|o| results(&o)),
                Ok(vec![
                    ("chatbot-eleven".to_string(), "failed".to_string()),
                    ("locations".to_string(), "unchanged".to_string())
                ])
            );
            assert_eq!(parts.alerts.alerts().len(), 1, "told once");
        }

        #[tokio::test]
        async fn a_throttled_model_brings_the_message_back_after_the_others_started() {
            let parts = Parts::new();
            let (store, _) = corpus("aaa", NOW - 600);
            parts.jobs.faults.fail_on(
                "CreateHyperParameterTuningJob",
                throttled("CreateHyperParameterTuningJob"),
            );
            let failed = parts.trainer(&store).train().await;
            let Err(error) = failed else {
                panic!("{failed:?}")
            };
            assert!(error.retryable(), "{error}");
            assert!(error.to_string().contains("locations"), "{error}");
            assert_eq!(
                parts.jobs.jobs().into_keys().collect::<Vec<_>>(),
                [job_of("chatbot-eleven", "0123456789abcdef")],
                "the model before the throttled one started"
            );
            assert!(parts.alerts.alerts().is_empty(), "a retry is not an alert");

            let outcome = parts
                .trainer(&store)
                .train()
                .await
                .expect("the message again");
            assert_eq!(
                results(&outcome),
                [
                    ("chatbot-eleven".to_string(), "unchanged".to_string()),
                    ("locations".to_string(), "created".to_string())
                ]
            );
            assert_eq!(parts.jobs.faults.count("CreateTrainingJob"), 1);
        }

        /// A burst of uploads ingested into a bucket; the event of its last change, settled.
        async fn burst(store: &MemStore, episodes: usize) -> String {
            let alerts = AlertLog::default();
            let ingest = crate::ingest::Ingest {
                store,
                notifier: &alerts,
                location: "mem".into(),
                network_window: crate::ingest::DEFAULT_NETWORK_WINDOW,
            };
            for n in 1..=episodes {
                let text = format!(
                    "1\r\n00:00:01,000 --> 00:00:02,000\r\nMIKE: Where is he? Day {n}.\r\n\r\n2\r\n00:00:02,500 --> 00:00:04,000\r\nELEVEN: Gone, day {n}.\r\n"
                );
                let object = crate::store::Object {
                    bytes: text.into_bytes(),
                    last_modified: None,
                };
                ingest
                    .upload(&format!("raw/Hawkins.S03E{n:02}.srt"), &object)
                    .await
                    .expect("ingest");
            }
            store.set_last_modified(PENDING_KEY, NOW - 600);
            let head = store
                .head(PENDING_KEY)
                .await
                .expect("head")
                .expect("pending");
            message(&head.revision)
        }

        fn versions(store: &MemStore) -> Vec<String> {
            store
                .snapshot()
                .keys()
                .filter(|k| k.starts_with("datasets/") && k.ends_with("/manifest.json"))
                .cloned()
                .collect()
        }

        #[tokio::test]
        async fn a_settled_burst_of_34_uploads_builds_one_version_and_trains_on_it() {
            let parts = Parts::new();
            let store = MemStore::new();
            let body = burst(&store, 34).await;
            assert!(versions(&store).is_empty(), "uploads build no corpus");
            let outcome = parts.trainer(&store).message(&body, NOW).await;
            let Ok(MessageOutcome::Trained {
                corpus_version,
                corpus: Some(corpus),
                models,
            }) = outcome
            else {
                panic!("{outcome:?}")
            };
            assert_eq!(corpus.sources, 34);
            assert!(corpus.latest_changed);
            assert_eq!(
                versions(&store),
                [format!("datasets/{corpus_version}/manifest.json")]
            );
            let eleven = models.iter().find(|m| m.model == "chatbot-eleven");
            assert_eq!(eleven.map(|m| m.result.as_str()), Some("created"));
            // The same message again: the same version, nothing written, nothing started.
            let puts = store.puts();
            let again = parts.trainer(&store).message(&body, NOW + 5).await;
            let Ok(MessageOutcome::Trained {
                corpus: Some(corpus),
                models,
                ..
            }) = again
            else {
                panic!("{again:?}")
            };
            assert_eq!((corpus.written, corpus.latest_changed), (0, false));
            assert!(
                models
                    .iter()
                    .all(|m| m.result == "unchanged" || m.result == "no_dataset")
            );
            assert_eq!(store.puts(), puts);
        }

        #[tokio::test]
        async fn a_change_during_the_build_leaves_the_pointer_to_the_next_build() {
            let parts = Parts::new();
            let bucket = MemStore::new();
            let body = burst(&bucket, 2).await;
            // A source changes while the corpus is built: when the version's manifest is written.
            let store = crate::fakes::Watched::new(&bucket).before_put(|key| {
                if key.starts_with("datasets/") && key.ends_with("/manifest.json") {
                    bucket.insert(PENDING_KEY, b"{\"source\": \"another\"}");
                }
                Ok(())
            });
            let trainer = Trainer {
                store: &store,
                jobs: &parts.jobs,
                queue: &parts.queue,
                notifier: &parts.alerts,
                config: &parts.config,
                stack: &parts.stack,
                quiet_seconds: 120,
            };
            let outcome = trainer.message(&body, NOW).await;
            assert!(
                matches!(outcome, Ok(MessageOutcome::Outrun { .. })),
                "{outcome:?}"
            );
            assert!(bucket.head(LATEST_KEY).await.expect("head").is_none());
            assert!(parts.jobs.jobs().is_empty(), "nothing trains on it");
        }

        #[tokio::test]
        async fn a_batch_reports_only_the_failed_messages() {
            let parts = Parts::new();
            parts.queue.faults.fail_next(throttled("SendMessage"));
            let (young, young_body) = corpus("bbb", NOW);
            let record = |id: &str, body: &str| {
                let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
                m.message_id = Some(id.into());
                m.body = Some(body.into());
                m
            };
            let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
            event.records = vec![record("m-1", &young_body), record("m-2", "not an event")];
            let (outcomes, response) = handle_batch(&parts.trainer(&young), event, NOW).await;
            assert!(outcomes.is_empty());
            let failed: Vec<_> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            assert_eq!(failed, ["m-1", "m-2"]);
            assert!(
                parts.queue.sent().is_empty(),
                "the throttled requeue sent nothing"
            );
        }
    }
}
