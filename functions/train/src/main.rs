//! Train: after the quiet period, builds the corpus version and starts one SageMaker training (or
//! tuning) job per affected model; also a person's training request, and a pushed model config.
//! Events come from SQS (EventBridge puts the S3 "Object Created" events of
//! `manifest/pending.json`, `requests/train/` and `config/hawkins.toml` there). The decisions
//! live in `hawkins::training`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use hawkins::aws::{
    config_from_env, required_env, s3::S3Store, sagemaker::SageMakerJobs, sns::SnsNotifier,
    sqs::SqsQueue,
};
use hawkins::config::{LiveConfig, LiveSettings};
use hawkins::entry::{diagnostic, init_logs, now};
use hawkins::training::{StackSettings, Trainer, handle_batch};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    // The built-in config, checked when this function was built (functions/build.rs): in force
    // while the stack's config location holds no object (see hawkins::config::live).
    let built_in = hawkins::embedded_config!()?;
    let bucket = required_env("HAWKINS_BUCKET")?;
    let settings = LiveSettings::from_env(|name| std::env::var(name).ok(), &bucket)?;
    let stack = StackSettings::from_role(
        &bucket,
        &required_env("HAWKINS_SAGEMAKER_ROLE_ARN")?,
        &required_env("AWS_REGION")?,
        &built_in.pipeline.project_tag,
    )?;
    // The stack's QuietPeriodSeconds, checked now; unset, each invocation takes the config's.
    let quiet_env = std::env::var("HAWKINS_QUIET_PERIOD_SECONDS").ok();
    hawkins::training::quiet_seconds(quiet_env.as_deref(), &built_in)?;
    let sdk = config_from_env().await;
    let store = S3Store::from_config(&sdk, &bucket);
    let config_bucket = S3Store::from_config(&sdk, &settings.location.bucket);
    let jobs = SageMakerJobs::from_config(&sdk);
    let queue = SqsQueue::from_config(&sdk, required_env("HAWKINS_TRAIN_QUEUE_URL")?);
    let notifier = SnsNotifier::from_config(&sdk, required_env("HAWKINS_ALERT_TOPIC_ARN")?);
    tracing::info!(location = %settings.location, "train function ready");
    let live = LiveConfig::new(&config_bucket, &store, &notifier, settings, built_in);
    let (live, stack, quiet_env) = (&live, &stack, quiet_env.as_deref());
    let (store, jobs, queue, notifier) = (&store, &jobs, &queue, &notifier);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        // A pushed config's own event: look at it now, not at the usual interval.
        if hawkins::training::mentions(&event.payload, &live.settings().location.key) {
            live.look(now()).await.map_err(diagnostic)?;
        }
        // A config that cannot be read fails the whole batch: every message comes back.
        let config = live.current(now()).await.map_err(diagnostic)?;
        let trainer = Trainer {
            store,
            jobs,
            queue,
            notifier,
            config: &config,
            stack: &stack.for_config(&config),
            quiet_seconds: hawkins::training::quiet_seconds(quiet_env, &config)?,
        };
        let (_, response) = handle_batch(&trainer, event.payload, now()).await;
        Ok::<SqsBatchResponse, Diagnostic>(response)
    }))
    .await
}
