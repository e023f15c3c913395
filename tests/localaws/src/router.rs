//! The stack's event routing on the local bus: each rule of `infra/template.yaml` with an event
//! pattern gets an SQS queue per target function (the train function's is the stack's own train
//! queue), so the run hands every routed event to the real handler, as Lambda would.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::types::{EventBridgeConfiguration, NotificationConfiguration};
use serde_json::Value;

use crate::stack::LocalStack;
use crate::template::Route;

/// One SQS queue per function a rule reaches.
pub struct Router {
    queues: BTreeMap<String, String>,
    /// The scheduled rules (no event pattern): the run fires each once.
    pub schedules: Vec<Route>,
}

impl Router {
    /// Puts each rule on the local bus with a queue per function as its target, and turns on the
    /// bucket's EventBridge notifications.
    pub async fn wire(stack: &LocalStack, routes: Vec<Route>) -> Result<Router> {
        let events = aws_sdk_eventbridge::Client::new(&stack.config);
        stack
            .s3()
            .put_bucket_notification_configuration()
            .bucket(&stack.bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .event_bridge_configuration(EventBridgeConfiguration::builder().build())
                    .build(),
            )
            .send()
            .await
            .context("turning on the bucket's EventBridge notifications")?;
        let mut router = Router {
            queues: BTreeMap::new(),
            schedules: Vec::new(),
        };
        for route in routes {
            let Some(pattern) = &route.pattern else {
                router.schedules.push(route);
                continue;
            };
            let queue = if route.function == "train" {
                stack.train_queue_url.clone()
            } else if let Some(url) = router.queues.get(&route.function) {
                url.clone()
            } else {
                stack
                    .sqs()
                    .create_queue()
                    .queue_name(format!("hawkins-local-{}", route.function))
                    .send()
                    .await
                    .context("CreateQueue")?
                    .queue_url
                    .unwrap_or_default()
            };
            let arn = stack
                .sqs()
                .get_queue_attributes()
                .queue_url(&queue)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .context("GetQueueAttributes")?
                .attributes
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .cloned()
                })
                .unwrap_or_default();
            events
                .put_rule()
                .name(&route.rule)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .with_context(|| format!("creating the rule {} on the local bus", route.rule))?;
            events
                .put_targets()
                .rule(&route.rule)
                .targets(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id(&route.function)
                        .arn(arn)
                        .build()
                        .map_err(|e| anyhow!("{e}"))?,
                )
                .send()
                .await
                .context("PutTargets")?;
            router.queues.insert(route.function.clone(), queue);
        }
        for function in ["ingest", "train", "lifecycle"] {
            if !router.queues.contains_key(function) {
                bail!("no rule of infra/template.yaml routes events to {function}");
            }
        }
        Ok(router)
    }

    /// Takes every event waiting for `function`.
    pub async fn take(&self, stack: &LocalStack, function: &str) -> Result<Vec<Value>> {
        let Some(queue) = self.queues.get(function) else {
            bail!("no rule routes events to {function}");
        };
        let mut out = Vec::new();
        loop {
            let received = stack
                .sqs()
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .context("ReceiveMessage")?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            for message in messages {
                out.push(
                    serde_json::from_str(message.body().unwrap_or("{}"))
                        .context("an event on the queue is not JSON")?,
                );
                if let Some(handle) = message.receipt_handle() {
                    stack
                        .sqs()
                        .delete_message()
                        .queue_url(queue)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("DeleteMessage")?;
                }
            }
        }
    }
}
