//! What a run leaves behind: the report as JSON and as a self-contained HTML page (inline SVG, no
//! scripts, every name escaped), and one Embedded Metric Format line per (model, kind, endpoint)
//! for CloudWatch to turn into metrics from the function's log.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::compute::{CostLine, Summary};
use super::prices::PriceTable;

/// Where reports go: `reports/costs/YYYY-MM-DD.{json,html}`.
pub const REPORTS_PREFIX: &str = "reports/costs/";
/// The CloudWatch namespace of the cost metrics.
pub const NAMESPACE: &str = "Hawkins/Costs";

/// The report's key for a date and extension.
pub fn report_key(date: &str, extension: &str) -> String {
    format!("{REPORTS_PREFIX}{date}.{extension}")
}

/// The JSON report: the summary, and which prices made it.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub summary: &'a Summary,
    pub prices: PriceSource<'a>,
}

/// The price table's provenance, as the report shows it.
#[derive(Debug, Serialize)]
pub struct PriceSource<'a> {
    pub source: &'a str,
    pub as_of: &'a str,
    pub serverless_usd_per_gb_second: f64,
    pub overridden: Vec<&'a str>,
}

/// The report as pretty JSON.
pub fn report_json(summary: &Summary, prices: &PriceTable) -> Vec<u8> {
    let report = Report {
        summary,
        prices: PriceSource {
            source: &prices.source,
            as_of: &prices.as_of,
            serverless_usd_per_gb_second: prices.serverless_usd_per_gb_second,
            overridden: prices.overrides.keys().map(String::as_str).collect(),
        },
    };
    let mut bytes = serde_json::to_vec_pretty(&report).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Embedded Metric Format lines: per (model, kind, endpoint) the last 24 hours' cost, the
/// month-to-date cost and the spot saving, in dollars. `timestamp_ms` is the run's time.
pub fn emf_lines(summary: &Summary, timestamp_ms: i64) -> Vec<String> {
    let mut groups: BTreeMap<(String, &str, String), (f64, f64, f64)> = BTreeMap::new();
    for line in &summary.lines {
        let endpoint = match line.kind {
            super::compute::CostKind::Hosting | super::compute::CostKind::Serverless => {
                line.name.clone()
            }
            _ => "none".to_string(),
        };
        let model = if line.model.is_empty() {
            "none".to_string()
        } else {
            line.model.clone()
        };
        let entry = groups
            .entry((model, line.kind.as_str(), endpoint))
            .or_insert((0.0, 0.0, 0.0));
        entry.0 += line.last_24h_usd.unwrap_or(0.0);
        entry.1 += line.month_usd.unwrap_or(0.0);
        entry.2 += line.spot_saving_usd;
    }
    groups
        .into_iter()
        .filter(|(_, (day, month, _))| *day > 0.0 || *month > 0.0)
        .map(|((model, kind, endpoint), (day, month, saving))| {
            serde_json::json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["model", "kind", "endpoint"]],
                        "Metrics": [
                            {"Name": "CostLast24hUSD", "Unit": "None"},
                            {"Name": "CostMonthToDateUSD", "Unit": "None"},
                            {"Name": "SpotSavingsUSD", "Unit": "None"}
                        ]
                    }]
                },
                "model": model,
                "kind": kind,
                "endpoint": endpoint,
                "CostLast24hUSD": round_cents(day),
                "CostMonthToDateUSD": round_cents(month),
                "SpotSavingsUSD": round_cents(saving),
            })
            .to_string()
        })
        .collect()
}

fn round_cents(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

pub use crate::network::escape_html as escape;

const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

fn money(usd: f64) -> String {
    format!("${usd:.2}")
}

fn stacked_days(summary: &Summary) -> String {
    let models: Vec<&String> = summary.by_model.keys().collect();
    let totals: Vec<f64> = summary.days.values().map(|m| m.values().sum()).collect();
    let max = totals.iter().copied().fold(0.0_f64, f64::max).max(0.01);
    let (bar, gap, height, left, top) = (18.0, 6.0, 200.0, 60.0, 10.0);
    let width = left + (bar + gap) * summary.days.len() as f64 + 160.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Cost per day by model" width="{width:.0}" height="{:.0}" viewBox="0 0 {width:.0} {:.0}">"#,
        height + top + 40.0,
        height + top + 40.0
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.0}" stroke="#888"/><text x="{:.0}" y="{:.0}" font-size="10" text-anchor="end">{}</text><text x="{:.0}" y="{:.0}" font-size="10" text-anchor="end">$0</text>"##,
        top + height,
        left - 4.0,
        top + 10.0,
        escape(&money(max)),
        left - 4.0,
        top + height
    );
    for (i, (day, per_model)) in summary.days.iter().enumerate() {
        let x = left + 4.0 + (bar + gap) * i as f64;
        let mut y = top + height;
        for (m, model) in models.iter().enumerate() {
            let Some(usd) = per_model.get(*model) else {
                continue;
            };
            let h = usd / max * height;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar}" height="{h:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                PALETTE[m % PALETTE.len()],
                escape(day),
                escape(model),
                money(*usd)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.0}" font-size="9" text-anchor="middle">{}</text>"#,
            x + bar / 2.0,
            top + height + 12.0,
            escape(day.get(8..).unwrap_or(day))
        );
    }
    let legend_x = width - 150.0;
    for (m, model) in models.iter().enumerate() {
        let y = top + 14.0 * m as f64;
        let _ = write!(
            svg,
            r#"<rect x="{legend_x:.0}" y="{y:.0}" width="10" height="10" fill="{}"/><text x="{:.0}" y="{:.0}" font-size="10">{}</text>"#,
            PALETTE[m % PALETTE.len()],
            legend_x + 14.0,
            y + 9.0,
            escape(model)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn line_row(line: &CostLine) -> String {
    let amount = |v: Option<f64>| v.map_or_else(|| "unknown".to_string(), money);
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        escape(&line.name),
        escape(line.kind.as_str()),
        escape(&line.model),
        escape(&line.instance_types.join(", ")),
        amount(line.last_24h_usd),
        amount(line.month_usd)
    )
}

/// The bucket's storage per prefix: objects, size, dollars a month and a day.
fn storage_table(storage: &crate::storage::StorageCost) -> String {
    let gb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0 * 1024.0);
    let mut html = format!(
        "<h2>Storage</h2><p>S3 Standard at ${}/GB-month, not in the totals above; {} expired object(s) deleted by this run.</p><table id=\"storage\"><tr><th>Prefix</th><th>Objects</th><th>GB</th><th>Month</th><th>Day</th></tr>",
        storage.usd_per_gb_month, storage.deleted
    );
    for p in &storage.prefixes {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{}</td><td class=\"n\">${:.4}</td></tr>",
            escape(&p.prefix),
            p.objects,
            gb(p.bytes),
            money(p.usd_per_month),
            p.usd_per_day
        );
    }
    let _ = write!(
        html,
        "<tr><th>All</th><td></td><td class=\"n\">{:.3}</td><td class=\"n\">{}</td><td class=\"n\">${:.4}</td></tr></table>",
        gb(storage.bytes),
        money(storage.usd_per_month),
        storage.usd_per_day
    );
    html
}

/// The page a person opens from the alert e-mail.
pub fn report_html(summary: &Summary, prices: &PriceTable) -> String {
    let mut html = String::new();
    let title = format!("Hawkins costs {}", summary.date);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}}.n{{text-align:right}}.warn{{color:#b00}}</style></head><body>",
        escape(&title)
    );
    let _ = write!(
        html,
        "<h1>{}</h1><p>Region {} · generated {} · prices: {} (as of {})</p>",
        escape(&title),
        escape(&summary.region),
        escape(&summary.generated_at),
        escape(&prices.source),
        escape(&prices.as_of)
    );
    let _ = write!(
        html,
        "<table id=\"totals\"><tr><th>Last 24 hours</th><td class=\"n\">{}</td></tr><tr><th>Month to date ({})</th><td class=\"n\">{}</td></tr><tr><th>Forecast for the month</th><td class=\"n\">{}</td></tr><tr><th>Spot savings this month</th><td class=\"n\">{}</td></tr><tr><th>Jobs since the previous report ({})</th><td class=\"n\">{}</td></tr></table>",
        money(summary.last_24h_usd),
        escape(&summary.month),
        money(summary.month_to_date_usd),
        money(summary.forecast_usd),
        money(summary.spot_savings_month_usd),
        summary.jobs_since_last_report,
        money(summary.jobs_since_last_report_usd)
    );
    if !summary.unknown.is_empty() {
        html.push_str("<h2 class=\"warn\">Unknown prices (not in the totals)</h2><ul>");
        for u in &summary.unknown {
            let _ = write!(html, "<li>{}</li>", escape(u));
        }
        html.push_str("</ul>");
    }
    if !summary.idle_endpoints.is_empty() {
        html.push_str("<h2 class=\"warn\">Idle endpoints</h2><ul>");
        for idle in &summary.idle_endpoints {
            let _ = write!(
                html,
                "<li>{}: no invocations for {} h, {} per day — <code>{}</code></li>",
                escape(&idle.endpoint),
                idle.idle_hours,
                idle.usd_per_day.map_or_else(|| "unknown".into(), money),
                escape(&idle.delete_command)
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("<h2>Cost per day by model</h2>");
    html.push_str(&stacked_days(summary));
    html.push_str("<h2>Top spenders this month</h2><table id=\"top\"><tr><th>Name</th><th>Kind</th><th>Model</th><th>Instances</th><th>Last 24 h</th><th>Month</th></tr>");
    for line in summary.lines.iter().take(15) {
        html.push_str(&line_row(line));
    }
    html.push_str("</table><h2>By model</h2><table id=\"models\">");
    for (model, usd) in &summary.by_model {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(model),
            money(*usd)
        );
    }
    html.push_str("</table>");
    if let Some(storage) = &summary.storage {
        html.push_str(&storage_table(storage));
    }
    html.push_str("<h2>Spot savings</h2><table id=\"spot\"><tr><th>Job</th><th>Training s</th><th>Billable s</th><th>Saved</th></tr>");
    for line in summary.lines.iter().filter(|l| l.spot_saving_usd > 0.0) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&line.name),
            line.training_seconds,
            line.billable_seconds,
            money(line.spot_saving_usd)
        );
    }
    html.push_str("</table></body></html>\n");
    html
}
