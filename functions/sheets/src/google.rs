//! Google's Sheets v4 REST API with a service account: an access token by the JWT bearer grant
//! (RS256, signed by `jsonwebtoken`), then `spreadsheets.get`, `batchUpdate` and the `values`
//! calls, with 429 and 5xx answers retried with backoff.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::retry::Backoff;

/// The scope of every call (§9.3).
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
/// Google's token endpoint, unless the key file names another.
pub const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service account's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub token_uri: Option<String>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("Google credentials are invalid: {0}")]
    Credentials(String),
    #[error("Google token request failed: {0}")]
    Token(String),
    #[error("Google Sheets answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("Google Sheets could not be reached: {0}")]
    Transport(String),
}

/// Attempts of one call while Google answers 429 or 5xx.
const ATTEMPTS: u32 = 5;
const BACKOFF: Backoff = Backoff {
    base_ms: 250,
    cap_ms: 4_000,
};

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// A client for one spreadsheet.
#[derive(Debug, Clone)]
pub struct Sheets {
    pub api_url: String,
    pub spreadsheet_id: String,
    credentials: Credentials,
}

fn percent(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Sheets {
    pub fn new(api_url: &str, spreadsheet_id: &str, credentials: Credentials) -> Self {
        Self {
            api_url: api_url.trim_end_matches('/').to_string(),
            spreadsheet_id: spreadsheet_id.to_string(),
            credentials,
        }
    }

    /// An access token for the spreadsheets scope (JWT bearer grant, RFC 7523, as Google
    /// documents it for service accounts).
    async fn token(&self) -> Result<String, GoogleError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.credentials.private_key.as_bytes())
            .map_err(|e| GoogleError::Credentials(e.to_string()))?;
        let now = chrono::Utc::now().timestamp();
        let aud = self.credentials.token_uri.as_deref().unwrap_or(TOKEN_URI);
        let claims = Claims {
            iss: &self.credentials.client_email,
            scope: SCOPE,
            aud,
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &key,
        )
        .map_err(|e| GoogleError::Credentials(e.to_string()))?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let (status, body) = shared::https::request(
            http::Method::POST,
            aud,
            &[("content-type", "application/x-www-form-urlencoded")],
            form.into_bytes(),
        )
        .await
        .map_err(|e| GoogleError::Token(e.to_string()))?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        match answer["access_token"].as_str() {
            Some(token) if status.is_success() => Ok(token.to_string()),
            _ => Err(GoogleError::Token(
                answer["error_description"]
                    .as_str()
                    .or(answer["error"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            )),
        }
    }

    /// One call, retried on 429 and 5xx.
    async fn call(
        &self,
        token: &str,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, GoogleError> {
        let url = format!("{}{path}", self.api_url);
        let auth = format!("Bearer {token}");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, answer) = shared::https::request(
                method.clone(),
                &url,
                &[("authorization", &auth), ("content-type", "application/json")],
                bytes.clone(),
            )
            .await
            .map_err(|e| GoogleError::Transport(e.to_string()))?;
            if status.is_success() {
                return Ok(serde_json::from_slice(&answer).unwrap_or(Value::Null));
            }
            if attempt < ATTEMPTS && (status.as_u16() == 429 || status.is_server_error()) {
                BACKOFF.wait(attempt).await;
                continue;
            }
            let parsed: Value = serde_json::from_slice(&answer).unwrap_or_default();
            return Err(GoogleError::Api {
                status: status.as_u16(),
                message: parsed["error"]["message"]
                    .as_str()
                    .unwrap_or("request failed")
                    .to_string(),
            });
        }
    }

    fn spreadsheet(&self) -> String {
        format!("/v4/spreadsheets/{}", percent(&self.spreadsheet_id))
    }

    /// A session: one token for several calls.
    pub async fn session(&self) -> Result<Session<'_>, GoogleError> {
        Ok(Session {
            sheets: self,
            token: self.token().await?,
        })
    }
}

/// Calls made with one access token.
#[derive(Debug)]
pub struct Session<'a> {
    sheets: &'a Sheets,
    token: String,
}

/// A tab of the spreadsheet, with what push replaces on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tab {
    pub sheet_id: i64,
    pub conditional_formats: usize,
    pub banding_ids: Vec<i64>,
}

impl Session<'_> {
    /// `spreadsheets.get` of the id only: can these credentials open the sheet?
    pub async fn probe(&self) -> Result<(), GoogleError> {
        let path = format!("{}?fields=spreadsheetId", self.sheets.spreadsheet());
        self.sheets
            .call(&self.token, http::Method::GET, &path, None)
            .await
            .map(|_| ())
    }

    /// The tab called `title`, if there is one (sheetId 0 is a tab like any other, §14.16).
    pub async fn tab(&self, title: &str) -> Result<Option<Tab>, GoogleError> {
        let path = format!(
            "{}?fields=sheets(properties(sheetId,title),conditionalFormats,bandedRanges(bandedRangeId))",
            self.sheets.spreadsheet()
        );
        let answer = self.sheets.call(&self.token, http::Method::GET, &path, None).await?;
        Ok(answer["sheets"].as_array().into_iter().flatten().find_map(|sheet| {
            (sheet["properties"]["title"] == title).then(|| Tab {
                sheet_id: sheet["properties"]["sheetId"].as_i64().unwrap_or(0),
                conditional_formats: sheet["conditionalFormats"].as_array().map_or(0, Vec::len),
                banding_ids: sheet["bandedRanges"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["bandedRangeId"].as_i64())
                    .collect(),
            })
        }))
    }

    /// `batchUpdate` with `requests`; its replies.
    pub async fn batch_update(&self, requests: Vec<Value>) -> Result<Value, GoogleError> {
        let path = format!("{}:batchUpdate", self.sheets.spreadsheet());
        self.sheets
            .call(
                &self.token,
                http::Method::POST,
                &path,
                Some(json!({"requests": requests})),
            )
            .await
    }

    /// Adds the tab `title`; its sheetId.
    pub async fn add_tab(&self, title: &str) -> Result<i64, GoogleError> {
        let reply = self
            .batch_update(vec![
                json!({"addSheet": {"properties": {"title": title, "gridProperties": {"frozenRowCount": 1}}}}),
            ])
            .await?;
        Ok(reply["replies"][0]["addSheet"]["properties"]["sheetId"]
            .as_i64()
            .unwrap_or(0))
    }

    /// `values.clear` of `range`.
    pub async fn clear(&self, range: &str) -> Result<(), GoogleError> {
        let path = format!("{}/values/{}:clear", self.sheets.spreadsheet(), percent(range));
        self.sheets
            .call(&self.token, http::Method::POST, &path, Some(json!({})))
            .await
            .map(|_| ())
    }

    /// `values.update` of `range` with `values`, as a user would type them (USER_ENTERED).
    pub async fn update(&self, range: &str, values: Vec<Vec<Value>>) -> Result<(), GoogleError> {
        let path = format!(
            "{}/values/{}?valueInputOption=USER_ENTERED",
            self.sheets.spreadsheet(),
            percent(range)
        );
        self.sheets
            .call(
                &self.token,
                http::Method::PUT,
                &path,
                Some(json!({"range": range, "majorDimension": "ROWS", "values": values})),
            )
            .await
            .map(|_| ())
    }

    /// `values.get` of `range`, formatted as shown.
    pub async fn get(&self, range: &str) -> Result<Vec<Vec<String>>, GoogleError> {
        let path = format!(
            "{}/values/{}?valueRenderOption=FORMATTED_VALUE",
            self.sheets.spreadsheet(),
            percent(range)
        );
        let answer = self.sheets.call(&self.token, http::Method::GET, &path, None).await?;
        Ok(answer["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                row.as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| match c {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect())
    }
}
