//! The SageMaker events the lifecycle function receives from EventBridge, typed. Only the fields
//! Hawkins reads are declared; unknown fields are ignored and every field SageMaker may leave out
//! is optional, so a new SageMaker field or an older event never fails the parse.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// "SageMaker Training Job State Change": the detail is the job as DescribeTrainingJob shows it.
pub const TRAINING_JOB: &str = "SageMaker Training Job State Change";
/// "SageMaker Model Package State Change": a package created or its approval changed.
pub const MODEL_PACKAGE: &str = "SageMaker Model Package State Change";
/// "SageMaker Endpoint State Change".
pub const ENDPOINT: &str = "SageMaker Endpoint State Change";
/// "SageMaker HyperParameter Tuning Job State Change": names the best training job when done.
pub const TUNING_JOB: &str = "SageMaker HyperParameter Tuning Job State Change";
/// "SageMaker Transform Job State Change": the batch scoring of a theme model.
pub const TRANSFORM_JOB: &str = "SageMaker Transform Job State Change";
/// S3's event for a written object: here, a person's deploy request under `requests/deploy/`.
pub const OBJECT_CREATED: &str = "Object Created";

/// What EventBridge's schedules send: the hourly A/B check (`LifecycleAbCheckRule`).
pub const SCHEDULE: &str = "Scheduled Event";

/// One event, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    TrainingJob(Box<TrainingJob>),
    ModelPackage(PackageChange),
    Endpoint(EndpointChange),
    TuningJob(TuningJob),
    TransformJob(TransformJob),
    /// A deploy or rollback request written to the bucket (its decoded key).
    Request {
        key: String,
    },
    /// The hourly schedule: check the A/B tests (the detail is empty).
    Schedule,
}

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not an EventBridge event: {0}")]
    Envelope(String),
    #[error("'{detail_type}' events are not handled here (the rule should not send them)")]
    Unexpected { detail_type: String },
    #[error("the '{detail_type}' event's detail does not parse: {message}")]
    Detail {
        detail_type: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    time: Option<String>,
    detail: Value,
}

/// Reads an EventBridge event into its typed detail, with the event's own time (RFC 3339).
pub fn parse(event: Value) -> Result<(LifecycleEvent, Option<String>), EventError> {
    let envelope: Envelope =
        serde_json::from_value(event).map_err(|e| EventError::Envelope(e.to_string()))?;
    let detail_type = envelope.detail_type;
    let fail = |e: serde_json::Error| EventError::Detail {
        detail_type: detail_type.clone(),
        message: e.to_string(),
    };
    let event = match detail_type.as_str() {
        TRAINING_JOB => LifecycleEvent::TrainingJob(Box::new(
            serde_json::from_value(envelope.detail).map_err(fail)?,
        )),
        MODEL_PACKAGE => {
            LifecycleEvent::ModelPackage(serde_json::from_value(envelope.detail).map_err(fail)?)
        }
        ENDPOINT => {
            LifecycleEvent::Endpoint(serde_json::from_value(envelope.detail).map_err(fail)?)
        }
        TUNING_JOB => {
            LifecycleEvent::TuningJob(serde_json::from_value(envelope.detail).map_err(fail)?)
        }
        TRANSFORM_JOB => {
            LifecycleEvent::TransformJob(serde_json::from_value(envelope.detail).map_err(fail)?)
        }
        OBJECT_CREATED => {
            let detail: crate::events::ObjectCreatedDetail =
                serde_json::from_value(envelope.detail).map_err(fail)?;
            let key =
                crate::events::decode_key(&detail.object.key).map_err(|e| EventError::Detail {
                    detail_type: detail_type.clone(),
                    message: e.to_string(),
                })?;
            LifecycleEvent::Request { key }
        }
        SCHEDULE => LifecycleEvent::Schedule,
        _ => return Err(EventError::Unexpected { detail_type }),
    };
    Ok((event, envelope.time))
}

/// A training job as the event shows it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrainingJob {
    pub training_job_name: String,
    #[serde(default)]
    pub training_job_arn: Option<String>,
    /// InProgress, Completed, Failed, Stopping, Stopped.
    pub training_job_status: String,
    /// Starting, Downloading, Training, Interrupted, MaxRuntimeExceeded, MaxWaitTimeExceeded,
    /// Stopped, Completed, Failed, ...: why a job stopped.
    #[serde(default)]
    pub secondary_status: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub resource_config: Option<ResourceConfig>,
    #[serde(default)]
    pub enable_managed_spot_training: bool,
    #[serde(default)]
    pub training_time_in_seconds: Option<u64>,
    #[serde(default)]
    pub billable_time_in_seconds: Option<u64>,
    #[serde(default)]
    pub final_metric_data_list: Vec<MetricValue>,
    #[serde(default)]
    pub model_artifacts: Option<ModelArtifacts>,
    #[serde(default)]
    pub stopping_condition: Option<StoppingCondition>,
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
    /// When the job was created: the month partition of its ledger record. SageMaker sends it
    /// with every state change of the job, and it never changes.
    #[serde(default, deserialize_with = "timestamp")]
    pub creation_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub training_start_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub training_end_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub last_modified_time: Option<i64>,
    /// Set on the training jobs a tuning job starts.
    #[serde(default)]
    pub tuning_job_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceConfig {
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub instance_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricValue {
    pub metric_name: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelArtifacts {
    pub s3_model_artifacts: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoppingCondition {
    #[serde(default)]
    pub max_runtime_in_seconds: Option<u64>,
    #[serde(default)]
    pub max_wait_time_in_seconds: Option<u64>,
}

impl TrainingJob {
    /// The final value of each metric the job reported.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        self.final_metric_data_list
            .iter()
            .map(|m| (m.metric_name.clone(), m.value))
            .collect()
    }
}

/// A model package's approval changed (or it was created).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageChange {
    pub model_package_arn: String,
    #[serde(default)]
    pub model_package_group_name: Option<String>,
    #[serde(default)]
    pub model_package_version: Option<u32>,
    #[serde(default)]
    pub model_approval_status: Option<String>,
}

/// An endpoint's status changed.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointChange {
    pub endpoint_name: String,
    #[serde(default)]
    pub endpoint_status: Option<String>,
    #[serde(default)]
    pub endpoint_config_name: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// A tuning job's state; when Completed, the training job it found best.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TuningJob {
    pub hyper_parameter_tuning_job_name: String,
    pub hyper_parameter_tuning_job_status: String,
    #[serde(default)]
    pub best_training_job: Option<BestTrainingJob>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BestTrainingJob {
    pub training_job_name: String,
}

/// A batch transform job's state.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformJob {
    pub transform_job_name: String,
    pub transform_job_status: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub transform_resources: Option<ResourceConfig>,
    /// When the job was created: the month partition of its ledger record, as for training jobs.
    #[serde(default, deserialize_with = "timestamp")]
    pub creation_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub transform_start_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub transform_end_time: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    pub last_modified_time: Option<i64>,
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// SageMaker writes times as epoch milliseconds in events and as RFC 3339 elsewhere: seconds.
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().map(|ms| (ms / 1000.0) as i64),
        Value::String(s) => crate::time::parse_rfc3339(&s),
        _ => None,
    })
}

/// Tags as a map (`{"k": "v"}`, what events carry) or as a list (`[{"Key", "Value"}]`).
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let mut out = BTreeMap::new();
    match Value::deserialize(d)? {
        Value::Object(map) => {
            for (k, v) in map {
                if let Value::String(v) = v {
                    out.insert(k, v);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if let (Some(k), Some(v)) = (
                    item.get("Key").and_then(Value::as_str),
                    item.get("Value").and_then(Value::as_str),
                ) {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_samples_parse() {
        let (event, time) = parse(sample("sagemaker-training-completed.json")).expect("parses");
        let LifecycleEvent::TrainingJob(job) = event else {
            panic!("a training job event")
        };
        assert!(time.is_some());
        assert_eq!(job.training_job_status, "Completed");
        assert_eq!(job.tags["hawkins:model"], "chatbot-eleven");
        assert!(job.metrics().contains_key("eval_loss"));
        assert!(job.billable_time_in_seconds.is_some());
        assert!(job.training_end_time > job.training_start_time);
        assert!(
            job.creation_time
                .is_some_and(|c| Some(c) <= job.training_start_time)
        );
        for name in [
            "sagemaker-training-failed.json",
            "sagemaker-training-stopped.json",
        ] {
            assert!(matches!(
                parse(sample(name)),
                Ok((LifecycleEvent::TrainingJob(_), _))
            ));
        }
        assert!(matches!(
            parse(sample("sagemaker-package-approved.json")),
            Ok((LifecycleEvent::ModelPackage(_), _))
        ));
        assert!(matches!(
            parse(sample("sagemaker-endpoint-in-service.json")),
            Ok((LifecycleEvent::Endpoint(_), _))
        ));
        assert!(matches!(
            parse(sample("schedule-ab-check.json")),
            Ok((LifecycleEvent::Schedule, Some(_)))
        ));
    }

    #[test]
    fn tags_and_times_come_in_both_shapes() {
        let job: TrainingJob = serde_json::from_value(serde_json::json!({
            "TrainingJobName": "j", "TrainingJobStatus": "InProgress",
            "Tags": [{"Key": "a", "Value": "b"}],
            "TrainingStartTime": "2026-11-27T10:00:00Z",
            "LastModifiedTime": 1_795_000_000_000u64
        }))
        .expect("parses");
        assert_eq!(job.tags["a"], "b");
        assert_eq!(
            job.training_start_time,
            crate::time::parse_rfc3339("2026-11-27T10:00:00Z")
        );
        assert_eq!(job.last_modified_time, Some(1_795_000_000));
    }

    #[test]
    fn other_events_are_refused_by_name() {
        let err = parse(serde_json::json!({"detail-type": "Object Deleted", "detail": {}}));
        assert!(matches!(err, Err(EventError::Unexpected { .. })));
        let err = parse(serde_json::json!({"detail-type": OBJECT_CREATED, "detail": {}}));
        assert!(matches!(err, Err(EventError::Detail { .. })));
        let request = parse(serde_json::json!({"detail-type": OBJECT_CREATED,
            "detail": {"bucket": {"name": "b"}, "object": {"key": "requests/deploy/r%201.json"}}}));
        assert_eq!(
            request.map(|(e, _)| e),
            Ok(LifecycleEvent::Request {
                key: "requests/deploy/r 1.json".into()
            })
        );
        let err = parse(serde_json::json!({"detail-type": TRAINING_JOB, "detail": {"x": 1}}));
        assert!(matches!(err, Err(EventError::Detail { .. })));
        assert!(matches!(
            parse(serde_json::json!([1])),
            Err(EventError::Envelope(_))
        ));
    }
}
