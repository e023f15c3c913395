//! `hawkins approve` / `hawkins reject`: a person's decision on a registered model package. The
//! approval is the event the lifecycle function deploys from; nothing is deployed here.

use anyhow::{Result, anyhow, bail};
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use hawkins::config::{Deploy, ModelConfig};
use hawkins::lifecycle::plan::{endpoint_name, group_name, meta};

use super::Cloud;
use super::errors::sagemaker;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn status(self) -> &'static str {
        match self {
            Decision::Approve => "Approved",
            Decision::Reject => "Rejected",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// How a person names a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRef {
    Arn(String),
    Version {
        group: String,
        version: i32,
    },
    /// The group's one package waiting for a decision.
    Only {
        group: String,
    },
}

/// `arn:...:model-package/<group>/<version>`, `<group>/<version>`, `<model>/<version>`, or a group
/// or model alone. A name without the `<project>-` prefix is a model of the project.
pub fn parse_ref(text: &str, project: &str) -> Result<PackageRef, String> {
    let text = text.trim();
    if text.starts_with("arn:") {
        return if text.contains(":model-package/") {
            Ok(PackageRef::Arn(text.to_string()))
        } else {
            Err(format!(
                "{text} is not a model package ARN (arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
            ))
        };
    }
    let group = |name: &str| {
        if name.starts_with(&format!("{project}-")) {
            name.to_string()
        } else {
            group_name(project, name)
        }
    };
    match text.rsplit_once('/') {
        Some((name, version)) if !name.is_empty() => match version.parse::<i32>() {
            Ok(version) if version > 0 => Ok(PackageRef::Version {
                group: group(name),
                version,
            }),
            _ => Err(format!(
                "{text}: the version after / must be a number, as in {}/3",
                group(name)
            )),
        },
        _ if text.is_empty() || text.contains('/') => Err(format!(
            "\"{text}\" names no package: write <group>/<version>, as in {}/3",
            group_name(project, "chatbot-eleven")
        )),
        _ => Ok(PackageRef::Only { group: group(text) }),
    }
}

/// The one waiting package of a group, from its `(version, arn)` list.
pub fn pick_only(
    group: &str,
    pending: &[(i32, String)],
    decision: Decision,
) -> Result<String, String> {
    match pending {
        [] => Err(format!(
            "no package of {group} awaits approval: name one as {group}/<version>, or see `hawkins status`"
        )),
        [(_, arn)] => Ok(arn.clone()),
        many => {
            let versions: Vec<String> = many.iter().map(|(v, _)| v.to_string()).collect();
            let last = many.iter().map(|(v, _)| *v).max().unwrap_or_default();
            Err(format!(
                "{} packages of {group} await approval (versions {}): name one, as in `hawkins {} {group}/{last}`",
                many.len(),
                versions.join(", "),
                decision.command()
            ))
        }
    }
}

/// What the decision did, and what happens next.
pub fn outcome(
    decision: Decision,
    label: &str,
    previous: &str,
    model: Option<&ModelConfig>,
    project: &str,
) -> String {
    if previous == decision.status() {
        return format!("{label} is already {previous}: nothing changed");
    }
    let head = format!("{} {label} (was {previous})", decision.past());
    match decision {
        Decision::Approve => {
            let next = match model {
                None => "no model of the config owns it, so the lifecycle function leaves it registered only".to_string(),
                Some(m) => match &m.deploy {
                    None => format!(
                        "{} has no [model.deploy], so it stays registered only",
                        m.name
                    ),
                    Some(Deploy::Batch { .. }) => format!(
                        "the lifecycle function now runs its batch transform job over its corpus version (predictions/{}/)",
                        m.name
                    ),
                    Some(_) => format!(
                        "the lifecycle function now deploys it to endpoint {}; follow it with `hawkins status`",
                        endpoint_name(project, &m.name)
                    ),
                },
            };
            format!("{head}: {next}")
        }
        Decision::Reject if previous == "Approved" => format!(
            "{head}: it will not be deployed again; an endpoint already serving it keeps doing so until a newer package is approved"
        ),
        Decision::Reject => format!("{head}: it will never be deployed"),
    }
}

pub async fn run(
    cloud: &Cloud,
    package: &str,
    decision: Decision,
    note: Option<String>,
    json: bool,
) -> Result<()> {
    let client = cloud.sagemaker();
    let reference = parse_ref(package, cloud.project()).map_err(|e| anyhow!(e))?;
    let arn = match reference {
        PackageRef::Arn(arn) => arn,
        PackageRef::Version { group, version } => {
            let packages = list(cloud, &group, None).await?;
            match packages.into_iter().find(|(v, _)| *v == version) {
                Some((_, arn)) => arn,
                None => bail!(
                    "no package {group}/{version} in {}: `hawkins status` lists those awaiting approval",
                    cloud.region
                ),
            }
        }
        PackageRef::Only { group } => {
            let pending = list(
                cloud,
                &group,
                Some(ModelApprovalStatus::PendingManualApproval),
            )
            .await?;
            pick_only(&group, &pending, decision).map_err(|e| anyhow!(e))?
        }
    };
    let described = client
        .describe_model_package()
        .model_package_name(&arn)
        .send()
        .await
        .map_err(|e| cloud.fail(sagemaker("DescribeModelPackage"), &arn, &e))?;
    let label = match (
        described.model_package_group_name(),
        described.model_package_version(),
    ) {
        (Some(g), Some(v)) => format!("{g}/{v}"),
        _ => arn.clone(),
    };
    let previous = described
        .model_approval_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let model = described
        .customer_metadata_properties()
        .and_then(|m| m.get(meta::MODEL))
        .and_then(|name| cloud.config.model(name));
    if previous != decision.status() {
        let description = note.unwrap_or_else(|| {
            format!("{} with `hawkins {}`", decision.past(), decision.command())
        });
        client
            .update_model_package()
            .model_package_arn(&arn)
            .model_approval_status(ModelApprovalStatus::from(decision.status()))
            .approval_description(description)
            .send()
            .await
            .map_err(|e| cloud.fail(sagemaker("UpdateModelPackage"), &label, &e))?;
    }
    let message = outcome(decision, &label, &previous, model, cloud.project());
    if json {
        let document = serde_json::json!({
            "package": label,
            "arn": arn,
            "previous": previous,
            "status": decision.status(),
            "changed": previous != decision.status(),
            "model": model.map(|m| m.name.as_str()),
            "message": message,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("{message}");
    }
    Ok(())
}

/// The group's packages as `(version, arn)`, optionally only those in one approval status.
pub(super) async fn list(
    cloud: &Cloud,
    group: &str,
    status: Option<ModelApprovalStatus>,
) -> Result<Vec<(i32, String)>> {
    let mut out = Vec::new();
    let mut pages = cloud
        .sagemaker()
        .list_model_packages()
        .model_package_group_name(group)
        .set_model_approval_status(status)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud.fail(sagemaker("ListModelPackages"), group, &e))?;
        out.extend(page.model_package_summary_list().iter().filter_map(|p| {
            Some((
                p.model_package_version()?,
                p.model_package_arn()?.to_string(),
            ))
        }));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_named_in_several_ways() {
        let arn = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/hawkins-chatbot-eleven/3";
        assert_eq!(parse_ref(arn, "hawkins"), Ok(PackageRef::Arn(arn.into())));
        assert_eq!(
            parse_ref("hawkins-chatbot-eleven/3", "hawkins"),
            Ok(PackageRef::Version {
                group: "hawkins-chatbot-eleven".into(),
                version: 3
            })
        );
        assert_eq!(
            parse_ref("chatbot-eleven/3", "hawkins"),
            Ok(PackageRef::Version {
                group: "hawkins-chatbot-eleven".into(),
                version: 3
            })
        );
        assert_eq!(
            parse_ref(" chatbot-eleven ", "hawkins"),
            Ok(PackageRef::Only {
                group: "hawkins-chatbot-eleven".into()
            })
        );
        assert!(
            parse_ref("chatbot-eleven/latest", "hawkins")
                .unwrap_err()
                .contains("must be a number")
        );
        assert!(parse_ref("arn:aws:sagemaker:eu-west-1:1:endpoint/x", "hawkins").is_err());
        assert!(parse_ref("/3", "hawkins").is_err());
        assert!(parse_ref("", "hawkins").is_err());
    }

    #[test]
    fn a_model_alone_needs_exactly_one_waiting_package() {
        assert_eq!(
            pick_only("g", &[(2, "arn2".into())], Decision::Approve),
            Ok("arn2".into())
        );
        assert!(
            pick_only("g", &[], Decision::Approve)
                .unwrap_err()
                .contains("no package of g awaits approval")
        );
        let many =
            pick_only("g", &[(2, "a".into()), (3, "b".into())], Decision::Reject).unwrap_err();
        assert_eq!(
            many,
            "2 packages of g await approval (versions 2, 3): name one, as in `hawkins reject g/3`"
        );
    }

    #[test]
    fn the_outcome_says_what_happens_next() {
        let config = crate::cloud::test_config(
            r#"
[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "Qwen/Qwen2.5-3B-Instruct"
[model.deploy]
mode = "realtime"
instance_type = "ml.g5.xlarge"
[[model]]
name = "chatbot-mike"
kind = "chatbot"
dataset = "chatbot/mike-wheeler.jsonl"
character = "Mike Wheeler"
base_model = "Qwen/Qwen2.5-3B-Instruct"
"#,
        );
        let eleven = config.model("chatbot-eleven");
        let text = outcome(
            Decision::Approve,
            "hawkins-chatbot-eleven/2",
            "PendingManualApproval",
            eleven,
            "hawkins",
        );
        assert_eq!(
            text,
            "approved hawkins-chatbot-eleven/2 (was PendingManualApproval): the lifecycle function now deploys it to endpoint hawkins-chatbot-eleven; follow it with `hawkins status`"
        );
        let mike = outcome(
            Decision::Approve,
            "hawkins-chatbot-mike/1",
            "Rejected",
            config.model("chatbot-mike"),
            "hawkins",
        );
        assert!(
            mike.contains("chatbot-mike has no [model.deploy]"),
            "{mike}"
        );
        let again = outcome(Decision::Approve, "x/1", "Approved", eleven, "hawkins");
        assert_eq!(again, "x/1 is already Approved: nothing changed");
        let reject = outcome(Decision::Reject, "x/1", "Approved", eleven, "hawkins");
        assert!(
            reject.contains("keeps doing so until a newer package is approved"),
            "{reject}"
        );
    }
}
