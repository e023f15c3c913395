//! `hawkins cleanup`: deletes the endpoint configs and models no endpoint uses, and the Failed
//! endpoints, among the names that start with `<project>-`. It lists first; only `--yes` deletes.
//!
//! What is "in use" ([`plan`]):
//! - an endpoint config that an endpoint (not Failed) is on, or is moving to during an update;
//! - a model that such a config names, or that a batch transform job still running uses;
//! - a config or model created in the last `--older-than` minutes: the lifecycle function creates
//!   the model and config a moment before it creates or updates the endpoint.
//!
//! Failed endpoints are deleted: they serve nothing and bill nothing, and the lifecycle function
//! will not deploy the model again until the endpoint is gone. In-service endpoints are never
//! touched, idle or not (the cost report names the idle ones, with the command that deletes them).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_sagemaker::types::TransformJobStatus;
use serde_json::{Value, json};

use super::errors::sagemaker;
use super::table::{count, render};
use super::{Cloud, now, secs};
use crate::exit;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointInfo {
    pub name: String,
    pub status: String,
    /// The config it is on, and the one an update in progress moves it to.
    pub configs: Vec<String>,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigInfo {
    pub name: String,
    pub created: Option<i64>,
    /// The models its variants run.
    pub models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInfo {
    pub name: String,
    pub created: Option<i64>,
}

/// Everything with the prefix, as SageMaker lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    pub prefix: String,
    pub endpoints: Vec<EndpointInfo>,
    pub configs: Vec<ConfigInfo>,
    pub models: Vec<ModelInfo>,
    /// Models of batch transform jobs still running.
    pub busy_models: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Endpoint,
    EndpointConfig,
    Model,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Endpoint => "endpoint",
            Kind::EndpointConfig => "endpoint config",
            Kind::Model => "model",
        }
    }
}

/// One thing to delete, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub kind: Kind,
    pub name: String,
    pub why: String,
}

/// What cleanup would do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Endpoints first, then configs, then models: the order they are deleted in.
    pub delete: Vec<Deletion>,
    /// Unused but too recent to delete.
    pub recent: Vec<(Kind, String)>,
    /// Counts in use: endpoints, configs, models.
    pub in_use: (usize, usize, usize),
}

/// Decides what is unused. `older_than` is in seconds.
pub fn plan(inventory: &Inventory, now: i64, older_than: i64) -> Plan {
    let prefix = inventory.prefix.as_str();
    let recent = |created: Option<i64>| created.is_some_and(|t| t > now - older_than);
    let mut out = Plan::default();
    let mut in_use_configs: BTreeSet<&str> = BTreeSet::new();
    let mut kept_endpoints = 0;
    for e in &inventory.endpoints {
        if e.status == "Failed" && e.name.starts_with(prefix) {
            let why = match &e.failure_reason {
                Some(reason) => format!("Failed: {reason}"),
                None => "Failed".into(),
            };
            out.delete.push(Deletion {
                kind: Kind::Endpoint,
                name: e.name.clone(),
                why,
            });
        } else {
            kept_endpoints += 1;
            in_use_configs.extend(e.configs.iter().map(String::as_str));
        }
    }
    let mut kept_configs: Vec<&ConfigInfo> = Vec::new();
    let mut config_deletions = Vec::new();
    for c in &inventory.configs {
        if !c.name.starts_with(prefix) || in_use_configs.contains(c.name.as_str()) {
            kept_configs.push(c);
        } else if recent(c.created) {
            kept_configs.push(c);
            out.recent.push((Kind::EndpointConfig, c.name.clone()));
        } else {
            config_deletions.push(Deletion {
                kind: Kind::EndpointConfig,
                name: c.name.clone(),
                why: "no endpoint is on it".into(),
            });
        }
    }
    let in_use_models: BTreeSet<&str> = kept_configs
        .iter()
        .flat_map(|c| c.models.iter().map(String::as_str))
        .chain(inventory.busy_models.iter().map(String::as_str))
        .collect();
    let mut model_deletions = Vec::new();
    let mut kept_models = 0;
    for m in &inventory.models {
        if !m.name.starts_with(prefix) || in_use_models.contains(m.name.as_str()) {
            kept_models += 1;
        } else if recent(m.created) {
            kept_models += 1;
            out.recent.push((Kind::Model, m.name.clone()));
        } else {
            let why = if inventory.busy_models.is_empty() {
                "no endpoint config in use names it".into()
            } else {
                "no endpoint config in use and no running batch job names it".into()
            };
            model_deletions.push(Deletion {
                kind: Kind::Model,
                name: m.name.clone(),
                why,
            });
        }
    }
    out.in_use = (
        kept_endpoints,
        kept_configs.len()
            - out
                .recent
                .iter()
                .filter(|(k, _)| *k == Kind::EndpointConfig)
                .count(),
        kept_models - out.recent.iter().filter(|(k, _)| *k == Kind::Model).count(),
    );
    out.delete.extend(config_deletions);
    out.delete.extend(model_deletions);
    out
}

/// The listing `cleanup` prints before (and without) deleting.
pub fn render_plan(
    plan: &Plan,
    prefix: &str,
    region: &str,
    older_than_minutes: u32,
    yes: bool,
) -> String {
    let mut out = format!("Cleanup of {prefix}* in {region}\n");
    let (endpoints, configs, models) = plan.in_use;
    if plan.delete.is_empty() {
        out.push_str("nothing unused to delete\n");
    } else {
        out.push_str(if yes {
            "deleting:\n"
        } else {
            "would delete:\n"
        });
        let rows: Vec<Vec<String>> = plan
            .delete
            .iter()
            .map(|d| vec![d.kind.as_str().into(), d.name.clone(), d.why.clone()])
            .collect();
        out.push_str(&render(&["KIND", "NAME", "WHY"], &rows));
    }
    if !plan.recent.is_empty() {
        let names: Vec<String> = plan
            .recent
            .iter()
            .map(|(k, n)| format!("{} {n}", k.as_str()))
            .collect();
        out.push_str(&format!(
            "kept, created in the last {older_than_minutes} min (a deployment may be using them; see --older-than): {}\n",
            names.join(", ")
        ));
    }
    out.push_str(&format!(
        "in use: {}, {}, {}\n",
        count(endpoints, "endpoint"),
        count(configs, "endpoint config"),
        count(models, "model")
    ));
    if !yes && !plan.delete.is_empty() {
        out.push_str("nothing deleted; run again with --yes\n");
    }
    out
}

/// The `--json` document: what is (or would be) deleted and why, what is kept, and, with
/// `--yes`, what was deleted and what failed.
pub fn plan_json(
    plan: &Plan,
    prefix: &str,
    region: &str,
    yes: bool,
    deleted: &[&Deletion],
    failed: &[(&Deletion, String)],
) -> Value {
    let deletion = |d: &Deletion| json!({"kind": d.kind.as_str(), "name": d.name, "why": d.why});
    let (endpoints, configs, models) = plan.in_use;
    json!({
        "prefix": prefix,
        "region": region,
        "yes": yes,
        "delete": plan.delete.iter().map(deletion).collect::<Vec<_>>(),
        "kept_recent": plan.recent.iter().map(|(k, n)| json!({"kind": k.as_str(), "name": n})).collect::<Vec<_>>(),
        "in_use": {"endpoints": endpoints, "endpoint_configs": configs, "models": models},
        "deleted": deleted.iter().map(|d| deletion(d)).collect::<Vec<_>>(),
        "failed": failed.iter().map(|(d, error)| {
            let mut value = deletion(d);
            value["error"] = Value::String(error.clone());
            value
        }).collect::<Vec<_>>(),
    })
}

pub async fn run(cloud: &Cloud, yes: bool, older_than_minutes: u32, json: bool) -> Result<()> {
    let inventory = inventory(cloud).await?;
    let plan = plan(&inventory, now(), i64::from(older_than_minutes) * 60);
    if !json {
        print!(
            "{}",
            render_plan(
                &plan,
                &inventory.prefix,
                &cloud.region,
                older_than_minutes,
                yes
            )
        );
    }
    let client = cloud.sagemaker();
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    let mut first_error = None;
    for d in plan.delete.iter().filter(|_| yes) {
        let result = match d.kind {
            Kind::Endpoint => client
                .delete_endpoint()
                .endpoint_name(&d.name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| cloud.fail(sagemaker("DeleteEndpoint"), &d.name, &e)),
            Kind::EndpointConfig => client
                .delete_endpoint_config()
                .endpoint_config_name(&d.name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| cloud.fail(sagemaker("DeleteEndpointConfig"), &d.name, &e)),
            Kind::Model => client
                .delete_model()
                .model_name(&d.name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| cloud.fail(sagemaker("DeleteModel"), &d.name, &e)),
        };
        match result {
            Ok(()) => {
                if !json {
                    println!("deleted {} {}", d.kind.as_str(), d.name);
                }
                deleted.push(d);
            }
            Err(e) => {
                eprintln!("hawkins: {e}");
                failed.push((d, e.to_string()));
                first_error.get_or_insert(exit::of(&e));
            }
        }
    }
    if json {
        let document = plan_json(
            &plan,
            &inventory.prefix,
            &cloud.region,
            yes,
            &deleted,
            &failed,
        );
        println!("{}", serde_json::to_string_pretty(&document)?);
    }
    match first_error {
        Some(code) => {
            let message = format!(
                "{} of {} deletions failed (see above); run again once fixed",
                failed.len(),
                plan.delete.len()
            );
            Err(if json {
                exit::coded_after_output(code, message)
            } else {
                exit::coded(code, message)
            })
        }
        None => Ok(()),
    }
}

/// Lists and describes what has the prefix.
async fn inventory(cloud: &Cloud) -> Result<Inventory> {
    let client = cloud.sagemaker();
    let prefix = cloud.prefix();
    let pattern = format!("{prefix}*");

    let mut endpoints = Vec::new();
    for e in cloud.project_endpoints().await? {
        let d = &e.described;
        let configs = d
            .endpoint_config_name()
            .into_iter()
            .chain(
                d.pending_deployment_summary()
                    .and_then(|p| p.endpoint_config_name()),
            )
            .map(str::to_string)
            .collect();
        endpoints.push(EndpointInfo {
            status: e.status,
            failure_reason: e.failure_reason,
            configs,
            name: e.name,
        });
    }

    let mut listed: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut pages = client
        .list_endpoint_configs()
        .name_contains(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud.fail(sagemaker("ListEndpointConfigs"), &pattern, &e))?;
        for c in page.endpoint_configs() {
            if let Some(name) = c.endpoint_config_name().filter(|n| n.starts_with(&prefix)) {
                listed.insert(name.to_string(), secs(c.creation_time()));
            }
        }
    }
    let mut configs = Vec::new();
    for (name, created) in listed {
        let c = client
            .describe_endpoint_config()
            .endpoint_config_name(&name)
            .send()
            .await
            .map_err(|e| cloud.fail(sagemaker("DescribeEndpointConfig"), &name, &e))?;
        configs.push(ConfigInfo {
            models: c
                .production_variants()
                .iter()
                .filter_map(|v| v.model_name())
                .map(str::to_string)
                .collect(),
            name,
            created,
        });
    }

    let mut models = Vec::new();
    let mut pages = client
        .list_models()
        .name_contains(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud.fail(sagemaker("ListModels"), &pattern, &e))?;
        models.extend(page.models().iter().filter_map(|m| {
            Some(ModelInfo {
                name: m
                    .model_name()
                    .filter(|n| n.starts_with(&prefix))?
                    .to_string(),
                created: secs(m.creation_time()),
            })
        }));
    }

    let mut busy_models = BTreeSet::new();
    let mut pages = client
        .list_transform_jobs()
        .name_contains(&prefix)
        .status_equals(TransformJobStatus::InProgress)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud.fail(sagemaker("ListTransformJobs"), &pattern, &e))?;
        for job in page.transform_job_summaries() {
            let Some(name) = job.transform_job_name() else {
                continue;
            };
            let described = client
                .describe_transform_job()
                .transform_job_name(name)
                .send()
                .await
                .map_err(|e| cloud.fail(sagemaker("DescribeTransformJob"), name, &e))?;
            if let Some(model) = described.model_name() {
                busy_models.insert(model.to_string());
            }
        }
    }
    Ok(Inventory {
        prefix,
        endpoints,
        configs,
        models,
        busy_models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const HOUR: i64 = 3600;

    fn inventory() -> Inventory {
        let config = |name: &str, age: i64, models: &[&str]| ConfigInfo {
            name: name.into(),
            created: Some(NOW - age),
            models: models.iter().map(|m| m.to_string()).collect(),
        };
        let model = |name: &str, age: i64| ModelInfo {
            name: name.into(),
            created: Some(NOW - age),
        };
        Inventory {
            prefix: "hawkins-".into(),
            endpoints: vec![
                EndpointInfo {
                    name: "hawkins-chatbot-eleven".into(),
                    status: "Updating".into(),
                    configs: vec![
                        "hawkins-chatbot-eleven-v2-bbbb".into(),
                        "hawkins-chatbot-eleven-v3-cccc".into(),
                    ],
                    failure_reason: None,
                },
                EndpointInfo {
                    name: "hawkins-locations".into(),
                    status: "Failed".into(),
                    configs: vec!["hawkins-locations-v1-dddd".into()],
                    failure_reason: Some("image not found".into()),
                },
            ],
            configs: vec![
                config(
                    "hawkins-chatbot-eleven-v1-aaaa",
                    48 * HOUR,
                    &["hawkins-chatbot-eleven-v1"],
                ),
                config(
                    "hawkins-chatbot-eleven-v2-bbbb",
                    24 * HOUR,
                    &["hawkins-chatbot-eleven-v2"],
                ),
                config(
                    "hawkins-chatbot-eleven-v3-cccc",
                    60,
                    &["hawkins-chatbot-eleven-v3"],
                ),
                config(
                    "hawkins-locations-v1-dddd",
                    5 * HOUR,
                    &["hawkins-locations-v1"],
                ),
                config("hawkins-mike-v1-eeee", 120, &["hawkins-mike-v1"]),
            ],
            models: vec![
                model("hawkins-chatbot-eleven-v1", 48 * HOUR),
                model("hawkins-chatbot-eleven-v2", 24 * HOUR),
                model("hawkins-chatbot-eleven-v3", 60),
                model("hawkins-locations-v1", 5 * HOUR),
                model("hawkins-mike-v1", 2 * HOUR),
                model("hawkins-themes-v4", 3 * HOUR),
                model("hawkins-themes-v5", 3 * HOUR),
            ],
            busy_models: ["hawkins-themes-v5".to_string()].into(),
        }
    }

    fn names(plan: &Plan, kind: Kind) -> Vec<&str> {
        plan.delete
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.name.as_str())
            .collect()
    }

    #[test]
    fn only_what_nothing_uses_is_deleted() {
        let plan = plan(&inventory(), NOW, HOUR);
        assert_eq!(names(&plan, Kind::Endpoint), ["hawkins-locations"]);
        // v2 is served, v3 is where the update goes, the Mike config is recent.
        assert_eq!(
            names(&plan, Kind::EndpointConfig),
            [
                "hawkins-chatbot-eleven-v1-aaaa",
                "hawkins-locations-v1-dddd"
            ]
        );
        // Mike's model is old but its recent config keeps it; themes-v5 runs a batch job.
        assert_eq!(
            names(&plan, Kind::Model),
            [
                "hawkins-chatbot-eleven-v1",
                "hawkins-locations-v1",
                "hawkins-themes-v4"
            ]
        );
        assert_eq!(
            plan.recent,
            vec![(Kind::EndpointConfig, "hawkins-mike-v1-eeee".to_string())]
        );
        assert_eq!(plan.in_use, (1, 2, 4));
        // Endpoints go first, then configs, then models.
        let kinds: Vec<Kind> = plan.delete.iter().map(|d| d.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted);
    }

    #[test]
    fn names_without_the_prefix_are_never_touched() {
        let mut inv = inventory();
        inv.configs.push(ConfigInfo {
            name: "someone-elses-config".into(),
            created: Some(0),
            models: vec![],
        });
        inv.models.push(ModelInfo {
            name: "someone-elses-model".into(),
            created: Some(0),
        });
        inv.endpoints.push(EndpointInfo {
            name: "someone-elses-endpoint".into(),
            status: "Failed".into(),
            ..Default::default()
        });
        let plan = plan(&inv, NOW, 0);
        assert!(
            plan.delete.iter().all(|d| d.name.starts_with("hawkins-")),
            "{plan:?}"
        );
    }

    #[test]
    fn the_json_lists_each_deletion_with_its_reason() {
        let plan = plan(&inventory(), NOW, HOUR);
        let failed = [(
            &plan.delete[1],
            "DeleteEndpointConfig x was refused".to_string(),
        )];
        let document = plan_json(
            &plan,
            "hawkins-",
            "us-east-1",
            true,
            &[&plan.delete[0]],
            &failed,
        );
        assert_eq!(
            document["delete"].as_array().map(Vec::len),
            Some(plan.delete.len())
        );
        assert_eq!(
            document["delete"][0],
            json!({"kind": "endpoint", "name": "hawkins-locations", "why": "Failed: image not found"})
        );
        assert_eq!(document["deleted"][0]["name"], "hawkins-locations");
        assert_eq!(
            document["failed"][0]["error"],
            "DeleteEndpointConfig x was refused"
        );
        assert_eq!(document["kept_recent"][0]["name"], "hawkins-mike-v1-eeee");
        assert_eq!(document["in_use"]["models"], 4);
    }

    #[test]
    fn the_listing_says_nothing_was_deleted() {
        let plan = plan(&inventory(), NOW, HOUR);
        let text = render_plan(&plan, "hawkins-", "us-east-1", 60, false);
        assert!(
            text.starts_with("Cleanup of hawkins-* in us-east-1\nwould delete:\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "endpoint         hawkins-locations               Failed: image not found"
            ),
            "{text}"
        );
        assert!(text.contains("kept, created in the last 60 min"), "{text}");
        assert!(
            text.ends_with("nothing deleted; run again with --yes\n"),
            "{text}"
        );
        let yes = render_plan(&plan, "hawkins-", "us-east-1", 60, true);
        assert!(
            yes.contains("deleting:\n") && !yes.contains("run again"),
            "{yes}"
        );
        let empty = render_plan(&Plan::default(), "hawkins-", "us-east-1", 60, false);
        assert_eq!(
            empty,
            "Cleanup of hawkins-* in us-east-1\nnothing unused to delete\nin use: 0 endpoints, 0 endpoint configs, 0 models\n"
        );
    }
}
