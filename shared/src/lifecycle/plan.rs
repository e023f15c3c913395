//! The lifecycle's decisions as pure functions, gathered from the event modules that own them:
//! what a job event means ([`super::job`]), whether a package passes its gate, what an approved
//! package's deployment must create ([`super::package`]), what an endpoint's status means
//! ([`super::endpoint`]), and the names they share ([`super::names`]). Nothing here calls AWS.

pub use super::endpoint::{
    ENDPOINT_STATE_PREFIX, Endpoint, EndpointOutcome, EndpointState, EndpointVariant, ScalingSpec,
    before_deletion, endpoint_model, endpoint_outcome, history_needs, next_to_deploy, scaling,
};
pub use super::job::{
    JobOutcome, PackageSpec, StopCause, Verdict, gate, job_model, job_outcome, job_record,
    job_status, package_spec, supersedes,
};
pub use super::manual::chosen_version;
pub use super::names::{
    CHALLENGER, NAME_MAX, PRIMARY, bounded, endpoint_name, group_name, meta, model_name,
    model_version, scaling_resource,
};
pub use super::package::{
    AlarmSpec, DeployPlan, DeployTrigger, Deployment, ERRORS_ALARM_PER_MINUTE, EndpointConfigSpec,
    LATENCY_ALARM_MICROS, ModelSpec, Package, Rollout, TransformPlan, TransformSpec, VariantSpec,
    alarms, plan_deploy,
};
pub use super::transform::{transform_model, transform_record};
pub use super::tuning::tuning_model;
