//! The function binaries the template names, each with its own context whose AWS clients are
//! held to that function's IAM role (see `iam`), called in-process exactly as Lambda would.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use lambda_http::{Body, Request, Response};
use shared::AppContext;
use shared::config::Config;

use meta::MailSettings;

use crate::iam::{IamError, function_sdk_config};
use crate::template::Template;

/// Binaries the local stack can serve; the gateway refuses to start if the template names another.
pub const KNOWN_BINARIES: &[&str] = &[
    "partners",
    "events",
    "links",
    "documents",
    "communications",
    "reports",
    "meta",
    "sheets",
];

/// Binaries that talk to Google Sheets.
const SHEETS_BINARIES: &[&str] = &["sheets", "sheets-sync"];

/// Binaries that send mail: built with SES and EventBridge clients besides DynamoDB's.
const MAIL_BINARIES: &[&str] = &["meta", "mail-worker", "mailbox-sync"];

/// Calls the handler of `binary` with `ctx`; `None` for an unknown binary (or one that needs
/// more than a DynamoDB context: see [`Functions::dispatch`]).
pub async fn dispatch(binary: &str, request: Request, ctx: &AppContext) -> Option<Response<Body>> {
    match binary {
        "partners" => Some(partners::handle(request, ctx).await),
        "events" => Some(events::handle(request, ctx).await),
        "links" => Some(links::handle(request, ctx).await),
        "documents" => Some(documents::handle(request, ctx).await),
        "communications" => Some(communications::handle(request, ctx).await),
        "reports" => Some(reports::handle(request, ctx).await),
        _ => None,
    }
}

/// One context per function of the template, as each Lambda would build at init.
#[derive(Debug, Clone)]
pub struct Functions {
    contexts: BTreeMap<String, AppContext>,
    sdk_configs: BTreeMap<String, SdkConfig>,
    mail: BTreeMap<String, meta::Services>,
    sheets: BTreeMap<String, sheets::Services>,
}

impl Functions {
    /// A context for every function in `template`, its clients built from `sdk` and held to
    /// the function's role, the mail functions configured from the environment. Fails if a
    /// role cannot be read (so nothing runs unenforced).
    pub fn new(template: &Template, config: &Config, sdk: &SdkConfig) -> Result<Self, IamError> {
        Self::with_mail_settings(template, config, sdk, MailSettings::from_env())
    }

    /// As [`Functions::new`], the mail functions configured with `settings`.
    pub fn with_mail_settings(
        template: &Template,
        config: &Config,
        sdk: &SdkConfig,
        settings: MailSettings,
    ) -> Result<Self, IamError> {
        Self::with_settings(template, config, sdk, settings, sheets::SheetsSettings::from_env())
    }

    /// As [`Functions::new`], the mail and sheets functions configured as given.
    pub fn with_settings(
        template: &Template,
        config: &Config,
        sdk: &SdkConfig,
        settings: MailSettings,
        sheets_settings: sheets::SheetsSettings,
    ) -> Result<Self, IamError> {
        let sdk_configs: BTreeMap<String, SdkConfig> = template
            .functions
            .iter()
            .map(|f| {
                Ok((
                    f.binary.clone(),
                    function_sdk_config(sdk, template, &f.binary, &config.env)?,
                ))
            })
            .collect::<Result<_, IamError>>()?;
        let contexts = sdk_configs
            .iter()
            .map(|(binary, sdk)| (binary.clone(), AppContext::from_sdk_config(config.clone(), sdk)))
            .collect();
        let mail = sdk_configs
            .iter()
            .filter(|(binary, _)| MAIL_BINARIES.contains(&binary.as_str()))
            .map(|(binary, sdk)| {
                (
                    binary.clone(),
                    meta::Services::from_sdk_config(config.clone(), sdk, settings.clone()),
                )
            })
            .collect();
        let sheets = sdk_configs
            .iter()
            .filter(|(binary, _)| SHEETS_BINARIES.contains(&binary.as_str()))
            .map(|(binary, sdk)| {
                (
                    binary.clone(),
                    sheets::Services::new(
                        AppContext::from_sdk_config(config.clone(), sdk),
                        sheets_settings.clone(),
                    ),
                )
            })
            .collect();
        Ok(Self {
            contexts,
            sdk_configs,
            mail,
            sheets,
        })
    }

    /// The services of a sheets function (`sheets`, `sheets-sync`).
    pub fn sheets(&self, binary: &str) -> Option<&sheets::Services> {
        self.sheets.get(binary)
    }

    /// The services of a mail function (`meta`, `mail-worker`).
    pub fn mail(&self, binary: &str) -> Option<&meta::Services> {
        self.mail.get(binary)
    }

    /// Calls `binary`'s handler for a non-HTTP event (EventBridge, SNS), as Lambda would:
    /// `None` for a binary without one, else the handler's answer or its error text.
    pub async fn dispatch_event(
        &self,
        binary: &str,
        event: serde_json::Value,
    ) -> Option<Result<serde_json::Value, String>> {
        match binary {
            "mail-worker" => Some(
                meta::worker::handle(event, self.mail(binary)?)
                    .await
                    .map_err(|e| e.to_string()),
            ),
            "sheets-sync" => Some(sheets::autosync::handle(&event, self.sheets(binary)?).await),
            _ => None,
        }
    }

    /// The SDK configuration of `binary`'s role (for clients other than DynamoDB's, such as the
    /// stream reader Lambda's event source mapping runs under the function's role).
    pub fn sdk_config(&self, binary: &str) -> Option<&SdkConfig> {
        self.sdk_configs.get(binary)
    }

    /// The context of the function built from `binary`.
    pub fn context(&self, binary: &str) -> Option<&AppContext> {
        self.contexts.get(binary)
    }

    /// Calls `binary`'s handler with its own context; `None` for an unknown binary.
    pub async fn dispatch(&self, binary: &str, request: Request) -> Option<Response<Body>> {
        if binary == "meta" {
            return Some(meta::handle(request, self.mail(binary)?).await);
        }
        if binary == "sheets" {
            return Some(sheets::handle(request, self.sheets(binary)?).await);
        }
        dispatch(binary, request, self.context(binary)?).await
    }
}

/// Calls the stream handler of `binary` with a batch, as Lambda's event source mapping would;
/// `None` for a binary that has none.
pub async fn dispatch_stream(
    binary: &str,
    event: aws_lambda_events::event::dynamodb::Event,
    ctx: &AppContext,
) -> Option<aws_lambda_events::event::streams::DynamoDbEventResponse> {
    match binary {
        "stream" => Some(stream::handle(event, ctx).await),
        _ => None,
    }
}
