//! [`TrainingJobs`] over SageMaker: the plain job specs of [`crate::training`] turned into
//! CreateTrainingJob / CreateHyperParameterTuningJob calls.

use aws_config::SdkConfig;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::create_hyper_parameter_tuning_job::CreateHyperParameterTuningJobError;
use aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobError;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, CategoricalParameterRange, Channel, CheckpointConfig,
    ContinuousParameterRange, DataSource, HyperParameterAlgorithmSpecification,
    HyperParameterScalingType, HyperParameterTrainingJobDefinition, HyperParameterTuningJobConfig,
    HyperParameterTuningJobObjective, HyperParameterTuningJobObjectiveType,
    HyperParameterTuningJobStrategyType, IntegerParameterRange, MetricDefinition, OutputDataConfig,
    ParameterRanges, ResourceConfig, ResourceLimits, S3DataDistribution, S3DataSource, S3DataType,
    StoppingCondition, Tag, TrainingInputMode, TrainingInstanceType, VpcConfig,
};

use super::store_error;
use crate::error::StoreError;
use crate::training::{JobSpec, Started, TrainingJobSpec, TrainingJobs, TuningJobSpec};

/// Where the training container keeps checkpoints (SageMaker syncs it with the S3 URI).
pub const CHECKPOINT_LOCAL_PATH: &str = "/opt/ml/checkpoints";

#[derive(Debug, Clone)]
pub struct SageMakerJobs {
    client: Client,
}

impl SageMakerJobs {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

/// The parts a training job and a tuning job's definition share.
struct Parts {
    channels: Vec<Channel>,
    output: OutputDataConfig,
    resources: ResourceConfig,
    stopping: StoppingCondition,
    checkpoint: Option<CheckpointConfig>,
    vpc: Option<VpcConfig>,
    tags: Vec<Tag>,
    metrics: Vec<MetricDefinition>,
}

fn parts(spec: &TrainingJobSpec) -> Parts {
    let mut channels = Vec::new();
    for channel in &spec.channels {
        let source = S3DataSource::builder()
            .s3_data_type(S3DataType::S3Prefix)
            .s3_uri(&channel.s3_uri)
            .s3_data_distribution_type(S3DataDistribution::FullyReplicated)
            .build();
        channels.push(
            Channel::builder()
                .channel_name(&channel.name)
                .data_source(DataSource::builder().s3_data_source(source).build())
                .content_type(&channel.content_type)
                .build(),
        );
    }
    let output = OutputDataConfig::builder()
        .s3_output_path(&spec.output_s3_uri)
        .set_kms_key_id(spec.kms_key_id.clone())
        .build();
    let resources = ResourceConfig::builder()
        .instance_type(TrainingInstanceType::from(spec.instance_type.as_str()))
        .instance_count(spec.instance_count as i32)
        .volume_size_in_gb(spec.volume_size_gb as i32)
        .set_volume_kms_key_id(spec.kms_key_id.clone())
        .build();
    let stopping = StoppingCondition::builder()
        .max_runtime_in_seconds(spec.max_runtime_seconds as i32)
        .set_max_wait_time_in_seconds(spec.max_wait_seconds.map(|s| s as i32))
        .build();
    let checkpoint = spec.checkpoint_s3_uri.as_ref().map(|uri| {
        CheckpointConfig::builder()
            .s3_uri(uri)
            .local_path(CHECKPOINT_LOCAL_PATH)
            .build()
    });
    let vpc = if spec.subnets.is_empty() {
        None
    } else {
        Some(
            VpcConfig::builder()
                .set_subnets(Some(spec.subnets.clone()))
                .set_security_group_ids(Some(spec.security_groups.clone()))
                .build(),
        )
    };
    let mut tags = Vec::new();
    for (key, value) in &spec.tags {
        tags.push(Tag::builder().key(key).value(value).build());
    }
    let mut metrics = Vec::new();
    for (name, regex) in &spec.metric_definitions {
        metrics.push(MetricDefinition::builder().name(name).regex(regex).build());
    }
    Parts {
        channels,
        output,
        resources,
        stopping,
        checkpoint,
        vpc,
        tags,
        metrics,
    }
}

impl SageMakerJobs {
    async fn training(&self, spec: &TrainingJobSpec) -> Result<Started, StoreError> {
        let p = parts(spec);
        let algorithm = AlgorithmSpecification::builder()
            .training_image(&spec.image)
            .training_input_mode(TrainingInputMode::File)
            .set_metric_definitions(Some(p.metrics))
            .build();
        let result = self
            .client
            .create_training_job()
            .training_job_name(&spec.name)
            .role_arn(&spec.role_arn)
            .algorithm_specification(algorithm)
            .set_hyper_parameters(Some(spec.hyperparameters.clone().into_iter().collect()))
            .set_input_data_config(Some(p.channels))
            .output_data_config(p.output)
            .resource_config(p.resources)
            .stopping_condition(p.stopping)
            .enable_managed_spot_training(spec.spot)
            .set_checkpoint_config(p.checkpoint)
            .set_vpc_config(p.vpc)
            .enable_network_isolation(spec.network_isolation)
            .set_tags(Some(p.tags))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::Created),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTrainingJobError::ResourceInUse(_))
                ) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(e) => Err(store_error("CreateTrainingJob", &spec.name, &e)),
        }
    }

    async fn tuning(&self, spec: &TuningJobSpec) -> Result<Started, StoreError> {
        let training = &spec.training;
        let p = parts(training);
        let mut ranges = ParameterRanges::builder();
        for (name, min, max, scaling) in &spec.continuous {
            ranges = ranges.continuous_parameter_ranges(
                ContinuousParameterRange::builder()
                    .name(name)
                    .min_value(min.to_string())
                    .max_value(max.to_string())
                    .scaling_type(HyperParameterScalingType::from(scaling.as_str()))
                    .build(),
            );
        }
        for (name, min, max, scaling) in &spec.integer {
            ranges = ranges.integer_parameter_ranges(
                IntegerParameterRange::builder()
                    .name(name)
                    .min_value(min.to_string())
                    .max_value(max.to_string())
                    .scaling_type(HyperParameterScalingType::from(scaling.as_str()))
                    .build(),
            );
        }
        for (name, values) in &spec.categorical {
            ranges = ranges.categorical_parameter_ranges(
                CategoricalParameterRange::builder()
                    .name(name)
                    .set_values(Some(values.clone()))
                    .build(),
            );
        }
        let objective = HyperParameterTuningJobObjective::builder()
            .r#type(HyperParameterTuningJobObjectiveType::from(
                spec.objective_type.as_str(),
            ))
            .metric_name(&spec.objective_metric)
            .build();
        let limits = ResourceLimits::builder()
            .max_number_of_training_jobs(spec.max_jobs as i32)
            .max_parallel_training_jobs(spec.max_parallel_jobs as i32)
            .build();
        let config = HyperParameterTuningJobConfig::builder()
            .strategy(HyperParameterTuningJobStrategyType::from(
                spec.strategy.as_str(),
            ))
            .hyper_parameter_tuning_job_objective(objective)
            .resource_limits(limits)
            .parameter_ranges(ranges.build())
            .build();
        let algorithm = HyperParameterAlgorithmSpecification::builder()
            .training_image(&training.image)
            .training_input_mode(TrainingInputMode::File)
            .set_metric_definitions(Some(p.metrics))
            .build();
        let definition = HyperParameterTrainingJobDefinition::builder()
            .algorithm_specification(algorithm)
            .role_arn(&training.role_arn)
            .set_static_hyper_parameters(Some(
                training.hyperparameters.clone().into_iter().collect(),
            ))
            .set_input_data_config(Some(p.channels))
            .output_data_config(p.output)
            .resource_config(p.resources)
            .stopping_condition(p.stopping)
            .enable_managed_spot_training(training.spot)
            .set_checkpoint_config(p.checkpoint)
            .set_vpc_config(p.vpc)
            .enable_network_isolation(training.network_isolation)
            .build();
        let result = self
            .client
            .create_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(&spec.name)
            .hyper_parameter_tuning_job_config(config)
            .training_job_definition(definition)
            .set_tags(Some(p.tags))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::Created),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateHyperParameterTuningJobError::ResourceInUse(_))
                ) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(e) => Err(store_error("CreateHyperParameterTuningJob", &spec.name, &e)),
        }
    }
}

impl TrainingJobs for SageMakerJobs {
    async fn start(&self, job: &JobSpec) -> Result<Started, StoreError> {
        match job {
            JobSpec::Training(spec) => self.training(spec).await,
            JobSpec::Tuning(spec) => self.tuning(spec).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sagemaker::error::ErrorMetadata;
    use aws_sdk_sagemaker::types::error::ResourceInUse;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn spec() -> JobSpec {
        JobSpec::Training(TrainingJobSpec {
            name: "chatbot-eleven-0123456789abcdef".into(),
            role_arn: "arn:aws:iam::123456789012:role/hawkins-sagemaker".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hawkins-training:1".into(),
            hyperparameters: [("epochs".to_string(), "3".to_string())].into(),
            metric_definitions: vec![("loss".into(), "loss=([0-9.]+)".into())],
            channels: Vec::new(),
            output_s3_uri: "s3://b/training-output/chatbot-eleven/".into(),
            checkpoint_s3_uri: Some("s3://b/checkpoints/chatbot-eleven/0123456789abcdef/".into()),
            instance_type: "ml.g5.2xlarge".into(),
            instance_count: 1,
            volume_size_gb: 50,
            max_runtime_seconds: 3600,
            max_wait_seconds: Some(7200),
            spot: true,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            kms_key_id: None,
            network_isolation: false,
            tags: Vec::new(),
        })
    }

    #[tokio::test]
    async fn an_existing_job_of_that_name_is_success() {
        // What SageMaker itself answers for a second CreateTrainingJob of one name (the local AWS
        // replaces the job instead, so only this test shows the real behaviour).
        let rule = mock!(Client::create_training_job).then_error(|| {
            CreateTrainingJobError::ResourceInUse(
                ResourceInUse::builder()
                    .message("Training job names must be unique within an AWS account and region, and a training job with this name already exists")
                    .build(),
            )
        });
        let jobs = SageMakerJobs::new(mock_client!(aws_sdk_sagemaker, [&rule]));
        assert_eq!(jobs.start(&spec()).await, Ok(Started::AlreadyExists));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_is_retryable_and_a_bad_request_is_not() {
        use crate::error::Retry;
        let throttled = mock!(Client::create_training_job).then_error(|| {
            CreateTrainingJobError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let jobs = SageMakerJobs::new(mock_client!(aws_sdk_sagemaker, [&throttled]));
        let error = jobs.start(&spec()).await.expect_err("throttled");
        assert!(error.retryable(), "{error}");

        let invalid = mock!(Client::create_training_job).then_error(|| {
            CreateTrainingJobError::generic(
                ErrorMetadata::builder()
                    .code("ValidationException")
                    .message("bad instance type")
                    .build(),
            )
        });
        let jobs = SageMakerJobs::new(mock_client!(aws_sdk_sagemaker, [&invalid]));
        let error = jobs.start(&spec()).await.expect_err("invalid");
        assert!(!error.retryable(), "{error}");
        assert!(error.to_string().contains("bad instance type"), "{error}");
    }
}
