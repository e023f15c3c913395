//! Lifecycle: SageMaker's state-change events from EventBridge. A finished training job is
//! recorded in the ledger and registered behind its metric gate; an approved package is deployed
//! (blue/green with rollback alarms, A/B or serverless, auto scaling); endpoint changes are
//! checked against what was asked; every failure is told to the team. Every hour a scheduled event
//! makes it conclude the A/B tests (the guards' CloudWatch client reads the variants' metrics).
//! The decisions live in `hawkins::lifecycle`.

use hawkins::aws::{
    autoscaling::EndpointGuards, config_from_env, lifecycle::SageMakerLifecycle, required_env,
    s3::S3Store, sns::SnsNotifier,
};
use hawkins::config::{LiveConfig, LiveSettings};
use hawkins::entry::{diagnostic, init_logs, now};
use hawkins::lifecycle::Lifecycle;
use hawkins::training::StackSettings;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    // Gates and deploy settings: the built-in config, checked when this function was built
    // (functions/build.rs), in force while the stack's config location holds no object (see
    // hawkins::config::live).
    let built_in = hawkins::embedded_config!()?;
    let bucket = required_env("HAWKINS_BUCKET")?;
    let settings = LiveSettings::from_env(|name| std::env::var(name).ok(), &bucket)?;
    let topic = required_env("HAWKINS_ALERT_TOPIC_ARN")?;
    // Its models run as the hosting role, the only role this function may pass; the training
    // jobs' role completes the stack's settings (the account) and is never handed to SageMaker.
    let stack = StackSettings::from_role(
        &bucket,
        &required_env("HAWKINS_SAGEMAKER_ROLE_ARN")?,
        &required_env("AWS_REGION")?,
        &built_in.pipeline.project_tag,
    )?
    .with_hosting_role(&required_env("HAWKINS_HOSTING_ROLE_ARN")?)?;
    let sdk = config_from_env().await;
    let store = S3Store::from_config(&sdk, &bucket);
    let config_bucket = S3Store::from_config(&sdk, &settings.location.bucket);
    let notifier = SnsNotifier::from_config(&sdk, topic.clone());
    let sagemaker = SageMakerLifecycle::from_config(&sdk);
    let guards = EndpointGuards::from_config(&sdk, vec![topic]);
    tracing::info!(location = %settings.location, "lifecycle function ready");
    let live = LiveConfig::new(&config_bucket, &store, &notifier, settings, built_in);
    let (live, stack) = (&live, &stack);
    let (store, notifier, sagemaker, guards) = (&store, &notifier, &sagemaker, &guards);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let config = live.current(now()).await.map_err(diagnostic)?;
        let lifecycle = Lifecycle {
            store,
            notifier,
            registry: sagemaker,
            hosting: sagemaker,
            guards,
            config: &config,
            stack: &stack.for_config(&config),
        };
        let outcome = lifecycle
            .handle(event.payload, now())
            .await
            .map_err(diagnostic)?;
        Ok::<_, Diagnostic>(serde_json::to_value(&outcome).unwrap_or_default())
    }))
    .await
}
