//! The lifecycle handler over the in-memory fakes: the paths of `tests/tests/lifecycle.rs`, in
//! milliseconds, asserting on what the fakes hold and were asked.

use serde_json::Value;

use super::endpoint::{EndpointOutcome, EndpointState};
use super::job::JobOutcome;
use super::package::DeployPlan;
use super::{Lifecycle, LifecycleError, Outcome};
use crate::config::Config;
use crate::error::Retry;
use crate::fakes::{AlertLog, FakeGuards, FakeHosting, FakeRegistry, MemStore, denied, throttled};
use crate::training::StackSettings;

const ENDPOINT: &str = "hawkins-chatbot-eleven";
const GROUP: &str = "hawkins-chatbot-eleven";
const NOW: i64 = 1_795_800_000;
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-sagemaker";
const HOSTING_ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-hosting";

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
target_invocations_per_instance = 50
strategy = "canary"
canary_percent = 20
wait_minutes = 5

[[model]]
name = "themes"
kind = "theme"
dataset = "themes/batches.jsonl"
base_model = "facebook/bart-large-mnli"
hyperparameters = { themes = "friendship,fear,loss" }
[model.deploy]
mode = "batch"
instance_type = "ml.m5.xlarge"
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
    fn new() -> Self {
        Parts {
            store: MemStore::new(),
            notifier: AlertLog::default(),
            registry: FakeRegistry::default(),
            hosting: FakeHosting::default(),
            guards: FakeGuards::default(),
            config: crate::config::parse("test.toml", CONFIG).unwrap_or_else(|e| panic!("{e}")),
            stack: StackSettings::from_role(
                "hawkins-pipeline",
                EXECUTION_ROLE,
                "us-east-1",
                "hawkins",
            )
            .and_then(|s| s.with_hosting_role(HOSTING_ROLE))
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

    async fn handle(&self, event: &Value) -> Result<Outcome, LifecycleError> {
        self.lifecycle().handle(event.clone(), NOW).await
    }

    /// Delivers `event` twice more after the first time, as EventBridge may; the first outcome.
    async fn deliver(&self, event: &Value) -> Outcome {
        let first = self
            .handle(event)
            .await
            .unwrap_or_else(|e| panic!("lifecycle failed: {e}"));
        for _ in 0..2 {
            if let Err(e) = self.handle(event).await {
                panic!("replay failed: {e}");
            }
        }
        first
    }

    /// The subjects of the alerts sent so far.
    fn subjects(&self) -> Vec<String> {
        self.notifier
            .alerts()
            .into_iter()
            .map(|a| a.subject)
            .collect()
    }

    fn endpoint_state(&self) -> EndpointState {
        let bytes = self
            .store
            .snapshot()
            .remove(&EndpointState::key(ENDPOINT))
            .expect("the endpoint's state");
        serde_json::from_slice(&bytes).expect("state JSON")
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("the sample is JSON")
}

/// The completed-job sample for `job`, reporting `eval_loss`.
fn completed(job: &str, eval_loss: f64) -> Value {
    let mut event = sample("sagemaker-training-completed.json");
    let d = &mut event["detail"];
    d["TrainingJobName"] = job.into();
    d["TrainingJobArn"] =
        format!("arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}").into();
    d["FinalMetricDataList"][1]["Value"] = eval_loss.into();
    d["ModelArtifacts"]["S3ModelArtifacts"] =
        format!("s3://hawkins-pipeline/training-output/chatbot-eleven/{job}/output/model.tar.gz")
            .into();
    event
}

fn endpoint_event(name: &str) -> Value {
    let mut event = sample(name);
    event["detail"]["EndpointName"] = ENDPOINT.into();
    event
}

fn approval(arn: &str) -> Value {
    let mut event = sample("sagemaker-package-approved.json");
    event["detail"]["ModelPackageArn"] = arn.into();
    event
}

fn package_arn(group: &str, version: u32) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}")
}

/// A first job approved and deployed, and the endpoint InService on it.
async fn serving_v1(parts: &Parts) {
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
}

#[tokio::test]
async fn a_job_that_passes_the_gate_is_registered_approved_and_deployed() {
    let parts = Parts::new();
    let outcome = parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    let Outcome::Registered {
        approval,
        created: true,
        deploy: Some(DeployPlan::Create(rollout)),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(approval, "Approved");

    let packages = parts.registry.packages();
    assert_eq!(packages.len(), 1, "one package for three deliveries");
    let package = &packages[0].package;
    assert_eq!(
        (package.arn.as_str(), package.version),
        (package_arn(GROUP, 1).as_str(), 1)
    );
    assert_eq!(package.job(), Some("chatbot-eleven-aaaa1111"));
    assert_eq!(
        packages[0].spec.metrics_s3_uri,
        "s3://hawkins-pipeline/models/chatbot-eleven/chatbot-eleven-aaaa1111/metrics.json"
    );
    assert!(parts.registry.groups().contains_key(GROUP));
    assert_eq!(parts.registry.faults.count("CreateModelPackage"), 1);

    assert_eq!(
        parts.hosting.models().keys().collect::<Vec<_>>(),
        ["hawkins-chatbot-eleven-v1"]
    );
    assert_eq!(
        parts.hosting.endpoint_configs().keys().collect::<Vec<_>>(),
        [&rollout.config.name]
    );
    let endpoint = parts
        .hosting
        .endpoint_state(ENDPOINT)
        .expect("the endpoint");
    assert_eq!(
        (endpoint.status.as_str(), endpoint.config.as_str()),
        ("Creating", rollout.config.name.as_str())
    );
    assert_eq!(parts.hosting.faults.count("CreateEndpoint"), 1);
    assert_eq!(
        parts.guards.alarms().keys().collect::<Vec<_>>(),
        [
            "hawkins-chatbot-eleven-primary-5xx",
            "hawkins-chatbot-eleven-primary-latency"
        ]
    );
    assert!(
        parts.guards.scaling().is_empty(),
        "scaling waits for InService"
    );
    assert_eq!(
        parts.endpoint_state().pending_config.as_deref(),
        Some(rollout.config.name.as_str())
    );

    let stored = parts.store.snapshot();
    let ledger: Value =
        serde_json::from_slice(&stored["ledger/training/2026-11/chatbot-eleven-aaaa1111.json"])
            .expect("ledger JSON");
    assert_eq!(ledger["status"], "Completed");
    assert!(stored.contains_key("models/chatbot-eleven/chatbot-eleven-aaaa1111/metrics.json"));
    assert_eq!(parts.subjects().len(), 1, "{:?}", parts.subjects());
    assert!(parts.subjects()[0].contains("approved"));
    assert!(
        stored.contains_key(&super::sent_marker(&format!(
            "package-approved-{}",
            package_arn(GROUP, 1)
        ))),
        "the message's marker"
    );
}

#[tokio::test]
async fn a_job_that_misses_the_gate_waits_for_a_person_and_is_told_once() {
    let parts = Parts::new();
    let outcome = parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 2.5))
        .await;
    assert!(
        matches!(&outcome, Outcome::Registered { approval, created: true, deploy: None, .. } if approval == "PendingManualApproval"),
        "{outcome:?}"
    );
    let packages = parts.registry.packages();
    assert_eq!(packages.len(), 1);
    assert!(
        packages[0].package.metadata["hawkins:gate"].contains("misses the threshold 2"),
        "{:?}",
        packages[0].package.metadata
    );
    assert_eq!(parts.registry.faults.count("CreateModelPackage"), 1);
    assert!(
        parts.hosting.faults.calls().is_empty(),
        "nothing deployed: {:?}",
        parts.hosting.faults.calls()
    );
    let alerts = parts.notifier.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].subject.contains("waits for your approval"));
    assert!(
        alerts[0]
            .body
            .contains(&format!("hawkins approve {}", package_arn(GROUP, 1)))
    );
}

#[tokio::test]
async fn a_second_job_is_held_unless_it_beats_the_approved_one_by_enough() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    let outcome = parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    assert!(
        matches!(&outcome, Outcome::Registered { approval, deploy: None, .. } if approval == "PendingManualApproval"),
        "{outcome:?}"
    );
    let alerts = parts.notifier.alerts();
    assert!(
        alerts
            .last()
            .is_some_and(|a| a.body.contains("not better than the approved version 1")),
        "{alerts:?}"
    );
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 0);
    assert_eq!(parts.registry.packages().len(), 2);
}

#[tokio::test]
async fn in_service_registers_scaling_and_says_so_once() {
    let parts = Parts::new();
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    let config = parts
        .hosting
        .endpoint_state(ENDPOINT)
        .expect("created")
        .config;
    assert!(parts.hosting.settle(ENDPOINT));
    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(
        outcome,
        Outcome::Endpoint {
            endpoint: ENDPOINT.into(),
            outcome: EndpointOutcome::Deployed {
                config: config.clone()
            },
            alerted: true,
        }
    );
    let scaling = parts.guards.scaling();
    let target = scaling
        .get("endpoint/hawkins-chatbot-eleven/variant/primary")
        .expect("the primary variant scales");
    assert_eq!(
        (target.min, target.max, target.target_invocations),
        (1, 3, 50)
    );
    assert_eq!(
        parts
            .notifier
            .alerts()
            .iter()
            .filter(|a| a.subject.contains("serving"))
            .count(),
        1
    );
    assert_eq!(parts.endpoint_state().pending_config, None, "settled");
    let history: Value = serde_json::from_slice(
        &parts.store.snapshot()["ledger/endpoints/hawkins-chatbot-eleven.json"],
    )
    .expect("history JSON");
    assert_eq!(history["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(history["history"][0]["status"], "InService");

    // A later replay is steady: nothing more is said.
    let again = parts
        .handle(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await
        .expect("replay");
    assert!(
        matches!(
            again,
            Outcome::Endpoint {
                outcome: EndpointOutcome::Steady,
                alerted: false,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(parts.notifier.alerts().len(), 2);
}

#[tokio::test]
async fn a_person_approves_and_the_endpoint_is_updated_by_canary() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    let arn = package_arn(GROUP, 2);
    assert!(parts.registry.set_approval(&arn, "Approved"));
    let outcome = parts.deliver(&approval(&arn)).await;
    let Outcome::Package {
        deploy: Some(DeployPlan::Update(rollout)),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        parts.hosting.faults.count("UpdateEndpoint"),
        1,
        "the replays find the endpoint updating: {:?}",
        parts.hosting.faults.calls()
    );
    let endpoint = parts.hosting.endpoint_state(ENDPOINT).expect("endpoint");
    assert_eq!(endpoint.status, "Updating");
    assert_eq!(endpoint.pending.as_ref(), Some(&rollout.config.name));
    let deployment = endpoint.deployment.expect("blue/green policy");
    assert_eq!(
        (
            deployment.traffic,
            deployment.step_percent,
            deployment.wait_seconds
        ),
        ("CANARY", Some(20), 300)
    );
    assert_eq!(deployment.rollback_alarms.len(), 2);
    assert!(
        parts.guards.scaling().is_empty(),
        "deregistered before the update"
    );
    assert!(
        parts
            .hosting
            .models()
            .contains_key("hawkins-chatbot-eleven-v2")
    );

    assert!(parts.hosting.settle(ENDPOINT));
    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Endpoint { outcome: EndpointOutcome::Deployed { config }, alerted: true, .. } if *config == rollout.config.name),
        "{outcome:?}"
    );
    assert_eq!(parts.guards.scaling().len(), 1, "scaling back on");

    // The first package's approval arrives late: nothing changes.
    let late = parts.deliver(&approval(&package_arn(GROUP, 1))).await;
    assert!(
        matches!(
            late,
            Outcome::Package {
                deploy: Some(DeployPlan::AlreadyServing { version: 2 }),
                ..
            }
        ),
        "{late:?}"
    );
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 1);
}

#[tokio::test]
async fn a_rolled_back_update_is_reported_once_and_not_retried_by_itself() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    let first_config = parts
        .hosting
        .endpoint_state(ENDPOINT)
        .expect("endpoint")
        .config;
    parts
        .deliver(&completed("chatbot-eleven-cccc3333", 1.2))
        .await;
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 1);
    assert!(parts.hosting.roll_back(
        ENDPOINT,
        "Alarm hawkins-chatbot-eleven-primary-5xx went into ALARM during the canary"
    ));
    let before = parts.notifier.alerts().len();

    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-update-failed.json"))
        .await;
    let Outcome::Endpoint {
        outcome: EndpointOutcome::UpdateFailed { serving, .. },
        alerted: true,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(serving, &first_config);
    let alerts = parts.notifier.alerts();
    assert_eq!(alerts.len(), before + 1, "{alerts:?}");
    let alert = alerts.last().expect("the failure");
    assert!(alert.subject.contains("failed and was rolled back"));
    assert_eq!(alert.severity, crate::store::Severity::Critical);
    assert_eq!(
        parts.guards.scaling().len(),
        1,
        "scaling back on the old variant"
    );
    assert_eq!(
        parts.endpoint_state().failed_package,
        Some(package_arn(GROUP, 2))
    );
    assert_eq!(
        parts.hosting.faults.count("UpdateEndpoint"),
        1,
        "the failed package is not deployed again by itself"
    );
}

/// The first package deployed, and its endpoint Failed (a container that never became healthy):
/// the event SageMaker sends then.
async fn first_deploy_failed(parts: &Parts) -> Value {
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    assert!(parts.hosting.set_status(
        ENDPOINT,
        "Failed",
        Some("The primary container did not pass the ping health check.")
    ));
    endpoint_event("sagemaker-endpoint-failed.json")
}

#[tokio::test]
async fn a_failed_endpoint_is_told_once() {
    let parts = Parts::new();
    let event = first_deploy_failed(&parts).await;
    let outcome = parts.handle(&event).await.expect("handled");
    assert!(
        matches!(&outcome, Outcome::Endpoint { outcome: EndpointOutcome::Failed { reason }, alerted: true, .. } if reason.contains("ping health check")),
        "{outcome:?}"
    );
    assert_eq!(
        parts.endpoint_state().failed_package,
        Some(package_arn(GROUP, 1))
    );
    parts.deliver(&event).await;
    let failures = parts
        .notifier
        .alerts()
        .into_iter()
        .filter(|a| a.kind == "endpoint_failed")
        .count();
    assert_eq!(failures, 1);
    assert!(
        parts.guards.scaling().is_empty(),
        "a failed endpoint does not scale"
    );
}

#[tokio::test]
async fn an_approval_while_the_endpoint_is_busy_is_taken_up_when_it_is_in_service() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    // Someone else's change keeps the endpoint busy when the approval comes.
    assert!(parts.hosting.set_status(ENDPOINT, "Updating", None));
    let arn = package_arn(GROUP, 2);
    assert!(parts.registry.set_approval(&arn, "Approved"));
    let outcome = parts.deliver(&approval(&arn)).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Package {
                deploy: Some(DeployPlan::Busy { .. }),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 0);

    assert!(parts.hosting.set_status(ENDPOINT, "InService", None));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 1);
    assert_eq!(
        parts.hosting.endpoint_state(ENDPOINT).map(|e| e.status),
        Some("Updating".to_string())
    );
    assert!(
        parts
            .hosting
            .models()
            .contains_key("hawkins-chatbot-eleven-v2")
    );
}

#[tokio::test]
async fn a_throttled_registry_is_retried_and_the_retry_registers_once() {
    let parts = Parts::new();
    let event = completed("chatbot-eleven-aaaa1111", 1.6);
    parts
        .registry
        .faults
        .fail_on("CreateModelPackage", throttled("CreateModelPackage"));
    let failed = parts.handle(&event).await;
    let Err(error) = failed else {
        panic!("{failed:?}")
    };
    assert!(error.retryable(), "{error}");
    assert!(parts.registry.packages().is_empty());
    assert!(parts.notifier.alerts().is_empty(), "nothing said yet");

    let outcome = parts.deliver(&event).await;
    assert!(
        matches!(outcome, Outcome::Registered { created: true, .. }),
        "{outcome:?}"
    );
    assert_eq!(parts.registry.packages().len(), 1);
    assert_eq!(parts.notifier.alerts().len(), 1);
}

#[tokio::test]
async fn a_crash_between_registering_and_deploying_is_finished_by_the_retry() {
    let parts = Parts::new();
    let event = completed("chatbot-eleven-aaaa1111", 1.6);
    parts
        .hosting
        .faults
        .fail_on("CreateEndpoint", throttled("CreateEndpoint"));
    let failed = parts.handle(&event).await;
    assert!(failed.as_ref().is_err_and(|e| e.retryable()), "{failed:?}");
    assert_eq!(
        parts.registry.packages().len(),
        1,
        "registered before the failure"
    );
    assert!(parts.hosting.endpoint_state(ENDPOINT).is_none());

    let outcome = parts.handle(&event).await.expect("retry");
    assert!(
        matches!(
            outcome,
            Outcome::Registered {
                created: false,
                deploy: Some(DeployPlan::Create(_)),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(parts.hosting.endpoint_state(ENDPOINT).is_some());
    assert_eq!(parts.registry.packages().len(), 1);
    assert_eq!(
        parts.notifier.alerts().len(),
        1,
        "the approval is told once"
    );
}

#[tokio::test]
async fn a_refused_call_is_not_retried() {
    let parts = Parts::new();
    parts.hosting.faults.fail_next(denied("DescribeEndpoint"));
    let failed = parts
        .handle(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    let Err(error) = failed else {
        panic!("{failed:?}")
    };
    assert!(!error.retryable(), "{error}");
    assert!(matches!(error, LifecycleError::Aws(_)));
}

#[tokio::test]
async fn a_failed_job_is_recorded_and_told_once_and_a_late_in_progress_changes_nothing() {
    let parts = Parts::new();
    let failed = sample("sagemaker-training-failed.json");
    let outcome = parts.deliver(&failed).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Job {
                outcome: JobOutcome::Failed { .. },
                recorded: true,
                alerted: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let alerts = parts.notifier.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].body.contains("CUDA out of memory"));
    let key = "ledger/training/2026-11/chatbot-eleven-9ff9935c8ed10b50.json";
    let status = |parts: &Parts| -> Value {
        let ledger: Value =
            serde_json::from_slice(&parts.store.snapshot()[key]).expect("ledger JSON");
        ledger["status"].clone()
    };
    assert_eq!(status(&parts), "Failed");

    let late = parts
        .deliver(&sample("sagemaker-training-in-progress.json"))
        .await;
    assert!(
        matches!(
            late,
            Outcome::Job {
                recorded: false,
                ..
            }
        ),
        "{late:?}"
    );
    assert_eq!(status(&parts), "Failed");
    assert!(parts.registry.faults.calls().is_empty(), "no package");
}

#[tokio::test]
async fn a_batch_models_approval_runs_one_transform_job() {
    let parts = Parts::new();
    let mut themes = completed("themes-9ff9935c8ed10b50", 0.0);
    themes["detail"]["Tags"]["hawkins:model"] = "themes".into();
    themes["detail"]["Tags"]["hawkins:kind"] = "theme".into();
    parts.deliver(&themes).await;
    let arn = package_arn("hawkins-themes", 1);
    assert!(parts.registry.set_approval(&arn, "Approved"));
    let outcome = parts.deliver(&approval(&arn)).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Package {
                deploy: Some(DeployPlan::Batch(_)),
                ..
            }
        ),
        "{outcome:?}"
    );
    let jobs = parts.hosting.transform_jobs();
    let job = jobs.get("hawkins-themes-v1").expect("the transform job");
    assert_eq!(job.model, "hawkins-themes-v1");
    assert_eq!(
        job.input_s3_uri,
        "s3://hawkins-pipeline/datasets/9ff9935c8ed10b50d1c7e2a8f43b6e01/themes/batches.jsonl"
    );
    assert_eq!(
        job.output_s3_uri,
        format!(
            "s3://hawkins-pipeline/{}",
            super::package::predictions_prefix("themes", "9ff9935c8ed10b50d1c7e2a8f43b6e01")
        ),
        "the theme report reads the output where the job writes it"
    );
    assert_eq!(jobs.len(), 1);
    assert!(parts.hosting.models().contains_key("hawkins-themes-v1"));
    assert!(parts.hosting.endpoint_state("hawkins-themes").is_none());
}

#[tokio::test]
async fn deployed_models_run_as_the_hosting_role_never_the_training_role() {
    let parts = Parts::new();
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    let mut themes = completed("themes-9ff9935c8ed10b50", 0.0);
    themes["detail"]["Tags"]["hawkins:model"] = "themes".into();
    themes["detail"]["Tags"]["hawkins:kind"] = "theme".into();
    parts.deliver(&themes).await;
    let arn = package_arn("hawkins-themes", 1);
    assert!(parts.registry.set_approval(&arn, "Approved"));
    parts.deliver(&approval(&arn)).await;

    let models = parts.hosting.models();
    let roles: Vec<(&str, &str)> = models
        .iter()
        .map(|(name, spec)| (name.as_str(), spec.role_arn.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("hawkins-chatbot-eleven-v1", HOSTING_ROLE),
            ("hawkins-themes-v1", HOSTING_ROLE)
        ],
        "the endpoint's model and the transform job's model"
    );
}

#[tokio::test]
async fn without_a_hosting_role_nothing_is_deployed_and_the_event_is_not_retried_by_itself() {
    let mut parts = Parts::new();
    parts.stack =
        StackSettings::from_role("hawkins-pipeline", EXECUTION_ROLE, "us-east-1", "hawkins")
            .expect("role ARN");
    let error = parts
        .handle(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await
        .expect_err("no role for the models");
    assert!(
        matches!(error, LifecycleError::NoHostingRole { .. }),
        "{error:?}"
    );
    assert!(!error.retryable());
    assert!(
        error.to_string().contains("HAWKINS_HOSTING_ROLE_ARN"),
        "{error}"
    );
    assert!(
        parts.hosting.models().is_empty(),
        "no model as the execution role"
    );
    assert_eq!(parts.hosting.faults.count("CreateModel"), 0);
    // Registered before the deployment failed: the replay, once the role is set, deploys it.
    assert_eq!(parts.registry.packages().len(), 1);
    parts.stack = parts
        .stack
        .clone()
        .with_hosting_role(HOSTING_ROLE)
        .expect("hosting role");
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    assert_eq!(
        parts
            .hosting
            .models()
            .get("hawkins-chatbot-eleven-v1")
            .map(|m| m.role_arn.as_str()),
        Some(HOSTING_ROLE)
    );
}

/// The outcome of an event that came too late: neither recorded nor told.
fn assert_ignored(outcome: &Outcome) {
    assert!(
        matches!(
            outcome,
            Outcome::Job {
                recorded: false,
                alerted: false,
                ..
            }
        ),
        "{outcome:?}"
    );
}

/// The JSON object the store holds at `key`.
fn stored_json(parts: &Parts, key: &str) -> Value {
    let bytes = parts
        .store
        .snapshot()
        .remove(key)
        .unwrap_or_else(|| panic!("nothing at {key}"));
    serde_json::from_slice(&bytes).expect("stored JSON")
}

/// `event` as SageMaker would have sent it at `time` (RFC 3339): the envelope's time and the
/// detail's LastModifiedTime.
fn sent_at(mut event: Value, time: &str) -> Value {
    let seconds = crate::time::parse_rfc3339(time).expect("an RFC 3339 time");
    event["time"] = time.into();
    event["detail"]["LastModifiedTime"] = (seconds * 1000).into();
    event
}

/// The approval of the second package, held by the gate, with the endpoint serving the first.
async fn approved_v2(parts: &Parts) -> Value {
    serving_v1(parts).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    let arn = package_arn(GROUP, 2);
    assert!(parts.registry.set_approval(&arn, "Approved"));
    approval(&arn)
}

#[tokio::test]
async fn a_refused_update_leaves_scaling_and_state_as_they_were_and_its_retry_deploys() {
    let parts = Parts::new();
    let event = approved_v2(&parts).await;
    let first_config = parts
        .hosting
        .endpoint_state(ENDPOINT)
        .expect("endpoint")
        .config;
    assert_eq!(parts.guards.scaling().len(), 1);
    let before = parts.endpoint_state();
    parts
        .hosting
        .faults
        .fail_on("UpdateEndpoint", throttled("UpdateEndpoint"));

    let failed = parts.handle(&event).await;
    assert!(failed.as_ref().is_err_and(|e| e.retryable()), "{failed:?}");
    let endpoint = parts.hosting.endpoint_state(ENDPOINT).expect("endpoint");
    assert_eq!(
        (endpoint.status.as_str(), endpoint.config.as_str()),
        ("InService", first_config.as_str()),
        "the update never started"
    );
    assert_eq!(
        parts
            .guards
            .scaling()
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["endpoint/hawkins-chatbot-eleven/variant/primary"],
        "the serving variant keeps its scaling"
    );
    assert_eq!(
        parts.endpoint_state(),
        before,
        "no update claimed in flight"
    );

    // The retry of the same event updates the endpoint, and its InService is a deployment.
    let outcome = parts.deliver(&event).await;
    let Outcome::Package {
        deploy: Some(DeployPlan::Update(rollout)),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
    assert_eq!(
        parts.endpoint_state().pending_config.as_ref(),
        Some(&rollout.config.name)
    );
    assert!(parts.hosting.settle(ENDPOINT));
    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Endpoint { outcome: EndpointOutcome::Deployed { config }, .. } if *config == rollout.config.name),
        "{outcome:?}"
    );
    assert_eq!(parts.guards.scaling().len(), 1);
    assert!(
        !parts.subjects().iter().any(|s| s.contains("rolled back")),
        "{:?}",
        parts.subjects()
    );
}

#[tokio::test]
async fn an_event_after_a_refused_update_does_not_report_a_rollback() {
    let parts = Parts::new();
    let event = approved_v2(&parts).await;
    parts
        .hosting
        .faults
        .fail_on("UpdateEndpoint", denied("UpdateEndpoint"));
    let failed = parts.handle(&event).await;
    assert!(failed.as_ref().is_err_and(|e| !e.retryable()), "{failed:?}");
    assert_eq!(parts.guards.scaling().len(), 1, "scaling as it was");

    // The endpoint's next event (here a replay of its InService) finds nothing pending: no
    // false rollback, the package is not marked failed, and the approval is taken up.
    let outcome = parts
        .handle(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await
        .expect("handled");
    assert!(
        matches!(
            outcome,
            Outcome::Endpoint {
                outcome: EndpointOutcome::Steady,
                alerted: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(
        !parts.subjects().iter().any(|s| s.contains("rolled back")),
        "{:?}",
        parts.subjects()
    );
    assert_eq!(parts.endpoint_state().failed_package, None);
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
    assert_eq!(
        parts.hosting.endpoint_state(ENDPOINT).map(|e| e.status),
        Some("Updating".to_string())
    );
}

#[tokio::test]
async fn a_failed_event_after_completed_is_neither_recorded_nor_told() {
    let parts = Parts::new();
    let key = "ledger/training/2026-11/chatbot-eleven-9ff9935c8ed10b50.json";
    parts
        .deliver(&sample("sagemaker-training-completed.json"))
        .await;
    let told = parts.notifier.alerts().len();
    let completed_record = stored_json(&parts, key);
    assert_eq!(completed_record["status"], "Completed");

    // Older than the completion (a stale delivery), then one that claims to be newer.
    for event in [
        sample("sagemaker-training-failed.json"),
        sent_at(
            sample("sagemaker-training-failed.json"),
            "2026-11-27T13:00:00Z",
        ),
    ] {
        let outcome = parts.deliver(&event).await;
        assert_ignored(&outcome);
    }
    assert_eq!(stored_json(&parts, key), completed_record);
    assert_eq!(
        parts.notifier.alerts().len(),
        told,
        "{:?}",
        parts.subjects()
    );
}

#[tokio::test]
async fn an_older_terminal_state_does_not_replace_a_newer_one() {
    let parts = Parts::new();
    let key = "ledger/training/2026-11/chatbot-eleven-9ff9935c8ed10b50.json";
    // Stopped at 18:23; the Failed event of 10:14 comes after it.
    parts
        .deliver(&sample("sagemaker-training-stopped.json"))
        .await;
    assert_eq!(parts.notifier.alerts().len(), 1);
    let outcome = parts
        .deliver(&sample("sagemaker-training-failed.json"))
        .await;
    assert_ignored(&outcome);
    assert_eq!(stored_json(&parts, key)["status"], "Stopped");
    assert_eq!(parts.notifier.alerts().len(), 1, "{:?}", parts.subjects());

    // The other way round, the newer event is the job's status and is told.
    let parts = Parts::new();
    parts
        .deliver(&sample("sagemaker-training-failed.json"))
        .await;
    let outcome = parts
        .deliver(&sample("sagemaker-training-stopped.json"))
        .await;
    assert!(
        matches!(
            outcome,
            Outcome::Job {
                recorded: true,
                alerted: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(stored_json(&parts, key)["status"], "Stopped");
}

#[tokio::test]
async fn a_late_failed_transform_event_after_completed_is_neither_recorded_nor_told() {
    let parts = Parts::new();
    theme_files(&parts);
    let key = "ledger/transforms/2026-11/hawkins-themes-v2.json";
    let done = sample("sagemaker-transform-completed.json");
    parts.deliver(&done).await;
    assert_eq!(stored_json(&parts, key)["status"], "Completed");
    let mut failed = sent_at(done, "2026-11-27T15:00:00Z");
    failed["detail"]["TransformJobStatus"] = "Failed".into();
    failed["detail"]["FailureReason"] = "ClientError: out of memory".into();
    let outcome = parts.deliver(&failed).await;
    assert_ignored(&outcome);
    assert_eq!(stored_json(&parts, key)["status"], "Completed");
    assert!(parts.notifier.alerts().is_empty(), "{:?}", parts.subjects());
}

#[tokio::test]
async fn a_late_in_service_event_after_the_deletion_does_not_move_the_billed_interval() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    let key = "ledger/endpoints/hawkins-chatbot-eleven.json";
    // DeleteEndpoint at 13:00: the Deleting event is handled while SageMaker still deletes.
    assert!(parts.hosting.set_status(ENDPOINT, "Deleting", None));
    let mut deleting = sent_at(
        endpoint_event("sagemaker-endpoint-in-service.json"),
        "2026-11-27T13:00:00Z",
    );
    deleting["detail"]["EndpointStatus"] = "Deleting".into();
    parts.deliver(&deleting).await;
    let history = |parts: &Parts| -> Vec<(String, String)> {
        stored_json(parts, key)["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|e| {
                        (
                            e["at"].as_str().unwrap_or_default().to_string(),
                            e["status"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let closed = vec![
        ("2026-11-27T12:20:00Z".to_string(), "InService".to_string()),
        ("2026-11-27T13:00:00Z".to_string(), "Deleting".to_string()),
    ];
    assert_eq!(history(&parts), closed, "billing stops at the deletion");

    // Gone; an InService event from 12:40 arrives late, then the Deleting event again.
    assert!(parts.hosting.delete(ENDPOINT));
    let late = sent_at(
        endpoint_event("sagemaker-endpoint-in-service.json"),
        "2026-11-27T12:40:00Z",
    );
    parts.deliver(&late).await;
    parts.deliver(&deleting).await;
    assert_eq!(
        history(&parts),
        closed,
        "the deleted endpoint's time is as it was"
    );
}

#[tokio::test]
async fn a_replayed_endpoint_failure_keeps_the_failed_package() {
    let parts = Parts::new();
    let event = first_deploy_failed(&parts).await;
    parts.handle(&event).await.expect("handled");
    assert_eq!(
        parts.endpoint_state().failed_package,
        Some(package_arn(GROUP, 1))
    );
    parts.handle(&event).await.expect("replayed");
    assert_eq!(
        parts.endpoint_state().failed_package,
        Some(package_arn(GROUP, 1)),
        "a replay still knows which package failed"
    );
}

/// The keys the store holds under `prefix`.
fn keys_under(parts: &Parts, prefix: &str) -> Vec<String> {
    parts
        .store
        .snapshot()
        .into_keys()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// `sample` of the stopped job as if created at `created` (RFC 3339), started 5 minutes later,
/// and sent at `sent`; the end (for a finished status) one minute before `sent`.
fn dated(name: &str, created: &str, sent: &str) -> Value {
    let ms = |text: &str| crate::time::parse_rfc3339(text).expect("an RFC 3339 time") * 1000;
    let mut event = sent_at(sample(name), sent);
    let d = &mut event["detail"];
    d["CreationTime"] = ms(created).into();
    d["TrainingStartTime"] = (ms(created) + 300_000).into();
    if d.get("TrainingEndTime").is_some() {
        d["TrainingEndTime"] = (ms(sent) - 60_000).into();
    }
    event
}

#[tokio::test]
async fn a_job_across_a_month_boundary_keeps_the_key_of_its_creation_month_in_any_order() {
    let key = "ledger/training/2026-10/chatbot-eleven-9ff9935c8ed10b50.json";
    let running = dated(
        "sagemaker-training-in-progress.json",
        "2026-10-31T23:50:00Z",
        "2026-10-31T23:56:00Z",
    );
    let stopped = dated(
        "sagemaker-training-stopped.json",
        "2026-10-31T23:50:00Z",
        "2026-11-01T02:00:00Z",
    );
    for order in [[&running, &stopped], [&stopped, &running]] {
        let parts = Parts::new();
        // Each delivered three times (`deliver`), in both orders.
        for event in order {
            parts.deliver(event).await;
        }
        assert_eq!(keys_under(&parts, "ledger/training/"), [key]);
        let record = stored_json(&parts, key);
        assert_eq!(record["status"], "Stopped");
        assert_eq!(record["created_at"], "2026-10-31T23:50:00Z");
        assert_eq!(record["ended_at"], "2026-11-01T01:59:00Z");
    }
}

#[tokio::test]
async fn a_replayed_event_writes_the_same_key_and_nothing_new() {
    let parts = Parts::new();
    let event = sample("sagemaker-training-failed.json");
    parts.handle(&event).await.expect("handled");
    let first = parts.store.snapshot();
    let puts = parts.store.puts();
    let replay = parts.handle(&event).await.expect("handled");
    assert_ignored(&replay);
    assert_eq!(parts.store.snapshot(), first);
    assert_eq!(parts.store.puts(), puts, "a replay writes nothing");
    assert_eq!(
        keys_under(&parts, "ledger/training/"),
        ["ledger/training/2026-11/chatbot-eleven-9ff9935c8ed10b50.json"]
    );
}

#[tokio::test]
async fn a_record_from_before_month_partitions_is_finished_where_it_is() {
    let parts = Parts::new();
    // The previous version recorded the job's start at the flat key; it ends after the upgrade.
    let flat = "ledger/training/chatbot-eleven-9ff9935c8ed10b50.json";
    parts.store.insert(
        flat,
        br#"{"job_name": "chatbot-eleven-9ff9935c8ed10b50", "model": "chatbot-eleven",
            "instance_type": "ml.g5.2xlarge", "status": "InProgress",
            "started_at": "2026-11-27T09:43:00Z", "status_at": "2026-11-27T09:43:00Z"}"#,
    );
    let outcome = parts
        .deliver(&sample("sagemaker-training-stopped.json"))
        .await;
    assert!(
        matches!(outcome, Outcome::Job { recorded: true, .. }),
        "{outcome:?}"
    );
    assert_eq!(keys_under(&parts, "ledger/training/"), [flat]);
    assert_eq!(stored_json(&parts, flat)["status"], "Stopped");
}

#[tokio::test]
async fn an_event_without_a_creation_time_updates_the_record_where_it_is() {
    let undated = |name: &str| {
        let mut event = sample(name);
        if let Some(detail) = event["detail"].as_object_mut() {
            detail.remove("CreationTime");
        }
        event
    };
    // After a dated event: the partition's record, found among the months the job can be of.
    let parts = Parts::new();
    parts
        .deliver(&sample("sagemaker-training-in-progress.json"))
        .await;
    parts
        .deliver(&undated("sagemaker-training-stopped.json"))
        .await;
    let key = "ledger/training/2026-11/chatbot-eleven-9ff9935c8ed10b50.json";
    assert_eq!(keys_under(&parts, "ledger/training/"), [key]);
    assert_eq!(stored_json(&parts, key)["status"], "Stopped");

    // First: the flat key (the cost run reads it), where the dated events that follow find it.
    let parts = Parts::new();
    parts
        .deliver(&undated("sagemaker-training-in-progress.json"))
        .await;
    parts
        .deliver(&sample("sagemaker-training-stopped.json"))
        .await;
    let flat = "ledger/training/chatbot-eleven-9ff9935c8ed10b50.json";
    assert_eq!(keys_under(&parts, "ledger/training/"), [flat]);
    assert_eq!(stored_json(&parts, flat)["status"], "Stopped");
}

#[tokio::test]
async fn a_transform_job_is_kept_in_its_creation_month() {
    let parts = Parts::new();
    theme_files(&parts);
    let mut done = sample("sagemaker-transform-completed.json");
    done["detail"]["CreationTime"] = 1_793_488_800_000u64.into(); // 2026-10-31T23:20:00Z
    parts.deliver(&done).await;
    assert_eq!(
        keys_under(&parts, "ledger/transforms/"),
        ["ledger/transforms/2026-10/hawkins-themes-v2.json"]
    );
}

/// The corpus version of the transform sample.
const THEME_CORPUS: &str = "9ff9935c8ed10b50d1c7e2a8f43b6e01";

/// The theme dataset of the transform sample's corpus version and the job's output, as the
/// ingest and the transform job leave them.
fn theme_files(parts: &Parts) {
    parts.store.insert(
        &format!("datasets/{THEME_CORPUS}/themes/batches.jsonl"),
        include_bytes!("../../../tests/fixtures/themes/batches.jsonl"),
    );
    parts.store.insert(
        &format!("predictions/themes/{THEME_CORPUS}/batches.jsonl.out"),
        include_bytes!("../../../tests/fixtures/themes/batches.jsonl.out"),
    );
}

fn transform_done(job: &str) -> Value {
    let mut done = sample("sagemaker-transform-completed.json");
    done["detail"]["TransformJobName"] = job.into();
    done
}

#[tokio::test]
async fn a_completed_theme_transform_is_combined_per_episode_once() {
    let parts = Parts::new();
    theme_files(&parts);
    let outcome = parts.deliver(&transform_done("hawkins-themes-v2")).await;
    let report_key = format!("processed/themes/{THEME_CORPUS}/episodes.json");
    assert_eq!(
        outcome,
        Outcome::Themes {
            job: "hawkins-themes-v2".into(),
            recorded: true,
            report: report_key.clone(),
            episodes: 2,
            written: true,
            latest: true,
        }
    );
    let report = stored_json(&parts, &report_key);
    assert_eq!(report["package_version"], 2);
    assert_eq!(
        report["themes"],
        serde_json::json!(["fear", "friendship", "the Upside Down"])
    );
    let first = &report["episodes"][0];
    assert_eq!(first["episode"], "S01E01");
    assert_eq!(
        (first["records"].as_u64(), first["sentences"].as_u64()),
        (Some(2), Some(5))
    );
    // (4 × 0.25 + 1 × 0.5) / 5 sentences.
    assert_eq!(first["scores"]["fear"], 0.3);
    let latest = stored_json(&parts, "processed/themes/latest.json");
    assert_eq!(latest["key"], report_key.as_str());
    assert_eq!(latest["corpus_version"], THEME_CORPUS);

    // A replay stores nothing.
    let puts = parts.store.puts();
    let again = parts.handle(&transform_done("hawkins-themes-v2")).await;
    assert!(
        matches!(
            again,
            Ok(Outcome::Themes {
                written: false,
                latest: false,
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(parts.store.puts(), puts);

    // A late event about an older package's job on another corpus version: its own report is
    // written, the pointer stays on the newer package's.
    let older = "0123456789abcdef0123456789abcdef";
    parts.store.insert(
        &format!("datasets/{older}/themes/batches.jsonl"),
        include_bytes!("../../../tests/fixtures/themes/batches.jsonl"),
    );
    parts.store.insert(
        &format!("predictions/themes/{older}/batches.jsonl.out"),
        include_bytes!("../../../tests/fixtures/themes/batches.jsonl.out"),
    );
    let mut late = transform_done("hawkins-themes-v1");
    late["detail"]["Tags"]["hawkins:corpus-version"] = older.into();
    let outcome = parts.deliver(&late).await;
    assert!(
        matches!(
            outcome,
            Outcome::Themes {
                written: true,
                latest: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        stored_json(&parts, "processed/themes/latest.json")["corpus_version"],
        THEME_CORPUS
    );
}

#[tokio::test]
async fn a_theme_transform_without_its_output_is_not_retried_by_itself() {
    let parts = Parts::new();
    let failed = parts.handle(&transform_done("hawkins-themes-v2")).await;
    let Err(e) = failed else { panic!("{failed:?}") };
    assert!(!e.retryable(), "{e}");
    assert!(e.to_string().contains("batches.jsonl"), "{e}");
    assert!(
        keys_under(&parts, "processed/").is_empty(),
        "nothing is written"
    );
    assert_eq!(
        stored_json(&parts, "ledger/transforms/2026-11/hawkins-themes-v2.json")["status"],
        "Completed",
        "the job is in the ledger all the same"
    );
}

#[tokio::test]
async fn a_theme_model_with_auto_approval_is_approved_on_registration_and_scored() {
    let mut parts = Parts::new();
    let text = CONFIG.replace(
        "[model.deploy]\nmode = \"batch\"",
        "[model.gate]\napproval = \"auto\"\n[model.deploy]\nmode = \"batch\"",
    );
    parts.config = crate::config::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut themes = completed("themes-9ff9935c8ed10b50", 0.0);
    themes["detail"]["Tags"]["hawkins:model"] = "themes".into();
    themes["detail"]["Tags"]["hawkins:kind"] = "theme".into();
    themes["detail"]["FinalMetricDataList"] = serde_json::json!([]);
    let outcome = parts.deliver(&themes).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Registered {
                approval,
                deploy: Some(DeployPlan::Batch(_)),
                ..
            } if approval == "Approved"
        ),
        "{outcome:?}"
    );
    assert!(
        parts
            .hosting
            .transform_jobs()
            .contains_key("hawkins-themes-v1")
    );
}

/// The "Object Created" event of a request the CLI wrote.
fn request_event(key: &str) -> Value {
    let mut event = sample("eventbridge-object-created.json");
    event["detail"]["bucket"]["name"] = "hawkins-pipeline".into();
    event["detail"]["object"]["key"] = key.into();
    event
}

fn write_request(parts: &Parts, id: &str, target: crate::requests::DeployTarget) -> String {
    let request = crate::requests::DeployRequest {
        id: id.into(),
        model: "chatbot-eleven".into(),
        target,
        requested_at: "2026-12-07T10:00:00Z".into(),
        requested_by: None,
    };
    let key = crate::requests::key(crate::requests::DEPLOY_PREFIX, id);
    parts
        .store
        .insert(&key, &serde_json::to_vec(&request).expect("JSON"));
    key
}

async fn serving(parts: &Parts) -> Vec<String> {
    super::Hosting::endpoint(&parts.hosting, ENDPOINT)
        .await
        .expect("DescribeEndpoint")
        .expect("endpoint")
        .variants
        .iter()
        .map(|v| v.model.clone())
        .collect()
}

#[tokio::test]
async fn a_rollback_serves_the_previous_version_and_stays_until_a_newer_approval() {
    let parts = Parts::new();
    let event = approved_v2(&parts).await;
    parts.deliver(&event).await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(serving(&parts).await, ["hawkins-chatbot-eleven-v2"]);

    // `hawkins rollback chatbot-eleven`, delivered three times: one update, to v1.
    let key = write_request(&parts, "r1", crate::requests::DeployTarget::Previous);
    let outcome = parts.deliver(&request_event(&key)).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Requested {
                version: 1,
                deploy: DeployPlan::Update(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), 2);
    assert_eq!(parts.endpoint_state().held_through, Some(2));
    assert!(parts.hosting.settle(ENDPOINT));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(serving(&parts).await, ["hawkins-chatbot-eleven-v1"]);
    assert_eq!(
        parts.endpoint_state().held_through,
        Some(2),
        "the InService event keeps the hold, and does not take v2 back up"
    );

    // The late approval event of v2 changes nothing either.
    let late = parts.deliver(&event).await;
    assert!(
        matches!(
            late,
            Outcome::Package {
                deploy: Some(DeployPlan::Held { through: 2 }),
                ..
            }
        ),
        "{late:?}"
    );
    assert_eq!(serving(&parts).await, ["hawkins-chatbot-eleven-v1"]);

    // `hawkins deploy chatbot-eleven --version 2` puts it back on purpose.
    let key = write_request(
        &parts,
        "r2",
        crate::requests::DeployTarget::Version { version: 2 },
    );
    parts.deliver(&request_event(&key)).await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(serving(&parts).await, ["hawkins-chatbot-eleven-v2"]);

    // A third model approved later deploys as usual.
    parts
        .deliver(&completed("chatbot-eleven-cccc3333", 1.2))
        .await;
    assert!(parts.hosting.settle(ENDPOINT));
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(serving(&parts).await, ["hawkins-chatbot-eleven-v3"]);
}

#[tokio::test]
async fn a_request_for_an_unapproved_version_deploys_nothing_and_is_told_once() {
    let parts = Parts::new();
    serving_v1(&parts).await;
    parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    let key = write_request(
        &parts,
        "r3",
        crate::requests::DeployTarget::Version { version: 2 },
    );
    let updates = parts.hosting.faults.count("UpdateEndpoint");
    let outcome = parts.deliver(&request_event(&key)).await;
    let Outcome::RequestRefused { reason, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("not an approved package"), "{reason}");
    assert_eq!(parts.hosting.faults.count("UpdateEndpoint"), updates);
    let refused: Vec<_> = parts
        .subjects()
        .into_iter()
        .filter(|s| s.contains("r3"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
}
