//! Model package approvals and deployments: an approved package (at registration or by a person
//! later) is deployed exactly, never "the latest": a model, an endpoint config and the endpoint
//! (created or updated blue/green with rollback alarms), or a transform job for a batch model.
//!
//! Idempotent: the plan starts from the endpoint as DescribeEndpoint shows it, so an endpoint
//! already serving the package (or a newer one) is left alone; models and endpoint configs have
//! names derived from the package and settings, so a replay finds them and creates nothing;
//! alarms are upserts.

use std::collections::BTreeMap;

use serde::Serialize;
use tracing::{info, warn};

use super::endpoint::{Endpoint, EndpointState};
use super::events::PackageChange;
use super::names::{
    CHALLENGER, PRIMARY, bounded, endpoint_name, meta, model_name, model_version, scaling_resource,
};
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry};
use crate::config::{Deploy, ModelConfig, Strategy};
use crate::error::StoreError;
use crate::hash::sha256_hex;
use crate::store::{Notifier, ObjectStore};
use crate::training::tags as tag;

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
    /// A person chose the version the endpoint serves: approvals up to `through` wait for the
    /// next newer one, or for `hawkins deploy`.
    Held {
        through: u32,
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

/// A production variant of `model` with the deploy settings' instances.
pub(super) fn variant(name: &str, model: &str, weight: f64, deploy: &Deploy) -> VariantSpec {
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

/// Who asked for a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployTrigger {
    /// An approval (or the endpoint's catch-up on one): only a newer version than the endpoint
    /// serves is deployed, with the model's strategy (an A/B test puts it beside the serving one).
    Approval,
    /// A person named this version (`hawkins deploy --version`, `hawkins rollback`): it is
    /// deployed even when older than what the endpoint serves, and takes all the traffic (as the
    /// only variant, shifted with the model's blue/green policy, all at once for an A/B model).
    Chosen,
}

/// Plans the deployment of an approved package on the model's endpoint, given the endpoint as it
/// is now (`None`: there is none). Exactly this package is deployed, never "the latest"; on an
/// approval, a package older than what the endpoint serves is not deployed (its approval event
/// came late).
pub fn plan_deploy(
    model: &ModelConfig,
    package: &Package,
    current: Option<&Endpoint>,
    project: &str,
    role_arn: &str,
    bucket: &str,
    mode: DeployTrigger,
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
    let strategy = match (deploy.strategy().cloned(), mode) {
        (Some(Strategy::AB { .. }) | None, DeployTrigger::Chosen)
        | (None, DeployTrigger::Approval) => Strategy::AllAtOnce { wait_minutes: 0 },
        (Some(strategy), _) => strategy,
    };
    if let Some(current) = current {
        let versions: Vec<u32> = current
            .variants
            .iter()
            .filter_map(|v| model_version(&v.model))
            .collect();
        let serving = match mode {
            DeployTrigger::Approval => versions.iter().copied().max(),
            // Done only when this version alone takes the traffic.
            DeployTrigger::Chosen => (!versions.is_empty()
                && versions.iter().all(|v| *v == package.version))
            .then_some(package.version),
        };
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
        (Strategy::AB { weight, .. }, Some(current)) => {
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
    let config = EndpointConfigSpec {
        name: config_name(&model_spec.name, &variants),
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

/// Where a batch model's transform job writes its output for a corpus version (the key of
/// [`plan_deploy`]'s `output_s3_uri`).
pub fn predictions_prefix(model: &str, corpus_version: &str) -> String {
    format!("predictions/{model}/{corpus_version}/")
}

/// An endpoint config's name: the model's name (with its version) and a hash of the variants, so
/// the same package and settings give the same config (a replay creates nothing) and changed
/// settings a new one.
pub(super) fn config_name(model: &str, variants: &[VariantSpec]) -> String {
    let content = serde_json::to_string(variants).unwrap_or_default();
    bounded(&format!("{model}-{}", &sha256_hex(content.as_bytes())[..8]))
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

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    pub(super) async fn package_change(
        &self,
        change: &PackageChange,
    ) -> Result<Outcome, LifecycleError> {
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

    /// Deploys exactly `package` on the model's endpoint on its approval (see [`plan_deploy`]).
    pub(super) async fn deploy(
        &self,
        model: &ModelConfig,
        package: &Package,
    ) -> Result<DeployPlan, LifecycleError> {
        self.deploy_as(model, package, DeployTrigger::Approval, None)
            .await
    }

    /// Deploys exactly `package`, as `mode` says; `hold` (a person's choice) is the version
    /// through which later approvals must not redeploy by themselves.
    pub(super) async fn deploy_as(
        &self,
        model: &ModelConfig,
        package: &Package,
        mode: DeployTrigger,
        hold: Option<u32>,
    ) -> Result<DeployPlan, LifecycleError> {
        if model.deploy.is_none() {
            return Ok(DeployPlan::NotDeployed);
        }
        // The models run as the hosting role, never as the training jobs' execution role, which
        // may write training output and read the token secret. Without it nothing is created,
        // and the event fails (not retried by itself) to be replayed once the stack names it.
        let Some(role_arn) = self.stack.hosting_role_arn.as_deref() else {
            return Err(LifecycleError::NoHostingRole {
                package: package.arn.clone(),
            });
        };
        let endpoint = endpoint_name(self.project(), &model.name);
        let before: Option<EndpointState> = self.read(&EndpointState::key(&endpoint)).await?;
        if mode == DeployTrigger::Approval
            && let Some(held) = before.as_ref().and_then(|s| s.held_through)
            && package.version <= held
        {
            info!(endpoint, package = %package.arn, held, "a person chose the serving version: approval not deployed");
            return Ok(DeployPlan::Held { through: held });
        }
        let current = self.hosting.endpoint(&endpoint).await?;
        let plan = plan_deploy(
            model,
            package,
            current.as_ref(),
            self.project(),
            role_arn,
            &self.stack.bucket,
            mode,
        );
        let (rollout, create) = match &plan {
            // The endpoint's next InService event takes this package up (`next_to_deploy`).
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
        // What is asked is written before the call, so that the endpoint's next event can tell
        // a finished deployment from a rolled back one even if this run stops right after it.
        let state = EndpointState {
            endpoint: endpoint.clone(),
            pending_config: Some(rollout.config.name.clone()),
            pending_package: Some(package.arn.clone()),
            pending_version: Some(package.version),
            failed_package: None,
            held_through: hold.or_else(|| before.as_ref().and_then(|s| s.held_through)),
        };
        self.put_state(&endpoint, &state).await?;
        if create {
            self.hosting
                .create_endpoint(&endpoint, &rollout.config.name, &rollout.config.tags)
                .await?;
        } else if let Err(refused) = self.update(rollout).await {
            // Nothing is updating: the endpoint gets back what it had, scaling on the variants it
            // serves and a state with nothing pending, or it would serve unscaled and its next
            // InService event would read the pending config as a rolled back update. The event
            // fails as the call did, and its retry plans the update again from the start. When
            // putting things back fails too, that failure is returned: a retryable one brings
            // the event back to finish it.
            warn!(endpoint, package = %package.arn, error = %refused, "update refused: scaling and state put back");
            self.scale(model, &endpoint, current.as_ref()).await?;
            let restored = EndpointState::refused(before, &endpoint, &rollout.config.name);
            self.put_state(&endpoint, &restored).await?;
            return Err(refused.into());
        }
        Ok(plan)
    }

    /// Removes the scaling targets SageMaker would refuse to change, then starts the update.
    async fn update(&self, rollout: &Rollout) -> Result<(), StoreError> {
        for resource in &rollout.deregister {
            self.guards.deregister_scaling(resource).await?;
        }
        self.hosting
            .update_endpoint(
                &rollout.endpoint,
                &rollout.config.name,
                rollout.deployment.as_ref(),
            )
            .await
    }

    pub(super) async fn put_state(
        &self,
        endpoint: &str,
        state: &EndpointState,
    ) -> Result<(), StoreError> {
        self.store
            .put_if_changed(
                &EndpointState::key(endpoint),
                serde_json::to_vec_pretty(state).unwrap_or_default(),
                "application/json",
            )
            .await?;
        Ok(())
    }
}
