//! Plays the template's EventBridge rules that target functions, through the local emulator
//! (moto): each rule is created on its bus with its pattern and an SQS queue as its target, so
//! the emulator matches events as EventBridge does; the router polls the queues and invokes the
//! rule's function with each event, as Lambda's EventBridge integration would. Also verifies
//! the SES sending identity, as a deploy's one-time SES set-up does.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::Target;

use crate::functions::Functions;
use crate::template::Template;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One rule's queue and the function it feeds.
#[derive(Debug, Clone)]
struct Route {
    binary: String,
    queue_url: String,
}

/// The local EventBridge → function deliveries.
#[derive(Debug, Clone)]
pub struct EventRouter {
    routes: Vec<Route>,
    sqs: aws_sdk_sqs::Client,
    functions: Functions,
}

/// Verifies `identity` (a domain) with SES, so mail from its addresses is accepted.
pub async fn verify_sender_identity(sdk: &SdkConfig, identity: &str) -> Result<(), BoxError> {
    aws_sdk_ses::Client::new(sdk)
        .verify_domain_identity()
        .domain(identity)
        .send()
        .await?;
    Ok(())
}

impl EventRouter {
    /// Creates every bus, rule and target queue the template's functions need for stage `env`
    /// (idempotent), with the unrestricted `sdk` as CloudFormation would.
    pub async fn setup(
        template: &Template,
        functions: Functions,
        sdk: &SdkConfig,
        env: &str,
    ) -> Result<Self, BoxError> {
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let mut routes = Vec::new();
        for function in &template.functions {
            for (i, rule) in function.event_rules.iter().enumerate() {
                let bus = rule.bus_name_template.replace("${Env}", env);
                if let Err(e) = events.create_event_bus().name(&bus).send().await
                    && e.code() != Some("ResourceAlreadyExistsException")
                {
                    return Err(e.into());
                }
                let queue_url = sqs
                    .create_queue()
                    .queue_name(format!("{env}-{}-{i}", function.logical_id))
                    .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "5")
                    .send()
                    .await?
                    .queue_url()
                    .unwrap_or_default()
                    .to_string();
                let queue_arn = sqs
                    .get_queue_attributes()
                    .queue_url(&queue_url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await?
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
                    .ok_or("the emulator gave the queue no ARN")?;
                let rule_name = format!("{}-{i}", function.logical_id);
                events
                    .put_rule()
                    .name(&rule_name)
                    .event_bus_name(&bus)
                    .event_pattern(rule.pattern.to_string())
                    .send()
                    .await?;
                events
                    .put_targets()
                    .rule(&rule_name)
                    .event_bus_name(&bus)
                    .targets(Target::builder().id("local-invoke").arn(queue_arn).build()?)
                    .send()
                    .await?;
                routes.push(Route {
                    binary: function.binary.clone(),
                    queue_url,
                });
            }
        }
        Ok(Self { routes, sqs, functions })
    }

    /// Delivers every event waiting on the rules' queues (and those the deliveries cause) to
    /// their functions; the number delivered. A failed invocation leaves its event on the queue
    /// to be retried, as EventBridge retries a failed target.
    pub async fn drain(&self) -> Result<usize, String> {
        let mut delivered = 0;
        loop {
            let mut round = 0;
            for route in &self.routes {
                let out = self
                    .sqs
                    .receive_message()
                    .queue_url(&route.queue_url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .map_err(|e| shared::error::error_chain(&e))?;
                for message in out.messages() {
                    let event: serde_json::Value =
                        serde_json::from_str(message.body().unwrap_or_default()).unwrap_or_default();
                    match self.functions.dispatch_event(&route.binary, event).await {
                        Some(Ok(_)) => {
                            self.sqs
                                .delete_message()
                                .queue_url(&route.queue_url)
                                .receipt_handle(message.receipt_handle().unwrap_or_default())
                                .send()
                                .await
                                .map_err(|e| shared::error::error_chain(&e))?;
                            round += 1;
                        }
                        Some(Err(e)) => return Err(format!("{} failed on an event: {e}", route.binary)),
                        None => return Err(format!("{} has no event handler", route.binary)),
                    }
                }
            }
            if round == 0 {
                return Ok(delivered);
            }
            delivered += round;
        }
    }

    /// Polls every `every` in the background (`make run`).
    pub fn spawn(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.drain().await {
                    tracing::error!(error = %e, "event delivery failed; retrying");
                }
                tokio::time::sleep(every).await;
            }
        });
    }
}
