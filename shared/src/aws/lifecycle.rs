//! [`Registry`] and [`Hosting`] over SageMaker: the model registry, models, endpoint configs and
//! endpoints. Creating something that already exists counts as done, so a replayed event that
//! reaches a create again succeeds without a second resource.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    Alarm, AssemblyType, AutoRollbackConfig, BatchStrategy, BlueGreenUpdatePolicy, CapacitySize,
    CapacitySizeType, ContainerDefinition, DeploymentConfig, InferenceSpecification,
    MetadataProperties, MetricsSource, ModelApprovalStatus, ModelMetrics,
    ModelPackageContainerDefinition, ModelPackageSortBy, ModelQuality, ProductionVariant,
    ProductionVariantInstanceType, ProductionVariantServerlessConfig, S3DataType, SortOrder,
    SplitType, Tag, TrafficRoutingConfig, TrafficRoutingConfigType, TransformDataSource,
    TransformInput, TransformInstanceType, TransformOutput, TransformResources,
    TransformS3DataSource,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::store_error;
use crate::error::StoreError;
use crate::lifecycle::plan::{
    Deployment, Endpoint, EndpointConfigSpec, EndpointVariant, ModelSpec, Package, PackageSpec,
    TransformSpec,
};
use crate::lifecycle::{Hosting, Registry};

/// How many of a group's newest packages are searched for a job's package.
const SEARCH_DEPTH: i32 = 100;

#[derive(Debug, Clone)]
pub struct SageMakerLifecycle {
    client: Client,
}

impl SageMakerLifecycle {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

/// The service's message, for telling "already exists" and "not found" apart from failures.
fn message<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    err.as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_string()
}

fn exists<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    let m = message(err).to_ascii_lowercase();
    m.contains("already exist")
}

fn missing<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    let m = message(err).to_ascii_lowercase();
    m.contains("could not find") || m.contains("does not exist") || m.contains("not found")
}

fn tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn package_from(
    d: &aws_sdk_sagemaker::operation::describe_model_package::DescribeModelPackageOutput,
) -> Package {
    let container = d
        .inference_specification()
        .and_then(|s| s.containers().first());
    Package {
        arn: d.model_package_arn().unwrap_or_default().to_string(),
        group: d.model_package_group_name().unwrap_or_default().to_string(),
        version: d.model_package_version().unwrap_or_default().max(0) as u32,
        approval: d
            .model_approval_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        image: container
            .map(|c| c.image().unwrap_or_default().to_string())
            .unwrap_or_default(),
        model_data_url: container
            .and_then(|c| c.model_data_url())
            .unwrap_or_default()
            .to_string(),
        metadata: d
            .customer_metadata_properties()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

impl SageMakerLifecycle {
    /// The group's package ARNs, newest first (all approval states, or one).
    async fn packages(
        &self,
        group: &str,
        approval: Option<ModelApprovalStatus>,
    ) -> Result<Vec<String>, StoreError> {
        let answer = self
            .client
            .list_model_packages()
            .model_package_group_name(group)
            .set_model_approval_status(approval)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(SEARCH_DEPTH)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(out
                .model_package_summary_list()
                .iter()
                .filter_map(|p| p.model_package_arn().map(str::to_string))
                .collect()),
            Err(e) if missing(&e) => Ok(Vec::new()),
            Err(e) => Err(store_error("ListModelPackages", group, &e)),
        }
    }
}

impl Registry for SageMakerLifecycle {
    async fn ensure_group(&self, group: &str, description: &str) -> Result<(), StoreError> {
        match self
            .client
            .describe_model_package_group()
            .model_package_group_name(group)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if missing(&e) || e.as_service_error().is_some() => {}
            Err(e) => return Err(store_error("DescribeModelPackageGroup", group, &e)),
        }
        match self
            .client
            .create_model_package_group()
            .model_package_group_name(group)
            .model_package_group_description(description)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(store_error("CreateModelPackageGroup", group, &e)),
        }
    }

    async fn find_package(&self, group: &str, job: &str) -> Result<Option<Package>, StoreError> {
        for arn in self.packages(group, None).await? {
            if let Some(p) = self.package(&arn).await?
                && p.job() == Some(job)
            {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    async fn approved_versions(&self, group: &str) -> Result<Vec<(u32, String)>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_model_packages()
            .model_package_group_name(group)
            .model_approval_status(ModelApprovalStatus::Approved)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => out.extend(page.model_package_summary_list().iter().filter_map(|p| {
                    Some((
                        u32::try_from(p.model_package_version()?).ok()?,
                        p.model_package_arn()?.to_string(),
                    ))
                })),
                Err(e) if missing(&e) => break,
                Err(e) => return Err(store_error("ListModelPackages", group, &e)),
            }
        }
        out.sort();
        Ok(out)
    }

    async fn latest_approved(&self, group: &str) -> Result<Option<Package>, StoreError> {
        match self
            .packages(group, Some(ModelApprovalStatus::Approved))
            .await?
            .first()
        {
            Some(arn) => self.package(arn).await,
            None => Ok(None),
        }
    }

    async fn create_package(&self, spec: &PackageSpec) -> Result<String, StoreError> {
        let container = ModelPackageContainerDefinition::builder()
            .image(&spec.image)
            .model_data_url(&spec.model_data_url)
            .build();
        let inference = InferenceSpecification::builder()
            .containers(container)
            .supported_content_types("application/json")
            .supported_response_mime_types("application/json")
            .build();
        let metrics = ModelMetrics::builder()
            .model_quality(
                ModelQuality::builder()
                    .statistics(
                        MetricsSource::builder()
                            .content_type("application/json")
                            .s3_uri(&spec.metrics_s3_uri)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let lineage = MetadataProperties::builder()
            .generated_by(&spec.generated_by)
            .project_id(&spec.project)
            .commit_id(&spec.corpus_version)
            .build();
        let out = self
            .client
            .create_model_package()
            .model_package_group_name(&spec.group)
            .model_package_description(&spec.description)
            .inference_specification(inference)
            .model_approval_status(ModelApprovalStatus::from(spec.approval.as_str()))
            .set_customer_metadata_properties(Some(spec.metadata.clone().into_iter().collect()))
            .model_metrics(metrics)
            .metadata_properties(lineage)
            .client_token(&spec.client_token)
            .send()
            .await
            .map_err(|e| store_error("CreateModelPackage", &spec.group, &e))?;
        Ok(out.model_package_arn().unwrap_or_default().to_string())
    }

    async fn package(&self, arn: &str) -> Result<Option<Package>, StoreError> {
        match self
            .client
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
        {
            Ok(d) => Ok(Some(package_from(&d))),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(store_error("DescribeModelPackage", arn, &e)),
        }
    }
    async fn update_approval(
        &self,
        arn: &str,
        approval: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(ModelApprovalStatus::from(approval))
            .approval_description(note.chars().take(1000).collect::<String>())
            .send()
            .await
            .map_err(|e| store_error("UpdateModelPackage", arn, &e))?;
        Ok(())
    }
}

fn deployment_config(d: &Deployment) -> DeploymentConfig {
    let step = d.step_percent.map(|p| {
        CapacitySize::builder()
            .r#type(CapacitySizeType::CapacityPercent)
            .value(i32::from(p))
            .build()
    });
    let mut routing = TrafficRoutingConfig::builder()
        .r#type(TrafficRoutingConfigType::from(d.traffic))
        .wait_interval_in_seconds(d.wait_seconds as i32);
    routing = match d.traffic {
        "CANARY" => routing.set_canary_size(step),
        "LINEAR" => routing.set_linear_step_size(step),
        _ => routing,
    };
    let mut rollback = AutoRollbackConfig::builder();
    for name in &d.rollback_alarms {
        rollback = rollback.alarms(Alarm::builder().alarm_name(name).build());
    }
    DeploymentConfig::builder()
        .blue_green_update_policy(
            BlueGreenUpdatePolicy::builder()
                .traffic_routing_configuration(routing.build())
                .termination_wait_in_seconds(d.wait_seconds.min(3600) as i32)
                .build(),
        )
        .auto_rollback_configuration(rollback.build())
        .build()
}

impl Hosting for SageMakerLifecycle {
    async fn create_model(&self, spec: &ModelSpec) -> Result<(), StoreError> {
        let mut all_tags = spec.tags.clone();
        all_tags.push(("hawkins:model-package".into(), spec.package_arn.clone()));
        match self
            .client
            .create_model()
            .model_name(&spec.name)
            .primary_container(
                ContainerDefinition::builder()
                    .image(&spec.image)
                    .model_data_url(&spec.model_data_url)
                    .build(),
            )
            .execution_role_arn(&spec.role_arn)
            .set_tags(Some(tags(&all_tags)))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(store_error("CreateModel", &spec.name, &e)),
        }
    }

    async fn create_endpoint_config(&self, spec: &EndpointConfigSpec) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_endpoint_config()
            .endpoint_config_name(&spec.name)
            .set_tags(Some(tags(&spec.tags)));
        for v in &spec.variants {
            let mut variant = ProductionVariant::builder()
                .variant_name(&v.name)
                .model_name(&v.model)
                .initial_variant_weight(v.weight as f32);
            if let Some(instance_type) = &v.instance_type {
                variant = variant
                    .instance_type(ProductionVariantInstanceType::from(instance_type.as_str()))
                    .initial_instance_count(v.instance_count as i32);
            }
            if let Some((memory, concurrency)) = v.serverless {
                variant = variant.serverless_config(
                    ProductionVariantServerlessConfig::builder()
                        .memory_size_in_mb(memory as i32)
                        .max_concurrency(concurrency as i32)
                        .build(),
                );
            }
            request = request.production_variants(variant.build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(store_error("CreateEndpointConfig", &spec.name, &e)),
        }
    }

    async fn endpoint(&self, name: &str) -> Result<Option<Endpoint>, StoreError> {
        let d = match self
            .client
            .describe_endpoint()
            .endpoint_name(name)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(store_error("DescribeEndpoint", name, &e)),
        };
        let config = d.endpoint_config_name().unwrap_or_default().to_string();
        let counts: BTreeMap<String, u32> = d
            .production_variants()
            .iter()
            .filter_map(|v| {
                Some((
                    v.variant_name()?.to_string(),
                    v.current_instance_count()?.max(0) as u32,
                ))
            })
            .collect();
        let mut variants = Vec::new();
        if !config.is_empty() {
            let c = self
                .client
                .describe_endpoint_config()
                .endpoint_config_name(&config)
                .send()
                .await
                .map_err(|e| store_error("DescribeEndpointConfig", &config, &e))?;
            for v in c.production_variants() {
                let name = v.variant_name().unwrap_or_default().to_string();
                variants.push(EndpointVariant {
                    model: v.model_name().unwrap_or_default().to_string(),
                    weight: f64::from(v.initial_variant_weight().unwrap_or(1.0)),
                    instance_type: v.instance_type().map(|t| t.as_str().to_string()),
                    instance_count: counts
                        .get(&name)
                        .copied()
                        .or(v.initial_instance_count().map(|c| c.max(0) as u32)),
                    serverless: v.serverless_config().map(|s| {
                        (
                            s.memory_size_in_mb().unwrap_or_default().max(0) as u32,
                            s.max_concurrency().unwrap_or_default().max(0) as u32,
                        )
                    }),
                    name,
                });
            }
        }
        Ok(Some(Endpoint {
            name: name.to_string(),
            status: d
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            config,
            failure_reason: d.failure_reason().map(str::to_string),
            variants,
        }))
    }

    async fn create_endpoint(
        &self,
        name: &str,
        config: &str,
        endpoint_tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        match self
            .client
            .create_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(config)
            .set_tags(Some(tags(endpoint_tags)))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(store_error("CreateEndpoint", name, &e)),
        }
    }

    async fn update_endpoint(
        &self,
        name: &str,
        config: &str,
        deployment: Option<&Deployment>,
    ) -> Result<(), StoreError> {
        match self
            .client
            .update_endpoint()
            .endpoint_name(name)
            .endpoint_config_name(config)
            .set_deployment_config(deployment.map(deployment_config))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another delivery started the same update a moment ago: the event comes back and
            // then finds the endpoint serving this config.
            Err(e) if message(&e).to_ascii_lowercase().contains("in-progress") => {
                Err(StoreError::Transient {
                    op: "UpdateEndpoint",
                    resource: name.to_string(),
                    message: message(&e),
                })
            }
            Err(e) => Err(store_error("UpdateEndpoint", name, &e)),
        }
    }

    async fn create_transform_job(&self, spec: &TransformSpec) -> Result<(), StoreError> {
        let input = TransformInput::builder()
            .data_source(
                TransformDataSource::builder()
                    .s3_data_source(
                        TransformS3DataSource::builder()
                            .s3_data_type(S3DataType::S3Prefix)
                            .s3_uri(&spec.input_s3_uri)
                            .build(),
                    )
                    .build(),
            )
            .content_type("application/jsonlines")
            .split_type(SplitType::Line)
            .build();
        let output = TransformOutput::builder()
            .s3_output_path(&spec.output_s3_uri)
            .assemble_with(AssemblyType::Line)
            .accept("application/jsonlines")
            .build();
        let resources = TransformResources::builder()
            .instance_type(TransformInstanceType::from(spec.instance_type.as_str()))
            .instance_count(spec.instance_count as i32)
            .build();
        match self
            .client
            .create_transform_job()
            .transform_job_name(&spec.name)
            .model_name(&spec.model)
            .transform_input(input)
            .transform_output(output)
            .transform_resources(resources)
            .batch_strategy(BatchStrategy::MultiRecord)
            .set_tags(Some(tags(&spec.tags)))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if exists(&e)
                    || e.as_service_error()
                        .is_some_and(|s| s.code() == Some("ResourceInUse")) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error("CreateTransformJob", &spec.name, &e)),
        }
    }
}

impl crate::storage::PackageLineage for SageMakerLifecycle {
    /// ListModelPackageGroups by name, then each group's approved and waiting packages
    /// (every page) and their artifact and lineage (DescribeModelPackage).
    async fn live_packages(
        &self,
        group_prefix: &str,
    ) -> Result<Vec<crate::storage::LivePackage>, StoreError> {
        let mut groups = Vec::new();
        let mut pages = self
            .client
            .list_model_package_groups()
            .name_contains(group_prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error("ListModelPackageGroups", group_prefix, &e))?;
            groups.extend(
                page.model_package_group_summary_list()
                    .iter()
                    .filter_map(|g| g.model_package_group_name())
                    .filter(|name| name.starts_with(group_prefix))
                    .map(str::to_string),
            );
        }
        let mut out = Vec::new();
        for group in groups {
            for status in [
                ModelApprovalStatus::Approved,
                ModelApprovalStatus::PendingManualApproval,
            ] {
                let mut pages = self
                    .client
                    .list_model_packages()
                    .model_package_group_name(&group)
                    .model_approval_status(status)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(page) => page,
                        Err(e) if missing(&e) => break,
                        Err(e) => return Err(store_error("ListModelPackages", &group, &e)),
                    };
                    for arn in page
                        .model_package_summary_list()
                        .iter()
                        .filter_map(|p| p.model_package_arn())
                    {
                        if let Some(package) = self.package(arn).await? {
                            out.push(crate::storage::LivePackage {
                                corpus_version: package
                                    .metadata
                                    .get(crate::lifecycle::names::meta::CORPUS_VERSION)
                                    .cloned(),
                                model_data_url: package.model_data_url,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
