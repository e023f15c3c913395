//! The arithmetic on hand-computed cases, the alert decisions, and the handler over memory.
//! Prices are the bundled table's us-east-1 column: ml.g5.2xlarge 1.515, ml.m5.large 0.115,
//! ml.p4d.24xlarge 37.69 dollars per hour.

use super::compute::{self, Bucket, CostKind, Inputs, Usage};
use super::*;
use crate::ledger::{EndpointRecord, JobRecord};
use crate::store::{AlertLog, MemStore};
use crate::time::parse_rfc3339;

const REGION: &str = "us-east-1";

fn t(text: &str) -> i64 {
    parse_rfc3339(text).unwrap_or_else(|| panic!("bad time {text}"))
}

fn prices() -> PriceTable {
    PriceTable::bundled().expect("bundled prices")
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} != {expected} (hand-computed)"
    );
}

fn job(json: serde_json::Value) -> JobRecord {
    serde_json::from_value(json).expect("job record")
}

fn endpoint(json: serde_json::Value) -> EndpointRecord {
    serde_json::from_value(json).expect("endpoint record")
}

fn instances(name: &str, instance_type: &str, count: u32) -> serde_json::Value {
    serde_json::json!({"name": name, "instance_type": instance_type, "instance_count": count, "serverless": null})
}

fn inputs<'a>(
    training: &'a [JobRecord],
    endpoints: &'a [EndpointRecord],
    usage: &'a Usage,
    prices: &'a PriceTable,
) -> Inputs<'a> {
    Inputs {
        training,
        transforms: &[],
        endpoints,
        usage,
        prices,
        region: REGION,
        idle_hours: 24,
        previous_report_at: None,
    }
}

#[test]
fn spot_bills_billable_seconds_and_shows_the_saving() {
    let j = job(serde_json::json!({
        "job_name": "chatbot-eleven-abc", "instance_type": "ml.g5.2xlarge", "instance_count": 1,
        "spot": true, "training_seconds": 7200, "billable_seconds": 2160, "status": "Completed"
    }));
    let cost = compute::job_cost(&j, prices().training(REGION, "ml.g5.2xlarge"), 0);
    // 2160 s = 0.6 h × 1 × 1.515 = 0.909; saved (7200 − 2160) s = 1.4 h × 1.515 = 2.121.
    close(cost.usd.expect("priced"), 0.909);
    close(cost.spot_saving_usd.expect("priced"), 2.121);
}

#[test]
fn several_instances_multiply() {
    let j = job(serde_json::json!({
        "job_name": "big", "instance_type": "ml.p4d.24xlarge", "instance_count": 4,
        "training_seconds": 1800, "billable_seconds": 1800, "status": "Completed"
    }));
    let cost = compute::job_cost(&j, prices().training(REGION, "ml.p4d.24xlarge"), 0);
    // 0.5 h × 4 × 37.69 = 75.38; on demand, nothing saved.
    close(cost.usd.expect("priced"), 75.38);
    close(cost.spot_saving_usd.expect("priced"), 0.0);
}

#[test]
fn a_running_job_is_costed_up_to_now() {
    let j = job(serde_json::json!({
        "job_name": "running", "instance_type": "ml.m5.large", "status": "InProgress",
        "started_at": "2026-11-10T10:00:00Z"
    }));
    let cost = compute::job_cost(&j, Some(0.115), t("2026-11-10T12:00:00Z"));
    // 2 h × 0.115 = 0.23.
    assert_eq!(cost.billable_seconds, 7200);
    close(cost.usd.expect("priced"), 0.23);
}

#[test]
fn an_unknown_instance_type_is_unknown_not_free() {
    let j = job(serde_json::json!({
        "job_name": "mystery", "model": "m", "instance_type": "ml.z9.huge", "billable_seconds": 3600,
        "status": "Completed", "ended_at": "2026-11-10T11:00:00Z"
    }));
    let table = prices();
    let usage = Usage::new();
    let jobs = [j];
    let summary = compute::summarize(
        &inputs(&jobs, &[], &usage, &table),
        t("2026-11-10T12:00:00Z"),
    );
    assert_eq!(summary.lines[0].month_usd, None);
    assert_eq!(summary.unknown, vec!["mystery (ml.z9.huge)".to_string()]);
    close(summary.month_to_date_usd, 0.0);
}

#[test]
fn an_endpoint_updated_mid_day_bills_each_configuration_for_its_hours() {
    let ep = endpoint(
        serde_json::json!({"endpoint": "e", "model": "m", "history": [
            {"at": "2026-11-10T00:00:00Z", "status": "InService", "variants": [instances("v", "ml.g5.2xlarge", 1)]},
            {"at": "2026-11-10T12:00:00Z", "status": "Updating", "variants": [instances("v", "ml.g5.2xlarge", 2)]},
            {"at": "2026-11-10T12:10:00Z", "status": "InService", "variants": [instances("v", "ml.g5.2xlarge", 2)]}
        ]}),
    );
    let (usd, unknown) = compute::endpoint_cost(
        &ep,
        &prices(),
        REGION,
        t("2026-11-10T00:00:00Z"),
        t("2026-11-11T00:00:00Z"),
    );
    // 12 h × 1 × 1.515 = 18.18, then 12 h × 2 × 1.515 = 36.36: 54.54.
    close(usd, 54.54);
    assert!(unknown.is_empty());
}

#[test]
fn a_deleted_endpoint_bills_to_the_second_and_nothing_after() {
    let ep = endpoint(serde_json::json!({"endpoint": "e", "history": [
        {"at": "2026-11-10T00:00:00Z", "status": "InService", "variants": [instances("v", "ml.m5.large", 1)]},
        {"at": "2026-11-10T06:30:18Z", "status": "Deleted", "variants": []}
    ]}));
    let table = prices();
    let day = |from: &str, to: &str| compute::endpoint_cost(&ep, &table, REGION, t(from), t(to)).0;
    // 6 h 30 min 18 s = 6.505 h × 0.115 = 0.748075.
    close(
        day("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z"),
        0.748075,
    );
    close(day("2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z"), 0.0);
}

#[test]
fn month_boundaries_split_an_endpoint_and_the_forecast_uses_the_new_month() {
    let ep = endpoint(
        serde_json::json!({"endpoint": "e", "model": "m", "history": [
            {"at": "2026-10-31T12:00:00Z", "status": "InService", "variants": [instances("v", "ml.m5.large", 1)]},
            {"at": "2026-11-01T12:00:00Z", "status": "Deleted"}
        ]}),
    );
    let late = job(serde_json::json!({
        "job_name": "october", "model": "m", "instance_type": "ml.m5.large", "billable_seconds": 3600,
        "status": "Completed", "ended_at": "2026-10-31T23:30:00Z"
    }));
    let table = prices();
    let usage = Usage::new();
    let jobs = [late];
    let endpoints = [ep];
    let summary = compute::summarize(
        &inputs(&jobs, &endpoints, &usage, &table),
        t("2026-11-01T18:00:00Z"),
    );
    // November: the endpoint's 12 h × 0.115 = 1.38; the job ended in October.
    close(summary.month_to_date_usd, 1.38);
    assert_eq!(summary.days.len(), 1);
    close(summary.days["2026-11-01"]["m"], 1.38);
    // Last 24 h (Oct 31 18:00 → Nov 1 18:00): endpoint 18 h × 0.115 = 2.07, job 0.115: 2.185.
    close(summary.last_24h_usd, 2.185);
    // Forecast: 1.38 over 0.75 days × 30 days = 55.2.
    close(summary.forecast_usd, 55.2);
    assert_eq!(summary.days_in_month, 30);
}

#[test]
fn a_leap_day_is_a_day_of_a_29_day_month() {
    let ep = endpoint(
        serde_json::json!({"endpoint": "e", "model": "m", "history": [
            {"at": "2028-02-28T00:00:00Z", "status": "InService", "variants": [instances("v", "ml.m5.large", 2)]}
        ]}),
    );
    let table = prices();
    let usage = Usage::new();
    let endpoints = [ep];
    let summary = compute::summarize(
        &inputs(&[], &endpoints, &usage, &table),
        t("2028-02-29T12:00:00Z"),
    );
    // Feb 28: 24 h × 2 × 0.115 = 5.52; Feb 29 to noon: 12 h × 2 × 0.115 = 2.76.
    close(summary.days["2028-02-28"]["m"], 5.52);
    close(summary.days["2028-02-29"]["m"], 2.76);
    close(summary.month_to_date_usd, 8.28);
    assert_eq!(summary.days_in_month, 29);
    // 8.28 over 28.5 days × 29 days = 8.425263157894737.
    close(summary.forecast_usd, 8.28 / 28.5 * 29.0);
    // 90 dollars by the 10th: 90 / 9 × 29 = 290 in a leap February, 280 in a common one.
    close(compute::forecast(90.0, t("2028-02-10T00:00:00Z")), 290.0);
    close(compute::forecast(90.0, t("2027-02-10T00:00:00Z")), 280.0);
}

#[test]
fn serverless_bills_memory_times_inference_seconds() {
    let ep = endpoint(serde_json::json!({"endpoint": "s", "history": [
        {"at": "2026-11-10T00:00:00Z", "status": "InService",
         "variants": [{"name": "v", "serverless": {"memory_mb": 4096, "max_concurrency": 5}}]}
    ]}));
    let mut usage = Usage::new();
    usage.insert(
        ("s".into(), "v".into()),
        vec![Bucket {
            start: t("2026-11-10T03:00:00Z"),
            invocations: 1000.0,
            latency_seconds: 500.0,
        }],
    );
    let start = t("2026-11-10T00:00:00Z");
    // 4 GB × 500 s × 0.00002 $/GB-s = 0.04; no instance cost.
    close(
        compute::serverless_cost(&ep, &usage, 0.00002, start, start + DAY),
        0.04,
    );
    close(
        compute::endpoint_cost(&ep, &prices(), REGION, start, start + DAY).0,
        0.0,
    );
}

fn two_endpoints() -> (Vec<EndpointRecord>, Usage) {
    let idle = endpoint(
        serde_json::json!({"endpoint": "hawkins-chatbot-eleven", "model": "chatbot-eleven", "history": [
            {"at": "2026-11-08T00:00:00Z", "status": "InService", "variants": [instances("AllTraffic", "ml.g5.2xlarge", 1)]}
        ]}),
    );
    let busy = endpoint(
        serde_json::json!({"endpoint": "hawkins-location", "model": "location", "history": [
            {"at": "2026-11-08T00:00:00Z", "status": "InService", "variants": [instances("AllTraffic", "ml.m5.large", 1)]}
        ]}),
    );
    let fresh = endpoint(
        serde_json::json!({"endpoint": "hawkins-new", "model": "new", "history": [
            {"at": "2026-11-10T10:00:00Z", "status": "InService", "variants": [instances("AllTraffic", "ml.m5.large", 1)]}
        ]}),
    );
    let mut usage = Usage::new();
    let hours: Vec<i64> = (0..48)
        .map(|h| t("2026-11-08T12:00:00Z") + h * HOUR)
        .collect();
    let bucket = |start, invocations| Bucket {
        start,
        invocations,
        latency_seconds: 0.0,
    };
    usage.insert(
        ("hawkins-chatbot-eleven".into(), "AllTraffic".into()),
        hours.iter().map(|h| bucket(*h, 0.0)).collect(),
    );
    usage.insert(
        ("hawkins-location".into(), "AllTraffic".into()),
        hours.iter().map(|h| bucket(*h, 3.0)).collect(),
    );
    (vec![idle, busy, fresh], usage)
}

#[test]
fn an_endpoint_without_invocations_for_the_idle_window_is_idle() {
    let (endpoints, usage) = two_endpoints();
    let table = prices();
    let summary = compute::summarize(
        &inputs(&[], &endpoints, &usage, &table),
        t("2026-11-10T12:00:00Z"),
    );
    assert_eq!(
        summary.idle_endpoints.len(),
        1,
        "{:?}",
        summary.idle_endpoints
    );
    let idle = &summary.idle_endpoints[0];
    assert_eq!(idle.endpoint, "hawkins-chatbot-eleven");
    // 24 h × 1.515 = 36.36 a day.
    close(idle.usd_per_day.expect("priced"), 36.36);
    assert_eq!(
        idle.delete_command,
        "aws sagemaker delete-endpoint --endpoint-name hawkins-chatbot-eleven"
    );
}

#[test]
fn aggregates_are_per_model_corpus_version_and_kind() {
    let jobs = [
        job(
            serde_json::json!({"job_name": "a-v1", "model": "a", "corpus_version": "v1", "instance_type": "ml.m5.large",
            "billable_seconds": 3600, "status": "Completed", "ended_at": "2026-11-09T10:00:00Z"}),
        ),
        job(
            serde_json::json!({"job_name": "a-v2", "model": "a", "corpus_version": "v2", "instance_type": "ml.m5.large",
            "billable_seconds": 7200, "status": "Completed", "ended_at": "2026-11-10T10:00:00Z"}),
        ),
    ];
    let table = prices();
    let usage = Usage::new();
    let summary = compute::summarize(
        &inputs(&jobs, &[], &usage, &table),
        t("2026-11-10T12:00:00Z"),
    );
    // 1 h and 2 h at 0.115: 0.115 + 0.23 = 0.345.
    close(summary.by_model["a"], 0.345);
    close(summary.by_corpus_version["a/v1"], 0.115);
    close(summary.by_corpus_version["a/v2"], 0.23);
    close(summary.by_kind["training"], 0.345);
    close(summary.last_24h_usd, 0.23);
    // No previous report: every job is new; 0.345 in all.
    assert_eq!(summary.jobs_since_last_report, 2);
    close(summary.jobs_since_last_report_usd, 0.345);
    let later = Inputs {
        previous_report_at: Some(t("2026-11-10T00:00:00Z")),
        ..inputs(&jobs, &[], &usage, &table)
    };
    let summary = compute::summarize(&later, t("2026-11-10T12:00:00Z"));
    assert_eq!(summary.jobs_since_last_report, 1);
    close(summary.jobs_since_last_report_usd, 0.23);
    assert_eq!(summary.lines[0].kind, CostKind::Training);
    assert_eq!(summary.lines[0].name, "a-v2", "largest first");
}

#[test]
fn alerts_have_stable_ids_and_the_forecast_only_when_the_month_is_not_over_yet() {
    let (endpoints, usage) = two_endpoints();
    let table = prices();
    let running = [job(
        serde_json::json!({"job_name": "slow", "model": "chatbot-mike", "instance_type": "ml.m5.large",
        "status": "InProgress", "started_at": "2026-11-10T07:00:00Z", "expected_seconds": 3600}),
    )];
    let summary = compute::summarize(
        &inputs(&running, &endpoints, &usage, &table),
        t("2026-11-10T12:00:00Z"),
    );
    let budgets = Budgets {
        daily_usd: Some(1.0),
        monthly_usd: Some(summary.month_to_date_usd + 1.0),
        idle_hours: 24,
    };
    let alerts = alerts::decide(&summary, &budgets, "s3://b/reports/costs/2026-11-10.html");
    let ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "2026-11-10/budget-day",
            "2026-11-10/forecast",
            "2026-11-10/idle-hawkins-chatbot-eleven",
            "2026-11-10/long-job-slow"
        ]
    );
    let idle = &alerts[2];
    assert!(
        idle.body
            .contains("aws sagemaker delete-endpoint --endpoint-name hawkins-chatbot-eleven")
    );
    assert!(idle.body.contains("$36.36 per day"));
    assert_eq!(idle.attributes["model"], "chatbot-eleven");
    assert_eq!(idle.attributes["amount"], "36.36");
    assert!(alerts.iter().all(|a| a.subject.chars().count() <= 100));
    let over = Budgets {
        monthly_usd: Some(summary.month_to_date_usd / 2.0),
        ..budgets
    };
    let ids: Vec<String> = alerts::decide(&summary, &over, "x")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(ids.contains(&"2026-11-10/budget-month".to_string()));
    assert!(!ids.contains(&"2026-11-10/forecast".to_string()));
}

#[test]
fn metrics_lines_are_embedded_metric_format() {
    let (endpoints, usage) = two_endpoints();
    let table = prices();
    let now = t("2026-11-10T12:00:00Z");
    let summary = compute::summarize(&inputs(&[], &endpoints, &usage, &table), now);
    let lines = report::emf_lines(&summary, now * 1000);
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    let directive = &first["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Hawkins/Costs");
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["model", "kind", "endpoint"]])
    );
    assert_eq!(first["_aws"]["Timestamp"], now * 1000);
    assert_eq!(first["kind"], "hosting");
    // hawkins-chatbot-eleven: Nov 8 00:00 → Nov 10 12:00 = 60 h × 1.515 = 90.9.
    assert_eq!(first["endpoint"], "hawkins-chatbot-eleven");
    close(first["CostMonthToDateUSD"].as_f64().expect("number"), 90.9);
}

#[test]
fn the_page_escapes_names_and_loads_nothing() {
    let ep = endpoint(
        serde_json::json!({"endpoint": "e<script>alert(1)</script>", "model": "<b>\"m\"</b>", "history": [
            {"at": "2026-11-08T00:00:00Z", "status": "InService", "variants": [instances("v", "ml.m5.large", 1)]}
        ]}),
    );
    let table = prices();
    let usage = Usage::new();
    let endpoints = [ep];
    let summary = compute::summarize(
        &inputs(&[], &endpoints, &usage, &table),
        t("2026-11-10T12:00:00Z"),
    );
    let html = report::report_html(&summary, &table);
    assert!(!html.contains("<script"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("e&lt;script&gt;"));
    assert!(html.contains("<svg"));
    assert!(!html.contains("src=") && !html.contains("href="));
}

#[test]
fn budgets_come_from_the_config_unless_the_environment_sets_them() {
    let costs = crate::config::Costs {
        daily_usd: Some(10.0),
        monthly_usd: Some(100.0),
        idle_hours: 24,
        prices: BTreeMap::new(),
    };
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let b = budgets(
        &costs,
        env(&[
            ("HAWKINS_MONTHLY_BUDGET_USD", "250"),
            ("HAWKINS_DAILY_BUDGET_USD", ""),
        ]),
    )
    .expect("valid");
    assert_eq!(
        (b.daily_usd, b.monthly_usd, b.idle_hours),
        (Some(10.0), Some(250.0), 24)
    );
    assert!(budgets(&costs, env(&[("HAWKINS_DAILY_BUDGET_USD", "-3")])).is_err());
    assert!(budgets(&costs, env(&[("HAWKINS_IDLE_HOURS", "0")])).is_err());
    assert_eq!(
        budgets(&costs, env(&[("HAWKINS_IDLE_HOURS", "6")]))
            .expect("valid")
            .idle_hours,
        6
    );
}

#[test]
fn the_scheduled_time_is_the_events_time() {
    let text = include_str!("../../../events/schedule-costs.json");
    let event: serde_json::Value = serde_json::from_str(text).expect("sample is JSON");
    assert_eq!(scheduled_time(&event), Some(t("2026-11-27T06:00:00Z")));
}

#[tokio::test]
async fn a_rerun_on_the_same_day_alerts_nobody_again() {
    let store = MemStore::new();
    let (endpoints, usage) = two_endpoints();
    for ep in &endpoints {
        store.insert(
            &format!("ledger/endpoints/{}.json", ep.endpoint),
            &serde_json::to_vec(ep).expect("json"),
        );
    }
    store.insert("ledger/training/broken.json", b"{not json");
    let log = AlertLog::default();
    let metrics = MemMetrics { usage };
    let table = prices();
    let run = CostRun {
        store: &store,
        notifier: &log,
        metrics: &metrics,
        prices: &table,
        budgets: Budgets {
            daily_usd: Some(1.0),
            monthly_usd: None,
            idle_hours: 24,
        },
        region: REGION.into(),
        location: "s3://bucket".into(),
    };
    let now = t("2026-11-10T12:00:00Z");
    let first = handle_schedule(&run, now).await.expect("runs");
    assert_eq!(
        first.alerts_sent,
        [
            "2026-11-10/budget-day",
            "2026-11-10/idle-hawkins-chatbot-eleven"
        ]
    );
    assert_eq!(first.unreadable.len(), 1);
    assert!(
        store
            .snapshot()
            .contains_key("reports/costs/2026-11-10.json")
    );
    assert!(
        store
            .snapshot()
            .contains_key("reports/costs/2026-11-10.html")
    );
    assert!(
        store
            .snapshot()
            .contains_key("alerts/sent/2026-11-10/budget-day.json")
    );
    let again = handle_schedule(&run, now + 600).await.expect("runs");
    assert!(again.alerts_sent.is_empty());
    assert_eq!(again.alerts_already_sent.len(), 2);
    assert_eq!(log.alerts().len(), 2);
    // The next day's run knows when the previous report was made.
    let next = handle_schedule(&run, now + DAY).await.expect("runs");
    let report: serde_json::Value =
        serde_json::from_slice(&store.snapshot()[&next.report_key]).expect("json");
    assert_eq!(report["previous_report_at"], "2026-11-10T12:10:00Z");
    assert_eq!(report["jobs_since_last_report"], 0);
    assert_eq!(report["prices"]["as_of"], table.as_of.as_str());
}

#[tokio::test]
async fn concurrent_reads_keep_the_order_of_the_keys() {
    let store = MemStore::new();
    for i in 0..100 {
        let job =
            serde_json::json!({"job_name": format!("job-{i:03}"), "instance_type": "ml.m5.large"});
        store.insert(
            &format!("ledger/training/job-{i:03}.json"),
            job.to_string().as_bytes(),
        );
    }
    store.insert("ledger/training/notes.txt", b"not a record");
    let mut unreadable = Vec::new();
    let jobs: Vec<JobRecord> = read_all(&store, ledger::TRAINING_PREFIX, &mut unreadable)
        .await
        .expect("reads");
    let names: Vec<String> = jobs.into_iter().map(|j| j.job_name).collect();
    let expected: Vec<String> = (0..100).map(|i| format!("job-{i:03}")).collect();
    assert_eq!(names, expected);
    assert!(unreadable.is_empty());
}

#[test]
fn deleted_endpoints_are_not_measured() {
    let record: EndpointRecord = serde_json::from_value(serde_json::json!({"endpoint": "e", "history": [
        {"at": "2026-11-01T00:00:00Z", "status": "InService", "variants": [{"name": "a", "instance_type": "ml.m5.large"}]},
        {"at": "2026-11-02T00:00:00Z", "status": "Deleted"}]}))
    .expect("record");
    let deleted = crate::time::parse_rfc3339("2026-11-02T00:00:00Z").expect("time");
    assert!(super::variants_to_read(&record, deleted + 1).is_empty());
    assert_eq!(
        super::variants_to_read(&record, deleted - 1),
        vec![("a".to_string(), false)]
    );
}

/// An ml.m5.large job record (0.115 $/h) at `key`: running from `started`, or ended at `ended`
/// after `billable` seconds.
fn put_job(store: &MemStore, key: &str, started: &str, ended: Option<(&str, u64)>) {
    let name = key
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".json"))
        .expect("a job key");
    let mut record = serde_json::json!({
        "job_name": name, "model": "m", "instance_type": "ml.m5.large", "status": "InProgress",
        "started_at": started, "created_at": started, "region": REGION
    });
    if let Some((end, billable)) = ended {
        record["status"] = "Completed".into();
        record["ended_at"] = end.into();
        record["billable_seconds"] = billable.into();
        record["training_seconds"] = billable.into();
    }
    store.insert(key, record.to_string().as_bytes());
}

fn line<'a>(summary: &'a Summary, name: &str) -> Option<&'a compute::CostLine> {
    summary.lines.iter().find(|l| l.name == name)
}

#[tokio::test]
async fn a_job_of_a_previous_year_is_not_read_by_todays_run() {
    let bucket = MemStore::new();
    let store = crate::fakes::Watched::new(&bucket);
    for (key, started, ended) in [
        (
            "ledger/training/2025-11/last-year.json",
            "2025-11-05T10:00:00Z",
            "2025-11-05T11:00:00Z",
        ),
        (
            "ledger/training/2026-06/june.json",
            "2026-06-05T10:00:00Z",
            "2026-06-05T11:00:00Z",
        ),
        (
            "ledger/training/2026-10/october.json",
            "2026-10-30T10:00:00Z",
            "2026-11-02T10:00:00Z",
        ),
        (
            "ledger/training/2026-11/november.json",
            "2026-11-05T10:00:00Z",
            "2026-11-05T11:00:00Z",
        ),
        (
            "ledger/transforms/2025-01/old-transform.json",
            "2025-01-05T10:00:00Z",
            "2025-01-05T11:00:00Z",
        ),
        (
            "ledger/transforms/2026-11/transform.json",
            "2026-11-06T10:00:00Z",
            "2026-11-06T11:00:00Z",
        ),
    ] {
        put_job(store.inner, key, started, Some((ended, 3600)));
    }
    let log = AlertLog::default();
    let metrics = MemMetrics::default();
    let table = prices();
    let run = CostRun {
        store: &store,
        notifier: &log,
        metrics: &metrics,
        prices: &table,
        budgets: Budgets {
            daily_usd: None,
            monthly_usd: None,
            idle_hours: 24,
        },
        region: REGION.into(),
        location: "s3://bucket".into(),
    };
    let outcome = handle_schedule(&run, t("2026-11-10T06:00:00Z"))
        .await
        .expect("runs");
    assert_eq!(
        store.reads_under("ledger/"),
        [
            "ledger/training/2026-10/october.json",
            "ledger/training/2026-11/november.json",
            "ledger/transforms/2026-11/transform.json",
        ],
        "only the months the window needs"
    );
    // What was listed: a prefix, or `direct <prefix>` for the listing without the partitions.
    let listed: Vec<String> = store
        .calls()
        .iter()
        .filter_map(|c| {
            c.strip_prefix("list ")
                .map(str::to_string)
                .or_else(|| c.starts_with("direct ").then(|| c.clone()))
        })
        .collect();
    for prefix in [
        "direct ledger/training/",
        "ledger/training/2026-10/",
        "ledger/training/2026-11/",
        "direct ledger/transforms/",
        "ledger/transforms/2026-10/",
        "ledger/transforms/2026-11/",
        "ledger/endpoints/",
    ] {
        assert!(listed.iter().any(|l| l == prefix), "{prefix}: {listed:?}");
    }
    assert!(
        !listed
            .iter()
            .any(|l| l == "ledger/training/" || l == "ledger/transforms/"),
        "no listing of every month: {listed:?}"
    );
    assert_eq!(outcome.jobs, 3);
    // Three hours of ml.m5.large, all ended in November: 3 × 0.115.
    close(outcome.month_to_date_usd, 0.345);

    // A year of history later (same layout, more months): the same reads.
    store.forget();
    for month in 1..=12 {
        put_job(
            store.inner,
            &format!("ledger/training/2025-{month:02}/history-{month}.json"),
            &format!("2025-{month:02}-10T10:00:00Z"),
            Some((&format!("2025-{month:02}-10T11:00:00Z"), 3600)),
        );
    }
    let again = handle_schedule(&run, t("2026-11-10T06:00:00Z"))
        .await
        .expect("runs");
    assert_eq!(store.reads_under("ledger/").len(), 3);
    close(again.month_to_date_usd, 0.345);
}

#[tokio::test]
async fn a_job_crossing_a_month_boundary_is_costed_in_both_months() {
    let bucket = MemStore::new();
    let store = crate::fakes::Watched::new(&bucket);
    let key = "ledger/training/2026-10/crossing.json";
    let table = prices();
    let metrics = MemMetrics::default();
    let budgets = Budgets {
        daily_usd: None,
        monthly_usd: None,
        idle_hours: 24,
    };
    let summary_at = |now: i64| {
        let (store, metrics, table, budgets) = (&store, &metrics, &table, &budgets);
        async move {
            summarize(store, metrics, table, budgets, REGION, now)
                .await
                .expect("runs")
                .0
        }
    };
    // Created and started in October, running at October's last run: 3 h × 0.115 in October.
    put_job(store.inner, key, "2026-10-31T20:00:00Z", None);
    let october = summary_at(t("2026-10-31T23:00:00Z")).await;
    assert_eq!(october.month, "2026-10");
    close(
        line(&october, "crossing")
            .and_then(|l| l.month_usd)
            .expect("costed in October"),
        0.345,
    );
    close(october.days["2026-10-31"]["m"], 0.345);
    // It ended in November after 8 h: November's runs read October's partition and cost it.
    put_job(
        store.inner,
        key,
        "2026-10-31T20:00:00Z",
        Some(("2026-11-01T04:00:00Z", 8 * 3600)),
    );
    for now in ["2026-11-01T06:00:00Z", "2026-11-20T06:00:00Z"] {
        let november = summary_at(t(now)).await;
        assert_eq!(november.month, "2026-11");
        close(
            line(&november, "crossing")
                .and_then(|l| l.month_usd)
                .expect("costed in November"),
            0.92,
        );
        close(november.days["2026-11-01"]["m"], 0.92);
        close(november.month_to_date_usd, 0.92);
    }
    // A job of 28 days of run time created in October and ended on November 27th is read too.
    put_job(
        store.inner,
        "ledger/training/2026-10/long.json",
        "2026-10-30T00:00:00Z",
        Some(("2026-11-27T00:00:00Z", 28 * 24 * 3600)),
    );
    let late = summary_at(t("2026-11-28T06:00:00Z")).await;
    close(
        line(&late, "long")
            .and_then(|l| l.month_usd)
            .expect("costed in November"),
        28.0 * 24.0 * 0.115,
    );
    // December's run no longer reads October.
    store.forget();
    let december = summary_at(t("2026-12-10T06:00:00Z")).await;
    assert!(store.reads_under("ledger/training/2026-10/").is_empty());
    assert!(line(&december, "crossing").is_none());
}

#[tokio::test]
async fn an_old_flat_record_is_still_costed() {
    let store = MemStore::new();
    // Written before month partitions: training and transform records at the flat keys.
    put_job(
        &store,
        "ledger/training/legacy.json",
        "2026-11-05T10:00:00Z",
        Some(("2026-11-05T11:00:00Z", 3600)),
    );
    put_job(
        &store,
        "ledger/transforms/legacy-transform.json",
        "2026-11-06T10:00:00Z",
        Some(("2026-11-06T12:00:00Z", 7200)),
    );
    put_job(
        &store,
        "ledger/training/2026-11/partitioned.json",
        "2026-11-07T10:00:00Z",
        Some(("2026-11-07T11:00:00Z", 3600)),
    );
    // A job in flight at the upgrade recorded at both keys (the previous version wrote its start,
    // this one its end): counted once, as the record that wins, its completion.
    put_job(
        &store,
        "ledger/training/twice.json",
        "2026-11-08T10:00:00Z",
        None,
    );
    put_job(
        &store,
        "ledger/training/2026-11/twice.json",
        "2026-11-08T10:00:00Z",
        Some(("2026-11-08T14:00:00Z", 4 * 3600)),
    );
    let (summary, jobs, _) = summarize(
        &store,
        &MemMetrics::default(),
        &prices(),
        &Budgets {
            daily_usd: None,
            monthly_usd: None,
            idle_hours: 24,
        },
        REGION,
        t("2026-11-10T06:00:00Z"),
    )
    .await
    .expect("runs");
    assert_eq!(jobs, 4);
    close(
        line(&summary, "legacy")
            .and_then(|l| l.month_usd)
            .expect("costed"),
        0.115,
    );
    close(
        line(&summary, "legacy-transform")
            .and_then(|l| l.month_usd)
            .expect("costed"),
        0.23,
    );
    let twice: Vec<_> = summary.lines.iter().filter(|l| l.name == "twice").collect();
    assert_eq!(twice.len(), 1);
    close(twice[0].month_usd.expect("costed"), 0.46);
    assert!(summary.long_running_jobs.is_empty());
    // 1 + 2 + 1 + 4 hours × 0.115.
    close(summary.month_to_date_usd, 0.92);
}

#[tokio::test]
async fn a_previous_report_older_than_the_month_widens_the_window_to_it() {
    let bucket = MemStore::new();
    let store = crate::fakes::Watched::new(&bucket);
    store.inner.insert(
        "reports/costs/2026-08-15.json",
        br#"{"generated_at": "2026-08-15T06:00:00Z"}"#,
    );
    put_job(
        store.inner,
        "ledger/training/2026-09/september.json",
        "2026-09-10T10:00:00Z",
        Some(("2026-09-10T11:00:00Z", 3600)),
    );
    let (summary, _, _) = summarize(
        &store,
        &MemMetrics::default(),
        &prices(),
        &Budgets {
            daily_usd: None,
            monthly_usd: None,
            idle_hours: 24,
        },
        REGION,
        t("2026-11-10T06:00:00Z"),
    )
    .await
    .expect("runs");
    assert_eq!(summary.jobs_since_last_report, 1);
    close(summary.jobs_since_last_report_usd, 0.115);
    close(summary.month_to_date_usd, 0.0);
    assert!(
        store
            .calls()
            .iter()
            .any(|l| l == "list ledger/training/2026-07/")
    );
}
