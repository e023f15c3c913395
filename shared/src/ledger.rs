//! The ledger: what ran and what is deployed, one JSON object per job or endpoint, written by the
//! lifecycle function and read by the cost run. Every field a running job or an older writer may lack is
//! optional, so a partial record is costed as far as it goes instead of failing the run.
//!
//! # Layout
//!
//! - Jobs are partitioned by month: `ledger/training/<YYYY-MM>/<job>.json` and
//!   `ledger/transforms/<YYYY-MM>/<job>.json` ([`job_key`]), so the daily cost run lists and reads
//!   only the months its report needs ([`months_to_read`]), however long the history.
//! - **The partition is the month (UTC) the job was created in**: SageMaker's `CreationTime`,
//!   which every state-change event of the job carries (DescribeTrainingJob and
//!   DescribeTransformJob always answer it) and which never changes. Every delivery of every event
//!   of a job, in whatever order they come, names the same key, so a job's record is never split
//!   over two partitions. The start or end time would not do: the first events of a job have
//!   neither, and a job that starts or ends after midnight on the last day of a month would move.
//! - An event without `CreationTime` (never sent by SageMaker; a hand-written event) cannot name a
//!   month: it updates the job's record wherever one already is (flat, or in the partitions of
//!   the months the job can have been created in, [`job_keys`]), and otherwise creates it at the
//!   flat key, which the cost run reads too. So even mixed events of one job keep one record.
//! - **Jobs crossing a month boundary**: a job's cost belongs to the day it ended (or to now while
//!   it runs), which can be up to [`JOB_SPAN_SECONDS`] after its creation: the cost run reads, for
//!   a window starting at `from`, every partition from the month of `from − JOB_SPAN_SECONDS` up
//!   to now's month. The span (29 days) is shorter than any month but February, so the daily run
//!   reads this month's partition and the previous one (and January's too in March); the window
//!   starts earlier only when the previous report is older than the month, and then reaches as
//!   far back as that report, so the jobs since it are all seen.
//! - **Records of the layout before partitions** (`ledger/training/<job>.json`, flat) are still
//!   read, on every run ([`LedgerStore::list_direct`] lists the keys directly under the prefix,
//!   not those in the partitions), so a bucket upgraded with history loses no cost. The lifecycle
//!   function keeps updating a job's flat record when it finds one (a job in flight during the
//!   upgrade), and creates none for a job SageMaker dated, so their number no longer grows. Were
//!   a job ever recorded in both places (an event handled by the previous version during the
//!   upgrade), the cost run counts it once, by the record that wins
//!   ([`crate::lifecycle::job::supersedes`]).
//! - Endpoints are not partitioned: one record each, `ledger/endpoints/<endpoint>.json`, read on
//!   every run. There is one endpoint per deployed model (its name is derived from the model's),
//!   so their number is bounded by the config, not by time; an endpoint bills for as long as it
//!   lives, often across many months, so any month partition would have to be read back to the
//!   endpoint's creation anyway, or the history copied forward every month.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::{DirStore, MemStore, ObjectStore};
use crate::time::{DAY, Date, parse_rfc3339};

/// Training jobs: `ledger/training/<YYYY-MM>/<job-name>.json` (and, from before month partitions,
/// `ledger/training/<job-name>.json`).
pub const TRAINING_PREFIX: &str = "ledger/training/";
/// Batch transform jobs, same shape: `ledger/transforms/<YYYY-MM>/<job-name>.json`.
pub const TRANSFORMS_PREFIX: &str = "ledger/transforms/";
/// Endpoints and their history: `ledger/endpoints/<endpoint-name>.json`.
pub const ENDPOINTS_PREFIX: &str = "ledger/endpoints/";

/// The longest from a job's creation to its end: SageMaker stops a training job at 28 days of
/// run time (`MaxRuntimeInSeconds`; with managed spot, `MaxWaitTimeInSeconds` bounds the wait
/// for capacity and the run together), the config allows no more
/// ([`crate::config::MAX_RUNTIME_SECONDS`]), and a day covers the provisioning before the run
/// starts. Batch transforms have no SageMaker limit; Hawkins' score one corpus version's batches
/// in hours. A job created longer ago than this has ended before the window, so the cost run need
/// not read its month.
pub const JOB_SPAN_SECONDS: i64 = crate::config::MAX_RUNTIME_SECONDS as i64 + DAY;

/// The month partition of an instant: `YYYY-MM` (UTC).
pub fn month_of(t: i64) -> String {
    Date::of(t).month_label()
}

/// A job's record in its month partition: `<prefix><YYYY-MM>/<job>.json`, the month of the
/// job's creation (`created`, seconds).
pub fn job_key(prefix: &str, job: &str, created: i64) -> String {
    format!("{prefix}{}/{job}.json", month_of(created))
}

/// Where the layout before month partitions keeps a job's record: `<prefix><job>.json`.
pub fn flat_key(prefix: &str, job: &str) -> String {
    format!("{prefix}{job}.json")
}

/// The months from `from`'s to `to`'s, oldest first (`YYYY-MM`); none when `to` is earlier.
pub fn months(from: i64, to: i64) -> Vec<String> {
    let last = Date::of(to).month_start();
    let mut month = Date::of(from).month_start();
    let mut out = Vec::new();
    while month <= last {
        out.push(month_of(month));
        // The 1st of the next month: 32 days on always lands in it.
        month = Date::of(month + 32 * DAY).month_start();
    }
    out
}

/// The partitions a cost run at `now` reads to see every job that ended (or still ran) at or after
/// `from`: from the month of `from − JOB_SPAN_SECONDS` (a job ending at `from` was created at
/// most that long before) to `now`'s month.
pub fn months_to_read(from: i64, now: i64) -> Vec<String> {
    months(from.min(now) - JOB_SPAN_SECONDS, now)
}

/// Where a job's record may be, in the order the lifecycle function looks: with the job's
/// creation time, its partition then the flat key of the previous layout; without it, the flat
/// key, then the partitions of every month the job can have been created in, newest first: from
/// `latest` (the latest time the event tells, which is after the creation) back
/// [`JOB_SPAN_SECONDS`].
pub fn job_keys(prefix: &str, job: &str, created: Option<i64>, latest: i64) -> Vec<String> {
    match created {
        Some(created) => vec![job_key(prefix, job, created), flat_key(prefix, job)],
        None => std::iter::once(flat_key(prefix, job))
            .chain(
                months(latest - JOB_SPAN_SECONDS, latest)
                    .into_iter()
                    .rev()
                    .map(|month| format!("{prefix}{month}/{job}.json")),
            )
            .collect(),
    }
}

/// Where a job that has no record yet gets one: its creation month's partition, or the flat key
/// when the event does not tell the creation time.
pub fn new_job_key(prefix: &str, job: &str, created: Option<i64>) -> String {
    match created {
        Some(created) => job_key(prefix, job, created),
        None => flat_key(prefix, job),
    }
}

/// The store as the ledger's reader needs it: besides the [`ObjectStore`], a listing of the keys
/// directly under a prefix (S3's listing with the `/` delimiter), which finds the flat records of
/// the previous layout without listing every month partition below them.
pub trait LedgerStore: ObjectStore {
    /// The keys directly under `prefix` (none with a `/` after it), sorted. By default the full
    /// listing, filtered: right, but it lists the partitions too; S3 overrides it.
    fn list_direct(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        async move {
            Ok(self
                .list(prefix)
                .await?
                .into_iter()
                .filter(|k| {
                    k.get(prefix.len()..)
                        .is_some_and(|rest| !rest.contains('/'))
                })
                .collect())
        }
    }
}

impl LedgerStore for MemStore {}
impl LedgerStore for DirStore {}

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
    /// When the job was created (SageMaker's CreationTime): the month partition it is kept in.
    /// Absent from records of the flat layout and of events that did not tell it.
    #[serde(default)]
    pub created_at: Option<String>,
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

    fn t(text: &str) -> i64 {
        parse_rfc3339(text).unwrap_or_else(|| panic!("bad time {text}"))
    }

    #[test]
    fn a_job_is_kept_in_its_creation_month() {
        let created = t("2026-11-30T23:59:59Z");
        assert_eq!(
            job_key(TRAINING_PREFIX, "j", created),
            "ledger/training/2026-11/j.json"
        );
        assert_eq!(
            job_key(TRANSFORMS_PREFIX, "j", created + 1),
            "ledger/transforms/2026-12/j.json"
        );
        assert_eq!(flat_key(TRAINING_PREFIX, "j"), "ledger/training/j.json");
        // Dated: its partition, then the flat key of a record from before partitions.
        assert_eq!(
            job_keys(
                TRAINING_PREFIX,
                "j",
                Some(created),
                t("2026-12-02T00:00:00Z")
            ),
            ["ledger/training/2026-11/j.json", "ledger/training/j.json"]
        );
        assert_eq!(
            new_job_key(TRAINING_PREFIX, "j", Some(created)),
            "ledger/training/2026-11/j.json"
        );
        // Undated: the flat key, then every month it can have been created in, newest first.
        assert_eq!(
            job_keys(TRAINING_PREFIX, "j", None, t("2026-12-02T00:00:00Z")),
            [
                "ledger/training/j.json",
                "ledger/training/2026-12/j.json",
                "ledger/training/2026-11/j.json"
            ]
        );
        assert_eq!(
            new_job_key(TRAINING_PREFIX, "j", None),
            "ledger/training/j.json"
        );
    }

    #[test]
    fn the_run_reads_the_months_a_job_ending_in_its_window_can_have_started_in() {
        assert_eq!(
            months(t("2025-11-15T00:00:00Z"), t("2026-02-01T00:00:00Z")),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
        assert!(months(t("2026-02-01T00:00:00Z"), t("2026-01-31T00:00:00Z")).is_empty());
        // The daily run in the middle of the month: this month and the previous one.
        let now = t("2026-11-27T06:00:00Z");
        assert_eq!(
            months_to_read(t("2026-11-01T00:00:00Z"), now),
            ["2026-10", "2026-11"]
        );
        // On the 1st, the window starts 24 hours back, in the previous month.
        let now = t("2026-12-01T06:00:00Z");
        assert_eq!(months_to_read(now - DAY, now), ["2026-11", "2026-12"]);
        // After a short February, January too: a job of up to 29 days can have started there.
        let now = t("2027-03-10T06:00:00Z");
        assert_eq!(
            months_to_read(t("2027-03-01T00:00:00Z"), now),
            ["2027-01", "2027-02", "2027-03"]
        );
        // The longest job that ends as the window opens was created in a month that is read.
        let from = t("2026-11-01T00:00:00Z");
        assert!(
            months_to_read(from, t("2026-11-27T06:00:00Z"))
                .contains(&month_of(from - JOB_SPAN_SECONDS))
        );
    }

    #[tokio::test]
    async fn the_direct_listing_leaves_the_partitions_out() {
        let store = MemStore::new();
        for key in [
            "ledger/training/old.json",
            "ledger/training/2026-11/new.json",
            "ledger/trainingx.json",
            "ledger/training/zz.json",
        ] {
            store.insert(key, b"{}");
        }
        assert_eq!(
            store.list_direct(TRAINING_PREFIX).await.expect("lists"),
            ["ledger/training/old.json", "ledger/training/zz.json"]
        );
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
