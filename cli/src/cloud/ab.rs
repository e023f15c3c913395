//! `hawkins ab promote <model>`: ends a model's A/B test. The endpoint is moved to the kept variant
//! alone by the lifecycle code itself (`Lifecycle::ab_promote`), the same promotion the hourly
//! check makes with `ab_promote = "auto"`, run here with the caller's credentials; a second run
//! finds it done.

use anyhow::Result;
use hawkins::aws::autoscaling::EndpointGuards;
use hawkins::aws::lifecycle::SageMakerLifecycle;
use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;
use hawkins::error::Retry;
use hawkins::lifecycle::ab::{AbOutcome, Side};
use hawkins::lifecycle::{Lifecycle, LifecycleError};
use hawkins::training::StackSettings;

use super::{Cloud, errors, now};
use crate::exit::{Exit, coded};

/// `primary` or `challenger`.
pub fn parse_side(text: &str) -> Result<Side, String> {
    Side::parse(text).ok_or_else(|| {
        format!("{text:?} is not a variant of an A/B test: write primary or challenger")
    })
}

/// What a promotion did, in a line.
pub fn said(outcome: &AbOutcome) -> String {
    match outcome {
        AbOutcome::Concluded {
            endpoint,
            keep,
            decision,
            ..
        } => format!(
            "{endpoint} is being updated to serve the {} alone ({}); `hawkins status` follows it",
            keep.variant(),
            decision.why()
        ),
        AbOutcome::Running {
            endpoint, reason, ..
        } => format!("{endpoint}: {reason}"),
        AbOutcome::NoTest { reason, .. } => reason.clone(),
    }
}

pub async fn promote(cloud: &Cloud, model: &str, variant: Option<Side>, json: bool) -> Result<()> {
    let outputs = cloud.outputs().await?;
    let stack = StackSettings::from_role(
        &outputs.bucket,
        &outputs.role_arn,
        &cloud.region,
        cloud.project(),
    )
    .map_err(|e| coded(Exit::AwsRefused, e))?;
    let store = S3Store::from_config(&cloud.sdk, &outputs.bucket);
    let notifier = SnsNotifier::from_config(&cloud.sdk, outputs.alert_topic_arn.clone());
    let sagemaker = SageMakerLifecycle::from_config(&cloud.sdk);
    let guards = EndpointGuards::from_config(&cloud.sdk, vec![outputs.alert_topic_arn.clone()]);
    let lifecycle = Lifecycle {
        store: &store,
        notifier: &notifier,
        registry: &sagemaker,
        hosting: &sagemaker,
        guards: &guards,
        config: &cloud.config,
        stack: &stack,
    };
    let outcome = match lifecycle.ab_promote(model, variant, now()).await {
        Ok(outcome) => outcome,
        Err(LifecycleError::Aws(e)) => return Err(errors::store(&e, &cloud.region)),
        Err(e) => {
            let exit = if e.retryable() {
                Exit::AwsTransient
            } else {
                Exit::Failed
            };
            return Err(coded(exit, e.to_string()));
        }
    };
    if json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        println!("{}", said(&outcome));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_named_as_the_endpoint_names_them() {
        assert_eq!(parse_side("challenger"), Ok(Side::Challenger));
        assert_eq!(parse_side(" Primary "), Ok(Side::Primary));
        assert!(
            parse_side("winner")
                .unwrap_err()
                .contains("primary or challenger")
        );
    }
}
