//! A person's deployments: `hawkins deploy <model> --version N` and `hawkins rollback <model>`
//! write a request under `requests/deploy/` (see [`crate::requests`]); its "Object Created"
//! event reaches this function, which deploys the chosen approved package through the same code
//! as an approval ([`Lifecycle::deploy_as`] with [`DeployTrigger::Chosen`]), then holds the
//! endpoint on it: approvals up to the newest approved version are no longer deployed by
//! themselves, so the endpoint's next InService event does not undo a rollback.
//!
//! Idempotent: a request carried out is recorded under `state/requests/deploy/` after its
//! deployment started, and a redelivery finds the record and does nothing (without it, a late
//! replay of an old rollback would roll back again a newer deployment). A crash between the two
//! repeats the deployment, whose plan finds the endpoint already on (or moving to) that version.

use serde::{Deserialize, Serialize};
use tracing::info;

use super::names::{group_name, model_version};
use super::package::DeployTrigger;
use super::{Guards, Hosting, Lifecycle, LifecycleError, Outcome, Registry};
use crate::requests::{DEPLOY_PREFIX, DONE_PREFIX, DeployRequest, DeployTarget, id_of};
use crate::store::{Alert, Notifier, ObjectStore, Severity};

/// Which version a request deploys, given the group's approved versions (ascending) and the
/// versions the endpoint's variants serve. Pure.
pub fn chosen_version(
    target: &DeployTarget,
    approved: &[u32],
    serving: &[u32],
) -> Result<u32, String> {
    let listed = || {
        if approved.is_empty() {
            "none is approved".to_string()
        } else {
            format!(
                "approved: {}",
                approved
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    match target {
        DeployTarget::Version { version } => {
            if approved.contains(version) {
                Ok(*version)
            } else {
                Err(format!(
                    "version {version} is not an approved package ({}); approve it first with `hawkins approve <model>/{version}`",
                    listed()
                ))
            }
        }
        DeployTarget::Previous => {
            let Some(current) = serving.iter().copied().max() else {
                return Err(
                    "the endpoint serves no version to roll back from: deploy one with `hawkins deploy <model> --version N`"
                        .into(),
                );
            };
            approved
                .iter()
                .copied()
                .filter(|v| *v < current)
                .max()
                .ok_or_else(|| {
                    format!(
                        "no approved version older than {current}, the one served ({})",
                        listed()
                    )
                })
        }
    }
}

/// The record of a carried out request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub request: String,
    pub model: String,
    pub version: u32,
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    /// A request written under `requests/deploy/`.
    pub(super) async fn deploy_request(&self, key: &str) -> Result<Outcome, LifecycleError> {
        let Some(id) = id_of(DEPLOY_PREFIX, key) else {
            return Ok(Outcome::Ignored {
                reason: format!("{key} is not a deploy request"),
            });
        };
        let done = format!("{DONE_PREFIX}{id}.json");
        if let Some(record) = self.read::<Done>(&done).await? {
            return Ok(Outcome::Ignored {
                reason: format!(
                    "request {id} was carried out already (version {} of {})",
                    record.version, record.model
                ),
            });
        }
        let object = self.store.get(key).await?;
        let bytes = object.as_ref().map(|o| o.bytes.as_slice());
        let request: DeployRequest = match crate::requests::read(key, id, bytes) {
            Ok(request) => request,
            Err(reason) => return self.refuse(id, reason).await,
        };
        let Some(model) = self.config.model(&request.model) else {
            return self
                .refuse(id, format!("the config has no model {}", request.model))
                .await;
        };
        if model.deploy.is_none() {
            return self
                .refuse(
                    id,
                    format!(
                        "{} has no [model.deploy]: its packages are registered, never deployed",
                        model.name
                    ),
                )
                .await;
        }
        let group = group_name(self.project(), &model.name);
        let approved = self.registry.approved_versions(&group).await?;
        let versions: Vec<u32> = approved.iter().map(|(v, _)| *v).collect();
        let endpoint = super::names::endpoint_name(self.project(), &model.name);
        let serving: Vec<u32> = self
            .hosting
            .endpoint(&endpoint)
            .await?
            .map(|e| {
                e.variants
                    .iter()
                    .filter_map(|v| model_version(&v.model))
                    .collect()
            })
            .unwrap_or_default();
        let version = match chosen_version(&request.target, &versions, &serving) {
            Ok(version) => version,
            Err(reason) => return self.refuse(id, format!("{}: {reason}", model.name)).await,
        };
        let arn = approved
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, arn)| arn.clone())
            .unwrap_or_default();
        let Some(package) = self.registry.package(&arn).await? else {
            return self
                .refuse(id, format!("package {arn} no longer exists"))
                .await;
        };
        // Hold through the newest approved version: those the person passed over stay
        // undeployed; a package approved after this request deploys as usual.
        let hold = versions
            .iter()
            .copied()
            .max()
            .unwrap_or(version)
            .max(version);
        let deploy = self
            .deploy_as(model, &package, DeployTrigger::Chosen, Some(hold))
            .await?;
        info!(request = id, model = %model.name, version, "deploy request carried out");
        let record = Done {
            request: id.to_string(),
            model: model.name.clone(),
            version,
        };
        self.store
            .put_if_changed(
                &done,
                serde_json::to_vec_pretty(&record).unwrap_or_default(),
                "application/json",
            )
            .await?;
        Ok(Outcome::Requested {
            request: id.to_string(),
            model: model.name.clone(),
            version,
            deploy,
        })
    }

    /// Tells the person a request was refused (once per request).
    async fn refuse(&self, id: &str, reason: String) -> Result<Outcome, LifecycleError> {
        tracing::warn!(request = id, reason, "deploy request refused");
        self.send_once(&request_refused(id, &reason)).await?;
        Ok(Outcome::RequestRefused {
            request: id.to_string(),
            reason,
        })
    }
}

/// The alert for a deploy or rollback request that deployed nothing.
pub fn request_refused(id: &str, reason: &str) -> Alert {
    super::alerts::alert(
        "deploy_request_refused",
        Severity::Warning,
        format!("deploy-request-refused-{id}"),
        format!("Hawkins: the deploy request {id} was not carried out"),
        format!(
            "The deploy request {id} ({DEPLOY_PREFIX}{id}.json in the pipeline bucket) deployed nothing:\n\n\
             {reason}\n\n\
             `hawkins status` shows the endpoints and the packages; ask again with \
             `hawkins deploy <model> --version N` or `hawkins rollback <model>`.\n"
        ),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_version_must_be_approved() {
        let target = DeployTarget::Version { version: 2 };
        assert_eq!(chosen_version(&target, &[1, 2, 3], &[3]), Ok(2));
        let refused = chosen_version(&target, &[1, 3], &[3]).expect_err("not approved");
        assert!(refused.contains("approved: 1, 3"), "{refused}");
        assert!(refused.contains("hawkins approve"), "{refused}");
    }

    #[test]
    fn a_rollback_takes_the_newest_approved_version_below_the_served_one() {
        let back = DeployTarget::Previous;
        assert_eq!(chosen_version(&back, &[1, 2, 4], &[4]), Ok(2));
        // During an A/B test the newest variant is the one rolled back from.
        assert_eq!(chosen_version(&back, &[1, 2, 4], &[2, 4]), Ok(2));
        // A rejected version in between is skipped: only approved ones are candidates.
        assert_eq!(chosen_version(&back, &[1, 4], &[4]), Ok(1));
        assert!(chosen_version(&back, &[4], &[4]).is_err());
        assert!(chosen_version(&back, &[1, 2], &[]).is_err());
    }
}
