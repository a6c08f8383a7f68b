//! The Google Sheets Lambdas (contract §9, issue 14): the status card, push / pull / merge on
//! demand, and the auto-push that change events trigger off the request path (debounced to one
//! push a minute, one push at a time).

pub mod autosync;
pub mod google;
pub mod presentation;
pub mod pull;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shared::config::{Config, ConfigError};
use shared::domain::export::partner_rows;
use shared::domain::normalize::iso_millis;
use shared::domain::sheets::sheet_values;
use shared::domain::sort::compare_partners;
use shared::http::{json_body, ok, route_key, serve};
use shared::{ApiError, ApiResult, AppContext};

use crate::google::{Credentials, GoogleError, Sheets};

/// Meta row of the last sync (§2.7).
pub const STATUS_ROW_ID: &str = "google_sheets_sync_status";

/// Where the credentials came from, and the settings as read (§9.3 `diagnostics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostics {
    pub enabled_raw: String,
    pub explicitly_disabled: bool,
    pub spreadsheet_id_present: bool,
    pub service_account_json_present: bool,
    pub service_account_email_present: bool,
    pub private_key_present: bool,
    pub credential_source: Option<String>,
    pub credential_parse_error: Option<String>,
}

/// Google Sheets settings, read once at init.
#[derive(Debug, Clone)]
pub struct SheetsSettings {
    pub diagnostics: Diagnostics,
    /// `PARTNERSHIPS_GSHEETS_AUTO_SYNC=true`.
    pub auto_sync: bool,
    pub spreadsheet_id: Option<String>,
    pub sheet_name: String,
    pub credentials: Option<Credentials>,
    /// `PARTNERSHIPS_GSHEETS_API_URL` (default `https://sheets.googleapis.com`).
    pub api_url: String,
}

impl Default for SheetsSettings {
    /// Nothing set: not configured, tab `PartnershipsCRM`.
    fn default() -> Self {
        Self::from_vars(&|_| String::new())
    }
}

impl SheetsSettings {
    /// Reads the settings from the environment (§1.6).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        Self::from_vars(&var)
    }

    /// Reads the settings through `var` (the environment, or a test's values).
    pub fn from_vars(var: &dyn Fn(&str) -> String) -> Self {
        let enabled_raw = var("PARTNERSHIPS_GSHEETS_ENABLED");
        let json = var("PARTNERSHIPS_GSHEETS_SERVICE_ACCOUNT_JSON");
        let email = var("PARTNERSHIPS_GSHEETS_SERVICE_ACCOUNT_EMAIL");
        let key = var("PARTNERSHIPS_GSHEETS_PRIVATE_KEY");
        let spreadsheet = var("PARTNERSHIPS_GSHEETS_SPREADSHEET_ID");
        let mut diagnostics = Diagnostics {
            explicitly_disabled: enabled_raw.trim().eq_ignore_ascii_case("false"),
            enabled_raw,
            spreadsheet_id_present: !spreadsheet.trim().is_empty(),
            service_account_json_present: !json.trim().is_empty(),
            service_account_email_present: !email.trim().is_empty(),
            private_key_present: !key.trim().is_empty(),
            ..Default::default()
        };
        let mut credentials = None;
        if diagnostics.service_account_json_present {
            match serde_json::from_str::<Credentials>(&json) {
                Ok(parsed) if !parsed.client_email.is_empty() && !parsed.private_key.is_empty() => {
                    diagnostics.credential_source = Some("json".into());
                    credentials = Some(parsed);
                }
                Ok(_) => diagnostics.credential_parse_error = Some("client_email and private_key are required.".into()),
                Err(e) => diagnostics.credential_parse_error = Some(e.to_string()),
            }
        }
        if credentials.is_none() && diagnostics.service_account_email_present && diagnostics.private_key_present {
            diagnostics.credential_source = Some("split".into());
            credentials = Some(Credentials {
                client_email: email.trim().to_string(),
                private_key: key.replace("\\n", "\n"),
                token_uri: None,
            });
        }
        let sheet_name = var("PARTNERSHIPS_GSHEETS_SHEET_NAME");
        let api_url = var("PARTNERSHIPS_GSHEETS_API_URL");
        Self {
            diagnostics,
            auto_sync: var("PARTNERSHIPS_GSHEETS_AUTO_SYNC")
                .trim()
                .eq_ignore_ascii_case("true"),
            spreadsheet_id: Some(spreadsheet.trim().to_string()).filter(|s| !s.is_empty()),
            sheet_name: Some(sheet_name.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "PartnershipsCRM".into()),
            credentials,
            api_url: Some(api_url.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "https://sheets.googleapis.com".into()),
        }
    }

    /// The client, when sync is on, a spreadsheet is named and credentials read.
    pub fn client(&self) -> Option<Sheets> {
        if self.diagnostics.explicitly_disabled {
            return None;
        }
        Some(Sheets::new(
            &self.api_url,
            self.spreadsheet_id.as_deref()?,
            self.credentials.clone()?,
        ))
    }

    /// Why it is not configured (§9.3 messages).
    fn not_configured_message(&self) -> &'static str {
        if self.diagnostics.explicitly_disabled {
            "Google Sheets sync is disabled by PARTNERSHIPS_GSHEETS_ENABLED=false."
        } else if self.diagnostics.credential_parse_error.is_some() {
            "Google Sheets credentials are invalid."
        } else {
            "Google Sheets sync is not configured."
        }
    }
}

/// What the sheets functions build once at init.
#[derive(Debug, Clone)]
pub struct Services {
    pub ctx: AppContext,
    pub settings: Arc<SheetsSettings>,
}

impl Services {
    pub fn new(ctx: AppContext, settings: SheetsSettings) -> Self {
        Self {
            ctx,
            settings: Arc::new(settings),
        }
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let sdk = aws_config_load().await;
        Ok(Self::new(
            AppContext::from_sdk_config(config, &sdk),
            SheetsSettings::from_env(),
        ))
    }
}

async fn aws_config_load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// The last sync, as stored (§2.7).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncStatus {
    pub id: String,
    pub integration: String,
    pub last_sync_at: Option<String>,
    pub last_sync_mode: Option<String>,
    pub last_sync_status: Option<String>,
    pub last_sync_summary: Option<Value>,
    pub last_sync_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

async fn record(ctx: &AppContext, mode: &str, result: Result<&Value, &str>) {
    let now = Utc::now();
    let row = SyncStatus {
        id: STATUS_ROW_ID.into(),
        integration: "google_sheets".into(),
        last_sync_at: Some(iso_millis(now)),
        last_sync_mode: Some(mode.into()),
        last_sync_status: Some(if result.is_ok() { "success" } else { "error" }.into()),
        last_sync_summary: result.ok().cloned(),
        last_sync_error: result.err().map(str::to_string),
        created_at: now.timestamp_millis(),
        updated_at: now.timestamp_millis(),
    };
    if let Err(e) = ctx
        .store
        .put_all(&ctx.config.tables.meta, std::slice::from_ref(&row))
        .await
    {
        tracing::error!(error = %shared::error::error_chain(&e), "could not record the sheets sync status");
    }
}

fn upstream(e: GoogleError) -> ApiError {
    ApiError::Upstream(e.to_string())
}

/// Serves one API Gateway request.
pub async fn handle(request: Request, services: &Services) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, &services.ctx).await?;
        match route.as_str() {
            "GET /partnerships/google-sheets/status" => status(services).await,
            "POST /partnerships/google-sheets/sync" => sync(&request, services, &caller.email).await,
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

/// GET `/partnerships/google-sheets/status` (§9.3).
async fn status(services: &Services) -> ApiResult<Response<Body>> {
    let settings = &services.settings;
    let Some(client) = settings.client() else {
        return ok(&json!({
            "configured": false,
            "autoSync": settings.auto_sync,
            "sheetName": settings.sheet_name,
            "spreadsheetId": settings.spreadsheet_id,
            "diagnostics": settings.diagnostics,
            "message": settings.not_configured_message(),
            "lastSyncAt": null, "lastSyncMode": null, "lastSyncStatus": null, "lastSyncSummary": null, "lastSyncError": null,
        }));
    };
    let stored: Option<SyncStatus> = services
        .ctx
        .store
        .get(&services.ctx.config.tables.meta, STATUS_ROW_ID)
        .await
        .unwrap_or_default();
    let stored = stored.unwrap_or_default();
    let mut body = json!({
        "configured": true,
        "autoSync": settings.auto_sync,
        "sheetName": settings.sheet_name,
        "spreadsheetId": settings.spreadsheet_id,
        "diagnostics": settings.diagnostics,
        "accessible": true,
        "lastSyncAt": stored.last_sync_at,
        "lastSyncMode": stored.last_sync_mode,
        "lastSyncStatus": stored.last_sync_status,
        "lastSyncSummary": stored.last_sync_summary,
        "lastSyncError": stored.last_sync_error,
    });
    let probe = match client.session().await {
        Ok(session) => session.probe().await,
        Err(e) => Err(e),
    };
    if let Err(e) = probe {
        body["accessible"] = json!(false);
        body["message"] = json!("Google Sheets credentials are configured but the sheet could not be accessed.");
        body["accessError"] = json!(e.to_string());
    }
    ok(&body)
}

/// POST `/partnerships/google-sheets/sync` (§9.4): the mode is checked before the configuration.
async fn sync(request: &Request, services: &Services, actor: &str) -> ApiResult<Response<Body>> {
    let body = json_body(request)?;
    let mode = shared::domain::normalize::text(body.get("mode"), 20).to_lowercase();
    let mode = if mode.is_empty() { "push".to_string() } else { mode };
    if !["push", "pull", "merge"].contains(&mode.as_str()) {
        return Err(ApiError::validation(
            "Invalid sync mode. Use one of: push, pull, merge.",
            json!({"mode": mode}),
        ));
    }
    let Some(client) = services.settings.client() else {
        return Err(ApiError::NotConfigured(
            "Google Sheets sync is not configured. Set PARTNERSHIPS_GSHEETS_SPREADSHEET_ID and service account credentials on the server.".into(),
        ));
    };
    let create_missing_events = body
        .get("createMissingEvents")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let outcome = run_sync(services, &client, &mode, actor, create_missing_events).await;
    match outcome {
        Ok(answer) => ok(&answer),
        Err(e) => Err(e),
    }
}

/// Runs `mode` and records the outcome in the status row.
pub async fn run_sync(
    services: &Services,
    client: &Sheets,
    mode: &str,
    actor: &str,
    create_missing_events: bool,
) -> ApiResult<Value> {
    let now = iso_millis(Utc::now());
    let result = async {
        let mut answer = json!({"mode": mode});
        let mut summary = Map::new();
        if mode == "pull" || mode == "merge" {
            let pulled = pull::pull(services, client, actor, create_missing_events).await?;
            summary.insert("processedRows".into(), pulled["processedRows"].clone());
            for key in ["partnersCreated", "partnersUpdated", "linksCreated", "linksUpdated"] {
                summary.insert(key.into(), pulled[key].clone());
            }
            answer["pull"] = pulled;
        }
        if mode == "push" || mode == "merge" {
            let rows = push(services, client).await?;
            summary.insert("syncedRows".into(), json!(rows));
            answer["push"] = json!({"syncedRows": rows, "syncedAt": now, "spreadsheetId": client.spreadsheet_id, "sheetName": services.settings.sheet_name});
        }
        if mode == "merge" {
            summary = Map::from_iter([
                ("pullProcessedRows".to_string(), summary.get("processedRows").cloned().unwrap_or(json!(0))),
                ("pushSyncedRows".to_string(), summary.get("syncedRows").cloned().unwrap_or(json!(0))),
            ]);
        }
        answer["syncedAt"] = json!(now);
        Ok::<_, ApiError>((answer, Value::Object(summary)))
    }
    .await;
    match result {
        Ok((answer, summary)) => {
            record(&services.ctx, mode, Ok(&summary)).await;
            Ok(answer)
        }
        Err(e) => {
            let message = e.body()["message"].as_str().unwrap_or("Unknown error.").to_string();
            record(&services.ctx, mode, Err(&message)).await;
            Err(e)
        }
    }
}

/// Push (§9.4): the tab (made if missing), the header and every export row, then the
/// presentation; the number of rows written.
pub async fn push(services: &Services, client: &Sheets) -> ApiResult<usize> {
    let store = &services.ctx.store;
    let (mut partners, links) = futures::try_join!(store.all_partners(), store.all_links())?;
    partners.sort_by(|a, b| {
        compare_partners(
            (&a.company, &a.contact_name, a.updated_at),
            (&b.company, &b.contact_name, b.updated_at),
        )
    });
    let mut by_partner: HashMap<String, Vec<_>> = HashMap::new();
    for link in links {
        by_partner.entry(link.partner_id.clone()).or_default().push(link);
    }
    let rows: Vec<Map<String, Value>> = partners
        .iter()
        .flat_map(|p| {
            partner_rows(
                p,
                &by_partner.remove(&p.id).unwrap_or_default(),
                &shared::domain::benefits::BenefitCatalog::default(),
            )
        })
        .collect();
    let grid = sheet_values(&rows);
    let title = &services.settings.sheet_name;
    let session = client.session().await.map_err(upstream)?;
    let tab = match session.tab(title).await.map_err(upstream)? {
        Some(tab) => tab,
        None => google::Tab {
            sheet_id: session.add_tab(title).await.map_err(upstream)?,
            ..Default::default()
        },
    };
    let quoted = format!("'{}'", title.replace('\'', "''"));
    session.clear(&format!("{quoted}!A:ZZ")).await.map_err(upstream)?;
    let count = grid.len();
    session.update(&format!("{quoted}!A1"), grid).await.map_err(upstream)?;
    session
        .batch_update(presentation::requests(&tab, count))
        .await
        .map_err(upstream)?;
    Ok(count - 1)
}
