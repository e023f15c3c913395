//! The local run's stand-in for SageMaker's side: the local AWS accepts CreateTrainingJob,
//! CreateEndpoint and the rest but runs nothing and emits no events. This module looks at what
//! the pipeline created there and publishes, on the local event bus, the state-change events
//! SageMaker would: training jobs InProgress then Completed or Failed (metrics and billed seconds
//! from `tests/fixtures/local/sagemaker.json`), tuning trials and the tuning job's result, model
//! package approvals, endpoints InService, transform jobs Completed (with their output written as
//! the theme container writes it, see [`theme_output`]). The event shapes are the samples of
//! `events/`; each event is published once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Deserialize;
use serde_json::{Value, json};

/// One model's scripted outcome.
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub training_seconds: u64,
    pub billable_seconds: u64,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub default: Outcome,
    #[serde(default)]
    pub models: BTreeMap<String, Outcome>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }

    pub fn outcome(&self, model: &str) -> &Outcome {
        self.models.get(model).unwrap_or(&self.default)
    }
}

/// What the local AWS knows of a job.
pub struct JobFacts<'a> {
    pub name: &'a str,
    pub arn: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub instance_type: &'a str,
    pub instance_count: i32,
    pub spot: bool,
    /// Set for a tuning job's trial.
    pub tuning_arn: Option<&'a str>,
}

/// The detail of a training job event, from the completed-job sample with this job's facts.
pub fn training_detail(
    sample: &Value,
    facts: &JobFacts<'_>,
    outcome: &Outcome,
    status: &str,
    bucket: &str,
    now_ms: i64,
) -> Value {
    let (job, arn, tags, spot, tuning_arn) = (
        facts.name,
        facts.arn,
        facts.tags,
        facts.spot,
        facts.tuning_arn,
    );
    let instance = (facts.instance_type, facts.instance_count);
    let mut d = sample["detail"].clone();
    d["TrainingJobName"] = job.into();
    d["TrainingJobArn"] = arn.into();
    d["TrainingJobStatus"] = status.into();
    d["SecondaryStatus"] = match status {
        "InProgress" => "Training",
        other => other,
    }
    .into();
    d["Tags"] = json!(tags);
    d["ResourceConfig"]["InstanceType"] = instance.0.into();
    d["ResourceConfig"]["InstanceCount"] = instance.1.into();
    d["EnableManagedSpotTraining"] = spot.into();
    let start = now_ms - outcome.training_seconds as i64 * 1000;
    d["TrainingStartTime"] = start.into();
    // Created shortly before it started: the ledger files a job under its creation month, which
    // must be this run's, not the sample's.
    d["CreationTime"] = (start - 180_000).into();
    d["LastModifiedTime"] = now_ms.into();
    let model = tags.get("hawkins:model").cloned().unwrap_or_default();
    d["ModelArtifacts"]["S3ModelArtifacts"] =
        format!("s3://{bucket}/training-output/{model}/{job}/output/model.tar.gz").into();
    if let Some(tuning) = tuning_arn {
        d["TuningJobArn"] = tuning.into();
    }
    let obj = d.as_object_mut();
    if let Some(obj) = obj {
        if status == "InProgress" {
            for key in [
                "TrainingEndTime",
                "FinalMetricDataList",
                "ModelArtifacts",
                "TrainingTimeInSeconds",
                "BillableTimeInSeconds",
            ] {
                obj.remove(key);
            }
        } else {
            obj.insert("TrainingEndTime".into(), now_ms.into());
            obj.insert(
                "TrainingTimeInSeconds".into(),
                outcome.training_seconds.into(),
            );
            obj.insert(
                "BillableTimeInSeconds".into(),
                outcome.billable_seconds.into(),
            );
            obj.insert(
                "FinalMetricDataList".into(),
                outcome
                    .metrics
                    .iter()
                    .map(|(name, value)| json!({"MetricName": name, "Value": value, "Timestamp": now_ms}))
                    .collect(),
            );
            if status == "Failed" {
                obj.remove("ModelArtifacts");
                obj.insert(
                    "FailureReason".into(),
                    outcome
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "failed".into())
                        .into(),
                );
            }
        }
    }
    d
}

/// The events published so far, so each is published once.
#[derive(Debug, Default)]
pub struct StandIn {
    published: BTreeSet<String>,
    pub events: usize,
}

fn tag_map(tags: &[aws_sdk_sagemaker::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub struct Clients<'a> {
    pub sagemaker: &'a aws_sdk_sagemaker::Client,
    pub s3: &'a aws_sdk_s3::Client,
    pub events: &'a aws_sdk_eventbridge::Client,
    pub bucket: &'a str,
    pub project: &'a str,
    pub samples: &'a Path,
    pub scenario: &'a Scenario,
}

impl StandIn {
    async fn publish(
        &mut self,
        c: &Clients<'_>,
        once: String,
        detail_type: &str,
        resource: &str,
        detail: Value,
    ) -> Result<bool> {
        if !self.published.insert(once) {
            return Ok(false);
        }
        let entry = PutEventsRequestEntry::builder()
            .source("aws.sagemaker")
            .detail_type(detail_type)
            .resources(resource)
            .detail(detail.to_string())
            .build();
        let out = c
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .context("PutEvents on the local bus")?;
        if out.failed_entry_count() > 0 {
            anyhow::bail!("the local bus refused a {detail_type} event");
        }
        self.events += 1;
        Ok(true)
    }

    fn sample(c: &Clients<'_>, name: &str) -> Result<Value> {
        let path = c.samples.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Publishes what changed since the last call; how many events.
    pub async fn step(&mut self, c: &Clients<'_>) -> Result<usize> {
        let before = self.events;
        self.training_jobs(c).await?;
        self.tuning_jobs(c).await?;
        self.packages(c).await?;
        self.endpoints(c).await?;
        self.transforms(c).await?;
        Ok(self.events - before)
    }

    async fn training_jobs(&mut self, c: &Clients<'_>) -> Result<()> {
        let sample = Self::sample(c, "sagemaker-training-completed.json")?;
        let jobs = c
            .sagemaker
            .list_training_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListTrainingJobs")?;
        for summary in jobs.training_job_summaries() {
            let name = summary.training_job_name().unwrap_or_default().to_string();
            let arn = summary.training_job_arn().unwrap_or_default().to_string();
            if self.published.contains(&format!("job {name} done")) {
                continue;
            }
            let d = c
                .sagemaker
                .describe_training_job()
                .training_job_name(&name)
                .send()
                .await
                .context("DescribeTrainingJob")?;
            let tags = c
                .sagemaker
                .list_tags()
                .resource_arn(&arn)
                .send()
                .await
                .context("ListTags")?;
            let tags = tag_map(tags.tags());
            let model = tags.get("hawkins:model").cloned().unwrap_or_default();
            let outcome = c.scenario.outcome(&model).clone();
            let resources = d.resource_config();
            let instance = (
                resources
                    .and_then(|r| r.instance_type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                resources
                    .map(|r| r.instance_count())
                    .unwrap_or(Some(1))
                    .unwrap_or(1),
            );
            let spot = d.enable_managed_spot_training().unwrap_or(false);
            for status in ["InProgress", outcome.status.as_str()] {
                let facts = JobFacts {
                    name: &name,
                    arn: &arn,
                    tags: &tags,
                    instance_type: &instance.0,
                    instance_count: instance.1,
                    spot,
                    tuning_arn: None,
                };
                let detail = training_detail(&sample, &facts, &outcome, status, c.bucket, now_ms());
                let once = if status == "InProgress" {
                    format!("job {name} started")
                } else {
                    format!("job {name} done")
                };
                self.publish(c, once, "SageMaker Training Job State Change", &arn, detail)
                    .await?;
            }
        }
        Ok(())
    }

    /// A tuning job: two trials, then the tuning job's completion naming the second as best.
    async fn tuning_jobs(&mut self, c: &Clients<'_>) -> Result<()> {
        let sample = Self::sample(c, "sagemaker-training-completed.json")?;
        let tuning_sample = Self::sample(c, "sagemaker-tuning-completed.json")?;
        let jobs = c
            .sagemaker
            .list_hyper_parameter_tuning_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListHyperParameterTuningJobs")?;
        for summary in jobs.hyper_parameter_tuning_job_summaries() {
            let name = summary
                .hyper_parameter_tuning_job_name()
                .unwrap_or_default()
                .to_string();
            let arn = summary
                .hyper_parameter_tuning_job_arn()
                .unwrap_or_default()
                .to_string();
            if self.published.contains(&format!("tuning {name} done")) {
                continue;
            }
            let tags = c
                .sagemaker
                .list_tags()
                .resource_arn(&arn)
                .send()
                .await
                .context("ListTags")?;
            let tags = tag_map(tags.tags());
            let model = tags.get("hawkins:model").cloned().unwrap_or_default();
            let d = c
                .sagemaker
                .describe_hyper_parameter_tuning_job()
                .hyper_parameter_tuning_job_name(&name)
                .send()
                .await
                .context("DescribeHyperParameterTuningJob")?;
            let definition = d.training_job_definition();
            let resources = definition.and_then(|t| t.resource_config());
            let instance = resources
                .and_then(|r| r.instance_type())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            let count = resources.and_then(|r| r.instance_count()).unwrap_or(1);
            let spot = definition
                .and_then(|t| t.enable_managed_spot_training())
                .unwrap_or(false);
            let base = c.scenario.outcome(&model).clone();
            let mut best = String::new();
            for (i, factor) in [(1, 1.04), (2, 1.0)] {
                let trial = format!("{name}-00{i}-{:08x}", i * 0x1f3a_5c7d);
                let mut outcome = base.clone();
                for value in outcome.metrics.values_mut() {
                    *value *= factor;
                }
                let trial_arn = format!(
                    "{}/{trial}",
                    arn.replace(":hyper-parameter-tuning-job/", ":training-job/")
                        .rsplit_once('/')
                        .map(|(a, _)| a)
                        .unwrap_or_default()
                );
                let facts = JobFacts {
                    name: &trial,
                    arn: &trial_arn,
                    tags: &tags,
                    instance_type: &instance,
                    instance_count: count,
                    spot,
                    tuning_arn: Some(&arn),
                };
                let detail = training_detail(
                    &sample,
                    &facts,
                    &outcome,
                    &outcome.status,
                    c.bucket,
                    now_ms(),
                );
                self.publish(
                    c,
                    format!("trial {trial}"),
                    "SageMaker Training Job State Change",
                    &trial_arn,
                    detail,
                )
                .await?;
                best = trial;
            }
            let mut detail = tuning_sample["detail"].clone();
            detail["HyperParameterTuningJobName"] = name.clone().into();
            detail["HyperParameterTuningJobArn"] = arn.clone().into();
            detail["HyperParameterTuningJobStatus"] = base.status.clone().into();
            detail["BestTrainingJob"]["TrainingJobName"] = best.into();
            detail["Tags"] = json!(tags);
            self.publish(
                c,
                format!("tuning {name} done"),
                "SageMaker HyperParameter Tuning Job State Change",
                &arn,
                detail,
            )
            .await?;
        }
        Ok(())
    }

    async fn packages(&mut self, c: &Clients<'_>) -> Result<()> {
        for (group, p) in crate::deployment::project_packages(c.sagemaker, c.project).await? {
            let arn = p.model_package_arn().unwrap_or_default();
            let status = p
                .model_approval_status()
                .map(|s| s.as_str())
                .unwrap_or_default();
            let detail = json!({
                "ModelPackageGroupName": group,
                "ModelPackageVersion": p.model_package_version(),
                "ModelPackageArn": arn,
                "ModelApprovalStatus": status,
                "ModelPackageStatus": "Completed",
            });
            self.publish(
                c,
                format!("package {arn} {status}"),
                "SageMaker Model Package State Change",
                arn,
                detail,
            )
            .await?;
        }
        Ok(())
    }

    async fn endpoints(&mut self, c: &Clients<'_>) -> Result<()> {
        for name in crate::deployment::project_endpoints(c.sagemaker, c.project).await? {
            let name = name.as_str();
            let d = c
                .sagemaker
                .describe_endpoint()
                .endpoint_name(name)
                .send()
                .await
                .context("DescribeEndpoint")?;
            let status = d.endpoint_status().map(|s| s.as_str()).unwrap_or_default();
            let config = d.endpoint_config_name().unwrap_or_default();
            let detail = json!({
                "EndpointName": name,
                "EndpointArn": d.endpoint_arn(),
                "EndpointConfigName": config,
                "EndpointStatus": status,
                "FailureReason": d.failure_reason(),
            });
            self.publish(
                c,
                format!("endpoint {name} {config} {status}"),
                "SageMaker Endpoint State Change",
                d.endpoint_arn().unwrap_or_default(),
                detail,
            )
            .await?;
        }
        Ok(())
    }

    /// Writes a transform job's output next to its input, as SageMaker would before the job
    /// completes: `<output path><input file name>.out`, one line per input line.
    async fn write_output(
        c: &Clients<'_>,
        job: &aws_sdk_sagemaker::operation::describe_transform_job::DescribeTransformJobOutput,
    ) -> Result<()> {
        let input = job
            .transform_input()
            .and_then(|i| i.data_source())
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri())
            .unwrap_or_default();
        let output = job
            .transform_output()
            .and_then(|o| o.s3_output_path())
            .unwrap_or_default();
        let (Some((bucket, key)), Some((out_bucket, out_prefix))) =
            (split_s3(input), split_s3(output))
        else {
            return Ok(());
        };
        let Ok(object) = c.s3.get_object().bucket(bucket).key(key).send().await else {
            // No dataset (a job the test made by hand): nothing to score.
            return Ok(());
        };
        let bytes = object
            .body
            .collect()
            .await
            .context("reading the transform input")?
            .into_bytes();
        let name = key.rsplit('/').next().unwrap_or(key);
        c.s3.put_object()
            .bucket(out_bucket)
            .key(format!("{out_prefix}{name}.out"))
            .body(theme_output(&bytes).into_bytes().into())
            .send()
            .await
            .context("writing the transform output")?;
        Ok(())
    }

    async fn transforms(&mut self, c: &Clients<'_>) -> Result<()> {
        let sample = Self::sample(c, "sagemaker-transform-completed.json")?;
        let jobs = c
            .sagemaker
            .list_transform_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListTransformJobs")?;
        for job in jobs.transform_job_summaries() {
            let name = job.transform_job_name().unwrap_or_default();
            let arn = job.transform_job_arn().unwrap_or_default();
            let tags = c
                .sagemaker
                .list_tags()
                .resource_arn(arn)
                .send()
                .await
                .context("ListTags")?;
            let d = c
                .sagemaker
                .describe_transform_job()
                .transform_job_name(name)
                .send()
                .await
                .context("DescribeTransformJob")?;
            if self.published.contains(&format!("transform {name}")) {
                continue;
            }
            Self::write_output(c, &d).await?;
            let mut detail = sample["detail"].clone();
            let now = now_ms();
            detail["TransformJobName"] = name.into();
            detail["TransformJobArn"] = arn.into();
            detail["ModelName"] = d.model_name().into();
            detail["TransformStartTime"] = (now - 600_000).into();
            detail["CreationTime"] = (now - 900_000).into();
            detail["TransformEndTime"] = now.into();
            detail["LastModifiedTime"] = now.into();
            if let Some(r) = d.transform_resources() {
                detail["TransformResources"] = json!({
                    "InstanceType": r.instance_type().map(|t| t.as_str()),
                    "InstanceCount": r.instance_count(),
                });
            }
            detail["Tags"] = json!(tag_map(tags.tags()));
            self.publish(
                c,
                format!("transform {name}"),
                "SageMaker Transform Job State Change",
                arn,
                detail,
            )
            .await?;
        }
        Ok(())
    }
}

/// `s3://bucket/key` → (bucket, key).
fn split_s3(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("s3://")?.split_once('/')
}

/// The themes the stand-in scores (those of infra/hawkins.toml).
pub const THEMES: [&str; 8] = [
    "friendship",
    "fear",
    "loss",
    "family",
    "courage",
    "betrayal",
    "first love",
    "the Upside Down",
];

/// What the theme container's batch handler answers for a theme dataset (one JSON line per
/// input line: `{"episode", "batch", "scores": {theme: score}}`), with made-up but stable scores
/// in 0..1 derived from each record's text. A line that is not a record gets empty scores.
pub fn theme_output(input: &[u8]) -> String {
    let mut out = String::new();
    for line in input.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
        let seed = line
            .iter()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)));
        let scores: serde_json::Map<String, Value> = THEMES
            .iter()
            .enumerate()
            .map(|(i, theme)| {
                let bits = seed.rotate_left(i as u32 * 7) % 1000;
                ((*theme).to_string(), json!(bits as f64 / 1000.0))
            })
            .collect();
        let scored =
            json!({"episode": record["episode"], "batch": record["batch"], "scores": scores});
        out.push_str(&scored.to_string());
        out.push('\n');
    }
    out
}
