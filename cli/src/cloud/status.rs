//! `hawkins status`: what the stack holds now, in four tables.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_sagemaker::types::{ModelApprovalStatus, SortBy, SortOrder};
use hawkins::config::ModelConfig;
use hawkins::ingest::quarantine_keys;
use hawkins::lifecycle::plan::meta;
use serde::Serialize;

use super::errors::{s3, sagemaker};
use super::table::{self, render};
use super::{Cloud, now, secs};

/// An object under `raw/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upload {
    pub key: String,
    pub size: u64,
    pub modified: Option<i64>,
    /// The quarantine reason's code when ingest refused it.
    pub quarantined: Option<String>,
}

/// The `limit` newest uploads, newest first.
pub fn recent_uploads(mut uploads: Vec<Upload>, limit: usize) -> Vec<Upload> {
    uploads.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.key.cmp(&b.key)));
    uploads.truncate(limit);
    uploads
}

pub fn uploads_table(uploads: &[Upload]) -> String {
    let rows: Vec<Vec<String>> = uploads
        .iter()
        .map(|u| {
            vec![
                u.key.clone(),
                table::size(u.size),
                table::time(u.modified),
                match &u.quarantined {
                    Some(code) => format!("quarantined ({code})"),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    render(&["UPLOAD", "SIZE", "UPLOADED", "QUARANTINE"], &rows)
}

/// A training job as ListTrainingJobs shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub name: String,
    pub status: String,
    pub detail: String,
    pub created: Option<i64>,
    pub ended: Option<i64>,
}

/// The model a job belongs to: Hawkins names jobs `<model>-<corpus version>` (tuning jobs'
/// trials add their own suffix). The longest model name wins, so `chatbot-eleven-x` is not taken
/// for a model `chatbot`.
pub fn job_model<'m>(job: &str, models: &'m [ModelConfig]) -> Option<&'m str> {
    models
        .iter()
        .map(|m| m.name.as_str())
        .filter(|name| {
            job.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .max_by_key(|name| name.len())
}

pub fn jobs_table(jobs: &[Job], models: &[ModelConfig], now: i64) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let ran = match (j.created, j.ended) {
                (Some(a), Some(b)) => table::duration(b - a),
                (Some(a), None) if j.status == "InProgress" => {
                    format!("{} so far", table::duration(now - a))
                }
                _ => "-".into(),
            };
            vec![
                j.name.clone(),
                job_model(&j.name, models).unwrap_or("-").to_string(),
                j.status.clone(),
                if j.detail.is_empty() {
                    "-".into()
                } else {
                    j.detail.clone()
                },
                table::time(j.created),
                ran,
            ]
        })
        .collect();
    render(
        &["JOB", "MODEL", "STATUS", "DETAIL", "CREATED", "RAN"],
        &rows,
    )
}

/// A package waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    pub group: String,
    pub version: i32,
    pub created: Option<i64>,
    /// CustomerMetadataProperties.
    pub metadata: BTreeMap<String, String>,
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub fn pending_table(packages: &[Pending]) -> String {
    let rows: Vec<Vec<String>> = packages
        .iter()
        .map(|p| {
            let metrics: Vec<String> = p
                .metadata
                .iter()
                .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix(meta::METRIC)?)))
                .collect();
            let get = |key: &str| p.metadata.get(key).cloned().unwrap_or_else(|| "-".into());
            vec![
                format!("{}/{}", p.group, p.version),
                get(meta::MODEL),
                cut(&get(meta::CORPUS_VERSION), 12),
                if metrics.is_empty() {
                    "-".into()
                } else {
                    metrics.join(" ")
                },
                table::time(p.created),
                cut(&get(meta::GATE), 80),
            ]
        })
        .collect();
    render(
        &[
            "PACKAGE",
            "MODEL",
            "CORPUS",
            "METRICS",
            "REGISTERED",
            "GATE",
        ],
        &rows,
    )
}

/// One variant of an endpoint, with the model its config gives it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct VariantView {
    pub name: String,
    pub model: String,
    pub instance_type: Option<String>,
    pub instances: Option<i32>,
    pub serverless_memory_mb: Option<i32>,
    pub current_weight: Option<f32>,
    pub desired_weight: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct EndpointView {
    pub name: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub variants: Vec<VariantView>,
}

/// Each weight as a percentage of their sum (SageMaker's weights are relative).
pub fn shares(weights: &[Option<f32>]) -> Vec<Option<f64>> {
    let total: f64 = weights.iter().flatten().map(|w| f64::from(*w)).sum();
    weights
        .iter()
        .map(|w| {
            w.filter(|_| total > 0.0)
                .map(|w| f64::from(w) / total * 100.0)
        })
        .collect()
}

fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |s| format!("{s:.0}%"))
}

pub fn endpoints_table(endpoints: &[EndpointView]) -> String {
    let mut rows = Vec::new();
    for e in endpoints {
        let current = shares(
            &e.variants
                .iter()
                .map(|v| v.current_weight)
                .collect::<Vec<_>>(),
        );
        let desired = shares(
            &e.variants
                .iter()
                .map(|v| v.desired_weight)
                .collect::<Vec<_>>(),
        );
        if e.variants.is_empty() {
            rows.push(vec![
                e.name.clone(),
                e.status.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for (i, v) in e.variants.iter().enumerate() {
            let weight = match (current[i], desired[i]) {
                (Some(c), Some(d)) if (c - d).abs() >= 0.5 => {
                    format!("{} → {}", percent(Some(c)), percent(Some(d)))
                }
                (c, d) => percent(c.or(d)),
            };
            let capacity = match (v.serverless_memory_mb, &v.instance_type) {
                (Some(mb), _) => format!("serverless {mb} MB"),
                (None, Some(t)) => format!("{} × {t}", v.instances.unwrap_or(0)),
                (None, None) => v.instances.map_or("-".into(), |n| n.to_string()),
            };
            rows.push(vec![
                if i == 0 {
                    e.name.clone()
                } else {
                    String::new()
                },
                if i == 0 {
                    e.status.clone()
                } else {
                    String::new()
                },
                v.name.clone(),
                if v.model.is_empty() {
                    "-".into()
                } else {
                    v.model.clone()
                },
                capacity,
                weight,
            ]);
        }
    }
    let mut out = render(
        &[
            "ENDPOINT",
            "STATUS",
            "VARIANT",
            "MODEL",
            "INSTANCES",
            "TRAFFIC",
        ],
        &rows,
    );
    for e in endpoints {
        if let Some(reason) = &e.failure_reason {
            out.push_str(&format!("{}: {}: {reason}\n", e.name, e.status));
        }
    }
    out
}

/// Everything `status` shows, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Status {
    pub stack: String,
    pub stack_status: String,
    pub region: String,
    pub bucket: String,
    pub alert_topic_arn: String,
    pub uploads: Vec<Upload>,
    pub jobs: Vec<Job>,
    pub pending: Vec<Pending>,
    pub endpoints: Vec<EndpointView>,
}

/// The four tables.
pub fn render_text(status: &Status, models: &[ModelConfig], now: i64) -> String {
    let mut out = format!(
        "stack {} ({}) in {}: bucket {}, alerts to {}\n",
        status.stack, status.stack_status, status.region, status.bucket, status.alert_topic_arn
    );
    out.push_str(&format!("\nRecent uploads (s3://{}/raw/)\n", status.bucket));
    out.push_str(&uploads_table(&status.uploads));
    out.push_str("\nTraining jobs\n");
    out.push_str(&jobs_table(&status.jobs, models, now));
    out.push_str("\nPackages awaiting approval\n");
    out.push_str(&pending_table(&status.pending));
    if let Some(first) = status.pending.first() {
        out.push_str(&format!(
            "approve with `hawkins approve {0}/{1}`, or reject with `hawkins reject {0}/{1}`\n",
            first.group, first.version
        ));
    }
    out.push_str("\nEndpoints\n");
    out.push_str(&endpoints_table(&status.endpoints));
    out
}

pub async fn run(cloud: &Cloud, limit: usize, json: bool) -> Result<()> {
    let outputs = cloud.outputs().await?;
    let status = Status {
        uploads: uploads(cloud, &outputs.bucket, limit).await?,
        jobs: jobs(cloud, limit).await?,
        pending: pending(cloud).await?,
        endpoints: endpoints(cloud).await?,
        stack: cloud.stack.clone(),
        stack_status: outputs.status,
        region: cloud.region.clone(),
        bucket: outputs.bucket,
        alert_topic_arn: outputs.alert_topic_arn,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render_text(&status, &cloud.config.models, now()));
    }
    Ok(())
}

async fn uploads(cloud: &Cloud, bucket: &str, limit: usize) -> Result<Vec<Upload>> {
    let client = hawkins::aws::s3::S3Store::client(&cloud.sdk);
    let list = |prefix: &'static str| {
        let client = client.clone();
        async move {
            let mut out = Vec::new();
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    cloud.fail(s3("ListObjectsV2"), &format!("s3://{bucket}/{prefix}"), &e)
                })?;
                for o in page.contents() {
                    out.push(Upload {
                        key: o.key().unwrap_or_default().to_string(),
                        size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        modified: o.last_modified().map(|t| t.secs()),
                        quarantined: None,
                    });
                }
            }
            Ok::<_, anyhow::Error>(out)
        }
    };
    let raw = list("raw/").await?;
    let reasons: BTreeSet<String> = list("quarantine/")
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".reason.json"))
        .collect();
    let mut recent = recent_uploads(raw, limit);
    for upload in &mut recent {
        let (_, reason_key) = quarantine_keys(&upload.key);
        if !reasons.contains(&reason_key) {
            continue;
        }
        let code = match client
            .get_object()
            .bucket(bucket)
            .key(&reason_key)
            .send()
            .await
        {
            Ok(object) => object
                .body
                .collect()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b.into_bytes()).ok())
                .and_then(|v| v["reason"]["code"].as_str().map(str::to_string)),
            Err(_) => None,
        };
        upload.quarantined = Some(code.unwrap_or_else(|| "see its .reason.json".into()));
    }
    Ok(recent)
}

async fn jobs(cloud: &Cloud, limit: usize) -> Result<Vec<Job>> {
    let answer = cloud
        .sagemaker()
        .list_training_jobs()
        .sort_by(SortBy::CreationTime)
        .sort_order(SortOrder::Descending)
        .max_results(100)
        .send()
        .await
        .map_err(|e| cloud.fail(sagemaker("ListTrainingJobs"), "training jobs", &e))?;
    Ok(answer
        .training_job_summaries()
        .iter()
        .filter_map(|j| {
            let name = j.training_job_name()?;
            job_model(name, &cloud.config.models)?;
            Some(Job {
                name: name.to_string(),
                status: j
                    .training_job_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                detail: j
                    .secondary_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                created: secs(j.creation_time()),
                ended: secs(j.training_end_time()),
            })
        })
        .take(limit)
        .collect())
}

async fn pending(cloud: &Cloud) -> Result<Vec<Pending>> {
    let client = cloud.sagemaker();
    let prefix = cloud.prefix();
    let mut groups = Vec::new();
    let mut pages = client
        .list_model_package_groups()
        .name_contains(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            cloud.fail(
                sagemaker("ListModelPackageGroups"),
                &format!("{prefix}*"),
                &e,
            )
        })?;
        groups.extend(
            page.model_package_group_summary_list()
                .iter()
                .filter_map(|g| g.model_package_group_name())
                .filter(|g| g.starts_with(&prefix))
                .map(str::to_string),
        );
    }
    groups.sort();
    let mut out = Vec::new();
    for group in groups {
        let answer = client
            .list_model_packages()
            .model_package_group_name(&group)
            .model_approval_status(ModelApprovalStatus::PendingManualApproval)
            .send()
            .await
            .map_err(|e| cloud.fail(sagemaker("ListModelPackages"), &group, &e))?;
        for summary in answer.model_package_summary_list() {
            let Some(arn) = summary.model_package_arn() else {
                continue;
            };
            let described = client
                .describe_model_package()
                .model_package_name(arn)
                .send()
                .await
                .map_err(|e| cloud.fail(sagemaker("DescribeModelPackage"), arn, &e))?;
            out.push(Pending {
                group: group.clone(),
                version: summary.model_package_version().unwrap_or_default(),
                created: secs(summary.creation_time()),
                metadata: described
                    .customer_metadata_properties()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

async fn endpoints(cloud: &Cloud) -> Result<Vec<EndpointView>> {
    let client = cloud.sagemaker();
    let mut out = Vec::new();
    for e in cloud.project_endpoints().await? {
        // The config says which model each variant runs and on what.
        let mut configured: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        if let Some(config) = e.described.endpoint_config_name() {
            let c = client
                .describe_endpoint_config()
                .endpoint_config_name(config)
                .send()
                .await
                .map_err(|err| cloud.fail(sagemaker("DescribeEndpointConfig"), config, &err))?;
            for v in c.production_variants() {
                configured.insert(
                    v.variant_name().unwrap_or_default().to_string(),
                    (
                        v.model_name().unwrap_or_default().to_string(),
                        v.instance_type().map(|t| t.as_str().to_string()),
                    ),
                );
            }
        }
        let variants = e
            .described
            .production_variants()
            .iter()
            .map(|v| {
                let name = v.variant_name().unwrap_or_default().to_string();
                let (model, instance_type) = configured.get(&name).cloned().unwrap_or_default();
                VariantView {
                    model,
                    instance_type,
                    instances: v.current_instance_count(),
                    serverless_memory_mb: v
                        .current_serverless_config()
                        .and_then(|s| s.memory_size_in_mb()),
                    current_weight: v.current_weight(),
                    desired_weight: v.desired_weight(),
                    name,
                }
            })
            .collect();
        out.push(EndpointView {
            status: e.status,
            failure_reason: e.failure_reason,
            variants,
            name: e.name,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Vec<ModelConfig> {
        let text = r#"
[[model]]
name = "chatbot"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "Qwen/Qwen2.5-3B-Instruct"
[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "Qwen/Qwen2.5-3B-Instruct"
"#;
        crate::cloud::test_config(text).models
    }

    #[test]
    fn jobs_belong_to_the_longest_matching_model() {
        let models = models();
        assert_eq!(
            job_model("chatbot-eleven-3f2a9c1e", &models),
            Some("chatbot-eleven")
        );
        assert_eq!(job_model("chatbot-3f2a9c1e", &models), Some("chatbot"));
        assert_eq!(job_model("chatbot", &models), None);
        assert_eq!(job_model("someone-elses-job", &models), None);
    }

    #[test]
    fn uploads_are_newest_first_with_their_quarantine() {
        let upload = |key: &str, t: i64, q: Option<&str>| Upload {
            key: key.into(),
            size: 2048,
            modified: Some(t),
            quarantined: q.map(str::to_string),
        };
        let recent = recent_uploads(
            vec![
                upload("raw/a.srt", 100, None),
                upload("raw/b.srt", 300, Some("no_cues")),
                upload("raw/c.srt", 200, None),
            ],
            2,
        );
        let keys: Vec<&str> = recent.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["raw/b.srt", "raw/c.srt"]);
        let text = uploads_table(&recent);
        assert!(
            text.contains("raw/b.srt  2.0 KiB  1970-01-01 00:05Z  quarantined (no_cues)"),
            "{text}"
        );
    }

    #[test]
    fn weights_are_shares_and_a_move_shows_both() {
        let s = shares(&[Some(3.0), Some(1.0)]);
        assert_eq!(s, vec![Some(75.0), Some(25.0)]);
        assert_eq!(shares(&[None, Some(0.0)]), vec![None, None]);
        let view = EndpointView {
            name: "hawkins-chatbot-eleven".into(),
            status: "Updating".into(),
            failure_reason: None,
            variants: vec![
                VariantView {
                    name: "primary".into(),
                    model: "hawkins-chatbot-eleven-v1".into(),
                    instance_type: Some("ml.g5.xlarge".into()),
                    instances: Some(1),
                    current_weight: Some(1.0),
                    desired_weight: Some(0.8),
                    ..Default::default()
                },
                VariantView {
                    name: "challenger".into(),
                    model: "hawkins-chatbot-eleven-v2".into(),
                    instance_type: Some("ml.g5.xlarge".into()),
                    instances: Some(1),
                    current_weight: Some(0.0),
                    desired_weight: Some(0.2),
                    ..Default::default()
                },
            ],
        };
        let text = endpoints_table(&[view]);
        assert!(text.contains("hawkins-chatbot-eleven  Updating  primary     hawkins-chatbot-eleven-v1  1 × ml.g5.xlarge  100% → 80%"), "{text}");
        assert!(
            text.contains("challenger  hawkins-chatbot-eleven-v2  1 × ml.g5.xlarge  0% → 20%"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_endpoint_says_why() {
        let view = EndpointView {
            name: "hawkins-themes".into(),
            status: "Failed".into(),
            failure_reason: Some("image not found".into()),
            variants: Vec::new(),
        };
        let text = endpoints_table(&[view]);
        assert!(
            text.contains("hawkins-themes: Failed: image not found"),
            "{text}"
        );
    }

    #[test]
    fn pending_packages_show_their_metrics_and_gate() {
        let mut metadata = BTreeMap::new();
        metadata.insert(meta::MODEL.to_string(), "chatbot-eleven".to_string());
        metadata.insert(
            meta::CORPUS_VERSION.to_string(),
            "3f2a9c1e0b7d55aa".to_string(),
        );
        metadata.insert(format!("{}eval_loss", meta::METRIC), "1.42".to_string());
        metadata.insert(
            meta::GATE.to_string(),
            "the model has no [model.gate] in the config, so every package waits for a person"
                .to_string(),
        );
        let text = pending_table(&[Pending {
            group: "hawkins-chatbot-eleven".into(),
            version: 2,
            created: Some(0),
            metadata,
        }]);
        assert!(
            text.contains("hawkins-chatbot-eleven/2  chatbot-eleven  3f2a9c1e0b7…  eval_loss=1.42"),
            "{text}"
        );
    }
}
