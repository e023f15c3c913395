//! An A/B test that concludes, on the local AWS: chatbot-eleven deployed with `strategy = "ab"`
//! and `ab_promote = "auto"`, its challenger given CloudWatch metrics (PutMetricData in
//! `AWS/SageMaker`, as SageMaker would publish them) and the chat's feedback, then judged by the
//! hourly schedule event. Every event is delivered three times: one conclusion, one promotion, one
//! message.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use hawkins::aws::autoscaling::EndpointGuards;
use hawkins::aws::lifecycle::SageMakerLifecycle;
use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;
use hawkins::config::Config;
use hawkins::feedback::{Feedback, Rating, record};
use hawkins::lifecycle::ab::{AbDecision, AbOutcome, AbRecord, Side};
use hawkins::lifecycle::{Lifecycle, Outcome};
use hawkins::time::{HOUR, format_rfc3339};
use hawkins::training::StackSettings;
use hawkins_localaws::LocalStack;
use hawkins_tests::{fixture, read_json, root, stack};
use serde_json::Value;

const ENDPOINT: &str = "hawkins-chatbot-eleven";
const GROUP: &str = "hawkins-chatbot-eleven";

/// The training tests' config with chatbot-eleven's canary made an A/B test that promotes by itself.
fn ab_config() -> Config {
    let text = String::from_utf8(fixture("training.toml")).expect("utf-8");
    let canary = "strategy = \"canary\"\ncanary_percent = 20\nwait_minutes = 5\n";
    assert!(
        text.contains(canary),
        "the fixture deploys chatbot-eleven with a canary"
    );
    let ab = "strategy = \"ab\"\nab_weight = 0.2\nab_min_invocations = 100\nab_min_hours = 1\nab_max_hours = 48\nab_promote = \"auto\"\n";
    match hawkins::config::parse("training.toml (A/B)", &text.replacen(canary, ab, 1)) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

struct Parts {
    store: S3Store,
    notifier: SnsNotifier,
    sagemaker: SageMakerLifecycle,
    guards: EndpointGuards,
    config: Config,
    settings: StackSettings,
}

impl Parts {
    fn new(stack: &LocalStack) -> Parts {
        Parts {
            store: stack.store(),
            notifier: stack.notifier(),
            sagemaker: stack.sagemaker_lifecycle(),
            guards: stack.guards(),
            config: ab_config(),
            settings: stack.stack_settings("hawkins"),
        }
    }

    fn lifecycle(
        &self,
    ) -> Lifecycle<'_, S3Store, SnsNotifier, SageMakerLifecycle, SageMakerLifecycle, EndpointGuards>
    {
        Lifecycle {
            store: &self.store,
            notifier: &self.notifier,
            registry: &self.sagemaker,
            hosting: &self.sagemaker,
            guards: &self.guards,
            config: &self.config,
            stack: &self.settings,
        }
    }

    /// Delivers `event` three times to the real handler; the outcome of the first.
    async fn deliver(&self, event: &Value, now: i64) -> Outcome {
        let lifecycle = self.lifecycle();
        let first = match lifecycle.handle(event.clone(), now).await {
            Ok(outcome) => outcome,
            Err(e) => panic!("lifecycle failed: {e}"),
        };
        for _ in 0..2 {
            if let Err(e) = lifecycle.handle(event.clone(), now).await {
                panic!("replay failed: {e}");
            }
        }
        first
    }

    /// The hourly schedule's event at `at`; the check of chatbot-eleven.
    async fn check(&self, at: i64) -> AbOutcome {
        let mut event = sample("schedule-ab-check.json");
        event["time"] = format_rfc3339(at).into();
        match self.deliver(&event, at).await {
            Outcome::AbChecked { checks } => checks
                .into_iter()
                .find(|c| {
                    matches!(c, AbOutcome::Running { model, .. } | AbOutcome::Concluded { model, .. } | AbOutcome::NoTest { model, .. } if model == "chatbot-eleven")
                })
                .expect("chatbot-eleven is checked"),
            other => panic!("{other:?}"),
        }
    }
}

fn sample(name: &str) -> Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the sample is JSON")
}

fn completed(job: &str, eval_loss: f64) -> Value {
    let mut event = sample("sagemaker-training-completed.json");
    let d = &mut event["detail"];
    d["TrainingJobName"] = job.into();
    d["TrainingJobArn"] =
        format!("arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}").into();
    d["FinalMetricDataList"][1]["Value"] = eval_loss.into();
    d["ModelArtifacts"]["S3ModelArtifacts"] = format!(
        "s3://hawkins-pipeline-local/training-output/chatbot-eleven/{job}/output/model.tar.gz"
    )
    .into();
    event
}

/// SageMaker's InService event, sent at `at`.
fn in_service(at: i64) -> Value {
    let mut event = sample("sagemaker-endpoint-in-service.json");
    event["detail"]["EndpointName"] = ENDPOINT.into();
    event["time"] = format_rfc3339(at).into();
    event
}

/// What SageMaker publishes for a variant: invocations, server errors and one latency sample.
async fn put_metrics(
    stack: &LocalStack,
    variant: &str,
    at: i64,
    invocations: f64,
    errors: f64,
    latency_ms: f64,
) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&stack.config);
    let datum = |name: &str, value: f64, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(
                Dimension::builder()
                    .name("EndpointName")
                    .value(ENDPOINT)
                    .build(),
            )
            .dimensions(
                Dimension::builder()
                    .name("VariantName")
                    .value(variant)
                    .build(),
            )
            .timestamp(DateTime::from_secs(at))
            .value(value)
            .unit(unit)
            .build()
    };
    cloudwatch
        .put_metric_data()
        .namespace("AWS/SageMaker")
        .metric_data(datum("Invocations", invocations, StandardUnit::None))
        .metric_data(datum("Invocation5XXErrors", errors, StandardUnit::None))
        .metric_data(datum("Invocation4XXErrors", 0.0, StandardUnit::None))
        .metric_data(datum(
            "ModelLatency",
            latency_ms * 1000.0,
            StandardUnit::Microseconds,
        ))
        .send()
        .await
        .expect("PutMetricData");
}

async fn serving(stack: &LocalStack) -> Vec<(String, String)> {
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    let config = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .expect("DescribeEndpoint")
        .endpoint_config_name()
        .unwrap_or_default()
        .to_string();
    sm.describe_endpoint_config()
        .endpoint_config_name(config)
        .send()
        .await
        .expect("DescribeEndpointConfig")
        .production_variants()
        .iter()
        .map(|v| {
            (
                v.variant_name().unwrap_or_default().to_string(),
                v.model_name().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn approval(stack: &LocalStack, version: u32) -> String {
    aws_sdk_sagemaker::Client::new(&stack.config)
        .describe_model_package()
        .model_package_name(format!(
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}"
        ))
        .send()
        .await
        .expect("DescribeModelPackage")
        .model_approval_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// v1 serves, v2 joins as the challenger; the schedule starts the test's window, then finds the
/// challenger failing a tenth of its requests: the primary is kept and serves alone, v2 is
/// rejected, the team hears it once, and later checks find nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_challenger_loses_its_ab_test_and_the_primary_serves_alone() {
    let stack = stack().await;
    let parts = Parts::new(&stack);
    let t0 = hawkins::time::now() / HOUR * HOUR;

    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6), t0)
        .await;
    parts.deliver(&in_service(t0), t0).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.2), t0)
        .await;
    parts.deliver(&in_service(t0), t0).await;
    assert_eq!(
        serving(&stack).await,
        [
            (
                "primary".to_string(),
                "hawkins-chatbot-eleven-v1".to_string()
            ),
            (
                "challenger".to_string(),
                "hawkins-chatbot-eleven-v2".to_string()
            )
        ]
    );
    stack.delivered().await.expect("the inbox reads");

    // The A/B's InService event started the window.
    let outcome = parts.check(t0).await;
    assert!(
        matches!(&outcome, AbOutcome::Running { reason, .. } if reason.contains("of at least 1 h")),
        "{outcome:?}"
    );
    let key = AbRecord::key(ENDPOINT, "hawkins-chatbot-eleven-v2");
    assert_eq!(read_json(&stack, &key).await["started"], format_rfc3339(t0));

    // An hour and a half of traffic: the challenger answers faster but fails 10% of its requests.
    put_metrics(&stack, "primary", t0 + 1800, 900.0, 1.0, 500.0).await;
    put_metrics(&stack, "challenger", t0 + 1800, 200.0, 20.0, 300.0).await;
    // Ratings, which would have favoured the challenger: errors come first.
    for i in 0..3i64 {
        let feedback = Feedback::new(
            &format!("conversation-{i}"),
            "chatbot-eleven",
            2,
            "challenger",
            Rating::Up,
            t0 + 600 + i,
        )
        .expect("valid");
        record(&parts.store, &feedback).await.expect("written");
    }

    let outcome = parts.check(t0 + 2 * HOUR).await;
    let AbOutcome::Concluded {
        decision:
            AbDecision::Winner {
                variant: Side::Primary,
                why,
            },
        keep: Side::Primary,
        promoted: true,
        alerted: true,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("challenger failed 10.0%"), "{why}");
    assert_eq!(
        serving(&stack).await,
        [(
            "primary".to_string(),
            "hawkins-chatbot-eleven-v1".to_string()
        )]
    );
    assert_eq!(approval(&stack, 2).await, "Rejected");
    assert_eq!(approval(&stack, 1).await, "Approved");
    let record = read_json(&stack, &key).await;
    assert_eq!(record["conclusion"]["keep"], "primary");
    assert_eq!(
        record["conclusion"]["stats"]["challenger"]["traffic"]["invocations"],
        200
    );
    assert_eq!(
        record["conclusion"]["stats"]["challenger"]["feedback"]["up"],
        3
    );
    let messages = stack.delivered().await.expect("the inbox reads");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].subject.contains("primary promoted"),
        "{}",
        messages[0].subject
    );
    assert!(
        messages[0]
            .message
            .contains("200 invocations, 10.0% errors")
    );

    // The endpoint's InService event: v1 is the newest approved package, nothing is redeployed.
    parts
        .deliver(&in_service(t0 + 2 * HOUR), t0 + 2 * HOUR)
        .await;
    assert_eq!(serving(&stack).await.len(), 1);
    let outcome = parts.check(t0 + 3 * HOUR).await;
    assert!(matches!(outcome, AbOutcome::NoTest { .. }), "{outcome:?}");
    let messages = stack.delivered().await.expect("the inbox reads");
    assert_eq!(
        messages.len(),
        1,
        "the deployment's own message only: {messages:?}"
    );
    assert!(
        messages[0].subject.contains("serving"),
        "{}",
        messages[0].subject
    );
}
