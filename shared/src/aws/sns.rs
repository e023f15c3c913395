//! [`Notifier`] over one SNS topic: readable text for e-mail, the facts as message attributes.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::store_error;
use crate::error::StoreError;
use crate::store::{Alert, Notifier};

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self::new(Client::new(config), topic_arn)
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, StoreError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| StoreError::Other {
            op: "Publish",
            resource: "message attribute".into(),
            message: e.to_string(),
        })
}

impl Notifier for SnsNotifier {
    async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.body)
            .message_attributes("kind", attribute(&alert.kind)?)
            .message_attributes("severity", attribute(alert.severity.as_str())?)
            .message_attributes("alert_id", attribute(&alert.id)?);
        for (name, value) in &alert.attributes {
            if !value.is_empty() {
                request = request.message_attributes(name, attribute(value)?);
            }
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| store_error("Publish", &self.topic_arn, &err))
    }
}
