//! A/B tests over the in-memory fakes: a model deployed with `strategy = "ab"`, its challenger
//! judged by the hourly schedule, and the endpoint moved to the kept variant (by itself, or by a
//! person's `hawkins ab promote`). Every schedule event is delivered three times.

use serde_json::Value;

use super::ab::{AbDecision, AbOutcome, AbRecord, Side, Traffic};
use super::{Lifecycle, LifecycleError, Outcome};
use crate::config::Config;
use crate::error::Retry;
use crate::fakes::{AlertLog, FakeGuards, FakeHosting, FakeRegistry, MemStore};
use crate::feedback::{Feedback, Rating, record};
use crate::time::{HOUR, format_rfc3339};
use crate::training::StackSettings;

const ENDPOINT: &str = "hawkins-chatbot-eleven";
const GROUP: &str = "hawkins-chatbot-eleven";
const NOW: i64 = 1_795_800_000;

const CONFIG: &str = r#"
[pipeline]
training_image = "hawkins-training:1.0.0"
project_tag = "hawkins"

[defaults]
instance_type = "ml.g5.2xlarge"
max_runtime_seconds = 3600

[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "Qwen/Qwen2.5-3B-Instruct"
metrics = [{ name = "eval_loss", regex = '^METRIC step=\d+ eval_loss=([0-9.eE+-]+)$' }]
[model.gate]
metric = "eval_loss"
direction = "minimize"
threshold = 2.0
min_improvement = 0.05
[model.deploy]
mode = "realtime"
instance_type = "ml.g5.xlarge"
min_instances = 1
max_instances = 3
strategy = "ab"
ab_weight = 0.2
ab_min_invocations = 100
ab_min_hours = 1
ab_max_hours = 48
ab_promote = "auto"
"#;

struct Parts {
    store: MemStore,
    notifier: AlertLog,
    registry: FakeRegistry,
    hosting: FakeHosting,
    guards: FakeGuards,
    config: Config,
    stack: StackSettings,
}

impl Parts {
    fn new(promote: &str) -> Self {
        let text = CONFIG.replace(
            "ab_promote = \"auto\"",
            &format!("ab_promote = \"{promote}\""),
        );
        Parts {
            store: MemStore::new(),
            notifier: AlertLog::default(),
            registry: FakeRegistry::default(),
            hosting: FakeHosting::default(),
            guards: FakeGuards::default(),
            config: crate::config::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}")),
            stack: StackSettings::from_role(
                "hawkins-pipeline",
                "arn:aws:iam::123456789012:role/hawkins-sagemaker",
                "us-east-1",
                "hawkins",
            )
            .and_then(|s| s.with_hosting_role("arn:aws:iam::123456789012:role/hawkins-hosting"))
            .expect("role ARNs"),
        }
    }

    fn lifecycle(
        &self,
    ) -> Lifecycle<'_, MemStore, AlertLog, FakeRegistry, FakeHosting, FakeGuards> {
        Lifecycle {
            store: &self.store,
            notifier: &self.notifier,
            registry: &self.registry,
            hosting: &self.hosting,
            guards: &self.guards,
            config: &self.config,
            stack: &self.stack,
        }
    }

    /// Delivers `event` three times; the first outcome.
    async fn deliver(&self, event: &Value) -> Outcome {
        let first = self
            .lifecycle()
            .handle(event.clone(), NOW)
            .await
            .unwrap_or_else(|e| panic!("lifecycle failed: {e}"));
        for _ in 0..2 {
            if let Err(e) = self.lifecycle().handle(event.clone(), NOW).await {
                panic!("replay failed: {e}");
            }
        }
        first
    }

    /// The schedule at `at`: the check of the one model.
    async fn check(&self, at: i64) -> AbOutcome {
        let mut event = sample("schedule-ab-check.json");
        event["time"] = format_rfc3339(at).into();
        match self.deliver(&event).await {
            Outcome::AbChecked { mut checks } if checks.len() == 1 => checks.remove(0),
            other => panic!("{other:?}"),
        }
    }

    fn approval(&self, version: u32) -> String {
        let arn =
            format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}");
        self.registry
            .packages()
            .into_iter()
            .find(|p| p.package.arn == arn)
            .map(|p| p.package.approval)
            .unwrap_or_default()
    }

    fn serving(&self) -> Vec<(String, String)> {
        let config = self
            .hosting
            .endpoint_state(ENDPOINT)
            .expect("endpoint")
            .config;
        self.hosting.endpoint_configs()[&config]
            .variants
            .iter()
            .map(|v| (v.name.clone(), v.model.clone()))
            .collect()
    }

    fn record(&self) -> AbRecord {
        let key = AbRecord::key(ENDPOINT, "hawkins-chatbot-eleven-v2");
        let bytes = self
            .store
            .snapshot()
            .remove(&key)
            .expect("the test's record");
        serde_json::from_slice(&bytes).expect("record JSON")
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("the sample is JSON")
}

fn completed(job: &str, eval_loss: f64) -> Value {
    let mut event = sample("sagemaker-training-completed.json");
    let d = &mut event["detail"];
    d["TrainingJobName"] = job.into();
    d["FinalMetricDataList"][1]["Value"] = eval_loss.into();
    d["ModelArtifacts"]["S3ModelArtifacts"] =
        format!("s3://hawkins-pipeline/training-output/chatbot-eleven/{job}/output/model.tar.gz")
            .into();
    event
}

fn in_service() -> Value {
    in_service_at(NOW)
}

/// SageMaker's InService event, sent at `at`.
fn in_service_at(at: i64) -> Value {
    let mut event = sample("sagemaker-endpoint-in-service.json");
    event["detail"]["EndpointName"] = ENDPOINT.into();
    event["time"] = format_rfc3339(at).into();
    event
}

fn traffic(invocations: u64, errors: u64, latency_ms: f64) -> Traffic {
    Traffic {
        invocations,
        errors_5xx: errors,
        errors_4xx: 0,
        latency_avg_micros: Some(latency_ms * 1000.0),
        latency_p50_micros: None,
    }
}

/// v1 serving alone, then v2 (better at the gate) deployed beside it as the challenger.
async fn ab_running(parts: &Parts) {
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts.deliver(&in_service()).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.2))
        .await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts.deliver(&in_service()).await;
    assert_eq!(
        parts.serving(),
        [
            ("primary".into(), "hawkins-chatbot-eleven-v1".into()),
            ("challenger".into(), "hawkins-chatbot-eleven-v2".into())
        ]
    );
    parts.notifier.alerts();
}

#[tokio::test]
async fn a_challenger_that_fails_requests_loses_and_the_primary_serves_alone() {
    let parts = Parts::new("auto");
    ab_running(&parts).await;
    let sent = parts.notifier.alerts().len();

    // The A/B's InService event started the test's window; an hour is the least it runs.
    let outcome = parts.check(NOW).await;
    assert!(
        matches!(&outcome, AbOutcome::Running { reason, .. } if reason.contains("of at least 1 h")),
        "{outcome:?}"
    );
    assert_eq!(parts.record().started, format_rfc3339(NOW));

    // Enough traffic, and the challenger fails a tenth of it.
    parts
        .guards
        .set_traffic(ENDPOINT, "primary", traffic(900, 1, 500.0));
    parts
        .guards
        .set_traffic(ENDPOINT, "challenger", traffic(200, 20, 300.0));
    let outcome = parts.check(NOW + 2 * HOUR).await;
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
    // The loser is rejected before the endpoint moves, so its InService event deploys nothing.
    assert_eq!(parts.approval(2), "Rejected");
    assert_eq!(parts.approval(1), "Approved");
    assert_eq!(
        parts.hosting.faults.count("UpdateEndpoint"),
        2,
        "the A/B, then the promotion"
    );
    let record = parts.record();
    let conclusion = record.conclusion.expect("concluded");
    assert_eq!(conclusion.keep_model, "hawkins-chatbot-eleven-v1");
    assert_eq!(conclusion.stats.challenger.traffic.errors_5xx, 20);

    // One message for three deliveries, saying what was done.
    let alerts = parts.notifier.alerts();
    assert_eq!(alerts.len(), sent + 1, "{alerts:?}");
    let alert = alerts.last().expect("one");
    assert!(
        alert.subject.contains("primary promoted"),
        "{}",
        alert.subject
    );
    assert!(
        alert.body.contains("challenger failed 10.0%"),
        "{}",
        alert.body
    );

    // The endpoint serves v1 alone (and says so once); its InService event deploys nothing more.
    assert!(parts.hosting.settle(ENDPOINT));
    parts.deliver(&in_service()).await;
    let alerts = parts.notifier.alerts();
    assert_eq!(alerts.len(), sent + 2, "{alerts:?}");
    assert_eq!(
        alerts.last().map(|a| a.kind.as_str()),
        Some("endpoint_deployed")
    );
    assert_eq!(
        parts.serving(),
        [("primary".into(), "hawkins-chatbot-eleven-v1".into())]
    );
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
    assert_eq!(
        parts.guards.scaling().keys().collect::<Vec<_>>(),
        ["endpoint/hawkins-chatbot-eleven/variant/primary"]
    );
    // The next check finds no test, and the conclusion stands.
    let outcome = parts.check(NOW + 3 * HOUR).await;
    assert!(matches!(outcome, AbOutcome::NoTest { .. }), "{outcome:?}");

    // A person approves v2 again: a new test of the same challenger, with its own window and,
    // in the end, its own message.
    let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/2");
    assert!(parts.registry.set_approval(&arn, "Approved"));
    let mut approved = sample("sagemaker-package-approved.json");
    approved["detail"]["ModelPackageArn"] = arn.into();
    parts.deliver(&approved).await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts.deliver(&in_service_at(NOW + 4 * HOUR)).await;
    assert_eq!(parts.serving().len(), 2);
    let record = parts.record();
    assert_eq!(record.started, format_rfc3339(NOW + 4 * HOUR));
    assert!(record.conclusion.is_none());
    let outcome = parts.check(NOW + 4 * HOUR).await;
    assert!(matches!(outcome, AbOutcome::Running { .. }), "{outcome:?}");
    let outcome = parts.check(NOW + 6 * HOUR).await;
    assert!(
        matches!(
            outcome,
            AbOutcome::Concluded {
                keep: Side::Primary,
                promoted: true,
                alerted: true,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn with_approval_the_winner_waits_for_a_person_who_promotes_it_once() {
    let parts = Parts::new("approval");
    ab_running(&parts).await;
    parts.check(NOW).await;
    // Even errors and latency; users prefer the challenger.
    parts
        .guards
        .set_traffic(ENDPOINT, "primary", traffic(900, 0, 500.0));
    parts
        .guards
        .set_traffic(ENDPOINT, "challenger", traffic(200, 0, 500.0));
    for i in 0..30u32 {
        let (version, rating) = if i < 15 {
            (1, if i % 2 == 0 { Rating::Up } else { Rating::Down })
        } else {
            (2, if i < 28 { Rating::Up } else { Rating::Down })
        };
        let variant = if version == 1 {
            "primary"
        } else {
            "challenger"
        };
        let feedback = Feedback::new(
            &format!("r{i}"),
            "chatbot-eleven",
            version,
            variant,
            rating,
            NOW + i64::from(i) * 60,
        )
        .expect("valid");
        record(&parts.store, &feedback).await.expect("written");
    }
    // 15 ratings each side: fewer than the 20 feedback needs, so nothing separates them yet...
    let early = parts.check(NOW + 2 * HOUR).await;
    let AbOutcome::Concluded {
        decision: AbDecision::Inconclusive { .. },
        promoted: false,
        ..
    } = &early
    else {
        panic!("{early:?}")
    };
    // ...and that conclusion stands: a later check does not decide again.
    for i in 30..40u32 {
        let feedback = Feedback::new(
            &format!("r{i}"),
            "chatbot-eleven",
            2,
            "challenger",
            Rating::Up,
            NOW + 3 * HOUR,
        )
        .expect("valid");
        record(&parts.store, &feedback).await.expect("written");
    }
    let again = parts.check(NOW + 4 * HOUR).await;
    assert!(
        matches!(
            &again,
            AbOutcome::Concluded {
                decision: AbDecision::Inconclusive { .. },
                alerted: false,
                ..
            }
        ),
        "{again:?}"
    );
    let alerts = parts.notifier.alerts();
    let told: Vec<_> = alerts.iter().filter(|a| a.kind == "ab_concluded").collect();
    assert_eq!(told.len(), 1, "{alerts:?}");
    assert!(
        told[0].body.contains("hawkins ab promote chatbot-eleven\n"),
        "{}",
        told[0].body
    );
    assert_eq!(
        parts.hosting.faults.count("UpdateEndpoint"),
        1,
        "only the A/B's own update: nothing moved"
    );

    // A person disagrees and keeps the challenger.
    let lifecycle = parts.lifecycle();
    let outcome = lifecycle
        .ab_promote("chatbot-eleven", Some(Side::Challenger), NOW + 5 * HOUR)
        .await
        .expect("promoted");
    assert!(
        matches!(
            &outcome,
            AbOutcome::Concluded {
                keep: Side::Challenger,
                promoted: true,
                alerted: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        parts.approval(2),
        "Approved",
        "the kept challenger stays approved"
    );
    // Asked again while the endpoint updates: refused as retryable, nothing asked twice.
    let busy = lifecycle
        .ab_promote("chatbot-eleven", Some(Side::Challenger), NOW + 5 * HOUR)
        .await;
    let Err(e @ LifecycleError::Ab(_)) = busy else {
        panic!("{busy:?}")
    };
    assert!(e.retryable(), "{e}");
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
    assert!(parts.hosting.settle(ENDPOINT));
    parts.deliver(&in_service()).await;
    assert_eq!(
        parts.serving(),
        [("primary".into(), "hawkins-chatbot-eleven-v2".into())]
    );
    // v2 is the newest approved and serves: nothing more is deployed.
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
}

#[tokio::test]
async fn a_person_cannot_promote_a_test_that_has_not_concluded_without_naming_a_variant() {
    let parts = Parts::new("approval");
    ab_running(&parts).await;
    let lifecycle = parts.lifecycle();
    let early = lifecycle.ab_promote("chatbot-eleven", None, NOW).await;
    let Err(e) = early else { panic!("{early:?}") };
    assert!(e.to_string().contains("--variant"), "{e}");
    assert!(!e.retryable());
    let other = lifecycle.ab_promote("themes", None, NOW).await;
    assert!(matches!(other, Err(LifecycleError::Ab(_))), "{other:?}");
    // A throttled metrics read fails the check as retryable; the schedule comes back.
    parts.guards.faults.fail_on(
        "GetMetricStatistics",
        crate::fakes::throttled("GetMetricStatistics"),
    );
    let mut event = sample("schedule-ab-check.json");
    event["time"] = format_rfc3339(NOW + 2 * HOUR).into();
    let failed = lifecycle.handle(event, NOW).await;
    let Err(e) = failed else { panic!("{failed:?}") };
    assert!(e.retryable(), "{e}");
}
