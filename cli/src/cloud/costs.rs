//! `hawkins costs`: the scheduled cost run's figures, computed here and printed, never stored or
//! sent.
//!
//! `hawkins::costs::handle_schedule` always writes the report and sends alerts, so this reads the
//! same inputs the same way (the ledger, the previous report's time, each billing variant's hourly
//! metrics over the same window) and calls the same [`compute::summarize`]; the alerts the run
//! would send come from the same [`alerts::decide`] and are only listed. The bucket's storage is
//! priced as the run prices it, without the run's sweep (nothing is deleted from here). A unit
//! test checks the result against `handle_schedule`'s stored report on the same ledger.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use hawkins::aws::cloudwatch::CloudWatchMetrics;
use hawkins::aws::s3::S3Store;
use hawkins::costs::compute::CostKind;
use hawkins::costs::{Budgets, EndpointMetrics, PriceTable, Summary, alerts, budgets, report};
use hawkins::error::StoreError;
use hawkins::ledger::LedgerStore;
use hawkins::storage::Inventory;
use hawkins::store::Alert;
use hawkins::time::parse_rfc3339;

use super::table::{self, render, usd};
use super::{Cloud, errors, now};

/// The summary the scheduled run would compute at `now` (the same function, without the
/// writes and the alerts).
pub async fn summarize<S, M>(
    store: &Arc<S>,
    metrics: &M,
    prices: &PriceTable,
    budgets: &Budgets,
    region: &str,
    now: i64,
) -> Result<Summary, StoreError>
where
    S: LedgerStore + Send + 'static,
    M: EndpointMetrics,
{
    let (summary, _, _) =
        hawkins::costs::summarize(store.as_ref(), metrics, prices, budgets, region, now).await?;
    Ok(summary)
}

fn amount(value: Option<f64>) -> String {
    value.map_or("unknown".into(), usd)
}

fn budget(label: &str, spent: f64, limit: Option<f64>) -> String {
    match limit {
        Some(limit) if spent > limit => format!("{label} {}: OVER", usd(limit)),
        Some(limit) => format!("{label} {}", usd(limit)),
        None => format!("no {label}"),
    }
}

/// The text `hawkins costs` prints: totals against budgets, per model and kind, the last `days`
/// days, the biggest lines, and what the scheduled run would warn about.
pub fn render_text(
    summary: &Summary,
    budgets: &Budgets,
    prices: &PriceTable,
    days: usize,
    alerts: &[Alert],
) -> String {
    let mut out = format!(
        "Costs in {} up to {} ({}; prices as of {}",
        summary.month,
        table::time(parse_rfc3339(&summary.generated_at)),
        summary.region,
        prices.as_of
    );
    if !prices.overrides.is_empty() {
        let names: Vec<&str> = prices.overrides.keys().map(String::as_str).collect();
        out.push_str(&format!(", the config's for {}", names.join(", ")));
    }
    out.push_str(")\n\n");
    let totals = vec![
        vec![
            "last 24 hours".into(),
            usd(summary.last_24h_usd),
            budget("daily budget", summary.last_24h_usd, budgets.daily_usd),
        ],
        vec![
            "month to date".into(),
            usd(summary.month_to_date_usd),
            budget(
                "monthly budget",
                summary.month_to_date_usd,
                budgets.monthly_usd,
            ),
        ],
        vec![
            format!("forecast {}", summary.month),
            usd(summary.forecast_usd),
            budget("monthly budget", summary.forecast_usd, budgets.monthly_usd),
        ],
        vec![
            "spot savings".into(),
            usd(summary.spot_savings_month_usd),
            "this month".into(),
        ],
        vec![
            "jobs since the last report".into(),
            usd(summary.jobs_since_last_report_usd),
            table::count(summary.jobs_since_last_report, "job"),
        ],
    ];
    out.push_str(&render(&["", "USD", ""], &totals));

    let by = |map: &BTreeMap<String, f64>| -> Vec<Vec<String>> {
        let mut rows: Vec<(&String, &f64)> = map.iter().collect();
        rows.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
        rows.into_iter()
            .map(|(k, v)| vec![k.clone(), usd(*v)])
            .collect()
    };
    out.push_str("\nBy model, month to date\n");
    out.push_str(&render(&["MODEL", "USD"], &by(&summary.by_model)));
    out.push_str("\nBy kind, month to date\n");
    out.push_str(&render(&["KIND", "USD"], &by(&summary.by_kind)));

    let shown: Vec<(&String, &BTreeMap<String, f64>)> =
        summary.days.iter().rev().take(days).collect();
    let day_rows: Vec<Vec<String>> = shown
        .into_iter()
        .rev()
        .map(|(day, models)| {
            let total: f64 = models.values().sum();
            let mut parts: Vec<(&String, &f64)> =
                models.iter().filter(|(_, v)| **v > 0.0).collect();
            parts.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
            let parts: Vec<String> = parts
                .iter()
                .map(|(m, v)| format!("{m} {}", usd(**v)))
                .collect();
            vec![
                day.clone(),
                usd(total),
                if parts.is_empty() {
                    "-".into()
                } else {
                    parts.join(", ")
                },
            ]
        })
        .collect();
    out.push_str(&format!(
        "\nBy day, the last {} of the month\n",
        day_rows.len()
    ));
    out.push_str(&render(&["DAY", "USD", "MODELS"], &day_rows));

    let lines: Vec<Vec<String>> = summary
        .lines
        .iter()
        .filter(|l| l.month_usd != Some(0.0) || l.last_24h_usd.is_some_and(|v| v > 0.0))
        .take(15)
        .map(|l| {
            let instances = if l.kind == CostKind::Serverless {
                "serverless".into()
            } else if l.instance_types.is_empty() {
                "-".into()
            } else {
                format!("{} × {}", l.instance_count, l.instance_types.join("+"))
            };
            vec![
                l.name.clone(),
                l.kind.as_str().into(),
                if l.model.is_empty() {
                    "-".into()
                } else {
                    l.model.clone()
                },
                instances,
                amount(l.last_24h_usd),
                amount(l.month_usd),
            ]
        })
        .collect();
    out.push_str("\nBiggest lines\n");
    out.push_str(&render(
        &["NAME", "KIND", "MODEL", "INSTANCES", "24H", "MONTH"],
        &lines,
    ));

    if let Some(storage) = &summary.storage {
        out.push_str(&format!(
            "\nStorage in the bucket (S3 Standard at ${}/GB-month; not in the totals)\n",
            storage.usd_per_gb_month
        ));
        let mut rows: Vec<Vec<String>> = storage
            .prefixes
            .iter()
            .map(|p| {
                vec![
                    p.prefix.clone(),
                    p.objects.to_string(),
                    table::size(p.bytes),
                    usd(p.usd_per_month),
                    format!("${:.4}", p.usd_per_day),
                ]
            })
            .collect();
        rows.push(vec![
            "all".into(),
            String::new(),
            table::size(storage.bytes),
            usd(storage.usd_per_month),
            format!("${:.4}", storage.usd_per_day),
        ]);
        out.push_str(&render(
            &["PREFIX", "OBJECTS", "SIZE", "MONTH", "DAY"],
            &rows,
        ));
    }

    for idle in &summary.idle_endpoints {
        out.push_str(&format!(
            "\nidle: {} has had no invocation for {} h ({} a day); delete it with: {}",
            idle.endpoint,
            idle.idle_hours,
            amount(idle.usd_per_day),
            idle.delete_command
        ));
    }
    for job in &summary.long_running_jobs {
        out.push_str(&format!(
            "\nlong: {} has run {} (expected {}), {} so far",
            job.job_name,
            table::duration(job.running_seconds as i64),
            table::duration(job.expected_seconds as i64),
            amount(job.usd_so_far)
        ));
    }
    if !summary.unknown.is_empty() {
        out.push_str(&format!(
            "\nnot priced (unknown instance types; add them to [costs.prices]): {}",
            summary.unknown.join(", ")
        ));
    }
    for bad in &summary.unreadable {
        out.push_str(&format!("\nunreadable ledger object: {bad}"));
    }
    if !(summary.idle_endpoints.is_empty()
        && summary.long_running_jobs.is_empty()
        && summary.unknown.is_empty()
        && summary.unreadable.is_empty())
    {
        out.push('\n');
    }
    if alerts.is_empty() {
        out.push_str("\nThe scheduled run would raise no alert.\n");
    } else {
        out.push_str("\nThe scheduled run would alert (nothing is sent from here):\n");
        for alert in alerts {
            out.push_str(&format!(
                "  [{}] {}\n",
                alert.severity.as_str(),
                alert.subject
            ));
        }
    }
    out
}

pub async fn run(cloud: &Cloud, days: usize, json: bool) -> Result<()> {
    let outputs = cloud.outputs().await?;
    let budgets =
        budgets(&cloud.config.costs, |name| std::env::var(name).ok()).map_err(|e| anyhow!(e))?;
    let prices = PriceTable::bundled()
        .map_err(|e| anyhow!("the bundled price table does not parse: {e}"))?
        .with_overrides(&cloud.config.costs.prices);
    let store = Arc::new(S3Store::from_config(&cloud.sdk, &outputs.bucket));
    let metrics = CloudWatchMetrics::from_config(&cloud.sdk);
    let now = now();
    let mut summary = summarize(&store, &metrics, &prices, &budgets, &cloud.region, now)
        .await
        .map_err(|e| errors::store(&e, &cloud.region))?;
    // The bucket as it is now, priced as the scheduled run prices what its sweep leaves (nothing
    // is deleted from here).
    let listing = store
        .list_sized("")
        .await
        .map_err(|e| errors::store(&e, &cloud.region))?;
    summary.storage = Some(hawkins::storage::cost(
        &listing,
        &[],
        cloud.config.storage.usd_per_gb_month,
        hawkins::time::Date::of(now).days_in_month(),
    ));
    if json {
        print!(
            "{}",
            String::from_utf8_lossy(&report::report_json(&summary, &prices))
        );
        return Ok(());
    }
    let url = format!(
        "s3://{}/{}",
        outputs.bucket,
        report::report_key(&summary.date, "html")
    );
    let alerts = alerts::decide(&summary, &budgets, &url);
    print!(
        "{}",
        render_text(&summary, &budgets, &prices, days, &alerts)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hawkins::costs::{CostRun, MemMetrics, handle_schedule};
    use hawkins::store::{AlertLog, MemStore};
    use serde_json::json;

    fn at() -> i64 {
        parse_rfc3339("2026-11-10T12:00:00Z").expect("time")
    }

    fn ledger(store: &MemStore) {
        let job = json!({"job_name": "chatbot-eleven-v1", "model": "chatbot-eleven", "kind": "chatbot",
            "corpus_version": "v1", "instance_type": "ml.g5.2xlarge", "instance_count": 1, "spot": true,
            "training_seconds": 7200, "billable_seconds": 2160, "status": "Completed",
            "started_at": "2026-11-09T08:00:00Z", "ended_at": "2026-11-09T10:00:00Z",
            "expected_seconds": 10800, "region": "us-east-1"});
        store.insert(
            "ledger/training/chatbot-eleven-v1.json",
            job.to_string().as_bytes(),
        );
        let endpoint = json!({"endpoint": "hawkins-chatbot-eleven", "model": "chatbot-eleven", "history": [
            {"at": "2026-11-08T00:00:00Z", "status": "InService", "variants": [
                {"name": "primary", "instance_type": "ml.g5.xlarge", "instance_count": 1, "serverless": null}]}]});
        store.insert(
            "ledger/endpoints/hawkins-chatbot-eleven.json",
            endpoint.to_string().as_bytes(),
        );
        store.insert("ledger/training/broken.json", b"{not json");
        store.insert(
            "reports/costs/2026-11-09.json",
            br#"{"generated_at":"2026-11-09T12:00:00Z"}"#,
        );
    }

    fn budgets() -> Budgets {
        Budgets {
            daily_usd: Some(1.0),
            monthly_usd: Some(1000.0),
            idle_hours: 24,
        }
    }

    #[tokio::test]
    async fn the_figures_are_the_scheduled_runs() {
        let prices = PriceTable::bundled().expect("the bundled table parses");
        let metrics = MemMetrics::default();
        // The scheduled run, on its own copy of the ledger: it stores its report.
        let scheduled = MemStore::new();
        ledger(&scheduled);
        let notifier = AlertLog::default();
        let run = CostRun {
            store: &scheduled,
            notifier: &notifier,
            metrics: &metrics,
            prices: &prices,
            budgets: budgets(),
            region: "us-east-1".into(),
            location: "s3://b".into(),
        };
        let outcome = handle_schedule(&run, at())
            .await
            .expect("the scheduled run");
        let stored = scheduled.snapshot()[&outcome.report_key].clone();

        let store = Arc::new(MemStore::new());
        ledger(&store);
        let summary = summarize(&store, &metrics, &prices, &budgets(), "us-east-1", at())
            .await
            .expect("summary");
        assert_eq!(report::report_json(&summary, &prices), stored);
        assert_eq!(store.puts(), 0, "nothing is written");
        assert_eq!(summary.unreadable.len(), 1);
        assert!(summary.month_to_date_usd > 0.0);

        let alerts = alerts::decide(&summary, &budgets(), "s3://b/r.html");
        let sent: Vec<String> = notifier.alerts().into_iter().map(|a| a.id).collect();
        let listed: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
        assert_eq!(listed, sent, "the same alerts are listed as the run sends");
        let text = render_text(&summary, &budgets(), &prices, 3, &alerts);
        assert!(text.contains("By day, the last 3 of the month"), "{text}");
        assert!(text.contains("2026-11-10"), "{text}");
        assert!(!text.contains("2026-11-07"), "{text}");
        assert!(text.contains("daily budget $1.00: OVER"), "{text}");
        assert!(text.contains("chatbot-eleven"), "{text}");
        assert!(
            text.contains("unreadable ledger object: ledger/training/broken.json"),
            "{text}"
        );
        assert!(
            text.contains("The scheduled run would alert (nothing is sent from here):"),
            "{text}"
        );

        let mut with_storage = summary.clone();
        let listing = hawkins::storage::Inventory::list_sized(store.as_ref(), "")
            .await
            .expect("listed");
        with_storage.storage = Some(hawkins::storage::cost(&listing, &[], 0.023, 30));
        let text = render_text(&with_storage, &budgets(), &prices, 3, &alerts);
        assert!(
            text.contains(
                "Storage in the bucket (S3 Standard at $0.023/GB-month; not in the totals)"
            ),
            "{text}"
        );
        assert!(text.contains("\nother    "), "{text}");
    }
}
