//! The meta Lambda (contract §7, §8): the sender's email config, mass-email templates, campaigns
//! sent through SES, the public unsubscribe page, the email-sync status and ingest; and the mail
//! worker that continues a campaign past the request's time budget and suppresses addresses SES
//! reports as bounced or complained.

pub mod campaign;
pub mod forecast;
pub mod mailer;
pub mod segments;
pub mod sync;
pub mod templates;
pub mod unsubscribe;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_http::{Body, Request, Response};
use shared::config::{Config, ConfigError};
use shared::domain::mass_email::Sender;
use shared::http::{idempotent, ok, path_param, route_key, serve};
use shared::{ApiError, ApiResult, AppContext};

/// Mass-email settings, read once at init.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    /// Signs unsubscribe links (`PARTNERSHIPS_EMAIL_SIGNING_SECRET`); without it nothing is sent.
    pub signing_secret: Option<Vec<u8>>,
    /// Base URL of the public API for unsubscribe links (`PARTNERSHIPS_PUBLIC_API_URL`); by
    /// default the domain the request came in on.
    pub public_api_url: Option<String>,
    /// How long a send request may spend sending before it hands the rest to the worker
    /// (`PARTNERSHIPS_SEND_BUDGET_MS`, default 20 s: API Gateway cuts a request at 29 s).
    pub request_budget: Duration,
    /// How long one worker invocation may spend sending (`PARTNERSHIPS_WORKER_BUDGET_MS`,
    /// default 100 s of the worker's 120 s timeout).
    pub worker_budget: Duration,
    /// Email sync (status, ingest, mailbox pull).
    pub sync: sync::SyncSettings,
}

impl MailSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let millis =
            |name: &str, default: u64| Duration::from_millis(var(name).and_then(|v| v.parse().ok()).unwrap_or(default));
        Self {
            signing_secret: var("PARTNERSHIPS_EMAIL_SIGNING_SECRET").map(String::into_bytes),
            public_api_url: var("PARTNERSHIPS_PUBLIC_API_URL").map(|u| u.trim_end_matches('/').to_string()),
            request_budget: millis("PARTNERSHIPS_SEND_BUDGET_MS", 20_000),
            worker_budget: millis("PARTNERSHIPS_WORKER_BUDGET_MS", 100_000),
            sync: sync::SyncSettings::from_env(),
        }
    }
}

/// HMAC-SHA256 keyed with `secret`: the one constructor of the unsubscribe tokens, the ingest
/// tokens and the ingest signatures.
pub(crate) fn hmac_sha256(secret: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    // HMAC takes a key of any length; this cannot fail.
    <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"))
}

/// What the meta function and the mail worker build once at init.
#[derive(Debug, Clone)]
pub struct Services {
    pub ctx: AppContext,
    pub ses: aws_sdk_ses::Client,
    pub settings: Arc<MailSettings>,
}

impl Services {
    /// Services whose AWS clients are built from `sdk` (the local stack passes one that enforces
    /// the function's IAM role).
    pub fn from_sdk_config(config: Config, sdk: &SdkConfig, settings: MailSettings) -> Self {
        Self {
            ctx: AppContext::from_sdk_config(config, sdk),
            ses: ses_client(sdk),
            settings: Arc::new(settings),
        }
    }

    /// Reads the environment (honouring `AWS_ENDPOINT_URL_SES` and `…_EVENTBRIDGE`).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::from_sdk_config(config, &sdk, MailSettings::from_env()))
    }
}

/// The SES client of `sdk` with the SDK's own retries off: a throttled send is retried by
/// `mailer::send_raw` alone (which tells a rate throttle from a spent daily quota), and a send
/// that failed in transit is never repeated blindly, since SES may have accepted it.
pub fn ses_client(sdk: &SdkConfig) -> aws_sdk_ses::Client {
    let config = aws_sdk_ses::config::Builder::from(sdk)
        .retry_config(aws_sdk_ses::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_ses::Client::from_conf(config)
}

/// The sender of a request: the signed-in caller (§8.2).
pub(crate) fn sender_of(caller: &shared::auth::Caller) -> ApiResult<Sender> {
    Ok(Sender::from_claims(
        &caller.email,
        &caller.first_name,
        &caller.last_name,
        &caller.full_name,
    )?)
}

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, services: &Services) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        // The unsubscribe page is public: recipients have no account.
        match route.as_str() {
            "GET /partnerships/email/unsubscribe" => return unsubscribe::page(&request, services),
            "POST /partnerships/email/unsubscribe" => return unsubscribe::confirm(&request, services).await,
            // Authenticated by its URL's token or a signature, not by Cognito (a script posts it).
            "POST /partnerships/email/sync/ingest" => return sync::ingest(&request, services).await,
            _ => {}
        }
        let caller = shared::access::authorize(&request, &services.ctx).await?;
        match route.as_str() {
            "GET /partnerships/email/config" => ok(&sender_of(&caller)?.config_wire()),
            "GET /partnerships/email/templates" => templates::list(&request, services).await,
            "POST /partnerships/email/templates" => {
                let create = templates::create(&request, services, &caller.email);
                idempotent(&request, &services.ctx, &caller.email, create).await
            }
            "PATCH /partnerships/email/templates/{templateId}" => {
                templates::update(&request, services, &path_param(&request, "templateId")?, &caller.email).await
            }
            "DELETE /partnerships/email/templates/{templateId}" => {
                templates::archive(&request, services, &path_param(&request, "templateId")?, &caller.email).await
            }
            "POST /partnerships/email/send" => {
                idempotent(
                    &request,
                    &services.ctx,
                    &caller.email,
                    campaign::send(&request, services, &caller),
                )
                .await
            }
            "GET /partnerships/email/sync/status" => sync::status(&request, services, &caller).await,
            "POST /partnerships/email/sync/token" => sync::rotate_token(&request, services, &caller).await,
            "GET /partnerships/segments" => segments::list(&services.ctx).await,
            "POST /partnerships/segments" => {
                let create = segments::create(&request, &services.ctx, &caller.email);
                idempotent(&request, &services.ctx, &caller.email, create).await
            }
            "GET /partnerships/segments/{segmentId}" => {
                segments::show(&services.ctx, &path_param(&request, "segmentId")?, &caller.email).await
            }
            "PATCH /partnerships/segments/{segmentId}" => {
                segments::update(
                    &request,
                    &services.ctx,
                    &path_param(&request, "segmentId")?,
                    &caller.email,
                )
                .await
            }
            "DELETE /partnerships/segments/{segmentId}" => {
                segments::delete(&request, &services.ctx, &path_param(&request, "segmentId")?).await
            }
            "GET /partnerships/forecast" => forecast::show(&services.ctx).await,
            "PUT /partnerships/forecast" => forecast::update(&request, &services.ctx, &caller.email).await,
            "GET /partnerships/email/campaigns/{campaignId}" => {
                campaign::show(services, &path_param(&request, "campaignId")?).await
            }
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}
