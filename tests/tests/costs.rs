//! Costs end to end on the local AWS: a ledger of jobs (in month partitions, at a flat key of the
//! layout before them, and a year old, which the run does not read) and two endpoints (one idle, its
//! `Invocations` zero for a day) and low budgets give a report in S3 (JSON, and an HTML page that
//! parses), one alert each for the daily budget, the month's forecast and the idle endpoint; a
//! second run the same day sends nothing.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use hawkins::aws::cloudwatch::CloudWatchMetrics;
use hawkins::costs::{Budgets, CostRun, PriceTable, handle_schedule};
use hawkins::time::{HOUR, parse_rfc3339};
use hawkins_localaws::LocalStack;
use hawkins_tests::{read, read_json, stack};
use serde_json::json;

const NOW: &str = "2026-11-10T12:00:00Z";

fn now() -> i64 {
    parse_rfc3339(NOW).expect("time")
}

async fn seed_ledger(stack: &LocalStack) {
    let jobs = [
        json!({"job_name": "chatbot-eleven-v1", "model": "chatbot-eleven", "kind": "chatbot", "corpus_version": "v1",
               "instance_type": "ml.g5.2xlarge", "instance_count": 1, "spot": true, "training_seconds": 7200,
               "billable_seconds": 2160, "status": "Completed", "started_at": "2026-11-09T08:00:00Z",
               "ended_at": "2026-11-09T10:00:00Z", "expected_seconds": 10800, "region": "us-east-1", "metrics": {"eval_loss": 1.2}}),
        json!({"job_name": "location-v1", "model": "location", "kind": "location", "corpus_version": "v1",
               "instance_type": "ml.m5.large", "instance_count": 2, "spot": false, "training_seconds": 3600,
               "billable_seconds": 3600, "status": "Completed", "started_at": "2026-11-10T07:00:00Z",
               "ended_at": "2026-11-10T08:00:00Z"}),
    ];
    // One in its month partition, one at the flat key of the layout before partitions (S3 lists
    // it with the delimiter, without the partitions below it).
    for (job, month) in jobs.into_iter().zip(["2026-11/", ""]) {
        let key = format!(
            "ledger/training/{month}{}.json",
            job["job_name"].as_str().expect("name")
        );
        stack
            .upload(&key, job.to_string().into_bytes())
            .await
            .expect("upload");
    }
    let transform = json!({"job_name": "themes-v1", "model": "themes", "kind": "themes", "corpus_version": "v1",
        "instance_type": "ml.m5.large", "billable_seconds": 1800, "training_seconds": 1800, "status": "Completed",
        "started_at": "2026-11-05T10:00:00Z", "ended_at": "2026-11-05T10:30:00Z"});
    stack
        .upload(
            "ledger/transforms/2026-11/themes-v1.json",
            transform.to_string().into_bytes(),
        )
        .await
        .expect("upload");
    // A year old: its month is not read, so it is neither counted nor listed in the report.
    let old = json!({"job_name": "chatbot-eleven-v0", "model": "chatbot-eleven", "instance_type": "ml.g5.2xlarge",
        "billable_seconds": 3600, "status": "Completed", "started_at": "2025-11-09T08:00:00Z",
        "ended_at": "2025-11-09T09:00:00Z"});
    stack
        .upload(
            "ledger/training/2025-11/chatbot-eleven-v0.json",
            old.to_string().into_bytes(),
        )
        .await
        .expect("upload");
    for (endpoint, model, instance_type) in [
        ("hawkins-chatbot-eleven", "chatbot-eleven", "ml.g5.2xlarge"),
        ("hawkins-location", "location", "ml.m5.large"),
    ] {
        let record = json!({"endpoint": endpoint, "model": model, "history": [
            {"at": "2026-11-08T00:00:00Z", "status": "Creating", "variants": [
                {"name": "AllTraffic", "instance_type": instance_type, "instance_count": 1, "serverless": null}]},
            {"at": "2026-11-08T00:05:00Z", "status": "InService", "variants": [
                {"name": "AllTraffic", "instance_type": instance_type, "instance_count": 1, "serverless": null}]}
        ]});
        stack
            .upload(
                &format!("ledger/endpoints/{endpoint}.json"),
                record.to_string().into_bytes(),
            )
            .await
            .expect("upload");
    }
}

/// A day of hourly `Invocations`: zero for the idle endpoint, five an hour for the other.
async fn seed_metrics(stack: &LocalStack) {
    let client = aws_sdk_cloudwatch::Client::new(&stack.config);
    for (endpoint, per_hour) in [("hawkins-chatbot-eleven", 0.0), ("hawkins-location", 5.0)] {
        let data: Vec<MetricDatum> = (1..=24)
            .map(|h| {
                MetricDatum::builder()
                    .metric_name("Invocations")
                    .dimensions(
                        Dimension::builder()
                            .name("EndpointName")
                            .value(endpoint)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name("VariantName")
                            .value("AllTraffic")
                            .build(),
                    )
                    .timestamp(DateTime::from_secs(now() - h * HOUR + 60))
                    .value(per_hour)
                    .unit(StandardUnit::Count)
                    .build()
            })
            .collect();
        client
            .put_metric_data()
            .namespace("AWS/SageMaker")
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("PutMetricData");
    }
}

/// Checks that the page is well formed: every element closed in order, nothing loaded from
/// elsewhere. Returns the text of the element with `id`.
fn parse_page(html: &str, id: &str) -> String {
    const VOID: [&str; 2] = ["meta", "!DOCTYPE"];
    let mut stack: Vec<String> = Vec::new();
    let mut found = String::new();
    let mut capture: Option<usize> = None;
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        if capture.is_some_and(|depth| stack.len() >= depth) {
            found.push_str(&rest[..open]);
        }
        let close = rest[open..].find('>').expect("every tag closes") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        assert!(
            !matches!(name.as_str(), "script" | "img" | "link" | "iframe"),
            "the page loads nothing: <{tag}>"
        );
        if VOID.contains(&name.as_str()) || tag.ends_with('/') {
            continue;
        }
        if tag.starts_with('/') {
            let top = stack.pop().expect("a closing tag has an opening one");
            assert_eq!(top, name, "elements close in order");
            if capture.is_some_and(|depth| stack.len() < depth) {
                capture = None;
            }
        } else {
            stack.push(name);
            if tag.contains(&format!("id=\"{id}\"")) {
                capture = Some(stack.len());
            }
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_costs_reports_once_and_alerts_once() {
    let stack = stack().await;
    seed_ledger(&stack).await;
    seed_metrics(&stack).await;
    let store = stack.store();
    let notifier = stack.notifier();
    let metrics = CloudWatchMetrics::from_config(&stack.config);
    let prices = PriceTable::bundled().expect("prices");
    // Month to date (hand-computed): eleven's endpoint 60 h × 1.515 = 90.9, location's
    // 60 h × 0.115 = 6.9, the spot job 0.6 h × 1.515 = 0.909, location's job 1 h × 2 × 0.115 =
    // 0.23, the transform 0.5 h × 0.115 = 0.0575: 98.9965 in 9.5 days, 312.62 forecast for 30.
    let run = CostRun {
        store: &store,
        notifier: &notifier,
        metrics: &metrics,
        prices: &prices,
        budgets: Budgets {
            daily_usd: Some(5.0),
            monthly_usd: Some(150.0),
            idle_hours: 24,
        },
        region: "us-east-1".into(),
        location: format!("s3://{}", stack.bucket),
    };

    let outcome = handle_schedule(&run, now())
        .await
        .expect("the run succeeds");
    assert_eq!(outcome.jobs, 3, "the year-old job's month is not read");
    assert_eq!(outcome.endpoints, 2);
    assert!(
        (outcome.month_to_date_usd - 98.9965).abs() < 1e-6,
        "{outcome:?}"
    );
    assert!((outcome.forecast_usd - 98.9965 / 9.5 * 30.0).abs() < 1e-6);

    let report = read_json(&stack, "reports/costs/2026-11-10.json").await;
    assert_eq!(report["date"], "2026-11-10");
    assert_eq!(report["prices"]["as_of"], prices.as_of.as_str());
    assert_eq!(
        report["idle_endpoints"][0]["endpoint"],
        "hawkins-chatbot-eleven"
    );
    assert!((report["spot_savings_month_usd"].as_f64().expect("number") - 2.121).abs() < 1e-9);
    let html = read(&stack, "reports/costs/2026-11-10.html")
        .await
        .expect("the page is there");
    let html = String::from_utf8(html).expect("utf-8");
    let totals = parse_page(&html, "totals");
    assert!(totals.contains("$99.00"), "{totals}");
    assert!(html.contains("<svg"));

    let delivered = stack.delivered().await.expect("inbox");
    let mut kinds: Vec<String> = delivered
        .iter()
        .map(|d| d.attributes.get("kind").cloned().unwrap_or_default())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["budget", "forecast", "idle_endpoint"],
        "{delivered:#?}"
    );
    let idle = delivered
        .iter()
        .find(|d| d.attributes.get("kind").map(String::as_str) == Some("idle_endpoint"))
        .expect("idle alert");
    assert!(
        idle.message
            .contains("aws sagemaker delete-endpoint --endpoint-name hawkins-chatbot-eleven"),
        "{}",
        idle.message
    );
    assert_eq!(idle.attributes["model"], "chatbot-eleven");
    assert_eq!(idle.attributes["amount"], "36.36");
    assert_eq!(idle.attributes["severity"], "warning");
    assert!(
        read(&stack, "alerts/sent/2026-11-10/forecast.json")
            .await
            .is_some()
    );

    let again = handle_schedule(&run, now() + HOUR)
        .await
        .expect("the rerun succeeds");
    assert!(again.alerts_sent.is_empty(), "{again:?}");
    assert_eq!(again.alerts_already_sent.len(), 3);
    assert!(stack.delivered().await.expect("inbox").is_empty());
}

/// The storage sweep on the local AWS: the registry's approved package keeps its training output
/// and its corpus version's datasets, `datasets/latest.json`'s version stays, `raw/` and the
/// ledger are never touched; the rest, past its retention, is deleted. The report prices what
/// stays, per prefix; a second sweep deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_sweep_deletes_only_what_expired_and_prices_the_rest() {
    use hawkins::aws::lifecycle::SageMakerLifecycle;
    use hawkins::storage::sweep;
    use hawkins::store::ObjectStore;

    let stack = stack().await;
    let manifest = json!({"version": "v2", "version_sha256": "", "cast": "builtin",
        "episodes": [], "sources": [], "datasets": []});
    let objects = [
        (
            "raw/Stranger.Things.S01E01.srt",
            "1\n00:00:01,000 --> 00:00:02,000\nHi.\n".to_string(),
        ),
        (
            "ledger/training/2026-11/chatbot-eleven-v1.json",
            "{}".to_string(),
        ),
        ("checkpoints/chatbot-eleven/v1/step-100.pt", "c".repeat(100)),
        (
            "training-output/chatbot-eleven/job-live/output/model.tar.gz",
            "m".repeat(1000),
        ),
        (
            "training-output/chatbot-eleven/job-old/output/model.tar.gz",
            "o".repeat(1000),
        ),
        ("datasets/latest.json", manifest.to_string()),
        ("datasets/v0/chatbot/eleven.jsonl", "d".repeat(10)),
        ("datasets/v1/chatbot/eleven.jsonl", "d".repeat(10)),
        ("datasets/v2/chatbot/eleven.jsonl", "d".repeat(10)),
    ];
    for (key, body) in &objects {
        stack
            .upload(key, body.clone().into_bytes())
            .await
            .expect("upload");
    }
    // An approved package of chatbot-eleven, trained by job-live on corpus version v1.
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    sm.create_model_package_group()
        .model_package_group_name("hawkins-chatbot-eleven")
        .send()
        .await
        .expect("CreateModelPackageGroup");
    let container = aws_sdk_sagemaker::types::ModelPackageContainerDefinition::builder()
        .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/hawkins-training:0.1.0")
        .model_data_url(format!(
            "s3://{}/training-output/chatbot-eleven/job-live/output/model.tar.gz",
            stack.bucket
        ))
        .build();
    sm.create_model_package()
        .model_package_group_name("hawkins-chatbot-eleven")
        .inference_specification(
            aws_sdk_sagemaker::types::InferenceSpecification::builder()
                .containers(container)
                .supported_content_types("application/json")
                .supported_response_mime_types("application/json")
                .build(),
        )
        .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Approved)
        .customer_metadata_properties("hawkins:corpus-version", "v1")
        .send()
        .await
        .expect("CreateModelPackage");

    // A hundred days on: past every default retention.
    let later = hawkins::time::now() + 100 * hawkins::time::DAY;
    let store = stack.store();
    let registry = SageMakerLifecycle::from_config(&stack.config);
    let config = hawkins::config::Storage::default();
    let swept = sweep(&store, &registry, "hawkins-", &config, later)
        .await
        .expect("the sweep runs");
    assert_eq!(
        swept.deleted,
        [
            "checkpoints/chatbot-eleven/v1/step-100.pt",
            "datasets/v0/chatbot/eleven.jsonl",
            "training-output/chatbot-eleven/job-old/output/model.tar.gz",
        ]
    );
    let mut left = store.list("").await.expect("list");
    left.sort();
    let mut kept: Vec<&str> = objects
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !swept.deleted.iter().any(|d| d == k))
        .collect();
    kept.sort();
    assert_eq!(left, kept);
    let raw = &swept.cost.prefixes[0];
    assert_eq!((raw.prefix.as_str(), raw.objects), ("raw/", 1));
    let output = swept
        .cost
        .prefixes
        .iter()
        .find(|p| p.prefix == "training-output/")
        .expect("priced");
    assert_eq!((output.objects, output.bytes), (1, 1000));

    let again = sweep(&store, &registry, "hawkins-", &config, later)
        .await
        .expect("the sweep runs again");
    assert!(again.deleted.is_empty(), "{:?}", again.deleted);

    // The report carries the storage line.
    let notifier = stack.notifier();
    let metrics = CloudWatchMetrics::from_config(&stack.config);
    let prices = PriceTable::bundled().expect("prices");
    let run = CostRun {
        store: &store,
        notifier: &notifier,
        metrics: &metrics,
        prices: &prices,
        budgets: Budgets {
            daily_usd: None,
            monthly_usd: None,
            idle_hours: 24,
        },
        region: "us-east-1".into(),
        location: format!("s3://{}", stack.bucket),
    };
    let outcome = hawkins::costs::handle_schedule_with(&run, Some(swept.cost.clone()), later)
        .await
        .expect("the run succeeds");
    let report = read_json(&stack, &outcome.report_key).await;
    assert_eq!(report["storage"]["deleted"], 3);
    assert_eq!(report["storage"]["prefixes"][0]["prefix"], "raw/");
    assert_eq!(report["storage"]["bytes"], swept.cost.bytes);
    let html = read(&stack, &outcome.html_key).await.expect("the page");
    let html = String::from_utf8(html).expect("utf-8");
    assert!(html.contains("<table id=\"storage\">"), "{html}");
}
