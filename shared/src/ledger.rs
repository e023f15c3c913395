//! The ledger: what ran and what is deployed, one JSON object per job or endpoint, written by the
//! lifecycle function and read by the cost run. Every field a running job or an older writer may lack is
//! optional, so a partial record is costed as far as it goes instead of failing the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::parse_rfc3339;

/// Training jobs: `ledger/training/<job-name>.json`.
pub const TRAINING_PREFIX: &str = "ledger/training/";
/// Batch transform jobs, same shape: `ledger/transforms/<job-name>.json`.
pub const TRANSFORMS_PREFIX: &str = "ledger/transforms/";
/// Endpoints and their history: `ledger/endpoints/<endpoint-name>.json`.
pub const ENDPOINTS_PREFIX: &str = "ledger/endpoints/";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum JobStatus {
    #[default]
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
    /// A status this version does not know: costed like a finished job when it has an end.
    #[serde(other)]
    Other,
}

fn one() -> u32 {
    1
}

/// One training or batch transform job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_name: String,
    #[serde(default)]
    pub model: String,
    /// The model's kind (`chatbot`, `location`, ...).
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub corpus_version: String,
    pub instance_type: String,
    #[serde(default = "one")]
    pub instance_count: u32,
    #[serde(default)]
    pub spot: bool,
    /// Seconds the job ran.
    #[serde(default)]
    pub training_seconds: Option<u64>,
    /// Seconds billed (less than `training_seconds` on spot).
    #[serde(default)]
    pub billable_seconds: Option<u64>,
    #[serde(default)]
    pub status: JobStatus,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// How long the job should take: past it, a running job is reported.
    #[serde(default)]
    pub expected_seconds: Option<u64>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, serde_json::Value>,
    /// When SageMaker gave the job the recorded status (the event's LastModifiedTime, else the
    /// event's own time): the lifecycle function records no event older than this.
    #[serde(default)]
    pub status_at: Option<String>,
}

impl JobRecord {
    pub fn started(&self) -> Option<i64> {
        self.started_at.as_deref().and_then(parse_rfc3339)
    }

    pub fn ended(&self) -> Option<i64> {
        self.ended_at.as_deref().and_then(parse_rfc3339)
    }

    pub fn status_time(&self) -> Option<i64> {
        self.status_at.as_deref().and_then(parse_rfc3339)
    }

    /// Still running at `now`: no end recorded.
    pub fn running(&self) -> bool {
        self.ended_at.is_none()
            && matches!(self.status, JobStatus::InProgress | JobStatus::Stopping)
    }
}

/// Serverless settings of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Serverless {
    pub memory_mb: u32,
    #[serde(default)]
    pub max_concurrency: Option<u32>,
}

/// A production variant as it was configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub instance_count: Option<u32>,
    #[serde(default)]
    pub serverless: Option<Serverless>,
}

/// The endpoint from `at` until the next entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    pub status: String,
    #[serde(default)]
    pub variants: Vec<Variant>,
}

impl HistoryEntry {
    /// Statuses during which no instance is billed.
    pub fn bills(&self) -> bool {
        !matches!(self.status.as_str(), "Deleted" | "Failed" | "Deleting")
    }
}

/// One endpoint and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub endpoint: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

impl EndpointRecord {
    /// The history as `(start, entry)`, sorted by time; entries whose time does not parse are
    /// dropped.
    pub fn timeline(&self) -> Vec<(i64, &HistoryEntry)> {
        let mut out: Vec<(i64, &HistoryEntry)> = self
            .history
            .iter()
            .filter_map(|e| parse_rfc3339(&e.at).map(|t| (t, e)))
            .collect();
        out.sort_by_key(|(t, _)| *t);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_job_with_few_fields_reads() {
        let job: JobRecord = serde_json::from_str(
            r#"{"job_name":"j","instance_type":"ml.g5.2xlarge","started_at":"2026-11-27T08:00:00Z","status":"InProgress"}"#,
        )
        .expect("parses");
        assert!(job.running());
        assert_eq!(job.instance_count, 1);
        assert_eq!(job.billable_seconds, None);
        let odd: JobRecord = serde_json::from_str(
            r#"{"job_name":"j","instance_type":"ml.g5.2xlarge","status":"Exploded","ended_at":"2026-11-27T09:00:00Z","metrics":{"eval_loss":0.5}}"#,
        )
        .expect("parses");
        assert_eq!(odd.status, JobStatus::Other);
        assert!(!odd.running());
    }

    #[test]
    fn an_endpoint_history_sorts_by_time() {
        let ep: EndpointRecord = serde_json::from_str(
            r#"{"endpoint":"e","history":[
                {"at":"2026-11-27T12:00:00Z","status":"Deleted"},
                {"at":"2026-11-27T00:00:00Z","status":"InService","variants":[{"name":"v","instance_type":"ml.m5.large","instance_count":1,"serverless":null}]},
                {"at":"not a time","status":"InService"}]}"#,
        )
        .expect("parses");
        let timeline = ep.timeline();
        assert_eq!(timeline.len(), 2);
        assert_eq!(timeline[0].1.status, "InService");
        assert!(!timeline[1].1.bills());
    }
}
