//! The lifecycle function's paths on the local AWS, driven by the samples in `events/`: a job
//! completes and is approved and deployed, a job is held for a person who approves it, the canary
//! update rolls back, jobs fail and stop, a person rolls back. Every event is delivered three times; the registry,
//! endpoints, alarms, scaling and the messages a person receives must not change on a replay.

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use hawkins::aws::autoscaling::EndpointGuards;
use hawkins::aws::lifecycle::SageMakerLifecycle;
use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;
use hawkins::config::Config;
use hawkins::lifecycle::plan::DeployPlan;
use hawkins::lifecycle::{Lifecycle, Outcome};
use hawkins::store::ObjectStore;
use hawkins::training::StackSettings;
use hawkins_localaws::{Delivered, LOCAL_HOSTING_ROLE, LocalStack};
use hawkins_tests::{Envelope, event, fixture, read, read_json, root, stack, test_config};
use serde_json::Value;

const ENDPOINT: &str = "hawkins-chatbot-eleven";
const GROUP: &str = "hawkins-chatbot-eleven";

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
            config: test_config(),
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
    async fn deliver(&self, event: &Value) -> Outcome {
        let lifecycle = self.lifecycle();
        let now = 1_795_800_000;
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
}

fn sample(name: &str) -> Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the sample is JSON")
}

/// The completed-job sample for `job`, reporting `eval_loss`, its artifact in the local bucket.
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

fn endpoint_event(name: &str) -> Value {
    let mut event = sample(name);
    event["detail"]["EndpointName"] = ENDPOINT.into();
    event
}

async fn inbox(stack: &LocalStack) -> Vec<Delivered> {
    stack.delivered().await.expect("the e-mail stand-in reads")
}

async fn packages(stack: &LocalStack) -> Vec<(i32, String)> {
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    let out = sm
        .list_model_packages()
        .model_package_group_name(GROUP)
        .send()
        .await
        .expect("ListModelPackages");
    let mut v: Vec<(i32, String)> = out
        .model_package_summary_list()
        .iter()
        .map(|p| {
            (
                p.model_package_version().unwrap_or_default(),
                p.model_approval_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn endpoint(
    stack: &LocalStack,
) -> aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput {
    aws_sdk_sagemaker::Client::new(&stack.config)
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .expect("DescribeEndpoint")
}

/// The role a model runs as.
async fn model_role(stack: &LocalStack, model: &str) -> String {
    aws_sdk_sagemaker::Client::new(&stack.config)
        .describe_model()
        .model_name(model)
        .send()
        .await
        .expect("DescribeModel")
        .execution_role_arn()
        .unwrap_or_default()
        .to_string()
}

async fn scaling_targets(stack: &LocalStack) -> Vec<(String, i32, i32)> {
    let aas = aws_sdk_applicationautoscaling::Client::new(&stack.config);
    let out = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Sagemaker)
        .send()
        .await
        .expect("DescribeScalableTargets");
    out.scalable_targets()
        .iter()
        .map(|t| {
            (
                t.resource_id().to_string(),
                t.min_capacity(),
                t.max_capacity(),
            )
        })
        .collect()
}

async fn alarms(stack: &LocalStack) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&stack.config);
    let out = cw
        .describe_alarms()
        .alarm_name_prefix(ENDPOINT)
        .send()
        .await
        .expect("DescribeAlarms");
    let mut names: Vec<String> = out
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Completed → approved by the gate → endpoint created with alarms → InService → scaling and one
/// "serving" message. Then a better job → held for a person → approved by hand → canary update →
/// InService. A late approval event of the first package deploys nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_models_are_deployed_and_held_ones_wait_for_a_person() {
    let stack = stack().await;
    let parts = Parts::new(&stack);

    // 1. The first job passes the gate (threshold 2.0, nothing approved yet).
    let outcome = parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    let Outcome::Registered {
        approval,
        created: true,
        deploy: Some(DeployPlan::Create(_)),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(approval, "Approved");
    assert_eq!(packages(&stack).await, [(1, "Approved".to_string())]);
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    let package = sm
        .describe_model_package()
        .model_package_name(format!(
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/1"
        ))
        .send()
        .await
        .expect("DescribeModelPackage");
    let meta = package.customer_metadata_properties().expect("metadata");
    assert_eq!(meta["hawkins:training-job"], "chatbot-eleven-aaaa1111");
    assert_eq!(
        meta["hawkins:corpus-version"],
        "9ff9935c8ed10b50d1c7e2a8f43b6e01"
    );
    assert_eq!(meta["hawkins:metric:eval_loss"], "1.6");
    let ep = endpoint(&stack).await;
    let first_config = ep.endpoint_config_name().unwrap_or_default().to_string();
    assert!(
        first_config.starts_with("hawkins-chatbot-eleven-v1-"),
        "{first_config}"
    );
    assert_eq!(
        model_role(&stack, "hawkins-chatbot-eleven-v1").await,
        LOCAL_HOSTING_ROLE,
        "the endpoint's model runs as the hosting role"
    );
    assert_eq!(
        alarms(&stack).await,
        [
            "hawkins-chatbot-eleven-primary-5xx",
            "hawkins-chatbot-eleven-primary-latency"
        ]
    );
    let ledger = read_json(
        &stack,
        "ledger/training/2026-11/chatbot-eleven-aaaa1111.json",
    )
    .await;
    assert_eq!(ledger["billable_seconds"], 1620);
    assert_eq!(ledger["status"], "Completed");
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].subject.contains("approved"),
        "{}",
        messages[0].subject
    );

    // 2. SageMaker reports the endpoint InService: scaling is registered, one message.
    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert!(
        matches!(outcome, Outcome::Endpoint { alerted: true, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        scaling_targets(&stack).await,
        [(
            "endpoint/hawkins-chatbot-eleven/variant/primary".to_string(),
            1,
            3
        )]
    );
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].subject.contains("serving"));
    let aas = aws_sdk_applicationautoscaling::Client::new(&stack.config);
    let policies = aas
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Sagemaker)
        .send()
        .await
        .expect("DescribeScalingPolicies");
    let policy = policies
        .scaling_policies()
        .first()
        .expect("a scaling policy");
    assert_eq!(
        policy.policy_name(),
        "hawkins-chatbot-eleven-primary-invocations"
    );
    let tracking = policy
        .target_tracking_scaling_policy_configuration()
        .expect("target tracking");
    assert_eq!(tracking.target_value(), 60.0);
    let config = sm
        .describe_endpoint_config()
        .endpoint_config_name(&first_config)
        .send()
        .await
        .expect("DescribeEndpointConfig");
    let variant = &config.production_variants()[0];
    assert_eq!(variant.variant_name(), Some("primary"));
    assert_eq!(variant.model_name(), Some("hawkins-chatbot-eleven-v1"));
    assert_eq!(
        variant.instance_type().map(|t| t.as_str()),
        Some("ml.g5.xlarge")
    );
    let history = read_json(&stack, "ledger/endpoints/hawkins-chatbot-eleven.json").await;
    assert_eq!(history["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        history["history"][0]["variants"][0]["instance_type"],
        "ml.g5.xlarge"
    );

    // 3. A job only slightly better (1.58 vs 1.6; min_improvement 0.05): held.
    let outcome = parts
        .deliver(&completed("chatbot-eleven-bbbb2222", 1.58))
        .await;
    assert!(
        matches!(&outcome, Outcome::Registered { approval, created: true, deploy: None, .. } if approval == "PendingManualApproval"),
        "{outcome:?}"
    );
    let arn2 = format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/2");
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].subject.contains("waits for your approval"));
    assert!(
        messages[0]
            .message
            .contains(&format!("hawkins approve {arn2}")),
        "{}",
        messages[0].message
    );
    assert!(
        messages[0]
            .message
            .contains("not better than the approved version 1")
    );
    assert_eq!(
        endpoint(&stack).await.endpoint_config_name(),
        Some(first_config.as_str())
    );

    // 4. A person approves it: the approval event updates the endpoint with a canary.
    sm.update_model_package()
        .model_package_arn(&arn2)
        .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Approved)
        .send()
        .await
        .expect("UpdateModelPackage");
    let mut approval = sample("sagemaker-package-approved.json");
    approval["detail"]["ModelPackageArn"] = arn2.clone().into();
    approval["detail"]["ModelPackageVersion"] = 2.into();
    let outcome = parts.deliver(&approval).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Package {
                deploy: Some(DeployPlan::Update(_)),
                ..
            }
        ),
        "{outcome:?}"
    );
    let ep = endpoint(&stack).await;
    let second_config = ep.endpoint_config_name().unwrap_or_default().to_string();
    assert!(
        second_config.starts_with("hawkins-chatbot-eleven-v2-"),
        "{second_config}"
    );
    let deployment = ep
        .last_deployment_config()
        .expect("the update's deployment config");
    let routing = deployment
        .blue_green_update_policy()
        .and_then(|p| p.traffic_routing_configuration())
        .expect("traffic routing");
    assert_eq!(routing.r#type().map(|t| t.as_str()), Some("CANARY"));
    assert_eq!(routing.canary_size().and_then(|c| c.value()), Some(20));
    assert_eq!(routing.wait_interval_in_seconds(), Some(300));
    let rollback: Vec<&str> = deployment
        .auto_rollback_configuration()
        .map(|r| r.alarms().iter().filter_map(|a| a.alarm_name()).collect())
        .unwrap_or_default();
    assert_eq!(
        rollback,
        [
            "hawkins-chatbot-eleven-primary-5xx",
            "hawkins-chatbot-eleven-primary-latency"
        ]
    );
    assert!(
        scaling_targets(&stack).await.is_empty(),
        "deregistered for the update"
    );

    // 5. InService on the new config: scaling back, one message.
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    assert_eq!(scaling_targets(&stack).await.len(), 1);
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].message.contains(&second_config));

    // 6. The first package's approval event arrives late: nothing changes.
    let mut late = sample("sagemaker-package-approved.json");
    late["detail"]["ModelPackageArn"] =
        format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/1").into();
    let outcome = parts.deliver(&late).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Package {
                deploy: Some(DeployPlan::AlreadyServing { version: 2 }),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        endpoint(&stack).await.endpoint_config_name(),
        Some(second_config.as_str())
    );
    // And the first job's Completed event again: still two packages.
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    assert_eq!(packages(&stack).await.len(), 2);
    assert!(inbox(&stack).await.is_empty());

    // 7. `hawkins rollback chatbot-eleven`: the request's event (delivered three times) puts
    // version 1 back, alone, and holds it there: neither the next InService event nor a replayed
    // approval of version 2 takes it away.
    let request = hawkins::requests::DeployRequest {
        id: "20261207t100000z-0a1b2c3d".into(),
        model: "chatbot-eleven".into(),
        target: hawkins::requests::DeployTarget::Previous,
        requested_at: "2026-12-07T10:00:00Z".into(),
        requested_by: None,
    };
    let key = hawkins::requests::submit(
        &stack.store(),
        hawkins::requests::DEPLOY_PREFIX,
        &request.id,
        &request,
    )
    .await
    .expect("request written");
    let outcome = parts
        .deliver(&event(Envelope::EventBridge, &stack.bucket, &key))
        .await;
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
    let back = endpoint(&stack).await;
    let back_config = back.endpoint_config_name().unwrap_or_default().to_string();
    assert!(
        back_config.starts_with("hawkins-chatbot-eleven-v1-"),
        "{back_config}"
    );
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    let outcome = parts.deliver(&approval).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Package {
                deploy: Some(DeployPlan::Held { through: 2 }),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        endpoint(&stack).await.endpoint_config_name(),
        Some(back_config.as_str())
    );
    assert!(
        read(
            &stack,
            &format!("state/requests/deploy/{}.json", request.id)
        )
        .await
        .is_some(),
        "the request is recorded as carried out"
    );
}

/// A canary update whose alarm fires: SageMaker rolls back and the endpoint stays InService on the
/// old config. The InService event is recognised as a failed update: one critical message, and
/// scaling returns to the serving variant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_rolled_back_while_in_service_is_reported() {
    let stack = stack().await;
    let parts = Parts::new(&stack);
    parts
        .deliver(&completed("chatbot-eleven-aaaa1111", 1.6))
        .await;
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-in-service.json"))
        .await;
    let first_config = endpoint(&stack)
        .await
        .endpoint_config_name()
        .unwrap_or_default()
        .to_string();
    let outcome = parts
        .deliver(&completed("chatbot-eleven-cccc3333", 1.2))
        .await;
    assert!(
        matches!(
            &outcome,
            Outcome::Registered {
                deploy: Some(DeployPlan::Update(_)),
                ..
            }
        ),
        "{outcome:?}"
    );
    inbox(&stack).await;
    stack
        .roll_back_endpoint(
            ENDPOINT,
            "Alarm hawkins-chatbot-eleven-primary-5xx went into ALARM during the canary",
        )
        .await
        .expect("the stand-in rolls back");
    assert_eq!(
        endpoint(&stack)
            .await
            .endpoint_status()
            .map(|s| s.as_str().to_string())
            .as_deref(),
        Some("InService")
    );

    let outcome = parts
        .deliver(&endpoint_event("sagemaker-endpoint-update-failed.json"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Endpoint { alerted: true, .. }),
        "{outcome:?}"
    );
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].subject.contains("failed and was rolled back"));
    assert!(messages[0].message.contains(&first_config));
    assert!(
        messages[0]
            .message
            .contains("went into ALARM during the canary")
    );
    assert_eq!(
        messages[0].attributes.get("severity").map(String::as_str),
        Some("critical")
    );
    assert_eq!(scaling_targets(&stack).await.len(), 1);
    // Replayed later: nothing more to say.
    parts
        .deliver(&endpoint_event("sagemaker-endpoint-update-failed.json"))
        .await;
    assert!(inbox(&stack).await.is_empty());
}

/// Failed and stopped jobs: recorded in the ledger, one message each with the reason and what to
/// do; no package. A late InProgress event does not bring the failed job back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_stopped_jobs_are_heard_once() {
    let stack = stack().await;
    let parts = Parts::new(&stack);
    let failed = sample("sagemaker-training-failed.json");
    let job = failed["detail"]["TrainingJobName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let outcome = parts.deliver(&failed).await;
    assert!(
        matches!(&outcome, Outcome::Job { alerted: true, .. }),
        "{outcome:?}"
    );
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].subject.contains("failed"));
    assert!(messages[0].message.contains("CUDA out of memory"));
    assert!(
        messages[0]
            .message
            .contains(&format!("hawkins jobs logs {job}"))
    );
    let ledger = read_json(&stack, &format!("ledger/training/2026-11/{job}.json")).await;
    assert_eq!(ledger["status"], "Failed");

    parts
        .deliver(&sample("sagemaker-training-in-progress.json"))
        .await;
    let ledger = read_json(&stack, &format!("ledger/training/2026-11/{job}.json")).await;
    assert_eq!(
        ledger["status"], "Failed",
        "a late InProgress changes nothing"
    );

    let outcome = parts
        .deliver(&sample("sagemaker-training-stopped.json"))
        .await;
    assert!(
        matches!(&outcome, Outcome::Job { alerted: true, .. }),
        "{outcome:?}"
    );
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].message.contains("spot capacity"));
    assert!(messages[0].message.contains("max_wait_seconds"));
    assert!(packages_or_none(&stack).await.is_empty());
}

async fn packages_or_none(stack: &LocalStack) -> Vec<String> {
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    match sm
        .list_model_packages()
        .model_package_group_name(GROUP)
        .send()
        .await
    {
        Ok(out) => out
            .model_package_summary_list()
            .iter()
            .filter_map(|p| p.model_package_arn().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A trial of the location classifier's tuning job.
fn trial(tuning: &str, trial: &str, f1: f64) -> Value {
    let mut event = completed(trial, 0.0);
    let d = &mut event["detail"];
    d["TuningJobArn"] =
        format!("arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{tuning}")
            .into();
    d["FinalMetricDataList"] = serde_json::json!([{"MetricName": "accuracy", "Value": f1}]);
    d["Tags"]["hawkins:model"] = "locations".into();
    d["Tags"]["hawkins:kind"] = "location".into();
    d["ModelArtifacts"]["S3ModelArtifacts"] = format!(
        "s3://hawkins-pipeline-local/training-output/locations/{trial}/output/model.tar.gz"
    )
    .into();
    event
}

/// A tuning job registers its best trial once (and waits, retryable, for that trial's own event
/// when it comes first); a batch model's approval runs a transform job, whose completion lands in
/// the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuning_jobs_register_their_best_trial_and_batch_models_run_a_transform() {
    let stack = stack().await;
    let parts = Parts::new(&stack);
    let tuning = "locations-9ff9935c";
    let mut done = sample("sagemaker-tuning-completed.json");
    done["detail"]["HyperParameterTuningJobName"] = tuning.into();
    done["detail"]["BestTrainingJob"]["TrainingJobName"] = format!("{tuning}-002-bbbbbbbb").into();
    done["detail"]["Tags"]["hawkins:model"] = "locations".into();

    // The tuning job's event before its best trial's: refused as retryable, nothing registered.
    let early = parts.lifecycle().handle(done.clone(), 0).await;
    let Err(e) = early else { panic!("{early:?}") };
    assert!(hawkins::error::Retry::retryable(&e), "{e}");

    for (name, score) in [("001-aaaaaaaa", 0.7), ("002-bbbbbbbb", 0.8)] {
        let outcome = parts
            .deliver(&trial(tuning, &format!("{tuning}-{name}"), score))
            .await;
        assert!(
            matches!(outcome, Outcome::Job { .. }),
            "a trial is recorded, not registered: {outcome:?}"
        );
    }
    let outcome = parts.deliver(&done).await;
    assert!(
        matches!(&outcome, Outcome::Registered { job, approval, .. } if job == "locations-9ff9935c-002-bbbbbbbb" && approval == "PendingManualApproval"),
        "{outcome:?}"
    );
    let sm = aws_sdk_sagemaker::Client::new(&stack.config);
    let listed = sm
        .list_model_packages()
        .model_package_group_name("hawkins-locations")
        .send()
        .await
        .expect("ListModelPackages");
    assert_eq!(listed.model_package_summary_list().len(), 1);
    // A Failed event about the same tuning job, sent before its completion but delivered after
    // it: stale, neither told nor acted on.
    let mut late = done.clone();
    late["detail"]["HyperParameterTuningJobStatus"] = "Failed".into();
    late["detail"]["FailureReason"] = "All training jobs failed".into();
    let outcome = parts.deliver(&late).await;
    assert!(matches!(outcome, Outcome::Ignored { .. }), "{outcome:?}");
    let messages = inbox(&stack).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].message.contains("no [model.gate]"));

    // The theme model: held (no gate), approved by a person, scored by a transform job.
    let mut themes = completed("themes-9ff9935c8ed10b50", 0.0);
    themes["detail"]["Tags"]["hawkins:model"] = "themes".into();
    themes["detail"]["Tags"]["hawkins:kind"] = "theme".into();
    parts.deliver(&themes).await;
    let arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/hawkins-themes/1";
    sm.update_model_package()
        .model_package_arn(arn)
        .model_approval_status(aws_sdk_sagemaker::types::ModelApprovalStatus::Approved)
        .send()
        .await
        .expect("UpdateModelPackage");
    let mut approval = sample("sagemaker-package-approved.json");
    approval["detail"]["ModelPackageArn"] = arn.into();
    let outcome = parts.deliver(&approval).await;
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
    let job = sm
        .describe_transform_job()
        .transform_job_name("hawkins-themes-v1")
        .send()
        .await
        .expect("the transform job exists");
    assert_eq!(job.model_name(), Some("hawkins-themes-v1"));
    assert_eq!(
        model_role(&stack, "hawkins-themes-v1").await,
        LOCAL_HOSTING_ROLE,
        "the transform job's model runs as the hosting role"
    );
    let input = job
        .transform_input()
        .and_then(|i| i.data_source())
        .and_then(|d| d.s3_data_source())
        .map(|s| s.s3_uri().unwrap_or_default().to_string())
        .unwrap_or_default();
    assert_eq!(
        input,
        "s3://hawkins-pipeline-local/datasets/9ff9935c8ed10b50d1c7e2a8f43b6e01/themes/batches.jsonl"
    );

    // The job's dataset and output, as the ingest and the transform job leave them.
    let corpus = "9ff9935c8ed10b50d1c7e2a8f43b6e01";
    let store = stack.store();
    let dataset = fixture("themes/batches.jsonl");
    let files = [
        (
            format!("datasets/{corpus}/themes/batches.jsonl"),
            dataset.clone(),
        ),
        (
            format!("predictions/themes/{corpus}/batches.jsonl.out"),
            hawkins_localaws::standin::theme_output(&dataset).into_bytes(),
        ),
    ];
    for (key, bytes) in files {
        store
            .put_if_changed(&key, bytes, "application/jsonlines")
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }

    let mut finished = sample("sagemaker-transform-completed.json");
    finished["detail"]["TransformJobName"] = "hawkins-themes-v1".into();
    let outcome = parts.deliver(&finished).await;
    assert!(
        matches!(
            &outcome,
            Outcome::Themes {
                episodes: 2,
                written: true,
                latest: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let ledger = read_json(&stack, "ledger/transforms/2026-11/hawkins-themes-v1.json").await;
    assert_eq!(ledger["status"], "Completed");
    assert_eq!(ledger["billable_seconds"], 1800);

    // Each episode's themes, and the pointer to them.
    let report_key = format!("processed/themes/{corpus}/episodes.json");
    let report = read_json(&stack, &report_key).await;
    assert_eq!(report["job"], "hawkins-themes-v1");
    assert_eq!(report["themes"].as_array().map(Vec::len), Some(8));
    let episodes: Vec<(&str, u64)> = report["episodes"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    (
                        e["episode"].as_str().unwrap_or_default(),
                        e["sentences"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(episodes, [("S01E01", 5), ("S01E02", 2)]);
    let latest = read_json(&stack, "processed/themes/latest.json").await;
    assert_eq!(latest["key"], report_key.as_str());

    // A replay writes nothing: the bucket is versioned, so any write would be a new version.
    let keys = [report_key.as_str(), "processed/themes/latest.json"];
    let before = revisions(&stack, &keys).await;
    let again = parts
        .lifecycle()
        .handle(finished.clone(), 1_795_800_000)
        .await;
    assert!(
        matches!(
            &again,
            Ok(Outcome::Themes {
                written: false,
                latest: false,
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(revisions(&stack, &keys).await, before);
}

/// The object revisions (S3 version ids) of `keys`.
async fn revisions(stack: &LocalStack, keys: &[&str]) -> Vec<Option<String>> {
    let store = stack.store();
    let mut out = Vec::new();
    for key in keys {
        let head = store
            .head(key)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        out.push(head.map(|h| h.revision));
    }
    out
}
