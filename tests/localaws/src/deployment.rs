//! What the lifecycle left in SageMaker on the local AWS: the project's packages, endpoints (read
//! as the lifecycle function reads them) and transform jobs, for the local run's summary and the
//! SageMaker stand-in.

use anyhow::{Context, Result};
use hawkins::lifecycle::Hosting;
use serde::Serialize;

/// The model packages of the project's groups (`<project>-*`), with their group.
pub async fn project_packages(
    sm: &aws_sdk_sagemaker::Client,
    project: &str,
) -> Result<Vec<(String, aws_sdk_sagemaker::types::ModelPackageSummary)>> {
    let prefix = format!("{project}-");
    let groups = sm
        .list_model_package_groups()
        .max_results(100)
        .send()
        .await
        .context("ListModelPackageGroups")?;
    let mut out = Vec::new();
    for g in groups.model_package_group_summary_list() {
        let name = g.model_package_group_name().unwrap_or_default();
        if !name.starts_with(&prefix) {
            continue;
        }
        let list = sm
            .list_model_packages()
            .model_package_group_name(name)
            .max_results(100)
            .send()
            .await
            .context("ListModelPackages")?;
        for p in list.model_package_summary_list() {
            out.push((name.to_string(), p.clone()));
        }
    }
    Ok(out)
}

/// What the lifecycle left in SageMaker.
#[derive(Debug, Default, Serialize)]
pub struct Deployment {
    /// (group, version, approval).
    pub packages: Vec<(String, i32, String)>,
    /// (endpoint, status, config, variants as `name:model weight`).
    pub endpoints: Vec<(String, String, String, Vec<String>)>,
    /// (transform job, status).
    pub transforms: Vec<(String, String)>,
    /// The training and tuning jobs SageMaker holds, by name: what was started, however often
    /// the train function was called.
    pub jobs: Vec<String>,
}

impl Deployment {
    /// The project's packages, endpoints (read as the lifecycle function reads them) and
    /// transform jobs.
    pub async fn read(
        sm: &aws_sdk_sagemaker::Client,
        hosting: &impl Hosting,
        project: &str,
    ) -> Result<Deployment> {
        let mut out = Deployment::default();
        for (group, p) in project_packages(sm, project).await? {
            out.packages.push((
                group,
                p.model_package_version().unwrap_or_default(),
                p.model_approval_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
        out.packages.sort();
        for name in project_endpoints(sm, project).await? {
            let Some(endpoint) = hosting.endpoint(&name).await? else {
                continue;
            };
            let variants = endpoint
                .variants
                .iter()
                .map(|v| {
                    let serving = match (&v.instance_type, v.serverless) {
                        (Some(t), _) => format!("{t} x{}", v.instance_count.unwrap_or(1)),
                        (None, Some((memory, _))) => format!("serverless {memory} MB"),
                        _ => String::new(),
                    };
                    format!("{}={} ({serving}, weight {})", v.name, v.model, v.weight)
                })
                .collect();
            out.endpoints
                .push((name, endpoint.status, endpoint.config, variants));
        }
        out.endpoints.sort();
        let jobs = sm
            .list_transform_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListTransformJobs")?;
        for j in jobs.transform_job_summaries() {
            out.transforms.push((
                j.transform_job_name().unwrap_or_default().to_string(),
                j.transform_job_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ));
        }
        let training = sm
            .list_training_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListTrainingJobs")?;
        let tuning = sm
            .list_hyper_parameter_tuning_jobs()
            .max_results(100)
            .send()
            .await
            .context("ListHyperParameterTuningJobs")?;
        out.jobs = training
            .training_job_summaries()
            .iter()
            .filter_map(|j| j.training_job_name())
            .chain(
                tuning
                    .hyper_parameter_tuning_job_summaries()
                    .iter()
                    .filter_map(|j| j.hyper_parameter_tuning_job_name()),
            )
            .map(str::to_string)
            .collect();
        out.jobs.sort();
        Ok(out)
    }
}

/// The names of the project's endpoints (`<project>-*`).
pub async fn project_endpoints(
    sm: &aws_sdk_sagemaker::Client,
    project: &str,
) -> Result<Vec<String>> {
    let prefix = format!("{project}-");
    let endpoints = sm
        .list_endpoints()
        .max_results(100)
        .send()
        .await
        .context("ListEndpoints")?;
    Ok(endpoints
        .endpoints()
        .iter()
        .filter_map(|e| e.endpoint_name())
        .filter(|name| name.starts_with(&prefix))
        .map(str::to_string)
        .collect())
}
