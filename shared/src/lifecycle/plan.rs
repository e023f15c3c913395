//! The lifecycle's decisions as pure functions: what a job event means, whether a package passes
//! its gate, and what an approved package's deployment must create. Nothing here calls AWS.

use std::collections::BTreeMap;

use serde::Serialize;

use super::events::{TrainingJob, TransformJob, TuningJob};
use crate::config::{Deploy, Direction, Gate, ModelConfig, Strategy};
use crate::costs::ledger::{JobRecord, JobStatus};
use crate::costs::time::format_rfc3339;
use crate::hash::sha256_hex;
use crate::training::tags as tag;

/// SageMaker's limit on model, endpoint config and endpoint names.
pub const NAME_MAX: usize = 63;
/// The variant that serves; blue/green updates need the same name in the old and new config.
pub const PRIMARY: &str = "primary";
/// The second variant of an A/B deployment.
pub const CHALLENGER: &str = "challenger";
/// Package metadata keys (CustomerMetadataProperties).
pub mod meta {
    pub const MODEL: &str = "hawkins:model";
    pub const JOB: &str = "hawkins:training-job";
    pub const CORPUS_VERSION: &str = "hawkins:corpus-version";
    pub const DATASET_SHA256: &str = "hawkins:dataset-sha256";
    pub const MANIFEST: &str = "hawkins:manifest";
    pub const GATE: &str = "hawkins:gate";
    /// Followed by the metric's name.
    pub const METRIC: &str = "hawkins:metric:";
}

/// The model a job belongs to, when Hawkins started it: its project tag matches and its model is
/// in the config.
pub fn job_model<'c>(
    job: &TrainingJob,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    tagged_model(&job.tags, project, models)
}

/// The configured model that tags name, when they carry this project's tag.
fn tagged_model<'c>(
    tags: &BTreeMap<String, String>,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    if tags.get(tag::PROJECT).map(String::as_str) != Some(project) {
        return None;
    }
    let name = tags.get(tag::MODEL)?;
    models.iter().find(|m| &m.name == name)
}

/// Where a job status stands: a later stage never gives way to an earlier one.
fn rank(status: JobStatus) -> u8 {
    match status {
        JobStatus::InProgress => 0,
        JobStatus::Stopping => 1,
        JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped | JobStatus::Other => 2,
    }
}

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
        ended_at: if rank(status) == 2 {
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
    }
}

/// Whether an event's record may replace the one in the ledger. Events come in any order: an
/// InProgress event delivered after Completed must not bring a finished job back to life.
pub fn supersedes(stored: Option<&JobRecord>, incoming: &JobRecord) -> bool {
    match stored {
        None => true,
        Some(old) => rank(incoming.status) >= rank(old.status),
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

/// The package group of a model: `<project>-<model>`.
pub fn group_name(project: &str, model: &str) -> String {
    bounded(&format!("{project}-{model}"))
}

/// The endpoint of a model: `<project>-<model>` (both are checked short enough by the config).
pub fn endpoint_name(project: &str, model: &str) -> String {
    bounded(&format!("{project}-{model}"))
}

/// The model an endpoint serves, from its name.
pub fn endpoint_model<'c>(
    endpoint: &str,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    models
        .iter()
        .find(|m| endpoint_name(project, &m.name) == endpoint)
}

/// A SageMaker name of at most 63 characters: as is when short enough, else cut with a hash of the
/// whole so that two long names stay apart.
pub fn bounded(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    let hash = &sha256_hex(name.as_bytes())[..8];
    let cut: String = name.chars().take(NAME_MAX - 9).collect();
    format!("{}-{hash}", cut.trim_end_matches('-'))
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

/// A registered model package, as the registry shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Package {
    pub arn: String,
    pub group: String,
    pub version: u32,
    /// Approved, Rejected or PendingManualApproval.
    pub approval: String,
    pub image: String,
    pub model_data_url: String,
    /// CustomerMetadataProperties.
    pub metadata: BTreeMap<String, String>,
}

impl Package {
    pub fn model(&self) -> Option<&str> {
        self.metadata.get(meta::MODEL).map(String::as_str)
    }

    pub fn job(&self) -> Option<&str> {
        self.metadata.get(meta::JOB).map(String::as_str)
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metadata
            .get(&format!("{}{name}", meta::METRIC))
            .and_then(|v| v.parse().ok())
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

/// A SageMaker Model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub name: String,
    pub image: String,
    pub model_data_url: String,
    pub role_arn: String,
    pub package_arn: String,
    pub tags: Vec<(String, String)>,
}

/// A production variant of an endpoint config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSpec {
    pub name: String,
    pub model: String,
    pub weight: f64,
    /// Instances, or `None` for serverless.
    pub instance_type: Option<String>,
    pub instance_count: u32,
    pub serverless: Option<(u32, u32)>,
}

/// An endpoint config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointConfigSpec {
    pub name: String,
    pub variants: Vec<VariantSpec>,
    pub tags: Vec<(String, String)>,
}

/// How UpdateEndpoint moves traffic (BlueGreenUpdatePolicy) and what rolls it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// ALL_AT_ONCE, CANARY or LINEAR.
    pub traffic: &'static str,
    /// Percent of capacity for the canary or each linear step.
    pub step_percent: Option<u8>,
    pub wait_seconds: u32,
    pub rollback_alarms: Vec<String>,
}

/// A CloudWatch alarm on one variant: the update's rollback signal and the team's page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub metric: &'static str,
    /// `Sum` or `p90`...
    pub statistic: &'static str,
    pub endpoint: String,
    pub variant: String,
    pub threshold: f64,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
}

/// Target tracking on a realtime variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingSpec {
    /// `endpoint/<endpoint>/variant/<variant>`.
    pub resource_id: String,
    pub policy_name: String,
    pub min: u32,
    pub max: u32,
    pub target_invocations: u32,
}

/// The endpoint as SageMaker shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub status: String,
    pub config: String,
    pub failure_reason: Option<String>,
    /// The variants of the current config.
    pub variants: Vec<EndpointVariant>,
}

/// A variant of the endpoint's current config.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EndpointVariant {
    pub name: String,
    pub model: String,
    pub instance_type: Option<String>,
    pub instance_count: Option<u32>,
    /// (memory MB, max concurrency).
    pub serverless: Option<(u32, u32)>,
    /// Its share of the traffic, relative to the other variants' weights.
    pub weight: f64,
}

/// The model version a SageMaker model name carries (`...-v<N>`).
pub fn model_version(model_name: &str) -> Option<u32> {
    model_name.rsplit_once("-v")?.1.parse().ok()
}

/// The name of the SageMaker model of a package: `<endpoint>-v<version>`.
pub fn model_name(endpoint: &str, version: u32) -> String {
    bounded(&format!("{endpoint}-v{version}"))
}

/// What an approved package needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum DeployPlan {
    /// The model has no `[model.deploy]`: registered only.
    NotDeployed,
    /// A batch model: a transform job scores its corpus version's dataset.
    Batch(TransformPlan),
    /// The endpoint already serves this version, or a newer one (a late approval event).
    AlreadyServing {
        version: u32,
    },
    /// The endpoint is being created or updated: try again when it is InService.
    Busy {
        status: String,
    },
    /// The endpoint is Failed: a person must look (and delete it) first.
    EndpointFailed {
        reason: String,
    },
    Create(Rollout),
    Update(Rollout),
}

/// Everything a create or update makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub endpoint: String,
    pub model: ModelSpec,
    pub config: EndpointConfigSpec,
    pub alarms: Vec<AlarmSpec>,
    /// Blue/green policy of an update (none on create, and none for A/B, which changes variants).
    pub deployment: Option<Deployment>,
    /// Scaling targets to remove before the update (SageMaker refuses to change variants that
    /// have one); re-registered when the endpoint is InService again.
    pub deregister: Vec<String>,
}

/// ModelLatency (microseconds, p90) above which a variant is unhealthy: chatbots generate up to a
/// few hundred tokens, so ten seconds.
pub const LATENCY_ALARM_MICROS: f64 = 10_000_000.0;
/// 5XX responses per minute, two minutes running.
pub const ERRORS_ALARM_PER_MINUTE: f64 = 5.0;

/// The alarms of one variant.
pub fn alarms(endpoint: &str, variant: &str) -> Vec<AlarmSpec> {
    vec![
        AlarmSpec {
            name: bounded_alarm(&format!("{endpoint}-{variant}-5xx")),
            description: format!(
                "Hawkins: {endpoint}/{variant} answers with server errors; rolls back an update in progress"
            ),
            metric: "Invocation5XXErrors",
            statistic: "Sum",
            endpoint: endpoint.to_string(),
            variant: variant.to_string(),
            threshold: ERRORS_ALARM_PER_MINUTE,
            period_seconds: 60,
            evaluation_periods: 2,
        },
        AlarmSpec {
            name: bounded_alarm(&format!("{endpoint}-{variant}-latency")),
            description: format!(
                "Hawkins: {endpoint}/{variant} p90 model latency above 10 s; rolls back an update in progress"
            ),
            metric: "ModelLatency",
            statistic: "p90",
            endpoint: endpoint.to_string(),
            variant: variant.to_string(),
            threshold: LATENCY_ALARM_MICROS,
            period_seconds: 60,
            evaluation_periods: 3,
        },
    ]
}

fn bounded_alarm(name: &str) -> String {
    // Alarm names may be 255 characters: never cut in practice.
    name.chars().take(255).collect()
}

/// Scaling of a realtime variant.
pub fn scaling(endpoint: &str, variant: &str, deploy: &Deploy) -> Option<ScalingSpec> {
    match deploy {
        Deploy::Realtime {
            min_instances,
            max_instances,
            target_invocations_per_instance,
            ..
        } => Some(ScalingSpec {
            resource_id: scaling_resource(endpoint, variant),
            policy_name: format!("{endpoint}-{variant}-invocations"),
            min: *min_instances,
            max: *max_instances,
            target_invocations: *target_invocations_per_instance,
        }),
        _ => None,
    }
}

pub fn scaling_resource(endpoint: &str, variant: &str) -> String {
    format!("endpoint/{endpoint}/variant/{variant}")
}

fn variant(name: &str, model: &str, weight: f64, deploy: &Deploy) -> VariantSpec {
    match deploy {
        Deploy::Realtime {
            instance_type,
            initial_instance_count,
            ..
        } => VariantSpec {
            name: name.into(),
            model: model.into(),
            weight,
            instance_type: Some(instance_type.clone()),
            instance_count: *initial_instance_count,
            serverless: None,
        },
        Deploy::Serverless {
            memory_mb,
            max_concurrency,
            ..
        } => VariantSpec {
            name: name.into(),
            model: model.into(),
            weight,
            instance_type: None,
            instance_count: 0,
            serverless: Some((*memory_mb, *max_concurrency)),
        },
        Deploy::Batch {
            instance_type,
            instance_count,
        } => VariantSpec {
            name: name.into(),
            model: model.into(),
            weight,
            instance_type: Some(instance_type.clone()),
            instance_count: *instance_count,
            serverless: None,
        },
    }
}

fn deployment(strategy: &Strategy, alarms: &[AlarmSpec]) -> Option<Deployment> {
    let rollback_alarms = alarms.iter().map(|a| a.name.clone()).collect();
    let (traffic, step_percent, wait_minutes) = match strategy {
        Strategy::AllAtOnce { wait_minutes } => ("ALL_AT_ONCE", None, *wait_minutes),
        Strategy::Canary {
            percent,
            wait_minutes,
        } => ("CANARY", Some(*percent), *wait_minutes),
        Strategy::Linear {
            step_percent,
            wait_minutes,
        } => ("LINEAR", Some(*step_percent), *wait_minutes),
        Strategy::AB { .. } => return None,
    };
    Some(Deployment {
        traffic,
        step_percent,
        wait_seconds: wait_minutes * 60,
        rollback_alarms,
    })
}

/// Plans the deployment of an approved package on the model's endpoint, given the endpoint as it
/// is now (`None`: there is none). Exactly this package is deployed, never "the latest"; a package
/// older than what the endpoint serves is not deployed (its approval event came late).
pub fn plan_deploy(
    model: &ModelConfig,
    package: &Package,
    current: Option<&Endpoint>,
    project: &str,
    role_arn: &str,
    bucket: &str,
) -> DeployPlan {
    let Some(deploy) = model.deploy.as_ref() else {
        return DeployPlan::NotDeployed;
    };
    let endpoint = endpoint_name(project, &model.name);
    let model_spec = ModelSpec {
        name: model_name(&endpoint, package.version),
        image: package.image.clone(),
        model_data_url: package.model_data_url.clone(),
        role_arn: role_arn.to_string(),
        package_arn: package.arn.clone(),
        tags: vec![
            (tag::PROJECT.to_string(), project.to_string()),
            (tag::MODEL.to_string(), model.name.clone()),
        ],
    };
    if let Deploy::Batch {
        instance_type,
        instance_count,
    } = deploy
    {
        let corpus = package
            .metadata
            .get(meta::CORPUS_VERSION)
            .cloned()
            .unwrap_or_default();
        return DeployPlan::Batch(TransformPlan {
            job: TransformSpec {
                name: model_spec.name.clone(),
                model: model_spec.name.clone(),
                input_s3_uri: format!("s3://{bucket}/{}", model.dataset_key(&corpus)),
                output_s3_uri: format!("s3://{bucket}/predictions/{}/{corpus}/", model.name),
                instance_type: instance_type.clone(),
                instance_count: *instance_count,
                tags: vec![
                    (tag::PROJECT.to_string(), project.to_string()),
                    (tag::MODEL.to_string(), model.name.clone()),
                    (tag::KIND.to_string(), model.kind.as_str().to_string()),
                    (tag::CORPUS_VERSION.to_string(), corpus),
                ],
            },
            model: model_spec,
        });
    }
    let strategy = deploy
        .strategy()
        .cloned()
        .unwrap_or(Strategy::AllAtOnce { wait_minutes: 0 });
    if let Some(current) = current {
        let serving = current
            .variants
            .iter()
            .filter_map(|v| model_version(&v.model))
            .max();
        if let Some(version) = serving.filter(|v| *v >= package.version) {
            return DeployPlan::AlreadyServing { version };
        }
        match current.status.as_str() {
            "InService" => {}
            "Failed" => {
                return DeployPlan::EndpointFailed {
                    reason: current
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "no reason given".into()),
                };
            }
            other => {
                return DeployPlan::Busy {
                    status: other.to_string(),
                };
            }
        }
    }
    let variants = match (&strategy, current) {
        (Strategy::AB { weight }, Some(current)) => {
            let primary = current
                .variants
                .iter()
                .find(|v| v.name == PRIMARY)
                .or(current.variants.first())
                .map(|v| v.model.clone());
            match primary {
                Some(primary) => vec![
                    variant(PRIMARY, &primary, 1.0 - weight, deploy),
                    variant(CHALLENGER, &model_spec.name, *weight, deploy),
                ],
                None => vec![variant(PRIMARY, &model_spec.name, 1.0, deploy)],
            }
        }
        _ => vec![variant(PRIMARY, &model_spec.name, 1.0, deploy)],
    };
    let alarms: Vec<AlarmSpec> = variants
        .iter()
        .flat_map(|v| alarms(&endpoint, &v.name))
        .collect();
    // The config's name carries the version and a hash of its content: the same package and
    // settings give the same config (a replay creates nothing), changed settings a new one.
    let content = serde_json::to_string(&variants).unwrap_or_default();
    let config = EndpointConfigSpec {
        name: bounded(&format!(
            "{}-{}",
            model_spec.name,
            &sha256_hex(content.as_bytes())[..8]
        )),
        variants,
        tags: model_spec.tags.clone(),
    };
    match current {
        None => DeployPlan::Create(Rollout {
            endpoint,
            model: model_spec,
            config,
            alarms,
            deployment: None,
            deregister: Vec::new(),
        }),
        Some(current) => {
            let deregister = if matches!(deploy, Deploy::Realtime { .. }) {
                current
                    .variants
                    .iter()
                    .map(|v| scaling_resource(&endpoint, &v.name))
                    .collect()
            } else {
                Vec::new()
            };
            DeployPlan::Update(Rollout {
                endpoint,
                deployment: deployment(&strategy, &alarms),
                model: model_spec,
                config,
                alarms,
                deregister,
            })
        }
    }
}

/// A batch transform job and the model it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransformPlan {
    pub model: ModelSpec,
    pub job: TransformSpec,
}

/// CreateTransformJob over a JSON Lines dataset, one record per line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransformSpec {
    /// `<project>-<model>-v<version>`: one job per package.
    pub name: String,
    pub model: String,
    pub input_s3_uri: String,
    pub output_s3_uri: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub tags: Vec<(String, String)>,
}

/// The model of a tuning job: by its tags, else by its name (`<model>-<version>`).
pub fn tuning_model<'c>(
    job: &TuningJob,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    if job.tags.contains_key(tag::MODEL) {
        return tagged_model(&job.tags, project, models);
    }
    models
        .iter()
        .filter(|m| m.tuning.is_some())
        .filter(|m| {
            job.hyper_parameter_tuning_job_name
                .strip_prefix(m.name.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|m| m.name.len())
}

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
        ended_at: if rank(status) == 2 {
            job.transform_end_time.map(format_rfc3339)
        } else {
            None
        },
        expected_seconds: None,
        region: Some(region.to_string()),
        metrics: BTreeMap::new(),
    }
}

/// What Hawkins asked of an endpoint and has not yet seen finish: `state/lifecycle/endpoints/`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct EndpointState {
    pub endpoint: String,
    /// The endpoint config of the create or update in flight.
    #[serde(default)]
    pub pending_config: Option<String>,
    #[serde(default)]
    pub pending_package: Option<String>,
    #[serde(default)]
    pub pending_version: Option<u32>,
    /// The last package whose update failed: not deployed again by itself (see
    /// [`next_to_deploy`]); a person approves a newer one.
    #[serde(default)]
    pub failed_package: Option<String>,
}

/// The approved package an InService endpoint should take up: the newest approved one when it
/// is newer than what the endpoint serves and its update has not already failed. This picks up
/// an approval that arrived while the endpoint was busy with an earlier update.
pub fn next_to_deploy<'p>(
    latest_approved: Option<&'p Package>,
    current: &Endpoint,
    state: &EndpointState,
) -> Option<&'p Package> {
    let package = latest_approved?;
    let serving = current
        .variants
        .iter()
        .filter_map(|v| model_version(&v.model))
        .max()
        .unwrap_or(0);
    (package.version > serving && state.failed_package.as_deref() != Some(package.arn.as_str()))
        .then_some(package)
}

pub const ENDPOINT_STATE_PREFIX: &str = "state/lifecycle/endpoints/";

impl EndpointState {
    pub fn key(endpoint: &str) -> String {
        format!("{ENDPOINT_STATE_PREFIX}{endpoint}.json")
    }
}

/// What an endpoint's InService or Failed status means, given what was asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum EndpointOutcome {
    /// The create or update Hawkins asked for is serving.
    Deployed {
        config: String,
    },
    /// InService, but on another config than the one asked for: the update failed or was rolled
    /// back (UpdateEndpoint fails this way while the endpoint stays InService).
    UpdateFailed {
        wanted: String,
        serving: String,
        reason: String,
    },
    Failed {
        reason: String,
    },
    /// Nothing was pending (a replay, or a change Hawkins did not make): nothing to say.
    Steady,
    /// Creating, Updating...: recorded only.
    InProgress,
    Deleted,
}

pub fn endpoint_outcome(current: Option<&Endpoint>, state: &EndpointState) -> EndpointOutcome {
    let Some(current) = current else {
        return EndpointOutcome::Deleted;
    };
    match current.status.as_str() {
        "InService" => match &state.pending_config {
            Some(wanted) if *wanted == current.config => EndpointOutcome::Deployed {
                config: wanted.clone(),
            },
            Some(wanted) => EndpointOutcome::UpdateFailed {
                wanted: wanted.clone(),
                serving: current.config.clone(),
                reason: current
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "SageMaker gave no reason".into()),
            },
            None => EndpointOutcome::Steady,
        },
        "Failed" => EndpointOutcome::Failed {
            reason: current
                .failure_reason
                .clone()
                .unwrap_or_else(|| "SageMaker gave no reason".into()),
        },
        _ => EndpointOutcome::InProgress,
    }
}

/// Whether an endpoint's history needs `entry`: not when the entry in force at its time already
/// says the same (a replay, or a status event that changed nothing billable).
pub fn history_needs(
    record: &crate::costs::ledger::EndpointRecord,
    entry: &crate::costs::ledger::HistoryEntry,
) -> bool {
    let Some(at) = crate::costs::time::parse_rfc3339(&entry.at) else {
        return false;
    };
    let in_force = record
        .timeline()
        .into_iter()
        .take_while(|(t, _)| *t <= at)
        .last()
        .map(|(_, e)| e);
    match in_force {
        Some(e) => e.status != entry.status || e.variants != entry.variants,
        None => true,
    }
}
