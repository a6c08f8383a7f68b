//! A local fake of Google's OAuth token endpoint and the Sheets v4 REST API, following Google's
//! documented requests and answers (the JWT bearer grant; `spreadsheets.get`, `batchUpdate`,
//! `values.get`, `values.update`, `values.clear`; `{"error": {code, message, status}}` bodies;
//! 429 when asked). Google has no emulator; everything else here is the real client.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use serde_json::{Value, json};

/// The fixture service account's key file (test-only key).
pub fn service_account_json(token_uri: &str) -> String {
    let text =
        std::fs::read_to_string(super::repo_path("tests/fixtures/google-service-account.json")).expect("fixture");
    text.replace("SET_BY_THE_TEST", token_uri)
}

/// One tab of the fake spreadsheet.
#[derive(Debug, Clone, Default)]
pub struct FakeTab {
    pub sheet_id: i64,
    pub title: String,
    pub grid: Vec<Vec<String>>,
    pub conditional_formats: usize,
    pub bandings: Vec<i64>,
    pub frozen_columns: i64,
}

/// What the fake holds and saw.
#[derive(Debug, Default)]
pub struct FakeState {
    pub spreadsheet_id: String,
    pub tabs: Vec<FakeTab>,
    /// Every `batchUpdate` request, in order.
    pub batch_requests: Vec<Value>,
    /// Statuses to answer the next Sheets calls with instead (429, 503…).
    pub fail_next: VecDeque<u16>,
    pub calls: usize,
    pub tokens_issued: usize,
    next_id: i64,
}

/// The fake, running on a free loopback port.
#[derive(Debug, Clone)]
pub struct FakeGoogle {
    pub url: String,
    pub state: Arc<Mutex<FakeState>>,
}

const TOKEN: &str = "ya29.fake-access-token";

fn google_error(code: u16, message: &str, status: &str) -> (u16, Value) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The tab title of an A1 range (`'Tab'!A:ZZ`).
fn range_title(range: &str) -> String {
    let sheet = range.split('!').next().unwrap_or_default();
    sheet.trim_matches('\'').replace("''", "'")
}

impl FakeGoogle {
    /// Starts the fake with one spreadsheet `spreadsheet_id` holding `tabs` (title, sheetId).
    pub async fn start(spreadsheet_id: &str, tabs: &[(&str, i64)]) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState {
            spreadsheet_id: spreadsheet_id.to_string(),
            tabs: tabs
                .iter()
                .map(|(title, id)| FakeTab {
                    sheet_id: *id,
                    title: title.to_string(),
                    ..Default::default()
                })
                .collect(),
            next_id: 1000,
            ..Default::default()
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let method = request.method().clone();
                            let path = request.uri().path().to_string();
                            let query = request.uri().query().unwrap_or_default().to_string();
                            let auth = request
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let (status, answer) = answer(&state, &method, &path, &query, &auth, &body);
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json; charset=UTF-8")
                                    .body(http_body_util::Full::new(hyper::body::Bytes::from(answer.to_string())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state }
    }

    /// The settings of a sheets function pointed at this fake.
    pub fn settings(&self, sheet_name: &str, auto_sync: bool) -> sheets::SheetsSettings {
        let json = service_account_json(&format!("{}/token", self.url));
        let spreadsheet = self.state.lock().unwrap().spreadsheet_id.clone();
        let api = self.url.clone();
        let sheet = sheet_name.to_string();
        let auto = if auto_sync { "true" } else { "" }.to_string();
        sheets::SheetsSettings::from_vars(&move |name: &str| match name {
            "PARTNERSHIPS_GSHEETS_SERVICE_ACCOUNT_JSON" => json.clone(),
            "PARTNERSHIPS_GSHEETS_SPREADSHEET_ID" => spreadsheet.clone(),
            "PARTNERSHIPS_GSHEETS_SHEET_NAME" => sheet.clone(),
            "PARTNERSHIPS_GSHEETS_API_URL" => api.clone(),
            "PARTNERSHIPS_GSHEETS_AUTO_SYNC" => auto.clone(),
            _ => String::new(),
        })
    }

    /// The grid of tab `title`.
    pub fn grid(&self, title: &str) -> Vec<Vec<String>> {
        let state = self.state.lock().unwrap();
        state
            .tabs
            .iter()
            .find(|t| t.title == title)
            .map(|t| t.grid.clone())
            .unwrap_or_default()
    }

    /// Replaces the grid of tab `title` (as a person editing the sheet would).
    pub fn set_grid(&self, title: &str, rows: &[&[&str]]) {
        let mut state = self.state.lock().unwrap();
        let tab = state.tabs.iter_mut().find(|t| t.title == title).expect("tab");
        tab.grid = rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    }
}

fn verify_assertion(form: &str) -> bool {
    let pairs: std::collections::HashMap<String, String> = form
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(&v.replace('+', " "))))
        .collect();
    if pairs.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return false;
    }
    let Some(assertion) = pairs.get("assertion") else {
        return false;
    };
    let public = std::fs::read(super::repo_path("tests/fixtures/google-test-key.pub.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    let Ok(token) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
        return false;
    };
    token.claims["scope"] == "https://www.googleapis.com/auth/spreadsheets"
        && token.claims["iss"] == "sheets-tests@partnerships-tests.iam.gserviceaccount.com"
}

fn answer(
    state: &Mutex<FakeState>,
    method: &hyper::Method,
    path: &str,
    query: &str,
    auth: &str,
    body: &[u8],
) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    if path == "/token" {
        if !verify_assertion(&String::from_utf8_lossy(body)) {
            return (
                400,
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            );
        }
        s.tokens_issued += 1;
        return (
            200,
            json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
        );
    }
    s.calls += 1;
    if let Some(code) = s.fail_next.pop_front() {
        return google_error(
            code,
            "Quota exceeded for quota metric 'Write requests'.",
            "RESOURCE_EXHAUSTED",
        );
    }
    if auth != format!("Bearer {TOKEN}") {
        return google_error(
            401,
            "Request is missing required authentication credential.",
            "UNAUTHENTICATED",
        );
    }
    let Some(rest) = path.strip_prefix("/v4/spreadsheets/") else {
        return google_error(404, "Not found.", "NOT_FOUND");
    };
    let (id, tail) = rest
        .split_once('/')
        .map(|(a, b)| (a.to_string(), Some(b.to_string())))
        .unwrap_or((rest.to_string(), None));
    let (id, action) = id
        .split_once(':')
        .map(|(a, b)| (a.to_string(), Some(b.to_string())))
        .unwrap_or((id, None));
    if percent_decode(&id) != s.spreadsheet_id {
        return google_error(404, "Requested entity was not found.", "NOT_FOUND");
    }
    match (method.as_str(), action.as_deref(), tail.as_deref()) {
        ("GET", None, None) => {
            let sheets: Vec<Value> = s
                .tabs
                .iter()
                .map(|t| {
                    json!({
                        "properties": {"sheetId": t.sheet_id, "title": t.title},
                        "conditionalFormats": (0..t.conditional_formats).map(|_| json!({})).collect::<Vec<_>>(),
                        "bandedRanges": t.bandings.iter().map(|b| json!({"bandedRangeId": b})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let _ = query;
            (200, json!({"spreadsheetId": s.spreadsheet_id, "sheets": sheets}))
        }
        ("POST", Some("batchUpdate"), None) => {
            let request: Value = serde_json::from_slice(body).unwrap_or_default();
            let mut replies = Vec::new();
            for r in request["requests"].as_array().cloned().unwrap_or_default() {
                s.batch_requests.push(r.clone());
                let sheet_of = |v: &Value| v.as_i64().unwrap_or(-1);
                if let Some(add) = r.get("addSheet") {
                    s.next_id += 1;
                    let id = s.next_id;
                    let title = add["properties"]["title"].as_str().unwrap_or_default().to_string();
                    s.tabs.push(FakeTab {
                        sheet_id: id,
                        title: title.clone(),
                        ..Default::default()
                    });
                    replies.push(json!({"addSheet": {"properties": {"sheetId": id, "title": title}}}));
                    continue;
                }
                if let Some(del) = r.get("deleteConditionalFormatRule") {
                    let id = sheet_of(&del["sheetId"]);
                    if let Some(t) = s.tabs.iter_mut().find(|t| t.sheet_id == id) {
                        if t.conditional_formats == 0 {
                            return google_error(
                                400,
                                "Invalid requests: no conditional format at that index.",
                                "INVALID_ARGUMENT",
                            );
                        }
                        t.conditional_formats -= 1;
                    }
                } else if let Some(add) = r.get("addConditionalFormatRule") {
                    let id = sheet_of(&add["rule"]["ranges"][0]["sheetId"]);
                    if let Some(t) = s.tabs.iter_mut().find(|t| t.sheet_id == id) {
                        t.conditional_formats += 1;
                    }
                } else if let Some(del) = r.get("deleteBanding") {
                    let band = del["bandedRangeId"].as_i64().unwrap_or(-1);
                    for t in &mut s.tabs {
                        t.bandings.retain(|b| *b != band);
                    }
                } else if let Some(add) = r.get("addBanding") {
                    let id = sheet_of(&add["bandedRange"]["range"]["sheetId"]);
                    s.next_id += 1;
                    let band = s.next_id;
                    if let Some(t) = s.tabs.iter_mut().find(|t| t.sheet_id == id) {
                        if !t.bandings.is_empty() {
                            return google_error(
                                400,
                                "Invalid requests: You cannot add alternating background colors to a range that already has alternating background colors.",
                                "INVALID_ARGUMENT",
                            );
                        }
                        t.bandings.push(band);
                    }
                } else if let Some(update) = r.get("updateSheetProperties") {
                    let id = sheet_of(&update["properties"]["sheetId"]);
                    if let Some(t) = s.tabs.iter_mut().find(|t| t.sheet_id == id) {
                        t.frozen_columns = update["properties"]["gridProperties"]["frozenColumnCount"]
                            .as_i64()
                            .unwrap_or(0);
                    }
                }
                replies.push(json!({}));
            }
            (200, json!({"spreadsheetId": s.spreadsheet_id, "replies": replies}))
        }
        (verb, None, Some(values)) => {
            let Some(range) = values.strip_prefix("values/") else {
                return google_error(404, "Not found.", "NOT_FOUND");
            };
            let (range, clear) = match range.strip_suffix(":clear") {
                Some(r) => (percent_decode(r), true),
                None => (percent_decode(range), false),
            };
            let title = range_title(&range);
            let Some(tab) = s.tabs.iter_mut().find(|t| t.title == title) else {
                return google_error(400, &format!("Unable to parse range: {range}"), "INVALID_ARGUMENT");
            };
            match (verb, clear) {
                ("POST", true) => {
                    tab.grid.clear();
                    (200, json!({"spreadsheetId": id, "clearedRange": range}))
                }
                ("PUT", false) => {
                    let update: Value = serde_json::from_slice(body).unwrap_or_default();
                    tab.grid = update["values"]
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
                        .collect();
                    (
                        200,
                        json!({"spreadsheetId": id, "updatedRange": range, "updatedRows": tab.grid.len()}),
                    )
                }
                ("GET", false) => (
                    200,
                    json!({"range": range, "majorDimension": "ROWS", "values": tab.grid}),
                ),
                _ => google_error(404, "Not found.", "NOT_FOUND"),
            }
        }
        _ => google_error(404, "Not found.", "NOT_FOUND"),
    }
}
