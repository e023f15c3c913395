//! [`Guards`] over CloudWatch alarms and Application Auto Scaling: the alarms that roll an endpoint
//! update back (and tell the team), and target tracking on invocations per instance.

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::Client as ScalingClient;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_cloudwatch::Client as CloudWatchClient;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::store_error;
use crate::error::StoreError;
use crate::lifecycle::Guards;
use crate::lifecycle::ab::{Traffic, VariantMetrics};
use crate::lifecycle::plan::{AlarmSpec, ScalingSpec};

/// Seconds between scale-ins (slow, so a short lull does not drop capacity) and scale-outs.
const SCALE_IN_COOLDOWN: i32 = 300;
const SCALE_OUT_COOLDOWN: i32 = 60;

#[derive(Debug, Clone)]
pub struct EndpointGuards {
    cloudwatch: CloudWatchClient,
    scaling: ScalingClient,
    /// Where alarms notify (the alert topic).
    alarm_actions: Vec<String>,
}

impl EndpointGuards {
    pub fn new(
        cloudwatch: CloudWatchClient,
        scaling: ScalingClient,
        alarm_actions: Vec<String>,
    ) -> Self {
        Self {
            cloudwatch,
            scaling,
            alarm_actions,
        }
    }

    pub fn from_config(config: &SdkConfig, alarm_actions: Vec<String>) -> Self {
        Self::new(
            CloudWatchClient::new(config),
            ScalingClient::new(config),
            alarm_actions,
        )
    }
}

impl Guards for EndpointGuards {
    async fn put_alarm(&self, alarm: &AlarmSpec) -> Result<(), StoreError> {
        let mut request = self
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .namespace("AWS/SageMaker")
            .metric_name(alarm.metric)
            .dimensions(
                Dimension::builder()
                    .name("EndpointName")
                    .value(&alarm.endpoint)
                    .build(),
            )
            .dimensions(
                Dimension::builder()
                    .name("VariantName")
                    .value(&alarm.variant)
                    .build(),
            )
            .period(alarm.period_seconds as i32)
            .evaluation_periods(alarm.evaluation_periods as i32)
            .threshold(alarm.threshold)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .treat_missing_data("notBreaching")
            .set_alarm_actions(Some(self.alarm_actions.clone()));
        request = if alarm.statistic.starts_with('p') {
            request.extended_statistic(alarm.statistic)
        } else {
            request.statistic(Statistic::from(alarm.statistic))
        };
        request
            .send()
            .await
            .map_err(|e| store_error("PutMetricAlarm", &alarm.name, &e))?;
        Ok(())
    }

    async fn register_scaling(&self, spec: &ScalingSpec) -> Result<(), StoreError> {
        self.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&spec.resource_id)
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .min_capacity(spec.min as i32)
            .max_capacity(spec.max as i32)
            .send()
            .await
            .map_err(|e| store_error("RegisterScalableTarget", &spec.resource_id, &e))?;
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::SageMakerVariantInvocationsPerInstance)
            .build()
            .map_err(|e| StoreError::Other {
                op: "PutScalingPolicy",
                resource: spec.resource_id.clone(),
                message: e.to_string(),
            })?;
        let policy = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(f64::from(spec.target_invocations))
            .predefined_metric_specification(metric)
            .scale_in_cooldown(SCALE_IN_COOLDOWN)
            .scale_out_cooldown(SCALE_OUT_COOLDOWN)
            .build()
            .map_err(|e| StoreError::Other {
                op: "PutScalingPolicy",
                resource: spec.resource_id.clone(),
                message: e.to_string(),
            })?;
        self.scaling
            .put_scaling_policy()
            .policy_name(&spec.policy_name)
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(&spec.resource_id)
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(policy)
            .send()
            .await
            .map_err(|e| store_error("PutScalingPolicy", &spec.resource_id, &e))?;
        Ok(())
    }

    async fn deregister_scaling(&self, resource_id: &str) -> Result<(), StoreError> {
        match self
            .scaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Sagemaker)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::SageMakerVariantDesiredInstanceCount)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("ObjectNotFoundException")
                        || s.message()
                            .is_some_and(|m| m.contains("No scalable target found"))
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error("DeregisterScalableTarget", resource_id, &e)),
        }
    }
}

/// The A/B tests read the variants' metrics through the same CloudWatch client.
impl VariantMetrics for EndpointGuards {
    async fn variant_traffic(
        &self,
        endpoint: &str,
        variant: &str,
        start: i64,
        end: i64,
    ) -> Result<Traffic, StoreError> {
        super::cloudwatch::variant_traffic(&self.cloudwatch, endpoint, variant, start, end).await
    }
}
