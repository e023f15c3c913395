//! [`EndpointMetrics`] over CloudWatch: SageMaker's per-variant `Invocations` and `ModelLatency`
//! (namespace `AWS/SageMaker`, dimensions `EndpointName` and `VariantName`), summed per hour; and
//! [`VariantMetrics`], a variant's invocations, errors and latency over an A/B test's window.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};

use super::store_error;
use crate::costs::EndpointMetrics;
use crate::costs::compute::Bucket;
use crate::error::StoreError;
use crate::lifecycle::ab::{Traffic, VariantMetrics};
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
            let answer = variant_metric(&self.client, metric, endpoint, variant)
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

/// GetMetricStatistics of one of SageMaker's per-variant metrics, before its time and statistics.
fn variant_metric(
    client: &Client,
    metric: &str,
    endpoint: &str,
    variant: &str,
) -> aws_sdk_cloudwatch::operation::get_metric_statistics::builders::GetMetricStatisticsFluentBuilder
{
    client
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

impl VariantMetrics for CloudWatchMetrics {
    async fn variant_traffic(
        &self,
        endpoint: &str,
        variant: &str,
        start: i64,
        end: i64,
    ) -> Result<Traffic, StoreError> {
        variant_traffic(&self.client, endpoint, variant, start, end).await
    }
}

/// The statistics of one metric over `[start, end)` as one period (a whole number of hours, at
/// most 30 days: an A/B test's longest window), so that the median is the window's own.
struct Window {
    sum: f64,
    samples: f64,
    p50: Option<f64>,
}

async fn window_stats(
    client: &Client,
    metric: &str,
    endpoint: &str,
    variant: &str,
    start: i64,
    end: i64,
    median: bool,
) -> Result<Window, StoreError> {
    let resource = format!("{metric} of {endpoint}/{variant}");
    let hours = ((end - start).max(1) + HOUR - 1) / HOUR;
    let period = hours * HOUR;
    let mut request = variant_metric(client, metric, endpoint, variant)
        .start_time(DateTime::from_secs(end - period))
        .end_time(DateTime::from_secs(end))
        .period(i32::try_from(period).unwrap_or(i32::MAX))
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount);
    if median {
        request = request.extended_statistics("p50");
    }
    let answer = request
        .send()
        .await
        .map_err(|e| store_error("GetMetricStatistics", &resource, &e))?;
    // One datapoint in the service; a store that splits the window gives several, added up (the
    // median then weighted by each one's samples).
    let mut out = Window {
        sum: 0.0,
        samples: 0.0,
        p50: None,
    };
    let mut weighted = 0.0;
    for point in answer.datapoints() {
        let samples = point.sample_count().unwrap_or(0.0);
        out.sum += point.sum().unwrap_or(0.0);
        out.samples += samples;
        if let Some(p50) = point.extended_statistics().and_then(|m| m.get("p50")) {
            weighted += p50 * samples;
            out.p50 = Some(0.0);
        }
    }
    if out.p50.is_some() && out.samples > 0.0 {
        out.p50 = Some(weighted / out.samples);
    } else {
        out.p50 = None;
    }
    Ok(out)
}

/// A variant's invocations, errors and `ModelLatency` (microseconds) in `[start, end)`.
pub(crate) async fn variant_traffic(
    client: &Client,
    endpoint: &str,
    variant: &str,
    start: i64,
    end: i64,
) -> Result<Traffic, StoreError> {
    let count = |w: &Window| w.sum.max(0.0).round() as u64;
    let invocations =
        window_stats(client, "Invocations", endpoint, variant, start, end, false).await?;
    let e5 = window_stats(
        client,
        "Invocation5XXErrors",
        endpoint,
        variant,
        start,
        end,
        false,
    )
    .await?;
    let e4 = window_stats(
        client,
        "Invocation4XXErrors",
        endpoint,
        variant,
        start,
        end,
        false,
    )
    .await?;
    let latency = window_stats(client, "ModelLatency", endpoint, variant, start, end, true).await?;
    Ok(Traffic {
        invocations: count(&invocations),
        errors_5xx: count(&e5),
        errors_4xx: count(&e4),
        latency_avg_micros: (latency.samples > 0.0).then(|| latency.sum / latency.samples),
        latency_p50_micros: latency.p50,
    })
}
