//! What a function builds once at init and every request shares.

use std::sync::Arc;

use aws_config::BehaviorVersion;

use crate::config::{Config, ConfigError};
use crate::store::Store;

/// Configuration plus the DynamoDB-backed store. Nothing here caches answers: every request
/// reads what it needs, so a cold instance answers as fast as a warm one.
#[derive(Debug, Clone)]
pub struct AppContext {
    pub config: Arc<Config>,
    pub store: Store,
    /// EventBridge, for the change events the stream processor publishes.
    pub events: aws_sdk_eventbridge::Client,
}

impl AppContext {
    /// A context over an existing DynamoDB client (tests and the local gateway share one).
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> Self {
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
        );
        Self::with_clients(config, client, events)
    }

    fn with_clients(config: Config, client: aws_sdk_dynamodb::Client, events: aws_sdk_eventbridge::Client) -> Self {
        let store = Store::new(client, config.tables.clone());
        Self {
            config: Arc::new(config),
            store,
            events,
        }
    }

    /// Opens the connection to DynamoDB during init (one cheap GetItem on `table`, one the
    /// function's role may read), so the first request does not pay for DNS, TCP and TLS.
    /// Failures are only logged: the request will retry.
    pub async fn warm_up(&self, table: &str) {
        let probe = self.store.get::<serde_json::Value>(table, "partnerships_warm_up").await;
        if let Err(e) = probe {
            tracing::warn!(error = %crate::error::error_chain(&e), "DynamoDB warm-up failed");
        }
    }

    /// A context whose AWS clients are built from `sdk` (its endpoints, credentials and HTTP
    /// client: the local stack passes one that enforces the function's IAM role).
    pub fn from_sdk_config(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        Self::with_clients(
            config,
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_eventbridge::Client::new(sdk),
        )
    }

    /// Reads the environment and builds the SDK client (honouring `AWS_ENDPOINT_URL_DYNAMODB`).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::from_sdk_config(config, &sdk))
    }
}

/// Structured JSON logs (level from `RUST_LOG`, default `info`), as CloudWatch expects.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .without_time()
        .try_init();
}

/// The `main` of an HTTP function: structured logs, configuration and the SDK client built once
/// (with the DynamoDB connection warmed by a read of `tables.$warm`), then `lambda_http::run`
/// over `$handle`.
#[macro_export]
macro_rules! http_lambda_main {
    ($handle:path, $warm:ident) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            $crate::context::init_tracing();
            let ctx = $crate::AppContext::from_env().await?;
            ctx.warm_up(&ctx.config.tables.$warm).await;
            let ctx = &ctx;
            lambda_http::run(lambda_http::service_fn(move |request| async move {
                Ok::<_, lambda_http::Error>($handle(request, ctx).await)
            }))
            .await
        }
    };
}
