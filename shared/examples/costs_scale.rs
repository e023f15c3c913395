//! How the cost run scales: a ledger of N jobs a month (default 10,000) over M months of history
//! (default 1) and 200 endpoints, with a month of hourly metrics, through the real handler. Prints
//! the handler's time, what it asked of the store (objects read, list requests, keys listed: S3's
//! GETs and LISTs) and the process' peak resident memory before and after the run (Linux: `VmHWM`
//! in /proc/self/status).
//!
//! The jobs are kept in month partitions (the ledger's layout), or with `flat` at the flat keys of
//! the layout before partitions, which the run reads whole. The store is an ordered map listed by
//! range, as S3 lists a prefix: a listing costs what it returns, not what the bucket holds.
//!
//! ```sh
//! cargo run --release -p hawkins-shared --example costs_scale -- 1000        # 1,000 jobs, 1 month
//! cargo run --release -p hawkins-shared --example costs_scale -- 10000 12    # a year of history
//! cargo run --release -p hawkins-shared --example costs_scale -- 10000 12 flat
//! bash shared/benches/costs_scale.sh     # 1,000 and 10,000 jobs; a year against a month
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hawkins::costs::{Bucket, Budgets, CostRun, MemMetrics, PriceTable, handle_schedule};
use hawkins::error::StoreError;
use hawkins::hash::sha256_hex;
use hawkins::ledger::{self, LedgerStore};
use hawkins::store::{AlertLog, Head, Object, ObjectStore};
use hawkins::time::{DAY, Date, HOUR, format_rfc3339, parse_rfc3339};
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

/// The bucket in memory, listed by key range like S3, counting what the run asks.
#[derive(Default)]
struct BenchBucket {
    objects: Mutex<BTreeMap<String, (Vec<u8>, String)>>,
    gets: AtomicU64,
    lists: AtomicU64,
    listed: AtomicU64,
}

impl BenchBucket {
    fn insert(&self, key: &str, bytes: Vec<u8>) {
        let sha = sha256_hex(&bytes);
        self.lock().insert(key.to_string(), (bytes, sha));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Vec<u8>, String)>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keys under `prefix`, from its place in the order on; one list request per 1,000 keys.
    fn range(&self, prefix: &str, direct: bool) -> Vec<String> {
        let objects = self.lock();
        let mut keys = Vec::new();
        let mut after: Option<String> = None;
        for key in objects
            .range(prefix.to_string()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
        {
            if direct {
                // S3 folds a sub-folder into one common prefix: skip past it.
                if let Some(folder) = &after
                    && key.starts_with(folder.as_str())
                {
                    continue;
                }
                if let Some(slash) = key[prefix.len()..].find('/') {
                    after = Some(key[..prefix.len() + slash + 1].to_string());
                    continue;
                }
            }
            keys.push(key.clone());
        }
        self.lists
            .fetch_add(1 + keys.len() as u64 / 1000, Ordering::Relaxed);
        self.listed.fetch_add(keys.len() as u64, Ordering::Relaxed);
        keys
    }
}

impl ObjectStore for BenchBucket {
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        Ok(self.lock().get(key).map(|(bytes, _)| Object {
            bytes: bytes.clone(),
            last_modified: None,
        }))
    }

    async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().get(key).map(|(_, sha)| sha.clone()))
    }

    async fn head(&self, key: &str) -> Result<Option<Head>, StoreError> {
        Ok(self.lock().get(key).map(|(bytes, sha)| Head {
            revision: sha.clone(),
            last_modified: None,
            size: Some(bytes.len() as u64),
        }))
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .insert(key.to_string(), (bytes, sha256.to_string()));
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.range(prefix, false))
    }
}

impl LedgerStore for BenchBucket {
    async fn list_direct(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.range(prefix, true))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let months: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let flat = args.next().is_some_and(|a| a == "flat");
    let now = parse_rfc3339("2026-11-27T06:00:00Z").expect("time");
    let month_start = parse_rfc3339("2026-11-01T00:00:00Z").expect("time");
    let store = BenchBucket::default();
    // `jobs` jobs a month, created across the month (this one up to now), each an hour or so; the
    // last ones of a month end in the next.
    let mut start = month_start;
    let mut end = now;
    for m in 0..months {
        let span = end - start;
        for i in 0..jobs {
            let created = start + (i as i64 * 997 * 61) % span;
            let ended = created + 300 + 3600 + (i as i64 % 7) * 600;
            let name = format!("model-{}-{m:02}-{i:06}", i % 12);
            let job = json!({
                "job_name": name, "model": format!("model-{}", i % 12),
                "kind": "chatbot", "corpus_version": format!("v{}", i % 40),
                "instance_type": TYPES[i % TYPES.len()], "instance_count": 1 + i % 3, "spot": i % 2 == 0,
                "training_seconds": 3600 + i % 1800, "billable_seconds": 1200 + i % 1800,
                "status": if ended <= now { "Completed" } else { "InProgress" },
                "started_at": format_rfc3339(created + 300),
                "ended_at": (ended <= now).then(|| format_rfc3339(ended)),
                "expected_seconds": 7200, "region": "us-east-1", "metrics": {"eval_loss": 0.5},
                "created_at": format_rfc3339(created)
            });
            let prefix = if i % 10 == 0 {
                ledger::TRANSFORMS_PREFIX
            } else {
                ledger::TRAINING_PREFIX
            };
            let key = if flat {
                ledger::flat_key(prefix, &name)
            } else {
                ledger::job_key(prefix, &name, created)
            };
            store.insert(&key, job.to_string().into_bytes());
        }
        end = start;
        start = Date::of(start - DAY).month_start();
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
            &format!("{}{name}.json", ledger::ENDPOINTS_PREFIX),
            record.to_string().into_bytes(),
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
    let stored = store.lock().len();
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
        "jobs={jobs} months={months} layout={} objects={stored} endpoints={ENDPOINTS} handler_ms={:.1} objects_read={} list_requests={} keys_listed={} jobs_costed={} peak_rss_before_kib={before} peak_rss_after_kib={after} handler_peak_growth_kib={} alerts={} month_to_date_usd={:.2}",
        if flat { "flat" } else { "month" },
        elapsed.as_secs_f64() * 1000.0,
        store.gets.load(Ordering::Relaxed),
        store.lists.load(Ordering::Relaxed),
        store.listed.load(Ordering::Relaxed),
        outcome.jobs,
        after.saturating_sub(before),
        outcome.alerts_sent.len(),
        outcome.month_to_date_usd
    );
}
