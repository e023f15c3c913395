//! The pipeline's resources on the local AWS: what the tests and `hawkins local` run against.
//!
//! Creates what `infra/template.yaml` declares and the local AWS supports: the versioned pipeline
//! bucket, the alert topic, and an SQS queue subscribed to it standing in for the e-mail
//! subscription (so a test reads exactly what a person would have received).

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde_json::Value;

use hawkins::aws::local_config;
use hawkins::aws::s3::S3Store;
use hawkins::aws::sns::SnsNotifier;

use crate::faults::{FaultPlan, Faults, invoke};
use crate::process::{LocalAws, LocalAwsError};

/// How often the train queue hands out a message before it goes to the dead-letter queue (the
/// template's `maxReceiveCount` is smaller; the local run is more patient, as its faults are many).
const MAX_RECEIVES: u32 = 10;

/// The local AWS's account.
pub const LOCAL_ACCOUNT: &str = "123456789012";

/// A failure setting up or reading the local stack.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Start(#[from] LocalAwsError),
    #[error("local AWS call {op} failed: {message}")]
    Call { op: &'static str, message: String },
}

fn call<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> LocalError {
    move |e| LocalError::Call {
        op,
        message: e.to_string(),
    }
}

/// A message as it reached the e-mail stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub subject: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
}

/// The running local AWS with the pipeline's resources.
#[derive(Debug)]
pub struct LocalStack {
    pub server: LocalAws,
    /// The harness's own configuration: uploads, routing, the SageMaker stand-in, reading back.
    pub config: SdkConfig,
    /// What the functions' clients are built from: `config`, or `config` behind the fault layer
    /// (see [`LocalStack::inject_faults`]).
    functions: SdkConfig,
    faults: Option<std::sync::Arc<Faults>>,
    pub bucket: String,
    pub topic_arn: String,
    pub queue_url: String,
    /// The train function's queue (EventBridge puts `manifest/pending.json` events there).
    pub train_queue_url: String,
    /// The last write of `manifest/pending.json` routed by [`LocalStack::route_pending`].
    routed: std::sync::Mutex<Option<String>>,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
}

impl LocalStack {
    /// Starts the local AWS (installing it when missing) and creates the resources.
    pub async fn start(root: &Path) -> Result<LocalStack, LocalError> {
        LocalStack::start_with_bucket(root, "hawkins-pipeline-local").await
    }

    /// As [`LocalStack::start`], with the pipeline bucket named `bucket` (the name the samples in
    /// `events/` carry, for `cargo lambda invoke --data-file`).
    pub async fn start_with_bucket(root: &Path, bucket: &str) -> Result<LocalStack, LocalError> {
        let server = tokio::task::block_in_place(|| LocalAws::start(root))?;
        let config = local_config(server.endpoint());
        let s3 = S3Store::client(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let bucket = bucket.to_string();
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(call("CreateBucket"))?;
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(call("PutBucketVersioning"))?;
        let topic_arn = sns
            .create_topic()
            .name("hawkins-alerts")
            .send()
            .await
            .map_err(call("CreateTopic"))?
            .topic_arn
            .unwrap_or_default();
        let queue_url = sqs
            .create_queue()
            .queue_name("hawkins-alerts-inbox")
            .send()
            .await
            .map_err(call("CreateQueue"))?
            .queue_url
            .unwrap_or_default();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(call("GetQueueAttributes"))?
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap_or_default();
        let train_queue_url = sqs
            .create_queue()
            .queue_name("hawkins-train")
            .send()
            .await
            .map_err(call("CreateQueue"))?
            .queue_url
            .unwrap_or_default();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send()
            .await
            .map_err(call("Subscribe"))?;
        Ok(LocalStack {
            server,
            functions: config.clone(),
            faults: None,
            config,
            bucket,
            topic_arn,
            queue_url,
            train_queue_url,
            routed: std::sync::Mutex::new(None),
            s3,
            sqs,
        })
    }

    /// The environment the functions read, pointed at this stack: what `cargo lambda watch` needs
    /// to run them against the local AWS. The local AWS's fixed credentials are written out here,
    /// so a function run this way never reaches for a real account's.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.server.endpoint().to_string()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("HAWKINS_BUCKET", self.bucket.clone()),
            ("HAWKINS_ALERT_TOPIC_ARN", self.topic_arn.clone()),
            ("HAWKINS_TRAIN_QUEUE_URL", self.train_queue_url.clone()),
            // The bucket's place for the model config, as the stack's default; with no object
            // there the functions run on their built-in config. Looked at every invocation.
            (
                hawkins::config::live::CONFIG_URI_ENV,
                self.config_location().uri(),
            ),
            (hawkins::config::live::REFRESH_ENV, "0".into()),
            ("HAWKINS_HOSTING_ROLE_ARN", LOCAL_HOSTING_ROLE.into()),
            ("HAWKINS_SAGEMAKER_ROLE_ARN", LOCAL_SAGEMAKER_ROLE.into()),
        ]
    }

    /// Where the local functions read the model config: the bucket's `config/hawkins.toml`.
    pub fn config_location(&self) -> hawkins::config::ConfigLocation {
        hawkins::config::ConfigLocation::in_bucket(&self.bucket)
    }

    /// The model config as the local functions hold it: `built_in` until an object is pushed to
    /// [`LocalStack::config_location`], looked at every invocation, alerts through the functions'
    /// clients.
    pub fn live_config<'a>(
        &self,
        store: &'a S3Store,
        notifier: &'a SnsNotifier,
        built_in: hawkins::config::Config,
    ) -> hawkins::config::LiveConfig<'a, S3Store, S3Store, SnsNotifier> {
        let settings = hawkins::config::LiveSettings {
            location: self.config_location(),
            refresh_seconds: 0,
        };
        hawkins::config::LiveConfig::new(store, store, notifier, settings, built_in)
    }

    /// Puts the fault layer between the functions and the local AWS: every client the
    /// functions' adapters below are built from goes through it from now on; the harness's own
    /// calls do not. The SDK retries as in a Lambda (standard mode), with short back-offs so a
    /// run takes seconds.
    pub fn inject_faults(&mut self, plan: FaultPlan) -> std::sync::Arc<Faults> {
        use aws_smithy_http_client::tls;
        let faults = Faults::new(plan);
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        self.functions = self
            .config
            .to_builder()
            .http_client(faults.http_client(inner))
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(std::time::Duration::from_millis(2))
                    .with_max_backoff(std::time::Duration::from_millis(40)),
            )
            .build();
        self.faults = Some(std::sync::Arc::clone(&faults));
        faults
    }

    /// The fault layer, when one was put in.
    pub fn faults(&self) -> Option<&Faults> {
        self.faults.as_deref()
    }

    /// The configuration the functions' clients are built from.
    pub fn functions_config(&self) -> &SdkConfig {
        &self.functions
    }

    /// The SageMaker side of the lifecycle (registry and hosting).
    pub fn sagemaker_lifecycle(&self) -> hawkins::aws::lifecycle::SageMakerLifecycle {
        hawkins::aws::lifecycle::SageMakerLifecycle::from_config(&self.functions)
    }

    /// Alarms (notifying the alert topic) and auto scaling.
    pub fn guards(&self) -> hawkins::aws::autoscaling::EndpointGuards {
        hawkins::aws::autoscaling::EndpointGuards::from_config(
            &self.functions,
            vec![self.topic_arn.clone()],
        )
    }

    /// The cost run's metrics.
    pub fn metrics(&self) -> hawkins::aws::cloudwatch::CloudWatchMetrics {
        hawkins::aws::cloudwatch::CloudWatchMetrics::from_config(&self.functions)
    }

    /// The stack settings of the local pipeline, as the lifecycle function has them (its roles are
    /// made-up ARNs: the local AWS checks none).
    pub fn stack_settings(&self, project: &str) -> hawkins::training::StackSettings {
        hawkins::training::StackSettings {
            bucket: self.bucket.clone(),
            role_arn: LOCAL_SAGEMAKER_ROLE.to_string(),
            hosting_role_arn: Some(LOCAL_HOSTING_ROLE.to_string()),
            project: project.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            region: "us-east-1".to_string(),
        }
    }

    /// Stands in for SageMaker's auto-rollback of a blue/green update (an alarm fired while the
    /// new fleet baked): the endpoint returns to its previous config, InService, with `reason` as
    /// its FailureReason. See `tests/localaws/moto_sagemaker.py`.
    pub async fn roll_back_endpoint(&self, endpoint: &str, reason: &str) -> Result<(), LocalError> {
        let body =
            serde_json::json!({"EndpointName": endpoint, "FailureReason": reason}).to_string();
        let address = self
            .server
            .endpoint()
            .trim_start_matches("http://")
            .to_string();
        let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&address)?;
            write!(
                stream,
                "POST /moto-api/hawkins/sagemaker/roll-back-endpoint HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )?;
            let mut out = String::new();
            stream.read_to_string(&mut out)?;
            Ok(out)
        })
        .await
        .map_err(call("roll back endpoint"))?
        .map_err(call("roll back endpoint"))?;
        if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(LocalError::Call {
                op: "roll back endpoint",
                message: answer,
            })
        }
    }

    /// The pipeline bucket as an object store, as the functions reach it.
    pub fn store(&self) -> S3Store {
        S3Store::from_config(&self.functions, &self.bucket)
    }

    /// The pipeline bucket as the harness reads it (never through the fault layer).
    pub fn harness_store(&self) -> S3Store {
        S3Store::new(self.s3.clone(), &self.bucket)
    }

    /// The alert topic as a notifier.
    pub fn notifier(&self) -> SnsNotifier {
        SnsNotifier::from_config(&self.functions, &self.topic_arn)
    }

    /// The SQS client.
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// The S3 client, for assertions.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// Uploads as a user would (no Hawkins metadata).
    pub async fn upload(&self, key: &str, bytes: Vec<u8>) -> Result<(), LocalError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(call("PutObject"))
    }

    /// Every object version in the bucket, as (key, version count): a replay that writes nothing
    /// leaves this unchanged.
    pub async fn versions(&self) -> Result<BTreeMap<String, usize>, LocalError> {
        let mut out = BTreeMap::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(call("ListObjectVersions"))?;
            for version in page.versions() {
                *out.entry(version.key().unwrap_or_default().to_string())
                    .or_insert(0) += 1;
            }
            if page.is_truncated() != Some(true) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }

    /// Drains the e-mail stand-in: every alert delivered since the last call.
    pub async fn delivered(&self) -> Result<Vec<Delivered>, LocalError> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(call("ReceiveMessage"))?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            for message in messages {
                let body: Value = serde_json::from_str(message.body().unwrap_or("{}"))
                    .map_err(call("parse SNS envelope"))?;
                let attributes = body["MessageAttributes"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v["Value"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Delivered {
                    subject: body["Subject"].as_str().unwrap_or_default().to_string(),
                    message: body["Message"].as_str().unwrap_or_default().to_string(),
                    attributes,
                });
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(call("DeleteMessage"))?;
                }
            }
        }
    }

    /// Stands in for the EventBridge rule that puts the "Object Created" event of
    /// `manifest/pending.json` on the train queue (the same event shape as
    /// `events/sqs-train-source-changed.json`'s body): call it after an ingest delivery. Sends
    /// one event per write, as S3 does: nothing when the object is as it was last routed.
    pub async fn route_pending(&self) -> Result<bool, LocalError> {
        use hawkins::store::ObjectStore;
        let key = hawkins::manifest::PENDING_KEY;
        let Some(head) = self
            .harness_store()
            .head(key)
            .await
            .map_err(call("HeadObject"))?
        else {
            return Ok(false);
        };
        {
            let mut routed = self.routed.lock().unwrap_or_else(|e| e.into_inner());
            if routed.as_deref() == Some(head.revision.as_str()) {
                return Ok(false);
            }
            *routed = Some(head.revision.clone());
        }
        self.send_to_train(key, &head).await?;
        Ok(true)
    }

    /// Stands in for the train rule's other pattern: puts the "Object Created" event of `key` (a
    /// training request under `requests/train/`) on the train queue, once per call.
    pub async fn route_to_train(&self, key: &str) -> Result<(), LocalError> {
        use hawkins::store::ObjectStore;
        let head = self
            .harness_store()
            .head(key)
            .await
            .map_err(call("HeadObject"))?
            .ok_or_else(|| LocalError::Call {
                op: "HeadObject",
                message: format!("{key} does not exist"),
            })?;
        self.send_to_train(key, &head).await
    }

    /// The event S3 sends EventBridge for `key` written as `head`, put on the train queue.
    async fn send_to_train(
        &self,
        key: &str,
        head: &hawkins::store::Head,
    ) -> Result<(), LocalError> {
        let body = serde_json::json!({
            "version": "0", "id": head.revision, "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [format!("arn:aws:s3:::{}", self.bucket)],
            "detail": {"version": "0", "bucket": {"name": self.bucket},
                       "object": {"key": hawkins::events::encode_key(key), "version-id": head.revision, "size": head.size},
                       "reason": "PutObject"}
        });
        self.sqs
            .send_message()
            .queue_url(&self.train_queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(call("SendMessage"))?;
        Ok(())
    }

    /// Runs the train function's real handler over its queue, as the SQS event source would,
    /// until the queue has stayed empty past every re-queued event's delay. Each batch takes the
    /// config `live` holds then, as the function does; `quiet_seconds` stands for the stack's
    /// QuietPeriodSeconds (`None`: the config's).
    pub async fn drain_train_queue<C, S, N>(
        &self,
        live: &hawkins::config::LiveConfig<'_, C, S, N>,
        quiet_seconds: Option<u32>,
    ) -> Result<Vec<hawkins::training::MessageOutcome>, LocalError>
    where
        C: hawkins::store::ObjectStore,
        S: hawkins::store::ObjectStore,
        N: hawkins::store::Notifier,
    {
        use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
        use hawkins::training::{MessageOutcome, StackSettings, Trainer, handle_batch};
        let store = self.store();
        let jobs = hawkins::aws::sagemaker::SageMakerJobs::from_config(&self.functions);
        let queue =
            hawkins::aws::sqs::SqsQueue::from_config(&self.functions, &self.train_queue_url);
        let notifier = self.notifier();
        let settings = StackSettings::from_role(
            &self.bucket,
            LOCAL_SAGEMAKER_ROLE,
            "us-east-1",
            &live.state().config.pipeline.project_tag,
        )
        .map_err(|message| LocalError::Call {
            op: "stack settings",
            message,
        })?;
        let patience = quiet_seconds.unwrap_or(live.state().config.pipeline.quiet_period_seconds);
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default()
        };
        let started = std::time::Instant::now();
        let mut quiet_until = now();
        let mut outcomes = Vec::new();
        let mut redelivered = BTreeMap::new();
        while started.elapsed() < std::time::Duration::from_secs(u64::from(patience) * 4 + 60) {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.train_queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(call("ReceiveMessage"))?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                if now() > quiet_until + 1 {
                    return Ok(outcomes);
                }
                continue;
            }
            let mut event = SqsEvent::default();
            for message in &messages {
                let mut record = SqsMessage::default();
                record.message_id = message.message_id.clone();
                record.body = message.body.clone();
                event.records.push(record);
            }
            // As the function: a pushed config's event looks at it now; then the config in
            // force; one that cannot be read fails the whole batch, which comes back.
            if hawkins::training::mentions(&event, &live.settings().location.key) {
                live.look(now()).await.ok();
            }
            let ((batch, response), crashed) = match live.current(now()).await {
                Ok(config) => {
                    let trainer = Trainer {
                        store: &store,
                        jobs: &jobs,
                        queue: &queue,
                        notifier: &notifier,
                        config: &config,
                        stack: &settings.for_config(&config),
                        quiet_seconds: quiet_seconds
                            .unwrap_or(config.pipeline.quiet_period_seconds),
                    };
                    invoke(self.faults(), handle_batch(&trainer, event, now())).await
                }
                Err(_) => ((Vec::new(), SqsBatchResponse::default()), true),
            };
            // As the SQS event source does: a crashed invocation returns its whole batch to the
            // queue, a finished one only the messages it reports as failed; a message received
            // too often goes to the dead-letter queue, which here ends the run.
            let failed: Vec<&str> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_str())
                .collect();
            for outcome in &batch {
                if let MessageOutcome::Requeued { delay_seconds } = outcome {
                    quiet_until = quiet_until.max(now() + i64::from(*delay_seconds));
                }
            }
            if !crashed {
                outcomes.extend(batch);
            }
            for message in messages {
                let id = message.message_id.clone().unwrap_or_default();
                if crashed || failed.contains(&id.as_str()) {
                    let receives = redelivered.entry(id).or_insert(0u32);
                    *receives += 1;
                    if *receives >= MAX_RECEIVES {
                        return Err(LocalError::Call {
                            op: "train handler",
                            message: format!(
                                "a message failed {MAX_RECEIVES} times (see the log); SQS would move it to the dead-letter queue"
                            ),
                        });
                    }
                    if let Some(faults) = self.faults() {
                        faults.redelivered();
                    }
                    self.sqs
                        .change_message_visibility()
                        .queue_url(&self.train_queue_url)
                        .receipt_handle(message.receipt_handle.unwrap_or_default())
                        .visibility_timeout(0)
                        .send()
                        .await
                        .map_err(call("ChangeMessageVisibility"))?;
                    continue;
                }
                self.sqs
                    .delete_message()
                    .queue_url(&self.train_queue_url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .map_err(call("DeleteMessage"))?;
            }
        }
        Err(LocalError::Call {
            op: "train queue",
            message: "did not settle in time".into(),
        })
    }
}

/// The SageMaker execution role the local run names (the local AWS does not check it).
pub const LOCAL_SAGEMAKER_ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-sagemaker";
/// The role the local pipeline's deployed models run as (infra/template.yaml's hosting role).
pub const LOCAL_HOSTING_ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-hosting";
