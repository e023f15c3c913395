//! The arithmetic: what each job and endpoint cost, per day of the month, in the last 24 hours and
//! month to date, the month's linear forecast, and the sums per model, corpus version and kind.
//!
//! - A job costs billable seconds × instance count × the type's training $/hour ÷ 3600; on spot
//!   the saving is (training − billable seconds) at the same price. A running job is costed up to
//!   now. A job's cost belongs to the day it ended (or now, while it runs).
//! - An endpoint bills each variant's instance count × hosting $/hour from each history entry's
//!   `at` until the next entry, prorated to the second, nothing during or after `Deleted`.
//! - A serverless variant bills its memory (GB) × seconds of inference (the `ModelLatency` sum)
//!   × the table's $/GB-second, in the hour the metric was recorded.
//! - Unknown instance types make the line's amount unknown; totals are over known amounts and
//!   the report lists what they leave out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::prices::PriceTable;
use crate::ledger::{EndpointRecord, JobRecord};
use crate::time::{DAY, Date, HOUR};

/// Invocations and inference time of one variant in one hour, from its CloudWatch metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Bucket {
    /// Start of the hour.
    pub start: i64,
    pub invocations: f64,
    /// Sum of `ModelLatency`, in seconds.
    pub latency_seconds: f64,
}

/// The metrics of an endpoint's variants: `(endpoint, variant)` → hourly buckets.
pub type Usage = BTreeMap<(String, String), Vec<Bucket>>;

/// What a cost line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CostKind {
    Training,
    Transform,
    Hosting,
    Serverless,
}

impl CostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CostKind::Training => "training",
            CostKind::Transform => "transform",
            CostKind::Hosting => "hosting",
            CostKind::Serverless => "serverless",
        }
    }
}

/// One job's cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JobCost {
    pub billable_seconds: u64,
    pub training_seconds: u64,
    /// `None` when the instance type has no price.
    pub usd: Option<f64>,
    /// What spot saved against on-demand (0 when not on spot).
    pub spot_saving_usd: Option<f64>,
}

/// Seconds a job has run by `now` when the ledger has no figure yet.
fn elapsed(job: &JobRecord, now: i64) -> u64 {
    match (job.started(), job.ended()) {
        (Some(start), Some(end)) => (end - start).max(0) as u64,
        (Some(start), None) => (now - start).max(0) as u64,
        _ => 0,
    }
}

/// Billable seconds × instance count × $/hour; spot saving from training − billable seconds.
pub fn job_cost(job: &JobRecord, usd_per_hour: Option<f64>, now: i64) -> JobCost {
    let billable = job
        .billable_seconds
        .or(job.training_seconds)
        .unwrap_or_else(|| elapsed(job, now));
    let training = job.training_seconds.unwrap_or(billable).max(billable);
    let count = f64::from(job.instance_count.max(1));
    let usd = usd_per_hour.map(|p| billable as f64 / 3600.0 * count * p);
    let saving = usd_per_hour.map(|p| {
        if job.spot {
            (training - billable) as f64 / 3600.0 * count * p
        } else {
            0.0
        }
    });
    JobCost {
        billable_seconds: billable,
        training_seconds: training,
        usd,
        spot_saving_usd: saving,
    }
}

/// When a job's cost is counted: its end, or `now` while it runs.
pub fn job_day_time(job: &JobRecord, now: i64) -> i64 {
    job.ended().unwrap_or(now).min(now)
}

/// An endpoint's instance cost over `[start, end)`: known dollars, and the instance types without
/// a hosting price that billed during the window.
pub fn endpoint_cost(
    endpoint: &EndpointRecord,
    prices: &PriceTable,
    region: &str,
    start: i64,
    end: i64,
) -> (f64, Vec<String>) {
    let timeline = endpoint.timeline();
    let mut usd = 0.0;
    let mut unknown = Vec::new();
    for (i, (from, entry)) in timeline.iter().enumerate() {
        if !entry.bills() {
            continue;
        }
        let until = timeline.get(i + 1).map_or(end, |(t, _)| *t);
        let seconds = (until.min(end) - (*from).max(start)).max(0);
        if seconds == 0 {
            continue;
        }
        for variant in &entry.variants {
            if variant.serverless.is_some() {
                continue;
            }
            let Some(instance_type) = variant.instance_type.as_deref() else {
                continue;
            };
            let count = f64::from(variant.instance_count.unwrap_or(1));
            match prices.hosting(region, instance_type) {
                Some(p) => usd += seconds as f64 / 3600.0 * count * p,
                None => {
                    if !unknown.iter().any(|u| u == instance_type) {
                        unknown.push(instance_type.to_string());
                    }
                }
            }
        }
    }
    (usd, unknown)
}

/// The serverless memory (MB) of `variant` at time `t`, if it was serverless then.
fn serverless_memory(endpoint: &EndpointRecord, variant: &str, t: i64) -> Option<u32> {
    let timeline = endpoint.timeline();
    let (_, entry) = timeline.iter().rev().find(|(from, _)| *from <= t)?;
    if !entry.bills() {
        return None;
    }
    entry
        .variants
        .iter()
        .find(|v| v.name == variant)
        .and_then(|v| v.serverless)
        .map(|s| s.memory_mb)
}

/// Serverless cost of an endpoint's buckets that start in `[start, end)`: GB × seconds × rate.
pub fn serverless_cost(
    endpoint: &EndpointRecord,
    usage: &Usage,
    usd_per_gb_second: f64,
    start: i64,
    end: i64,
) -> f64 {
    let mut usd = 0.0;
    for ((name, variant), buckets) in usage.range((endpoint.endpoint.clone(), String::new())..) {
        if *name != endpoint.endpoint {
            break;
        }
        for b in buckets.iter().filter(|b| b.start >= start && b.start < end) {
            if let Some(mb) = serverless_memory(endpoint, variant, b.start) {
                usd += f64::from(mb) / 1024.0 * b.latency_seconds * usd_per_gb_second;
            }
        }
    }
    usd
}

/// Invocations of all of an endpoint's variants in buckets starting in `[start, end)`.
pub fn invocations(endpoint: &str, usage: &Usage, start: i64, end: i64) -> f64 {
    usage
        .range((endpoint.to_string(), String::new())..)
        .take_while(|((name, _), _)| name == endpoint)
        .flat_map(|(_, buckets)| buckets.iter())
        .filter(|b| b.start >= start && b.start < end)
        .map(|b| b.invocations)
        .sum()
}

/// The month's linear forecast: month-to-date spend per second elapsed × seconds in the month.
pub fn forecast(month_to_date: f64, now: i64) -> f64 {
    let date = Date::of(now);
    let elapsed = now - date.month_start();
    if elapsed <= 0 {
        return month_to_date;
    }
    let month = i64::from(date.days_in_month()) * DAY;
    month_to_date / elapsed as f64 * month as f64
}

/// One thing that cost money: a job or an endpoint (hosting and serverless are separate lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub kind: CostKind,
    /// Job or endpoint name.
    pub name: String,
    pub model: String,
    /// The model's kind (`chatbot`...), where the ledger says.
    pub model_kind: String,
    pub corpus_version: String,
    /// Instance types of the line (one for a job).
    pub instance_types: Vec<String>,
    pub instance_count: u32,
    /// In the 24 hours up to the run; `None` when a price is unknown.
    pub last_24h_usd: Option<f64>,
    /// Since the start of the month.
    pub month_usd: Option<f64>,
    /// Per day of the month (`YYYY-MM-DD`), known amounts only.
    pub days: BTreeMap<String, f64>,
    pub spot_saving_usd: f64,
    pub billable_seconds: u64,
    pub training_seconds: u64,
    /// Instance types without a price: the amounts above leave them out.
    pub unknown_instance_types: Vec<String>,
    /// Ended (or is still running) since the previous report.
    pub since_last_report: bool,
    /// A job's whole cost, whatever the window (`None` for endpoints and unknown prices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_usd: Option<f64>,
}

/// A running job past its expected duration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LongJob {
    pub job_name: String,
    pub model: String,
    pub running_seconds: u64,
    pub expected_seconds: u64,
    pub usd_so_far: Option<f64>,
}

/// An endpoint with instances and no invocations in the idle window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleEndpoint {
    pub endpoint: String,
    pub model: String,
    pub idle_hours: u32,
    /// What it costs per day as configured now; `None` when a price is unknown.
    pub usd_per_day: Option<f64>,
    pub delete_command: String,
}

/// Everything the report, the metrics and the alerts are made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub date: String,
    pub generated_at: String,
    pub region: String,
    pub month: String,
    pub days_in_month: u32,
    pub previous_report_at: Option<String>,
    /// Jobs that ended (or ran) since the previous report, and what they cost.
    pub jobs_since_last_report: usize,
    pub jobs_since_last_report_usd: f64,
    pub last_24h_usd: f64,
    pub month_to_date_usd: f64,
    pub forecast_usd: f64,
    pub spot_savings_month_usd: f64,
    /// Per day of the month, per model.
    pub days: BTreeMap<String, BTreeMap<String, f64>>,
    pub by_model: BTreeMap<String, f64>,
    pub by_corpus_version: BTreeMap<String, f64>,
    pub by_kind: BTreeMap<String, f64>,
    pub lines: Vec<CostLine>,
    /// Lines with an unknown price, as `name (instance type)`.
    pub unknown: Vec<String>,
    pub idle_endpoints: Vec<IdleEndpoint>,
    pub long_running_jobs: Vec<LongJob>,
    /// Ledger objects that could not be read, with why.
    pub unreadable: Vec<String>,
    /// The bucket's storage and its cost, when the run swept it (not in the totals above, which
    /// are what SageMaker bills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::StorageCost>,
}

/// What the summary is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub training: &'a [JobRecord],
    pub transforms: &'a [JobRecord],
    pub endpoints: &'a [EndpointRecord],
    pub usage: &'a Usage,
    pub prices: &'a PriceTable,
    /// The stack's region: the price column used.
    pub region: &'a str,
    pub idle_hours: u32,
    pub previous_report_at: Option<i64>,
}

/// The days of the month of `now`, up to today: `(label, start, end)`, the last ending at `now`.
fn month_days(now: i64) -> Vec<(String, i64, i64)> {
    let today = Date::of(now);
    let mut day = Date::of(today.month_start());
    let mut out = Vec::new();
    while day <= today {
        let start = day.start();
        out.push((day.to_string(), start, (start + DAY).min(now)));
        day = day.next();
    }
    out
}

fn add(map: &mut BTreeMap<String, f64>, key: &str, usd: f64) {
    *map.entry(key.to_string()).or_insert(0.0) += usd;
}

fn job_line(kind: CostKind, job: &JobRecord, inputs: &Inputs<'_>, now: i64) -> CostLine {
    let region = job.region.as_deref().unwrap_or(inputs.region);
    let price = inputs.prices.training(region, &job.instance_type);
    let cost = job_cost(job, price, now);
    let at = job_day_time(job, now);
    let month_start = Date::of(now).month_start();
    let in_month = at >= month_start && at <= now;
    let in_day = at > now - DAY && at <= now;
    let mut days = BTreeMap::new();
    if in_month && let Some(usd) = cost.usd {
        days.insert(Date::of(at).to_string(), usd);
    }
    let amount = |counted: bool| if counted { cost.usd } else { Some(0.0) };
    CostLine {
        kind,
        name: job.job_name.clone(),
        model: job.model.clone(),
        model_kind: job.kind.clone(),
        corpus_version: job.corpus_version.clone(),
        instance_types: vec![job.instance_type.clone()],
        instance_count: job.instance_count,
        last_24h_usd: amount(in_day),
        month_usd: amount(in_month),
        days,
        spot_saving_usd: if in_month {
            cost.spot_saving_usd.unwrap_or(0.0)
        } else {
            0.0
        },
        billable_seconds: cost.billable_seconds,
        training_seconds: cost.training_seconds,
        unknown_instance_types: if price.is_none() {
            vec![job.instance_type.clone()]
        } else {
            Vec::new()
        },
        job_usd: cost.usd,
        since_last_report: job.running() || inputs.previous_report_at.is_none_or(|prev| at > prev),
    }
}

fn endpoint_lines(endpoint: &EndpointRecord, inputs: &Inputs<'_>, now: i64) -> Vec<CostLine> {
    let region = inputs.region;
    let days = month_days(now);
    let mut hosting_days = BTreeMap::new();
    let mut serverless_days = BTreeMap::new();
    let mut unknown: Vec<String> = Vec::new();
    for (label, start, end) in &days {
        let (usd, missing) = endpoint_cost(endpoint, inputs.prices, region, *start, *end);
        for m in missing {
            if !unknown.contains(&m) {
                unknown.push(m);
            }
        }
        if usd > 0.0 {
            hosting_days.insert(label.clone(), usd);
        }
        let rate = inputs.prices.serverless_usd_per_gb_second;
        let usd = serverless_cost(endpoint, inputs.usage, rate, *start, *end);
        if usd > 0.0 {
            serverless_days.insert(label.clone(), usd);
        }
    }
    let (day_hosting, day_missing) = endpoint_cost(endpoint, inputs.prices, region, now - DAY, now);
    let day_serverless = serverless_cost(
        endpoint,
        inputs.usage,
        inputs.prices.serverless_usd_per_gb_second,
        now - DAY,
        now,
    );
    let mut types: Vec<String> = Vec::new();
    let mut count = 0;
    if let Some((_, last)) = endpoint.timeline().last() {
        for v in &last.variants {
            if let Some(t) = &v.instance_type {
                types.push(t.clone());
                count += v.instance_count.unwrap_or(1);
            }
        }
    }
    let line = |kind, days: BTreeMap<String, f64>, day: f64, unknown: Vec<String>| CostLine {
        kind,
        name: endpoint.endpoint.clone(),
        model: endpoint.model.clone(),
        model_kind: String::new(),
        corpus_version: String::new(),
        instance_types: types.clone(),
        instance_count: count,
        last_24h_usd: if unknown.is_empty() { Some(day) } else { None },
        month_usd: if unknown.is_empty() {
            Some(days.values().sum())
        } else {
            None
        },
        days,
        spot_saving_usd: 0.0,
        billable_seconds: 0,
        training_seconds: 0,
        unknown_instance_types: unknown,
        since_last_report: true,
        job_usd: None,
    };
    let mut out = Vec::new();
    let has_instances = endpoint
        .history
        .iter()
        .any(|e| e.variants.iter().any(|v| v.serverless.is_none()));
    if has_instances {
        let mut all_unknown = unknown;
        for m in day_missing {
            if !all_unknown.contains(&m) {
                all_unknown.push(m);
            }
        }
        out.push(line(
            CostKind::Hosting,
            hosting_days,
            day_hosting,
            all_unknown,
        ));
    }
    if !serverless_days.is_empty() || day_serverless > 0.0 {
        out.push(line(
            CostKind::Serverless,
            serverless_days,
            day_serverless,
            Vec::new(),
        ));
    }
    out
}

/// The idle check: in service for the whole window, with instances, and no invocation in it.
fn idle(endpoint: &EndpointRecord, inputs: &Inputs<'_>, now: i64) -> Option<IdleEndpoint> {
    let window_start = now - i64::from(inputs.idle_hours) * HOUR;
    let timeline = endpoint.timeline();
    let (_, current) = timeline.last()?;
    if !current.bills() || !current.variants.iter().any(|v| v.serverless.is_none()) {
        return None;
    }
    // Billing without a break since the window began.
    let since = timeline
        .iter()
        .rev()
        .take_while(|(_, e)| e.bills())
        .last()
        .map(|(t, _)| *t)?;
    if since > window_start {
        return None;
    }
    if invocations(&endpoint.endpoint, inputs.usage, window_start, now) > 0.0 {
        return None;
    }
    let mut per_day = Some(0.0);
    for v in current.variants.iter().filter(|v| v.serverless.is_none()) {
        let price = v
            .instance_type
            .as_deref()
            .and_then(|t| inputs.prices.hosting(inputs.region, t));
        per_day = match (per_day, price) {
            (Some(sum), Some(p)) => Some(sum + p * 24.0 * f64::from(v.instance_count.unwrap_or(1))),
            _ => None,
        };
    }
    Some(IdleEndpoint {
        endpoint: endpoint.endpoint.clone(),
        model: endpoint.model.clone(),
        idle_hours: inputs.idle_hours,
        usd_per_day: per_day,
        delete_command: format!(
            "aws sagemaker delete-endpoint --endpoint-name {}",
            endpoint.endpoint
        ),
    })
}

fn long_job(job: &JobRecord, prices: &PriceTable, region: &str, now: i64) -> Option<LongJob> {
    let expected = job.expected_seconds?;
    if !job.running() {
        return None;
    }
    let running = (now - job.started()?).max(0) as u64;
    if running <= expected {
        return None;
    }
    let region = job.region.as_deref().unwrap_or(region);
    Some(LongJob {
        job_name: job.job_name.clone(),
        model: job.model.clone(),
        running_seconds: running,
        expected_seconds: expected,
        usd_so_far: job_cost(job, prices.training(region, &job.instance_type), now).usd,
    })
}

/// Everything about the month up to `now`.
pub fn summarize(inputs: &Inputs<'_>, now: i64) -> Summary {
    let date = Date::of(now);
    let mut lines = Vec::new();
    for job in inputs.training {
        lines.push(job_line(CostKind::Training, job, inputs, now));
    }
    for job in inputs.transforms {
        lines.push(job_line(CostKind::Transform, job, inputs, now));
    }
    let month_start = date.month_start();
    for endpoint in inputs.endpoints {
        // Nothing to say about an endpoint deleted before both windows began.
        let ended_before = endpoint
            .timeline()
            .last()
            .is_some_and(|(t, e)| !e.bills() && *t <= month_start.min(now - DAY));
        if !ended_before {
            lines.extend(endpoint_lines(endpoint, inputs, now));
        }
    }
    let mut summary = Summary {
        date: date.to_string(),
        generated_at: crate::time::format_rfc3339(now),
        region: inputs.region.to_string(),
        month: date.month_label(),
        days_in_month: date.days_in_month(),
        previous_report_at: inputs.previous_report_at.map(crate::time::format_rfc3339),
        jobs_since_last_report: 0,
        jobs_since_last_report_usd: 0.0,
        last_24h_usd: 0.0,
        month_to_date_usd: 0.0,
        forecast_usd: 0.0,
        spot_savings_month_usd: 0.0,
        days: month_days(now)
            .into_iter()
            .map(|(d, _, _)| (d, BTreeMap::new()))
            .collect(),
        by_model: BTreeMap::new(),
        by_corpus_version: BTreeMap::new(),
        by_kind: BTreeMap::new(),
        storage: None,
        lines: Vec::new(),
        unknown: Vec::new(),
        idle_endpoints: inputs
            .endpoints
            .iter()
            .filter_map(|e| idle(e, inputs, now))
            .collect(),
        long_running_jobs: inputs
            .training
            .iter()
            .chain(inputs.transforms)
            .filter_map(|j| long_job(j, inputs.prices, inputs.region, now))
            .collect(),
        unreadable: Vec::new(),
    };
    for line in &lines {
        let model = if line.model.is_empty() {
            "(no model)"
        } else {
            line.model.as_str()
        };
        summary.last_24h_usd += line.last_24h_usd.unwrap_or(0.0);
        if matches!(line.kind, CostKind::Training | CostKind::Transform) && line.since_last_report {
            summary.jobs_since_last_report += 1;
            summary.jobs_since_last_report_usd += line.job_usd.unwrap_or(0.0);
        }
        summary.spot_savings_month_usd += line.spot_saving_usd;
        for (day, usd) in &line.days {
            if let Some(per_model) = summary.days.get_mut(day) {
                add(per_model, model, *usd);
            }
        }
        let month: f64 = line.days.values().sum();
        summary.month_to_date_usd += month;
        if month > 0.0 {
            add(&mut summary.by_model, model, month);
            add(&mut summary.by_kind, line.kind.as_str(), month);
            if !line.corpus_version.is_empty() {
                add(
                    &mut summary.by_corpus_version,
                    &format!("{model}/{}", line.corpus_version),
                    month,
                );
            }
        }
        for t in &line.unknown_instance_types {
            summary.unknown.push(format!("{} ({t})", line.name));
        }
    }
    summary.forecast_usd = forecast(summary.month_to_date_usd, now);
    lines.sort_by(|a, b| {
        b.month_usd
            .unwrap_or(f64::INFINITY)
            .total_cmp(&a.month_usd.unwrap_or(f64::INFINITY))
            .then_with(|| a.name.cmp(&b.name))
    });
    summary.lines = lines;
    summary
}
