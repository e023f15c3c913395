//! [`Queue`] over one SQS queue: how the train function puts an event back for later.

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;

use super::store_error;
use crate::error::StoreError;
use crate::training::Queue;

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn from_config(config: &SdkConfig, url: impl Into<String>) -> Self {
        Self::new(Client::new(config), url)
    }
}

impl Queue for SqsQueue {
    async fn send_delayed(&self, body: &str, delay_seconds: u32) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds.min(900) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error("SendMessage", &self.url, &e))
    }
}
