//! The lifecycle's decisions, on hand-made cases.

use std::collections::BTreeMap;

use super::events::{self, LifecycleEvent, TrainingJob};
use super::plan::*;
use crate::config::{Config, Direction, Gate};
use crate::ledger::{EndpointRecord, HistoryEntry, JobStatus};

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
name = "chatbot-hopper"
kind = "chatbot"
dataset = "chatbot/jim-hopper.jsonl"
character = "Jim Hopper"
base_model = "Qwen/Qwen2.5-3B-Instruct"
[model.deploy]
mode = "realtime"
instance_type = "ml.g5.xlarge"
strategy = "ab"
ab_weight = 0.25

[[model]]
name = "locations"
kind = "location"
dataset = "locations/locations.jsonl"
base_model = "distilbert-base-uncased"
[model.deploy]
mode = "serverless"
serverless = { memory_mb = 2048, max_concurrency = 4 }
strategy = "linear"
linear_step_percent = 25
wait_minutes = 2
"#;

fn config() -> Config {
    crate::config::parse("test.toml", CONFIG).unwrap_or_else(|e| panic!("{e}"))
}

fn sample_job(name: &str) -> TrainingJob {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match events::parse(serde_json::from_str(&text).expect("JSON")) {
        Ok((LifecycleEvent::TrainingJob(job), _)) => *job,
        other => panic!("{other:?}"),
    }
}

fn package(version: u32) -> Package {
    Package {
        arn: format!(
            "arn:aws:sagemaker:eu-west-1:123456789012:model-package/hawkins-chatbot-eleven/{version}"
        ),
        group: "hawkins-chatbot-eleven".into(),
        version,
        approval: "Approved".into(),
        image: "img:1".into(),
        model_data_url: format!("s3://b/models/{version}/model.tar.gz"),
        metadata: BTreeMap::new(),
    }
}

fn serving(status: &str, models: &[(&str, &str)]) -> Endpoint {
    Endpoint {
        name: "hawkins-chatbot-eleven".into(),
        status: status.into(),
        config: "old-config".into(),
        failure_reason: None,
        variants: models
            .iter()
            .map(|(v, m)| EndpointVariant {
                name: v.to_string(),
                model: m.to_string(),
                instance_type: Some("ml.g5.xlarge".into()),
                instance_count: Some(1),
                serverless: None,
                weight: 1.0,
            })
            .collect(),
    }
}

#[test]
fn jobs_are_recognised_by_their_tags() {
    let config = config();
    let mut job = sample_job("sagemaker-training-completed.json");
    assert_eq!(
        job_model(&job, "hawkins", &config.models).map(|m| m.name.as_str()),
        Some("chatbot-eleven")
    );
    assert!(job_model(&job, "other", &config.models).is_none());
    job.tags.insert("hawkins:model".into(), "unknown".into());
    assert!(job_model(&job, "hawkins", &config.models).is_none());
    job.tags.clear();
    assert!(job_model(&job, "hawkins", &config.models).is_none());
}

#[test]
fn the_ledger_record_carries_what_the_cost_run_prices() {
    let config = config();
    let job = sample_job("sagemaker-training-completed.json");
    let record = job_record(&job, &config.models[0], "eu-west-1");
    assert_eq!(record.instance_type, "ml.g5.2xlarge");
    assert_eq!(record.instance_count, 1);
    assert!(record.spot);
    assert_eq!(record.training_seconds, Some(5400));
    assert_eq!(record.billable_seconds, Some(1620));
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(record.corpus_version, "9ff9935c8ed10b50d1c7e2a8f43b6e01");
    assert!(record.ended_at.is_some() && record.started_at.is_some());
    assert_eq!(record.metrics["eval_loss"], serde_json::json!(1.687));
    let running = job_record(
        &sample_job("sagemaker-training-in-progress.json"),
        &config.models[0],
        "eu-west-1",
    );
    assert!(running.running());
    // A late InProgress never replaces a finished record; the finished one replaces anything.
    assert!(!supersedes(Some(&record), &running));
    assert!(supersedes(Some(&running), &record));
    assert!(supersedes(Some(&record), &record));
    assert!(supersedes(None, &running));
}

#[test]
fn a_finished_record_gives_way_only_to_a_newer_event_and_never_after_completion() {
    let config = config();
    let record = |name: &str, at: Option<&str>| {
        let mut r = job_record(&sample_job(name), &config.models[0], "eu-west-1");
        r.status_at = at.map(str::to_string);
        r
    };
    let failed = record(
        "sagemaker-training-failed.json",
        Some("2026-11-27T10:14:20Z"),
    );
    let stopped = record(
        "sagemaker-training-stopped.json",
        Some("2026-11-27T18:23:20Z"),
    );
    let completed = record(
        "sagemaker-training-completed.json",
        Some("2026-11-27T11:14:00Z"),
    );
    assert_eq!(
        job_record(
            &sample_job("sagemaker-training-failed.json"),
            &config.models[0],
            "eu-west-1"
        )
        .status_at
        .as_deref(),
        Some("2026-11-27T09:54:20Z"),
        "dated by the detail's LastModifiedTime, not the envelope's time"
    );
    // By time: the newer end replaces the older, never the other way round.
    assert!(supersedes(Some(&failed), &stopped));
    assert!(!supersedes(Some(&stopped), &failed));
    // Completed is final, older or newer.
    assert!(!supersedes(Some(&completed), &failed));
    assert!(!supersedes(Some(&completed), &stopped));
    assert!(supersedes(Some(&completed), &completed));
    // A replay of an older InProgress after a newer one is stale too.
    let early = record(
        "sagemaker-training-in-progress.json",
        Some("2026-11-27T09:43:00Z"),
    );
    let later = record(
        "sagemaker-training-in-progress.json",
        Some("2026-11-27T09:50:00Z"),
    );
    assert!(supersedes(Some(&early), &later));
    assert!(!supersedes(Some(&later), &early));
    // Without both times, a finished record keeps its status; a replay of it is taken.
    let undated_failed = record("sagemaker-training-failed.json", None);
    assert!(!supersedes(Some(&undated_failed), &stopped));
    assert!(supersedes(Some(&undated_failed), &failed));
    assert!(supersedes(
        Some(&record("sagemaker-training-in-progress.json", None)),
        &failed
    ));
}

#[test]
fn stop_causes_are_told_apart() {
    assert_eq!(
        job_outcome(&sample_job("sagemaker-training-stopped.json")),
        JobOutcome::Stopped {
            cause: StopCause::SpotCapacity,
            reason: Some("Training job reached the maximum wait time (MaxWaitTimeInSeconds) while waiting for spot capacity.".into())
        }
    );
    let mut job = sample_job("sagemaker-training-stopped.json");
    job.secondary_status = Some("MaxRuntimeExceeded".into());
    assert!(matches!(
        job_outcome(&job),
        JobOutcome::Stopped {
            cause: StopCause::MaxRuntime,
            ..
        }
    ));
    job.secondary_status = Some("Stopped".into());
    assert!(matches!(
        job_outcome(&job),
        JobOutcome::Stopped {
            cause: StopCause::Requested,
            ..
        }
    ));
    let failed = job_outcome(&sample_job("sagemaker-training-failed.json"));
    assert!(
        matches!(&failed, JobOutcome::Failed { reason, spot_capacity: false } if reason.contains("CUDA out of memory"))
    );
    assert_eq!(
        job_outcome(&sample_job("sagemaker-training-in-progress.json")),
        JobOutcome::Running
    );
}

fn metrics(value: f64) -> BTreeMap<String, f64> {
    BTreeMap::from([("eval_loss".to_string(), value)])
}

#[test]
fn the_gate_reads_threshold_then_improvement() {
    let gate_cfg = Gate {
        metric: "eval_loss".into(),
        direction: Direction::Minimize,
        threshold: Some(2.0),
        min_improvement: 0.05,
    };
    let g = Some(&gate_cfg);
    assert!(matches!(
        gate(g, &metrics(1.5), None),
        Verdict::Approve { .. }
    ));
    assert!(matches!(
        gate(g, &metrics(2.0), None),
        Verdict::Approve { .. }
    ));
    let miss = gate(g, &metrics(2.1), None);
    assert!(matches!(&miss, Verdict::Hold { reason } if reason.contains("threshold 2")));
    // Better than approved v3 (1.6) by 0.1: approved; by 0.01: held.
    assert!(matches!(
        gate(g, &metrics(1.5), Some((3, Some(1.6)))),
        Verdict::Approve { .. }
    ));
    let small = gate(g, &metrics(1.59), Some((3, Some(1.6))));
    assert!(matches!(&small, Verdict::Hold { reason } if reason.contains("version 3")));
    // An approved package without the metric is no bar.
    assert!(matches!(
        gate(g, &metrics(1.9), Some((3, None))),
        Verdict::Approve { .. }
    ));
    // Missing or NaN metric, or no gate at all: a person decides.
    assert!(matches!(
        gate(g, &BTreeMap::new(), None),
        Verdict::Hold { .. }
    ));
    assert!(matches!(
        gate(g, &metrics(f64::NAN), None),
        Verdict::Hold { .. }
    ));
    assert!(matches!(
        gate(None, &metrics(0.1), None),
        Verdict::Hold { .. }
    ));
    let max = Gate {
        metric: "eval_loss".into(),
        direction: Direction::Maximize,
        threshold: Some(0.6),
        min_improvement: 0.0,
    };
    assert!(matches!(
        gate(Some(&max), &metrics(0.7), Some((1, Some(0.7)))),
        Verdict::Approve { .. }
    ));
    assert!(matches!(
        gate(Some(&max), &metrics(0.65), Some((1, Some(0.7)))),
        Verdict::Hold { .. }
    ));
    assert!(matches!(
        gate(Some(&max), &metrics(0.5), None),
        Verdict::Hold { .. }
    ));
}

#[test]
fn a_package_spec_has_lineage_and_the_decision() {
    let config = config();
    let job = sample_job("sagemaker-training-completed.json");
    let verdict = Verdict::Hold {
        reason: "x".repeat(400),
    };
    let spec = package_spec(
        &job,
        &config.models[0],
        "hawkins",
        "img:1",
        "s3://b/m.json",
        "s3://b/d/manifest.json",
        &verdict,
    )
    .expect("the job has an artifact");
    assert_eq!(spec.group, "hawkins-chatbot-eleven");
    assert_eq!(spec.approval, "PendingManualApproval");
    assert_eq!(spec.client_token, job.training_job_name);
    assert!(spec.model_data_url.ends_with("output/model.tar.gz"));
    assert_eq!(spec.metadata[meta::JOB], job.training_job_name);
    assert_eq!(
        spec.metadata[meta::CORPUS_VERSION],
        "9ff9935c8ed10b50d1c7e2a8f43b6e01"
    );
    assert_eq!(spec.metadata["hawkins:metric:eval_loss"], "1.687");
    assert_eq!(spec.metadata[meta::GATE].chars().count(), 256);
    let failed = sample_job("sagemaker-training-failed.json");
    assert!(
        package_spec(
            &failed,
            &config.models[0],
            "hawkins",
            "i",
            "m",
            "d",
            &verdict
        )
        .is_none()
    );
}

/// The role the deployed models run as, as the lifecycle function is given it.
const HOSTING: &str = "arn:aws:iam::123456789012:role/hawkins-hosting";

#[test]
fn a_first_deployment_creates_the_endpoint_with_alarms() {
    let config = config();
    let plan = plan_deploy(
        &config.models[0],
        &package(3),
        None,
        "hawkins",
        HOSTING,
        "b",
        DeployTrigger::Approval,
    );
    let DeployPlan::Create(r) = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(r.endpoint, "hawkins-chatbot-eleven");
    assert_eq!(r.model.name, "hawkins-chatbot-eleven-v3");
    assert_eq!(
        r.model.role_arn, HOSTING,
        "the model runs as the role given"
    );
    assert_eq!(r.model.model_data_url, "s3://b/models/3/model.tar.gz");
    assert!(r.config.name.starts_with("hawkins-chatbot-eleven-v3-"));
    assert_eq!(r.config.variants.len(), 1);
    assert_eq!(r.config.variants[0].name, PRIMARY);
    assert_eq!(
        r.config.variants[0].instance_type.as_deref(),
        Some("ml.g5.xlarge")
    );
    let names: Vec<&str> = r.alarms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "hawkins-chatbot-eleven-primary-5xx",
            "hawkins-chatbot-eleven-primary-latency"
        ]
    );
    assert!(r.deployment.is_none() && r.deregister.is_empty());
    // Same package, same settings: same names.
    let again = plan_deploy(
        &config.models[0],
        &package(3),
        None,
        "hawkins",
        HOSTING,
        "b",
        DeployTrigger::Approval,
    );
    assert_eq!(DeployPlan::Create(r), again);
}

#[test]
fn an_update_shifts_traffic_by_the_strategy_and_rolls_back_on_alarms() {
    let config = config();
    let current = serving("InService", &[(PRIMARY, "hawkins-chatbot-eleven-v2")]);
    let DeployPlan::Update(r) = plan_deploy(
        &config.models[0],
        &package(3),
        Some(&current),
        "hawkins",
        "role",
        "b",
        DeployTrigger::Approval,
    ) else {
        panic!("an update")
    };
    let d = r.deployment.expect("blue/green");
    assert_eq!(
        (d.traffic, d.step_percent, d.wait_seconds),
        ("CANARY", Some(20), 300)
    );
    assert_eq!(d.rollback_alarms.len(), 2);
    assert_eq!(
        r.deregister,
        ["endpoint/hawkins-chatbot-eleven/variant/primary"]
    );
    assert_eq!(
        r.config.variants[0].name, PRIMARY,
        "blue/green keeps the variant name"
    );

    // Serverless, linear: no scaling to remove.
    let loc = &config.models[2];
    let current = Endpoint {
        variants: vec![EndpointVariant {
            name: PRIMARY.into(),
            model: "hawkins-locations-v1".into(),
            ..EndpointVariant::default()
        }],
        ..serving("InService", &[])
    };
    let DeployPlan::Update(r) = plan_deploy(
        loc,
        &package(2),
        Some(&current),
        "hawkins",
        "role",
        "b",
        DeployTrigger::Approval,
    ) else {
        panic!("an update")
    };
    assert_eq!(r.config.variants[0].serverless, Some((2048, 4)));
    assert!(r.config.variants[0].instance_type.is_none());
    let d = r.deployment.expect("blue/green");
    assert_eq!(
        (d.traffic, d.step_percent, d.wait_seconds),
        ("LINEAR", Some(25), 120)
    );
    assert!(r.deregister.is_empty());
}

#[test]
fn ab_adds_a_challenger_beside_the_serving_model() {
    let config = config();
    let hopper = &config.models[1];
    let current = serving("InService", &[(PRIMARY, "hawkins-chatbot-hopper-v1")]);
    let DeployPlan::Update(r) = plan_deploy(
        hopper,
        &package(2),
        Some(&current),
        "hawkins",
        "role",
        "b",
        DeployTrigger::Approval,
    ) else {
        panic!("an update")
    };
    let v: Vec<(&str, &str, f64)> = r
        .config
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.model.as_str(), v.weight))
        .collect();
    assert_eq!(
        v,
        [
            (PRIMARY, "hawkins-chatbot-hopper-v1", 0.75),
            (CHALLENGER, "hawkins-chatbot-hopper-v2", 0.25)
        ]
    );
    assert!(
        r.deployment.is_none(),
        "a variant change cannot use traffic shifting"
    );
    assert_eq!(r.alarms.len(), 4);
}

#[test]
fn late_or_busy_deployments_do_nothing() {
    let config = config();
    let m = &config.models[0];
    let newer = serving("InService", &[(PRIMARY, "hawkins-chatbot-eleven-v4")]);
    assert_eq!(
        plan_deploy(
            m,
            &package(3),
            Some(&newer),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::AlreadyServing { version: 4 }
    );
    let same = serving("Updating", &[(PRIMARY, "hawkins-chatbot-eleven-v3")]);
    assert_eq!(
        plan_deploy(
            m,
            &package(3),
            Some(&same),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::AlreadyServing { version: 3 }
    );
    let busy = serving("Updating", &[(PRIMARY, "hawkins-chatbot-eleven-v2")]);
    assert_eq!(
        plan_deploy(
            m,
            &package(3),
            Some(&busy),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::Busy {
            status: "Updating".into()
        }
    );
    let mut failed = serving("Failed", &[(PRIMARY, "hawkins-chatbot-eleven-v2")]);
    failed.failure_reason = Some("ping".into());
    assert_eq!(
        plan_deploy(
            m,
            &package(3),
            Some(&failed),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::EndpointFailed {
            reason: "ping".into()
        }
    );
    let mut no_deploy = m.clone();
    no_deploy.deploy = None;
    assert_eq!(
        plan_deploy(
            &no_deploy,
            &package(3),
            None,
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::NotDeployed
    );
}

#[test]
fn endpoint_outcomes_compare_with_what_was_asked() {
    let pending = EndpointState {
        endpoint: "e".into(),
        pending_config: Some("new".into()),
        ..EndpointState::default()
    };
    let mut now = serving("InService", &[]);
    now.config = "new".into();
    assert_eq!(
        endpoint_outcome(Some(&now), &pending),
        EndpointOutcome::Deployed {
            config: "new".into()
        }
    );
    now.config = "old".into();
    now.failure_reason = Some("alarm".into());
    assert_eq!(
        endpoint_outcome(Some(&now), &pending),
        EndpointOutcome::UpdateFailed {
            wanted: "new".into(),
            serving: "old".into(),
            reason: "alarm".into()
        }
    );
    assert_eq!(
        endpoint_outcome(Some(&now), &EndpointState::default()),
        EndpointOutcome::Steady
    );
    now.status = "Updating".into();
    assert_eq!(
        endpoint_outcome(Some(&now), &pending),
        EndpointOutcome::InProgress
    );
    now.status = "Failed".into();
    assert!(matches!(
        endpoint_outcome(Some(&now), &pending),
        EndpointOutcome::Failed { .. }
    ));
    assert_eq!(endpoint_outcome(None, &pending), EndpointOutcome::Deleted);
}

#[test]
fn names_stay_within_sagemakers_limit() {
    assert_eq!(bounded("short"), "short");
    let long = "a".repeat(80);
    let b = bounded(&long);
    assert_eq!(b.len(), NAME_MAX);
    assert_ne!(b, bounded(&format!("{long}b")));
    assert_eq!(model_version("hawkins-chatbot-eleven-v12"), Some(12));
    assert_eq!(model_version("something"), None);
}

#[test]
fn endpoint_history_grows_only_on_change() {
    let entry = |at: &str, status: &str| HistoryEntry {
        at: at.into(),
        status: status.into(),
        variants: Vec::new(),
    };
    let mut record = EndpointRecord {
        endpoint: "e".into(),
        model: "m".into(),
        history: vec![entry("2026-11-27T10:00:00Z", "InService")],
    };
    assert!(!history_needs(
        &record,
        &entry("2026-11-27T11:00:00Z", "InService")
    ));
    assert!(history_needs(
        &record,
        &entry("2026-11-27T11:00:00Z", "Deleted")
    ));
    record
        .history
        .push(entry("2026-11-27T12:00:00Z", "Deleted"));
    // A late InService event from before the deletion changes nothing.
    assert!(!history_needs(
        &record,
        &entry("2026-11-27T10:30:00Z", "InService")
    ));
    assert!(history_needs(
        &record,
        &entry("2026-11-27T09:00:00Z", "InService")
    ));
}

#[test]
fn nothing_is_recorded_at_or_before_a_deletion() {
    let entry = |at: &str, status: &str| HistoryEntry {
        at: at.into(),
        status: status.into(),
        variants: Vec::new(),
    };
    let time = |t: &str| crate::time::parse_rfc3339(t).expect("time");
    let mut record = EndpointRecord {
        endpoint: "e".into(),
        model: "m".into(),
        history: vec![entry("2026-11-27T10:00:00Z", "InService")],
    };
    assert!(!before_deletion(&record, time("2026-11-27T09:00:00Z")));
    record
        .history
        .push(entry("2026-11-27T12:00:00Z", "Deleting"));
    assert!(before_deletion(&record, time("2026-11-27T11:00:00Z")));
    assert!(before_deletion(&record, time("2026-11-27T12:00:00Z")));
    assert!(!before_deletion(&record, time("2026-11-27T12:00:01Z")));
    // Created again under the same name and deleted again: the last deletion counts.
    record
        .history
        .push(entry("2026-11-28T08:00:00Z", "InService"));
    record
        .history
        .push(entry("2026-11-28T09:00:00Z", "Deleted"));
    assert!(before_deletion(&record, time("2026-11-28T08:30:00Z")));
    assert!(!before_deletion(&record, time("2026-11-28T10:00:00Z")));
}

#[test]
fn a_refused_update_puts_back_the_state_it_found() {
    let state = |pending: Option<&str>, failed: Option<&str>| EndpointState {
        endpoint: "e".into(),
        pending_config: pending.map(str::to_string),
        pending_package: pending.map(|p| format!("package-of-{p}")),
        pending_version: pending.map(|_| 2),
        failed_package: failed.map(str::to_string),
        held_through: None,
    };
    assert_eq!(EndpointState::refused(None, "e", "c2"), state(None, None));
    // A person's hold outlives a refused update.
    let held = EndpointState {
        held_through: Some(4),
        ..state(Some("c2"), None)
    };
    assert_eq!(
        EndpointState::refused(Some(held), "e", "c2").held_through,
        Some(4)
    );
    assert_eq!(
        EndpointState::refused(Some(state(None, Some("p1"))), "e", "c2"),
        state(None, Some("p1"))
    );
    // Left by an earlier attempt at this very update: nothing is pending.
    assert_eq!(
        EndpointState::refused(Some(state(Some("c2"), None)), "e", "c2"),
        state(None, None)
    );
    // Another deployment's pending config stays for its own InService event.
    assert_eq!(
        EndpointState::refused(Some(state(Some("c1"), None)), "e", "c2"),
        state(Some("c1"), None)
    );
}

#[test]
fn an_approval_deferred_by_a_busy_endpoint_is_taken_up_once() {
    let current = serving("InService", &[(PRIMARY, "hawkins-chatbot-eleven-v2")]);
    let state = EndpointState::default();
    let p3 = package(3);
    assert_eq!(next_to_deploy(Some(&p3), &current, &state), Some(&p3));
    let p2 = package(2);
    assert_eq!(next_to_deploy(Some(&p2), &current, &state), None);
    assert_eq!(next_to_deploy(None, &current, &state), None);
    let failed = EndpointState {
        failed_package: Some(p3.arn.clone()),
        ..EndpointState::default()
    };
    assert_eq!(
        next_to_deploy(Some(&p3), &current, &failed),
        None,
        "a failed update is not retried by itself"
    );
    let held = EndpointState {
        held_through: Some(3),
        ..EndpointState::default()
    };
    assert_eq!(
        next_to_deploy(Some(&p3), &current, &held),
        None,
        "a person rolled back from 3: it stays back"
    );
    let p4 = package(4);
    assert_eq!(
        next_to_deploy(Some(&p4), &current, &held),
        Some(&p4),
        "a newer approval deploys as usual"
    );
}

#[test]
fn a_chosen_version_is_deployed_even_when_older_and_takes_all_the_traffic() {
    let config = config();
    let m = &config.models[0];
    let both = serving(
        "InService",
        &[
            (PRIMARY, "hawkins-chatbot-eleven-v2"),
            (CHALLENGER, "hawkins-chatbot-eleven-v3"),
        ],
    );
    assert_eq!(
        plan_deploy(
            m,
            &package(2),
            Some(&both),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Approval
        ),
        DeployPlan::AlreadyServing { version: 3 },
        "an approval never goes back"
    );
    let DeployPlan::Update(rollout) = plan_deploy(
        m,
        &package(2),
        Some(&both),
        "hawkins",
        "r",
        "b",
        DeployTrigger::Chosen,
    ) else {
        panic!("a person's choice is deployed");
    };
    assert_eq!(rollout.config.variants.len(), 1);
    assert_eq!(
        rollout.config.variants[0].model,
        "hawkins-chatbot-eleven-v2"
    );
    let alone = serving("InService", &[(PRIMARY, "hawkins-chatbot-eleven-v2")]);
    assert_eq!(
        plan_deploy(
            m,
            &package(2),
            Some(&alone),
            "hawkins",
            "r",
            "b",
            DeployTrigger::Chosen
        ),
        DeployPlan::AlreadyServing { version: 2 },
        "a replay finds it done"
    );
}

#[test]
fn tuning_and_transform_jobs_find_their_model() {
    let mut config = config();
    config.models[2].tuning = Some(crate::config::Tuning {
        objective: "f1".into(),
        direction: Direction::Maximize,
        strategy: crate::config::TuningStrategy::Bayesian,
        max_jobs: 2,
        max_parallel_jobs: 1,
        ranges: BTreeMap::new(),
    });
    let by_name = events::TuningJob {
        hyper_parameter_tuning_job_name: "locations-9ff9935c".into(),
        hyper_parameter_tuning_job_status: "Completed".into(),
        ..events::TuningJob::default()
    };
    assert_eq!(
        tuning_model(&by_name, "hawkins", &config.models).map(|m| m.name.as_str()),
        Some("locations")
    );
    let other = events::TuningJob {
        hyper_parameter_tuning_job_name: "locationsx-9ff9935c".into(),
        ..by_name.clone()
    };
    assert!(tuning_model(&other, "hawkins", &config.models).is_none());
    let mut tagged = other.clone();
    tagged
        .tags
        .insert("hawkins:project".into(), "hawkins".into());
    tagged
        .tags
        .insert("hawkins:model".into(), "chatbot-eleven".into());
    assert_eq!(
        tuning_model(&tagged, "hawkins", &config.models).map(|m| m.name.as_str()),
        Some("chatbot-eleven")
    );

    let path = format!(
        "{}/../events/sagemaker-transform-completed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("sample");
    let Ok((LifecycleEvent::TransformJob(mut job), _)) =
        events::parse(serde_json::from_str(&text).expect("JSON"))
    else {
        panic!("a transform event")
    };
    assert!(
        transform_model(&job, "hawkins", &config.models).is_none(),
        "themes is not in this config"
    );
    job.tags.insert("hawkins:model".into(), "locations".into());
    let record = transform_record(&job, &config.models[2], "eu-west-1");
    assert_eq!(record.instance_type, "ml.g4dn.xlarge");
    assert_eq!(record.billable_seconds, Some(1800));
    assert_eq!(record.status, JobStatus::Completed);
    assert!(record.ended_at.is_some());
}

#[test]
fn a_batch_model_gets_a_transform_job_over_its_corpus() {
    let mut config = config();
    config.models[2].deploy = Some(crate::config::Deploy::Batch {
        instance_type: "ml.g4dn.xlarge".into(),
        instance_count: 2,
    });
    let mut p = package(4);
    p.metadata
        .insert(meta::CORPUS_VERSION.into(), "abc123".into());
    let DeployPlan::Batch(batch) = plan_deploy(
        &config.models[2],
        &p,
        None,
        "hawkins",
        HOSTING,
        "bucket",
        DeployTrigger::Approval,
    ) else {
        panic!("a transform")
    };
    assert_eq!(batch.job.name, "hawkins-locations-v4");
    assert_eq!(
        batch.model.role_arn, HOSTING,
        "the transform's model runs as the role given"
    );
    assert_eq!(batch.job.model, batch.model.name);
    assert_eq!(
        batch.job.input_s3_uri,
        "s3://bucket/datasets/abc123/locations/locations.jsonl"
    );
    assert_eq!(
        batch.job.output_s3_uri,
        "s3://bucket/predictions/locations/abc123/"
    );
    assert_eq!(batch.job.instance_count, 2);
    assert!(
        batch
            .job
            .tags
            .contains(&("hawkins:corpus-version".to_string(), "abc123".to_string()))
    );
}
