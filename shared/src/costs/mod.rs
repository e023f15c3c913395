//! Costs: a scheduled run that prices what the pipeline ran and deployed, writes a report, emits
//! metrics and tells the team before the bill hurts.
//!
//! The run reads the ledger (see [`crate::ledger`]): the jobs of the month partitions its window
//! needs ([`ledger::months_to_read`]: this month's and the previous one's for the daily run, so a
//! year of history costs it what two months do) and the flat job records of the layout before
//! partitions, every endpoint record, and each endpoint variant's hourly invocations through the
//! narrow [`EndpointMetrics`] trait, then [`compute::summarize`] turns them into figures (the
//! arithmetic is documented there) and [`alerts::decide`] into alerts. [`handle_schedule`]
//! executes that: the report goes to `reports/costs/<date>.{json,html}` (written only when it
//! changed), and each alert is sent only when its marker `alerts/sent/<date>/<cause>.json` is
//! absent — sent first, marked after, so a crash in between can repeat an alert but never lose
//! one.
//!
//! Prices come from the table in the repo ([`prices`]) with the config's `[costs.prices]` on top;
//! budgets from the config's `[costs]`, overridden by the function's environment ([`budgets`]).
//!
//! The scheduled function also sweeps the bucket first ([`crate::storage::sweep`]: expired
//! checkpoints, unapproved training output and old dataset versions go) and hands the storage
//! that stays, priced, to [`handle_schedule_with`], which puts it in the report.

pub mod alerts;
pub mod compute;
pub mod pricelist;
pub mod prices;
pub mod report;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use serde::Serialize;
use tracing::{info, warn};

use crate::error::{Retry, StoreError};
use crate::ledger::{self, EndpointRecord, JobRecord, LedgerStore};
use crate::store::{Notifier, ObjectStore, Written, send_once};
use crate::time::{self, DAY, Date, HOUR};
pub use alerts::Budgets;
pub use compute::{Bucket, Summary, Usage};
pub use prices::PriceTable;

/// Reads the CloudWatch metrics of SageMaker endpoints.
pub trait EndpointMetrics: Sync {
    /// Hourly buckets of one variant's `Invocations` in `[start, end)` (and, when `serverless`,
    /// its `ModelLatency` sum in seconds). Hours without data may be left out.
    fn usage(
        &self,
        endpoint: &str,
        variant: &str,
        serverless: bool,
        start: i64,
        end: i64,
    ) -> impl Future<Output = Result<Vec<Bucket>, StoreError>> + Send;
}

/// Metrics held in memory: unit tests and the benchmark.
#[derive(Debug, Default, Clone)]
pub struct MemMetrics {
    pub usage: Usage,
}

impl EndpointMetrics for MemMetrics {
    async fn usage(
        &self,
        endpoint: &str,
        variant: &str,
        _serverless: bool,
        start: i64,
        end: i64,
    ) -> Result<Vec<Bucket>, StoreError> {
        Ok(self
            .usage
            .get(&(endpoint.to_string(), variant.to_string()))
            .map(|b| {
                b.iter()
                    .filter(|b| b.start >= start && b.start < end)
                    .copied()
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The budgets in force: the config's `[costs]`, each replaced by its environment variable when
/// that is set and not empty (`HAWKINS_DAILY_BUDGET_USD`, `HAWKINS_MONTHLY_BUDGET_USD`,
/// `HAWKINS_IDLE_HOURS`).
pub fn budgets(
    costs: &crate::config::Costs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Budgets, String> {
    let read = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let dollars = |name: &str, fallback: Option<f64>| -> Result<Option<f64>, String> {
        match read(name) {
            None => Ok(fallback),
            Some(text) => match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
                _ => Err(format!(
                    "{name} must be a number of dollars above 0, got \"{text}\""
                )),
            },
        }
    };
    let idle_hours = match read("HAWKINS_IDLE_HOURS") {
        None => costs.idle_hours,
        Some(text) => match text.trim().parse::<u32>() {
            Ok(h) if (1..=crate::config::MAX_IDLE_HOURS).contains(&h) => h,
            _ => {
                return Err(format!(
                    "HAWKINS_IDLE_HOURS must be a whole number of hours from 1 to {}, got \"{text}\"",
                    crate::config::MAX_IDLE_HOURS
                ));
            }
        },
    };
    Ok(Budgets {
        daily_usd: dollars("HAWKINS_DAILY_BUDGET_USD", costs.daily_usd)?,
        monthly_usd: dollars("HAWKINS_MONTHLY_BUDGET_USD", costs.monthly_usd)?,
        idle_hours,
    })
}

/// The time of an EventBridge Scheduled Event (its `time`), in seconds.
pub fn scheduled_time(event: &serde_json::Value) -> Option<i64> {
    event.get("time")?.as_str().and_then(time::parse_rfc3339)
}

/// Everything a run needs.
pub struct CostRun<'a, S, N, M> {
    pub store: &'a S,
    pub notifier: &'a N,
    pub metrics: &'a M,
    pub prices: &'a PriceTable,
    pub budgets: Budgets,
    /// The stack's region: which price column applies to records that name none.
    pub region: String,
    /// `s3://bucket`: how alerts name the report.
    pub location: String,
}

/// A run that could not finish; the schedule tries again at its next tick, or now when retryable.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Retry for CostError {
    fn retryable(&self) -> bool {
        match self {
            CostError::Store(e) => e.retryable(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub date: String,
    pub report_key: String,
    pub html_key: String,
    pub report: Written,
    pub html: Written,
    pub alerts_sent: Vec<String>,
    pub alerts_already_sent: Vec<String>,
    pub jobs: usize,
    pub endpoints: usize,
    pub last_24h_usd: f64,
    pub month_to_date_usd: f64,
    pub forecast_usd: f64,
    pub unknown_prices: usize,
    pub unreadable: Vec<String>,
    /// The Embedded Metric Format lines: the function prints each on its own line.
    #[serde(skip)]
    pub emf: Vec<String>,
}

/// Ledger objects read at once: S3 answers each GET in tens of milliseconds, so 10,000 objects
/// read one by one would take minutes.
const CONCURRENT_READS: usize = 32;

/// Runs the futures together on the current task and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, slot) in pending.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(output) => *slot = Some(output),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Reads every JSON object under `prefix` as `T`, [`CONCURRENT_READS`] at a time; what does not
/// parse is named in `unreadable`.
async fn read_all<T: serde::de::DeserializeOwned>(
    store: &impl ObjectStore,
    prefix: &str,
    unreadable: &mut Vec<String>,
) -> Result<Vec<T>, StoreError> {
    let keys = store.list(prefix).await?;
    read_keys(store, keys, unreadable).await
}

/// The job records under `prefix` that a run needs: the month partitions `months`, and the flat
/// records of the layout before partitions (listed without the partitions below them). A job
/// recorded at two keys (only an event handled by the previous version during the upgrade can do
/// that) counts once, as the record the lifecycle function would keep.
async fn read_jobs(
    store: &impl LedgerStore,
    prefix: &str,
    months: &[String],
    unreadable: &mut Vec<String>,
) -> Result<Vec<JobRecord>, StoreError> {
    let mut keys = store.list_direct(prefix).await?;
    for month in months {
        keys.extend(store.list(&format!("{prefix}{month}/")).await?);
    }
    let records: Vec<JobRecord> = read_keys(store, keys, unreadable).await?;
    let mut out: Vec<JobRecord> = Vec::with_capacity(records.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for record in records {
        match seen.get(&record.job_name) {
            Some(&i) => {
                if crate::lifecycle::job::supersedes(Some(&out[i]), &record) {
                    out[i] = record;
                }
            }
            None => {
                seen.insert(record.job_name.clone(), out.len());
                out.push(record);
            }
        }
    }
    Ok(out)
}

/// Reads the JSON objects at `keys` as `T`, [`CONCURRENT_READS`] at a time, in the keys' order
/// (other than `.json` are skipped); what does not parse is named in `unreadable`.
async fn read_keys<T: serde::de::DeserializeOwned>(
    store: &impl ObjectStore,
    keys: Vec<String>,
    unreadable: &mut Vec<String>,
) -> Result<Vec<T>, StoreError> {
    let keys: Vec<String> = keys.into_iter().filter(|k| k.ends_with(".json")).collect();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CONCURRENT_READS) {
        let objects = join_all(chunk.iter().map(|key| store.get(key)).collect()).await;
        for (key, object) in chunk.iter().zip(objects) {
            let Some(object) = object? else {
                continue;
            };
            match serde_json::from_slice(&object.bytes) {
                Ok(record) => out.push(record),
                Err(e) => {
                    warn!(key, error = %e, "ledger object skipped");
                    unreadable.push(format!("{key}: {e}"));
                }
            }
        }
    }
    Ok(out)
}

/// When the latest report of an earlier day was generated.
async fn previous_report_at(
    store: &impl ObjectStore,
    today: &str,
) -> Result<Option<i64>, StoreError> {
    let keys = store.list(report::REPORTS_PREFIX).await?;
    let previous = keys
        .iter()
        .filter(|k| k.ends_with(".json"))
        .filter(|k| {
            k.strip_prefix(report::REPORTS_PREFIX)
                .and_then(|name| name.strip_suffix(".json"))
                .is_some_and(|date| date < today)
        })
        .max();
    let Some(key) = previous else {
        return Ok(None);
    };
    let Some(object) = store.get(key).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<serde_json::Value>(&object.bytes)
        .ok()
        .and_then(|v| {
            v.get("generated_at")?
                .as_str()
                .and_then(time::parse_rfc3339)
        }))
}

/// The variants to read metrics for: `(name, ever serverless)`, for endpoints that billed at any
/// point since `since`.
fn variants_to_read(endpoint: &EndpointRecord, since: i64) -> Vec<(String, bool)> {
    let timeline = endpoint.timeline();
    if timeline
        .last()
        .is_some_and(|(t, e)| !e.bills() && *t <= since)
    {
        return Vec::new();
    }
    let mut seen: BTreeMap<String, bool> = BTreeMap::new();
    for (_, entry) in &timeline {
        for v in &entry.variants {
            *seen.entry(v.name.clone()).or_insert(false) |= v.serverless.is_some();
        }
    }
    seen.into_iter().collect()
}

/// Where a run's window starts: the month's start, 24 hours before `now` when that is earlier
/// (the last-24-hours figure of the 1st), or the previous report when that is older still (the
/// jobs since it are counted). Every job that ended (or runs) after it is read.
pub fn window_start(now: i64, previous_report_at: Option<i64>) -> i64 {
    Date::of(now)
        .month_start()
        .min(now - DAY)
        .min(previous_report_at.unwrap_or(now))
}

/// What a run computes before it writes or sends anything: the ledger priced at `now`, with the
/// number of jobs and endpoints it read. `hawkins costs` prints the same.
pub async fn summarize<S: LedgerStore, M: EndpointMetrics>(
    store: &S,
    metrics: &M,
    prices: &PriceTable,
    budgets: &Budgets,
    region: &str,
    now: i64,
) -> Result<(Summary, usize, usize), StoreError> {
    let today = Date::of(now);
    let mut unreadable = Vec::new();
    let previous = previous_report_at(store, &today.to_string()).await?;
    // Only the months the window needs: a job of an older month has ended before it.
    let months = ledger::months_to_read(window_start(now, previous), now);
    let training = read_jobs(store, ledger::TRAINING_PREFIX, &months, &mut unreadable).await?;
    let transforms = read_jobs(store, ledger::TRANSFORMS_PREFIX, &months, &mut unreadable).await?;
    let endpoints: Vec<EndpointRecord> =
        read_all(store, ledger::ENDPOINTS_PREFIX, &mut unreadable).await?;

    let since = today
        .month_start()
        .min(now - DAY)
        .min(now - i64::from(budgets.idle_hours) * HOUR);
    let since = since - since.rem_euclid(HOUR);
    let mut usage = Usage::new();
    for endpoint in &endpoints {
        for (variant, serverless) in variants_to_read(endpoint, since) {
            let buckets = metrics
                .usage(&endpoint.endpoint, &variant, serverless, since, now)
                .await?;
            usage.insert((endpoint.endpoint.clone(), variant), buckets);
        }
    }

    let inputs = compute::Inputs {
        training: &training,
        transforms: &transforms,
        endpoints: &endpoints,
        usage: &usage,
        prices,
        region,
        idle_hours: budgets.idle_hours,
        previous_report_at: previous,
    };
    let mut summary = compute::summarize(&inputs, now);
    summary.unreadable = unreadable;
    Ok((summary, training.len() + transforms.len(), endpoints.len()))
}

/// One scheduled run at `now` (the event's time, so a redelivered event redoes the same run).
pub async fn handle_schedule<S: LedgerStore, N: Notifier, M: EndpointMetrics>(
    run: &CostRun<'_, S, N, M>,
    now: i64,
) -> Result<RunOutcome, CostError> {
    handle_schedule_with(run, None, now).await
}

/// [`handle_schedule`], with the bucket's storage cost (from [`crate::storage::sweep`]) in the
/// report.
pub async fn handle_schedule_with<S: LedgerStore, N: Notifier, M: EndpointMetrics>(
    run: &CostRun<'_, S, N, M>,
    storage: Option<crate::storage::StorageCost>,
    now: i64,
) -> Result<RunOutcome, CostError> {
    let date = Date::of(now).to_string();
    let (mut summary, jobs, endpoints) = summarize(
        run.store,
        run.metrics,
        run.prices,
        &run.budgets,
        &run.region,
        now,
    )
    .await?;
    summary.storage = storage;

    let report_key = report::report_key(&date, "json");
    let html_key = report::report_key(&date, "html");
    let report_written = run
        .store
        .put_if_changed(
            &report_key,
            report::report_json(&summary, run.prices),
            "application/json",
        )
        .await?;
    let html_written = run
        .store
        .put_if_changed(
            &html_key,
            report::report_html(&summary, run.prices).into_bytes(),
            "text/html; charset=utf-8",
        )
        .await?;

    let url = format!("{}/{html_key}", run.location);
    let mut sent = Vec::new();
    let mut already = Vec::new();
    let mut ids = BTreeSet::new();
    for alert in alerts::decide(&summary, &run.budgets, &url) {
        if !ids.insert(alert.id.clone()) {
            continue;
        }
        let marker = alerts::marker_key(&alert.id);
        let sent_at = time::format_rfc3339(now);
        if !send_once(run.store, run.notifier, &alert, &marker, Some(&sent_at)).await? {
            already.push(alert.id);
            continue;
        }
        info!(id = %alert.id, kind = %alert.kind, "cost alert sent");
        sent.push(alert.id);
    }

    let outcome = RunOutcome {
        date,
        report_key,
        html_key,
        report: report_written,
        html: html_written,
        alerts_sent: sent,
        alerts_already_sent: already,
        jobs,
        endpoints,
        last_24h_usd: summary.last_24h_usd,
        month_to_date_usd: summary.month_to_date_usd,
        forecast_usd: summary.forecast_usd,
        unknown_prices: summary.unknown.len(),
        unreadable: summary.unreadable.clone(),
        emf: report::emf_lines(&summary, now * 1000),
    };
    info!(
        jobs = outcome.jobs,
        endpoints = outcome.endpoints,
        month_to_date_usd = outcome.month_to_date_usd,
        alerts = outcome.alerts_sent.len(),
        "cost run done"
    );
    Ok(outcome)
}
