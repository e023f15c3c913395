//! Ingest: an upload under `raw/` (S3 notification or EventBridge "Object Created") becomes cleaned
//! dialogue, versioned datasets, character networks and the corpus manifest.
//! The decisions live in `hawkins::ingest`; this file only wires them to S3 and SNS.

use hawkins::aws::{config_from_env, required_env, s3::S3Store, sns::SnsNotifier};
use hawkins::entry::{diagnostic, init_logs};
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest, handle_event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let bucket = required_env("HAWKINS_BUCKET")?;
    let topic = required_env("HAWKINS_ALERT_TOPIC_ARN")?;
    let config = config_from_env().await;
    let store = S3Store::from_config(&config, &bucket);
    let notifier = SnsNotifier::from_config(&config, topic);
    let ingest = Ingest {
        store: &store,
        notifier: &notifier,
        location: format!("s3://{bucket}"),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async {
        handle_event(&ingest, &bucket, event.payload)
            .await
            .map_err(diagnostic)
    }))
    .await
}
