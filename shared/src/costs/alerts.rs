//! Which alerts a run raises. Each has a stable id `<date>/<cause>`: the handler sends an alert
//! only when no marker `alerts/sent/<id>.json` exists, so a rerun on the same day (or a retried
//! invocation) tells nobody twice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compute::Summary;
use crate::store::{Alert, Severity};

/// Budgets and thresholds: the config's `[costs]`, overridden by the function's environment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budgets {
    /// Spend in 24 hours above which the team is told.
    pub daily_usd: Option<f64>,
    /// Spend in a calendar month (and its forecast) above which the team is told.
    pub monthly_usd: Option<f64>,
    /// Hours without an invocation after which an endpoint counts as idle.
    pub idle_hours: u32,
}

/// Where markers of sent alerts live.
pub const SENT_PREFIX: &str = "alerts/sent/";

/// The marker key of an alert id.
pub fn marker_key(id: &str) -> String {
    format!("{SENT_PREFIX}{id}.json")
}

fn usd(amount: f64) -> String {
    format!("${amount:.2}")
}

fn subject(text: String) -> String {
    if text.chars().count() <= 100 {
        return text;
    }
    let mut cut: String = text.chars().take(99).collect();
    cut.push('…');
    cut
}

fn alert(
    summary: &Summary,
    kind: &str,
    cause: &str,
    severity: Severity,
    subject_text: String,
    body: String,
    (model, amount): (&str, f64),
) -> Alert {
    let mut attributes = BTreeMap::new();
    attributes.insert("amount".to_string(), format!("{amount:.2}"));
    attributes.insert("model".to_string(), model.to_string());
    attributes.insert("date".to_string(), summary.date.clone());
    Alert {
        kind: kind.to_string(),
        severity,
        subject: subject(subject_text),
        body,
        attributes,
        id: format!("{}/{cause}", summary.date),
    }
}

/// The alerts `summary` calls for; `report_url` is where the report can be opened.
pub fn decide(summary: &Summary, budgets: &Budgets, report_url: &str) -> Vec<Alert> {
    let mut out = Vec::new();
    let footer = format!(
        "\n\nReport: {report_url}\nMonth to date: {}; forecast for {}: {}.",
        usd(summary.month_to_date_usd),
        summary.month,
        usd(summary.forecast_usd)
    );
    let top: Vec<String> = summary
        .by_model
        .iter()
        .map(|(m, v)| format!("  {m}: {}", usd(*v)))
        .collect();
    let top = top.join("\n");
    if let Some(daily) = budgets.daily_usd
        && summary.last_24h_usd > daily
    {
        out.push(alert(
            summary,
            "budget",
            "budget-day",
            Severity::Warning,
            format!(
                "Hawkins: {} spent in 24 hours, over the daily budget of {}",
                usd(summary.last_24h_usd),
                usd(daily)
            ),
            format!(
                "SageMaker spend in the 24 hours up to {} was {}, over the daily budget of {}.\n\nMonth to date by model:\n{top}{footer}",
                summary.generated_at,
                usd(summary.last_24h_usd),
                usd(daily)
            ),
            ("", summary.last_24h_usd),
        ));
    }
    if let Some(monthly) = budgets.monthly_usd {
        if summary.month_to_date_usd > monthly {
            out.push(alert(
                summary,
                "budget",
                "budget-month",
                Severity::Critical,
                format!(
                    "Hawkins: {} spent in {}, over the monthly budget of {}",
                    usd(summary.month_to_date_usd),
                    summary.month,
                    usd(monthly)
                ),
                format!(
                    "SageMaker spend in {} has reached {}, over the monthly budget of {}.\n\nBy model:\n{top}{footer}",
                    summary.month,
                    usd(summary.month_to_date_usd),
                    usd(monthly)
                ),
                ("", summary.month_to_date_usd),
            ));
        } else if summary.forecast_usd > monthly {
            out.push(alert(
                summary,
                "forecast",
                "forecast",
                Severity::Warning,
                format!(
                    "Hawkins: {} forecast for {}, over the monthly budget of {}",
                    usd(summary.forecast_usd),
                    summary.month,
                    usd(monthly)
                ),
                format!(
                    "At the pace so far ({} in {} of {} days), {} will cost about {}, over the monthly budget of {}.\n\nBy model:\n{top}{footer}",
                    usd(summary.month_to_date_usd),
                    summary.days.len(),
                    summary.days_in_month,
                    summary.month,
                    usd(summary.forecast_usd),
                    usd(monthly)
                ),
                ("", summary.forecast_usd),
            ));
        }
    }
    for idle in &summary.idle_endpoints {
        let cost = idle
            .usd_per_day
            .map_or_else(|| "an unknown amount".to_string(), usd);
        out.push(alert(
            summary,
            "idle_endpoint",
            &format!("idle-{}", idle.endpoint),
            Severity::Warning,
            format!(
                "Hawkins: endpoint {} idle for {} h, costing {cost}/day",
                idle.endpoint, idle.idle_hours
            ),
            format!(
                "The endpoint {} (model {}) has had no invocations for {} hours and costs {cost} per day while it stays up.\n\nTo delete it:\n  {}\n\nTo keep it, scale its variants down or move it to serverless inference.{footer}",
                idle.endpoint,
                if idle.model.is_empty() { "unknown" } else { &idle.model },
                idle.idle_hours,
                idle.delete_command
            ),
            (&idle.model, idle.usd_per_day.unwrap_or(0.0)),
        ));
    }
    for job in &summary.long_running_jobs {
        let so_far = job
            .usd_so_far
            .map_or_else(|| "an unknown amount".to_string(), usd);
        out.push(alert(
            summary,
            "long_running_job",
            &format!("long-job-{}", job.job_name),
            Severity::Warning,
            format!(
                "Hawkins: job {} running {} h, expected {} h",
                job.job_name,
                job.running_seconds / 3600,
                job.expected_seconds.div_ceil(3600)
            ),
            format!(
                "The job {} (model {}) has run for {} s, longer than the expected {} s, and has cost {so_far} so far.\n\nTo stop it:\n  aws sagemaker stop-training-job --training-job-name {}{footer}",
                job.job_name, job.model, job.running_seconds, job.expected_seconds, job.job_name
            ),
            (&job.model, job.usd_so_far.unwrap_or(0.0)),
        ));
    }
    out
}
