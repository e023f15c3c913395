//! The harness the end-to-end tests share: the local AWS with the pipeline's resources, the
//! project's fixtures, and events built from the samples in `events/`.

use std::path::{Path, PathBuf};

use hawkins::aws::local::LocalStack;
use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;
use hawkins::events::encode_key;
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, EventReport, Ingest, handle_event};
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
/// `datasets/latest.json` on the train queue: call it after an ingest delivery.
pub async fn route_latest(stack: &LocalStack, report: &EventReport) {
    use hawkins::store::ObjectStore;
    if !report.corpus.as_ref().is_some_and(|c| c.latest_changed) {
        return;
    }
    let head = stack
        .store()
        .head(hawkins::manifest::LATEST_KEY)
        .await
        .expect("HeadObject")
        .expect("latest.json was just written");
    let mut body = event(
        Envelope::EventBridge,
        &stack.bucket,
        hawkins::manifest::LATEST_KEY,
    );
    body["detail"]["object"]["version-id"] = head.revision.clone().into();
    stack
        .sqs()
        .send_message()
        .queue_url(&stack.train_queue_url)
        .message_body(body.to_string())
        .send()
        .await
        .expect("SendMessage");
}

/// The model config the training tests use.
pub fn test_config() -> hawkins::config::Config {
    let text = String::from_utf8(fixture("training.toml")).expect("utf-8");
    match hawkins::config::parse("tests/fixtures/training.toml", &text) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

/// Runs the train function over its queue, as the SQS event source would, until the queue has
/// been empty past every requeued message's delay. Returns every outcome.
pub async fn drain_train_queue(
    stack: &LocalStack,
    config: &hawkins::config::Config,
) -> Vec<hawkins::training::MessageOutcome> {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use hawkins::training::{MessageOutcome, StackSettings, Trainer, handle_batch};
    let store = stack.store();
    let jobs = hawkins::aws::sagemaker::SageMakerJobs::from_config(&stack.config);
    let queue = hawkins::aws::sqs::SqsQueue::from_config(&stack.config, &stack.train_queue_url);
    let settings = StackSettings::from_role(
        &stack.bucket,
        "arn:aws:iam::123456789012:role/hawkins-sagemaker",
        "us-east-1",
        &config.pipeline.project_tag,
    )
    .expect("role");
    let trainer = Trainer {
        store: &store,
        jobs: &jobs,
        queue: &queue,
        config,
        stack: &settings,
        quiet_seconds: config.pipeline.quiet_period_seconds,
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    let mut quiet_until = now();
    let mut outcomes = Vec::new();
    while started.elapsed() < std::time::Duration::from_secs(120) {
        let received = stack
            .sqs()
            .receive_message()
            .queue_url(&stack.train_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            if now() > quiet_until + 1 {
                return outcomes;
            }
            continue;
        }
        let mut records = Vec::new();
        for message in &messages {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.body = message.body.clone();
            records.push(record);
        }
        let mut event = SqsEvent::default();
        event.records = records;
        let (batch, response) = handle_batch(&trainer, event, now()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "train failures: {:?}",
            response.batch_item_failures
        );
        for outcome in &batch {
            if let MessageOutcome::Requeued { delay_seconds } = outcome {
                quiet_until = quiet_until.max(now() + i64::from(*delay_seconds));
            }
        }
        outcomes.extend(batch);
        for message in messages {
            stack
                .sqs()
                .delete_message()
                .queue_url(&stack.train_queue_url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
    panic!("the train queue did not settle within two minutes");
}
