//! The harness the end-to-end tests share: the local AWS with the pipeline's resources, the
//! project's fixtures, and events built from the samples in `events/`.

use std::path::{Path, PathBuf};

use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;
use hawkins::events::encode_key;
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, EventReport, Ingest, handle_event};
use hawkins_localaws::LocalStack;
use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts the local AWS for one test; it stops when the value is dropped.
pub async fn stack() -> LocalStack {
    match LocalStack::start(&root()).await {
        Ok(stack) => stack,
        Err(e) => panic!("the local AWS must start for this test: {e}"),
    }
}

/// A fixture's bytes, by path under `tests/fixtures/`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = root().join("tests/fixtures").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("fixture {}: {e}", full.display()))
}

/// The sample corpus: (file name, bytes), sorted.
pub fn sample_corpus() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fixtures/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.clone(), fixture(&format!("corpus/{name}")))
        })
        .collect();
    files.sort();
    files
}

/// Which envelope to deliver.
#[derive(Debug, Clone, Copy)]
pub enum Envelope {
    S3Notification,
    EventBridge,
}

/// The sample event of `events/` for that envelope, pointed at `bucket`/`key`.
pub fn event(envelope: Envelope, bucket: &str, key: &str) -> Value {
    let name = match envelope {
        Envelope::S3Notification => "s3-object-created.json",
        Envelope::EventBridge => "eventbridge-object-created.json",
    };
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text).expect("the sample is JSON");
    match envelope {
        Envelope::S3Notification => {
            let s3 = &mut event["Records"][0]["s3"];
            s3["bucket"]["name"] = bucket.into();
            s3["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
            s3["object"]["key"] = encode_key(key).into();
        }
        Envelope::EventBridge => {
            event["detail"]["bucket"]["name"] = bucket.into();
            event["resources"][0] = format!("arn:aws:s3:::{bucket}").into();
            event["detail"]["object"]["key"] = encode_key(key).into();
        }
    }
    event
}

/// Delivers one event to the real ingest handler, wired to the local stack as the Lambda wires
/// it to AWS.
pub async fn deliver(stack: &LocalStack, event: Value) -> EventReport {
    let store: S3Store = stack.store();
    let notifier: SnsNotifier = stack.notifier();
    let ingest = Ingest {
        store: &store,
        notifier: &notifier,
        location: format!("s3://{}", stack.bucket),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    match handle_event(&ingest, &stack.bucket, event).await {
        Ok(report) => report,
        Err(e) => panic!("ingest failed: {e}"),
    }
}

/// Builds the corpus from every source entry, as the train function does once uploads have
/// settled, through the functions' S3 client.
pub async fn build_corpus(stack: &LocalStack) -> hawkins::corpus::CorpusOutcome {
    let store: S3Store = stack.store();
    let build = hawkins::corpus::CorpusBuild {
        store: &store,
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    match build.run().await {
        Ok(outcome) => outcome,
        Err(e) => panic!("corpus build failed: {e}"),
    }
}

/// An object's bytes, or `None`.
pub async fn read(stack: &LocalStack, key: &str) -> Option<Vec<u8>> {
    use hawkins::store::ObjectStore;
    stack
        .store()
        .get(key)
        .await
        .expect("GetObject")
        .map(|o| o.bytes)
}

/// An object's JSON.
pub async fn read_json(stack: &LocalStack, key: &str) -> Value {
    let bytes = read(stack, key)
        .await
        .unwrap_or_else(|| panic!("{key} should exist"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
}

/// Stands in for the EventBridge rule that puts "Object Created" events of
/// `manifest/pending.json` on the train queue: call it after an ingest delivery.
pub async fn route_pending(stack: &LocalStack) {
    if let Err(e) = stack.route_pending().await {
        panic!("routing pending.json: {e}");
    }
}

/// The model config the training tests use.
pub fn test_config() -> hawkins::config::Config {
    let text = String::from_utf8(fixture("training.toml")).expect("utf-8");
    match hawkins::config::parse("tests/fixtures/training.toml", &text) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

/// Runs the train function over its queue until it settles (see `LocalStack::drain_train_queue`),
/// with `config` built in: the config in force unless one was pushed to the bucket.
pub async fn drain_train_queue(
    stack: &LocalStack,
    config: &hawkins::config::Config,
) -> Vec<hawkins::training::MessageOutcome> {
    let (store, notifier) = (stack.store(), stack.notifier());
    let live = stack.live_config(&store, &notifier, config.clone());
    match stack.drain_train_queue(&live, None).await {
        Ok(outcomes) => outcomes,
        Err(e) => panic!("train queue: {e}"),
    }
}
