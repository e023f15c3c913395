//! The lifecycle's messages, written for the person who reads the e-mail: what happened, to which
//! model, what to do next, and where to look (console and CLI). Each has a stable id, so the same
//! cause is told once however often its event arrives.

use std::collections::BTreeMap;

use super::plan::{StopCause, Verdict};
use crate::store::{Alert, Severity};

/// Where the console and CLI pointers lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub region: String,
}

impl Links {
    fn console(&self) -> String {
        format!(
            "https://{0}.console.aws.amazon.com/sagemaker/home?region={0}",
            self.region
        )
    }

    pub fn job(&self, job: &str) -> String {
        format!("{}#/jobs/{job}", self.console())
    }

    pub fn job_logs(&self, job: &str) -> String {
        format!(
            "https://{0}.console.aws.amazon.com/cloudwatch/home?region={0}#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D{job}",
            self.region
        )
    }

    pub fn package_group(&self, group: &str) -> String {
        format!("{}#/model-registry/{group}", self.console())
    }

    pub fn transform(&self, job: &str) -> String {
        format!("{}#/transform-jobs/{job}", self.console())
    }

    pub fn endpoint(&self, endpoint: &str) -> String {
        format!("{}#/endpoints/{endpoint}", self.console())
    }
}

/// An alert about one model (its name is an attribute subscribers can filter on), its subject cut
/// to SNS' limit for e-mail subjects.
pub(crate) fn alert(
    kind: &str,
    severity: Severity,
    id: String,
    subject: String,
    body: String,
    model: &str,
) -> Alert {
    let mut attributes = BTreeMap::new();
    attributes.insert("model".to_string(), model.to_string());
    Alert {
        kind: kind.to_string(),
        severity,
        subject: subject.chars().take(100).collect(),
        body,
        attributes,
        id,
    }
}

pub fn job_failed(model: &str, job: &str, reason: &str, spot: bool, links: &Links) -> Alert {
    let spot_note = if spot {
        "\nThe job ran out of spot capacity time (MaxWaitTimeInSeconds). Raise max_wait_seconds for this model in infra/hawkins.toml, or set spot = false, and upload again.\n"
    } else {
        ""
    };
    alert(
        "training_failed",
        Severity::Critical,
        format!("training-failed-{job}"),
        format!("Hawkins: training of {model} failed"),
        format!(
            "The training job {job} of the model {model} failed.\n\n\
             SageMaker says: {reason}\n{spot_note}\n\
             No model package was registered; the endpoint (if any) keeps serving the previous version.\n\n\
             Next steps:\n\
             - Read the job's log: hawkins jobs logs {job}\n\
             \x20 or {logs}\n\
             - Look at the job: {console}\n\
             \x20 or aws sagemaker describe-training-job --training-job-name {job}\n\
             - Fix the cause (hyperparameters or instance type in infra/hawkins.toml, then hawkins config push infra/hawkins.toml). Jobs are named after the corpus version, so this one is not retried by itself: the model trains again when its dataset changes (a new or corrected upload).\n",
            logs = links.job_logs(job),
            console = links.job(job),
        ),
        model,
    )
}

pub fn job_stopped(
    model: &str,
    job: &str,
    cause: StopCause,
    reason: Option<&str>,
    links: &Links,
) -> Alert {
    let (what, next) = match cause {
        StopCause::MaxRuntime => (
            "reached its maximum run time (max_runtime_seconds) and was stopped",
            "Raise max_runtime_seconds for this model in infra/hawkins.toml or train less (fewer epochs, a shorter max_seq_length). The last checkpoint is kept under checkpoints/ and the next job of the same corpus resumes from it.",
        ),
        StopCause::SpotCapacity => (
            "was stopped because spot capacity did not come back before its maximum wait time (max_wait_seconds)",
            "Raise max_wait_seconds, try another instance type, or set spot = false for this model in infra/hawkins.toml. Checkpoints are kept; the next job resumes from them.",
        ),
        StopCause::Requested => (
            "was stopped on request (StopTrainingJob: a person or a script)",
            "If that was intended, nothing to do. Otherwise find who stopped it in CloudTrail (event StopTrainingJob).",
        ),
    };
    alert(
        "training_stopped",
        Severity::Warning,
        format!("training-stopped-{job}"),
        format!("Hawkins: training of {model} stopped"),
        format!(
            "The training job {job} of the model {model} {what}.\n{detail}\n\
             No model package was registered.\n\n\
             Next steps: {next}\n\n\
             Log: hawkins jobs logs {job}\n  or {logs}\nJob: {console}\n",
            detail = reason
                .map(|r| format!("SageMaker says: {r}\n"))
                .unwrap_or_default(),
            logs = links.job_logs(job),
            console = links.job(job),
        ),
        model,
    )
}

/// What approving a package of `model` does.
pub fn approval_effect(model: &crate::config::ModelConfig) -> &'static str {
    match &model.deploy {
        None => "Approving registers it only: the model has no [model.deploy] in the config.",
        Some(crate::config::Deploy::Batch { .. }) => {
            "Approving runs a batch transform job of exactly this version over its corpus version's dataset."
        }
        Some(_) => "Approving deploys exactly this version to the model's endpoint.",
    }
}

pub fn package_held(
    model: &crate::config::ModelConfig,
    job: &str,
    package_arn: &str,
    group: &str,
    verdict: &Verdict,
    links: &Links,
) -> Alert {
    let effect = approval_effect(model);
    let model = model.name.as_str();
    alert(
        "approval_needed",
        Severity::Info,
        format!("approval-needed-{job}"),
        format!("Hawkins: {model} waits for your approval"),
        format!(
            "The training job {job} finished and registered a new version of {model}:\n  {package_arn}\n\n\
             It was not approved automatically: {reason}.\n\n\
             Look at its metrics and lineage in the model registry: {registry}\n\n\
             To deploy it:  hawkins approve {package_arn}\n\
             To discard it: hawkins reject {package_arn}\n\
             (or aws sagemaker update-model-package --model-package-arn {package_arn} --model-approval-status Approved)\n\n\
             {effect}\n",
            reason = verdict.reason(),
            registry = links.package_group(group),
        ),
        model,
    )
}

pub fn package_approved(
    model: &str,
    package_arn: &str,
    verdict: &Verdict,
    deploys: bool,
    links: &Links,
    group: &str,
) -> Alert {
    alert(
        "package_approved",
        Severity::Info,
        format!("package-approved-{package_arn}"),
        format!("Hawkins: new version of {model} approved"),
        format!(
            "A new version of {model} was approved automatically:\n  {package_arn}\n\n\
             Why: {reason}.\n\n{next}\nRegistry: {registry}\n",
            reason = verdict.reason(),
            next = if deploys {
                "It is being deployed to the model's endpoint; you will hear when it serves or if the update fails.\n"
            } else {
                "The model has no [model.deploy] in the config: it is registered only.\n"
            },
            registry = links.package_group(group),
        ),
        model,
    )
}

pub fn deployed(model: &str, endpoint: &str, config: &str, links: &Links) -> Alert {
    alert(
        "endpoint_deployed",
        Severity::Info,
        format!("deployed-{endpoint}-{config}"),
        format!("Hawkins: {model} is serving the new version"),
        format!(
            "The endpoint {endpoint} of {model} is InService and serves the endpoint config {config}.\n\n\
             Try it:   hawkins invoke {endpoint}\n\
             Endpoint: {console}\n",
            console = links.endpoint(endpoint),
        ),
        model,
    )
}

pub fn update_failed(
    model: &str,
    endpoint: &str,
    wanted: &str,
    serving: &str,
    reason: &str,
    links: &Links,
) -> Alert {
    alert(
        "endpoint_update_failed",
        Severity::Critical,
        format!("update-failed-{endpoint}-{wanted}"),
        format!("Hawkins: update of {model} failed and was rolled back"),
        format!(
            "The endpoint {endpoint} of {model} did not take the new version: it is still InService, \
             serving the previous config {serving} instead of {wanted}.\n\n\
             SageMaker says: {reason}\n\n\
             Users were not cut off; the new version is not serving.\n\n\
             Next steps:\n\
             - Read the endpoint's logs (log group /aws/sagemaker/Endpoints/{endpoint}) and its alarms {endpoint}-*\n\
             - Endpoint: {console}\n\
             - Fix the model or the serving settings, then approve a new version (hawkins approve <package-arn>).\n",
            console = links.endpoint(endpoint),
        ),
        model,
    )
}

pub fn endpoint_failed(model: &str, endpoint: &str, reason: &str, links: &Links) -> Alert {
    alert(
        "endpoint_failed",
        Severity::Critical,
        format!(
            "endpoint-failed-{endpoint}-{}",
            crate::hash::sha256_hex(reason.as_bytes())
                .get(..12)
                .unwrap_or("")
        ),
        format!("Hawkins: endpoint of {model} failed"),
        format!(
            "The endpoint {endpoint} of {model} is Failed and serves nothing.\n\n\
             SageMaker says: {reason}\n\n\
             Next steps:\n\
             - Read the endpoint's logs: log group /aws/sagemaker/Endpoints/{endpoint}\n\
             - Endpoint: {console}\n\
             - A Failed endpoint cannot be updated: delete it (hawkins cleanup --yes, or aws sagemaker delete-endpoint --endpoint-name {endpoint}), fix the cause, and approve the package again to recreate it.\n",
            console = links.endpoint(endpoint),
        ),
        model,
    )
}

pub fn transform_failed(model: &str, job: &str, reason: &str, links: &Links) -> Alert {
    alert(
        "transform_failed",
        Severity::Critical,
        format!("transform-failed-{job}"),
        format!("Hawkins: batch scoring of {model} failed"),
        format!(
            "The batch transform job {job} of the model {model} failed.\n\n\
             SageMaker says: {reason}\n\n\
             No predictions were written for this corpus version.\n\n\
             Next steps:\n\
             - Read its log: log group /aws/sagemaker/TransformJobs, streams starting with {job}\n\
             - Job: {console}\n\
             \x20 or aws sagemaker describe-transform-job --transform-job-name {job}\n\
             - Fix the cause, then approve the package again (hawkins approve <package-arn>) to rerun it.\n",
            console = links.transform(job),
        ),
        model,
    )
}
