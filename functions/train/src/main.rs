//! Train: after the quiet period, the corpus version in `datasets/latest.json` starts one SageMaker
//! training (or tuning) job per affected model. Events come from SQS (EventBridge puts the S3
//! "Object Created" events of `latest.json` there). The decisions live in `hawkins::training`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use hawkins::aws::{
    config_from_env, required_env, s3::S3Store, sagemaker::SageMakerJobs, sns::SnsNotifier,
    sqs::SqsQueue,
};
use hawkins::entry::{init_logs, now};
use hawkins::training::{StackSettings, Trainer, handle_batch};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    // Checked when this function was built (functions/build.rs), and again here.
    let config = hawkins::embedded_config!()?;
    let bucket = required_env("HAWKINS_BUCKET")?;
    let stack = StackSettings::from_role(
        &bucket,
        &required_env("HAWKINS_SAGEMAKER_ROLE_ARN")?,
        &required_env("AWS_REGION")?,
        &config.pipeline.project_tag,
    )?;
    let quiet_seconds = hawkins::training::quiet_seconds(
        std::env::var("HAWKINS_QUIET_PERIOD_SECONDS")
            .ok()
            .as_deref(),
        &config,
    )?;
    let sdk = config_from_env().await;
    let store = S3Store::from_config(&sdk, &bucket);
    let jobs = SageMakerJobs::from_config(&sdk);
    let queue = SqsQueue::from_config(&sdk, required_env("HAWKINS_TRAIN_QUEUE_URL")?);
    let notifier = SnsNotifier::from_config(&sdk, required_env("HAWKINS_ALERT_TOPIC_ARN")?);
    let trainer = Trainer {
        store: &store,
        jobs: &jobs,
        queue: &queue,
        notifier: &notifier,
        config: &config,
        stack: &stack,
        quiet_seconds,
    };
    tracing::info!(
        quiet_seconds,
        models = config.models.len(),
        "train function ready"
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        let (_, response) = handle_batch(&trainer, event.payload, now()).await;
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
