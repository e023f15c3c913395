//! Endpoint state changes: the endpoint's billable history in the ledger, scaling on the variants
//! it serves, one message when a create or update finished or failed, and the approval that came
//! while the endpoint was busy taken up once it is InService.
//!
//! Idempotent: the event is compared with what Hawkins asked for (`state/lifecycle/endpoints/`),
//! not trusted on its own, so a replay finds nothing pending (and keeps the package that failed);
//! history entries are added only when the status in force changes, and never before a recorded
//! deletion; scaling registrations are upserts; messages go out once.

use serde::Serialize;

use super::alerts;
use super::events::EndpointChange;
use super::names::{endpoint_name, group_name, model_version, scaling_resource};
use super::package::Package;
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry};
use crate::config::{Deploy, ModelConfig};
use crate::error::StoreError;
use crate::ledger::{self, EndpointRecord, HistoryEntry};
use crate::store::{Notifier, ObjectStore};
use crate::time::format_rfc3339;

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
    /// A person chose the version this endpoint serves (`hawkins deploy --version`, `hawkins
    /// rollback`): approved packages up to this version are not deployed by themselves, so a
    /// rollback is not undone by the next InService event or a late approval event. A package
    /// approved later (a newer version) deploys as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_through: Option<u32>,
}

impl EndpointState {
    /// Whether the automatic deployments (approvals, the InService catch-up) may deploy
    /// `version`: not when a person's choice holds it back.
    pub fn allows(&self, version: u32) -> bool {
        self.held_through.is_none_or(|held| version > held)
    }
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
    (package.version > serving
        && state.failed_package.as_deref() != Some(package.arn.as_str())
        && state.allows(package.version))
    .then_some(package)
}

pub const ENDPOINT_STATE_PREFIX: &str = "state/lifecycle/endpoints/";

impl EndpointState {
    pub fn key(endpoint: &str) -> String {
        format!("{ENDPOINT_STATE_PREFIX}{endpoint}.json")
    }

    /// The state to put back when UpdateEndpoint refused the update to `config`: the one from
    /// before the attempt (`before`), with nothing pending when that was itself this update
    /// (left by an earlier attempt that stopped before the call), since nothing is updating.
    pub fn refused(before: Option<EndpointState>, endpoint: &str, config: &str) -> EndpointState {
        match before {
            Some(state) if state.pending_config.as_deref() != Some(config) => state,
            before => {
                let before = before.unwrap_or_default();
                EndpointState {
                    endpoint: endpoint.to_string(),
                    failed_package: before.failed_package,
                    held_through: before.held_through,
                    ..EndpointState::default()
                }
            }
        }
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
    record: &crate::ledger::EndpointRecord,
    entry: &crate::ledger::HistoryEntry,
) -> bool {
    let Some(at) = crate::time::parse_rfc3339(&entry.at) else {
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

/// Whether `at` is at or before the endpoint's last recorded deletion (a Deleting or Deleted
/// entry). An event that old adds nothing to the history: its entry would carry what
/// DescribeEndpoint shows now (no endpoint, or one created since under the same name), not what
/// the endpoint was at the event's time, and the deletion already ends the billed interval.
pub fn before_deletion(record: &crate::ledger::EndpointRecord, at: i64) -> bool {
    record
        .timeline()
        .into_iter()
        .rfind(|(_, e)| matches!(e.status.as_str(), "Deleting" | "Deleted"))
        .is_some_and(|(deleted, _)| at <= deleted)
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    pub(super) async fn endpoint_change(
        &self,
        change: &EndpointChange,
        at: i64,
    ) -> Result<Outcome, LifecycleError> {
        let name = &change.endpoint_name;
        let Some(model) = endpoint_model(name, self.project(), &self.config.models) else {
            return Ok(Outcome::Ignored {
                reason: format!("endpoint {name} is not a Hawkins endpoint of a configured model"),
            });
        };
        let current = self.hosting.endpoint(name).await?;
        let state_key = EndpointState::key(name);
        let state: EndpointState = self.read(&state_key).await?.unwrap_or_default();
        let outcome = endpoint_outcome(current.as_ref(), &state);
        self.record_endpoint(model, name, current.as_ref(), at)
            .await?;
        let links = self.links();
        let alerted = match &outcome {
            EndpointOutcome::Deployed { config } => {
                self.scale(model, name, current.as_ref()).await?;
                // A config with a challenger starts an A/B test (ab.rs).
                self.ab_started(model, current.as_ref(), at).await?;
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
                // A replayed Failed event finds nothing pending: the package that failed is
                // still the one recorded by the first delivery.
                failed_package: match &outcome {
                    EndpointOutcome::UpdateFailed { .. } | EndpointOutcome::Failed { .. } => state
                        .pending_package
                        .clone()
                        .or_else(|| state.failed_package.clone()),
                    _ => state.failed_package.clone(),
                },
                held_through: state.held_through,
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
            let group = group_name(self.project(), &model.name);
            let latest = self.registry.latest_approved(&group).await?;
            if let Some(package) = next_to_deploy(latest.as_ref(), current, &state) {
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
    pub(super) async fn scale(
        &self,
        model: &ModelConfig,
        endpoint: &str,
        current: Option<&Endpoint>,
    ) -> Result<(), StoreError> {
        let (Some(deploy), Some(current)) = (model.deploy.as_ref(), current) else {
            return Ok(());
        };
        for variant in &current.variants {
            if let Some(spec) = scaling(endpoint, &variant.name, deploy) {
                self.guards.register_scaling(&spec).await?;
            }
        }
        Ok(())
    }

    /// Adds the endpoint's status to its ledger history when it changed (the cost run bills by
    /// it). Entries are kept in time order, so a late event lands where it belongs, unless it is
    /// older than a recorded deletion ([`before_deletion`]): a late InService event never
    /// reopens, shortens or moves the billed time of a deleted endpoint. Deleting is recorded
    /// (it bills nothing), as SageMaker sends no event once the endpoint is gone.
    pub(super) async fn record_endpoint(
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
            Some(e) if e.status == "Deleting" => (e.status.clone(), Vec::new()),
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
        if before_deletion(&record, at) || !history_needs(&record, &entry) {
            return Ok(());
        }
        record.history.push(entry);
        record
            .history
            .sort_by_key(|e| crate::time::parse_rfc3339(&e.at).unwrap_or(0));
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
