//! [`EndpointMetrics`] over CloudWatch: SageMaker's per-variant `Invocations` and `ModelLatency`
//! (namespace `AWS/SageMaker`, dimensions `EndpointName` and `VariantName`), summed per hour.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};

use super::store_error;
use crate::costs::EndpointMetrics;
use crate::costs::compute::Bucket;
use crate::error::StoreError;
use crate::time::HOUR;

/// GetMetricStatistics answers at most 1,440 datapoints: 60 days of hours per request.
const MAX_HOURS_PER_CALL: i64 = 1_440;

#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Hourly sums of one metric: hour start → sum.
    async fn hourly_sums(
        &self,
        metric: &str,
        endpoint: &str,
        variant: &str,
        start: i64,
        end: i64,
    ) -> Result<BTreeMap<i64, f64>, StoreError> {
        let resource = format!("{metric} of {endpoint}/{variant}");
        let mut out = BTreeMap::new();
        let mut from = start;
        while from < end {
            let until = (from + MAX_HOURS_PER_CALL * HOUR).min(end);
            let answer = self
                .client
                .get_metric_statistics()
                .namespace("AWS/SageMaker")
                .metric_name(metric)
                .dimensions(
                    Dimension::builder()
                        .name("EndpointName")
                        .value(endpoint)
                        .build(),
                )
                .dimensions(
                    Dimension::builder()
                        .name("VariantName")
                        .value(variant)
                        .build(),
                )
                .start_time(DateTime::from_secs(from))
                .end_time(DateTime::from_secs(until))
                .period(HOUR as i32)
                .statistics(Statistic::Sum)
                .send()
                .await
                .map_err(|e| store_error("GetMetricStatistics", &resource, &e))?;
            for point in answer.datapoints() {
                if let (Some(at), Some(sum)) = (point.timestamp(), point.sum()) {
                    let secs = at.secs();
                    *out.entry(secs - secs.rem_euclid(HOUR)).or_insert(0.0) += sum;
                }
            }
            from = until;
        }
        Ok(out)
    }
}

impl EndpointMetrics for CloudWatchMetrics {
    async fn usage(
        &self,
        endpoint: &str,
        variant: &str,
        serverless: bool,
        start: i64,
        end: i64,
    ) -> Result<Vec<Bucket>, StoreError> {
        let invocations = self
            .hourly_sums("Invocations", endpoint, variant, start, end)
            .await?;
        // ModelLatency is in microseconds; only serverless variants bill by it.
        let latency = if serverless {
            self.hourly_sums("ModelLatency", endpoint, variant, start, end)
                .await?
        } else {
            BTreeMap::new()
        };
        let hours: std::collections::BTreeSet<i64> =
            invocations.keys().chain(latency.keys()).copied().collect();
        Ok(hours
            .into_iter()
            .map(|start| Bucket {
                start,
                invocations: invocations.get(&start).copied().unwrap_or(0.0),
                latency_seconds: latency.get(&start).copied().unwrap_or(0.0) / 1_000_000.0,
            })
            .collect())
    }
}
