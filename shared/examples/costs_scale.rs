//! How the cost run scales: a ledger of N jobs (default 10,000) and 200 endpoints in memory, with
//! a month of hourly metrics, through the real handler. Prints the handler's time and the
//! process' peak resident memory before and after the run (Linux: `VmHWM` in /proc/self/status).
//!
//! ```sh
//! cargo run --release -p hawkins-shared --example costs_scale -- 1000
//! bash shared/benches/costs_scale.sh     # 1,000 and 10,000 jobs, and the ratios
//! ```

use std::time::Instant;

use hawkins::costs::{Bucket, Budgets, CostRun, MemMetrics, PriceTable, handle_schedule};
use hawkins::store::{AlertLog, MemStore};
use hawkins::time::{DAY, HOUR, format_rfc3339, parse_rfc3339};
use serde_json::json;

const ENDPOINTS: usize = 200;
const TYPES: [&str; 6] = [
    "ml.g5.2xlarge",
    "ml.m5.large",
    "ml.g4dn.xlarge",
    "ml.p3.2xlarge",
    "ml.c5.xlarge",
    "ml.g6.xlarge",
];

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let jobs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let now = parse_rfc3339("2026-11-27T06:00:00Z").expect("time");
    let month_start = parse_rfc3339("2026-11-01T00:00:00Z").expect("time");
    let store = MemStore::new();
    for i in 0..jobs {
        let end = month_start - 5 * DAY + (i as i64 * 997) % (32 * DAY);
        let job = json!({
            "job_name": format!("model-{}-{i:06}", i % 12), "model": format!("model-{}", i % 12),
            "kind": "chatbot", "corpus_version": format!("v{}", i % 40),
            "instance_type": TYPES[i % TYPES.len()], "instance_count": 1 + i % 3, "spot": i % 2 == 0,
            "training_seconds": 3600 + i % 1800, "billable_seconds": 1200 + i % 1800, "status": "Completed",
            "started_at": format_rfc3339(end - 3600), "ended_at": format_rfc3339(end),
            "expected_seconds": 7200, "region": "us-east-1", "metrics": {"eval_loss": 0.5}
        });
        let prefix = if i % 10 == 0 {
            "transforms"
        } else {
            "training"
        };
        store.insert(
            &format!("ledger/{prefix}/job-{i:06}.json"),
            job.to_string().as_bytes(),
        );
    }
    let mut metrics = MemMetrics::default();
    for e in 0..ENDPOINTS {
        let name = format!("hawkins-endpoint-{e:03}");
        let created = month_start - 3 * DAY + e as i64 * HOUR;
        let mut history = vec![json!({"at": format_rfc3339(created), "status": "InService",
            "variants": [{"name": "AllTraffic", "instance_type": TYPES[e % TYPES.len()], "instance_count": 1, "serverless": null}]})];
        if e % 4 == 0 {
            history.push(json!({"at": format_rfc3339(created + 10 * DAY), "status": "InService",
                "variants": [{"name": "AllTraffic", "instance_type": TYPES[e % TYPES.len()], "instance_count": 2, "serverless": null}]}));
        }
        if e % 7 == 0 {
            history.push(
                json!({"at": format_rfc3339(created + 20 * DAY), "status": "Deleted", "variants": []}),
            );
        }
        let record =
            json!({"endpoint": name, "model": format!("model-{}", e % 12), "history": history});
        store.insert(
            &format!("ledger/endpoints/{name}.json"),
            record.to_string().as_bytes(),
        );
        let buckets = (0..((now - month_start) / HOUR + 48))
            .map(|h| Bucket {
                start: month_start - 48 * HOUR + h * HOUR,
                invocations: if e % 5 == 0 { 0.0 } else { 10.0 },
                latency_seconds: 0.0,
            })
            .collect();
        metrics
            .usage
            .insert((name, "AllTraffic".to_string()), buckets);
    }
    let prices = PriceTable::bundled().expect("prices");
    let log = AlertLog::default();
    let run = CostRun {
        store: &store,
        notifier: &log,
        metrics: &metrics,
        prices: &prices,
        budgets: Budgets {
            daily_usd: Some(100.0),
            monthly_usd: Some(1000.0),
            idle_hours: 24,
        },
        region: "us-east-1".into(),
        location: "s3://bench".into(),
    };
    let before = peak_kib();
    let started = Instant::now();
    let outcome = handle_schedule(&run, now).await.expect("runs");
    let elapsed = started.elapsed();
    let after = peak_kib();
    println!(
        "jobs={jobs} endpoints={ENDPOINTS} handler_ms={:.1} peak_rss_before_kib={before} peak_rss_after_kib={after} handler_peak_growth_kib={} alerts={} month_to_date_usd={:.2}",
        elapsed.as_secs_f64() * 1000.0,
        after.saturating_sub(before),
        outcome.alerts_sent.len(),
        outcome.month_to_date_usd
    );
}
