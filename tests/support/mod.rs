//! Test harness: a fresh, uniquely suffixed table set per test on DynamoDB Local (created from
//! `template.yaml`), and calls that go through the template's routes into the handlers
//! in-process, as the local gateway does.

pub mod google_fake;

use aws_config::BehaviorVersion;
use base64::Engine;
use lambda_http::{Body, Response};
use local_stack::apigw::{HttpCall, match_path};
use local_stack::bootstrap::create_missing_tables;
use local_stack::eventbus::{EventRouter, verify_sender_identity};
use local_stack::functions::Functions;
use local_stack::streams::StreamPoller;
use local_stack::template::Template;
use meta::MailSettings;
use serde_json::{Map, Value, json};
use shared::AppContext;
use shared::config::{AdminPolicy, Config};

/// Path of the repository root.
pub fn repo_path(relative: &str) -> String {
    format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// The template every test reads its routes and tables from.
pub fn template() -> Template {
    Template::load(repo_path("template.yaml")).expect("template.yaml parses")
}

/// The SDK configuration for the local services that `make test` started.
pub async fn sdk_config() -> aws_config::SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "integration tests need DynamoDB Local: run them with `make test`"
    );
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An unrestricted SDK client for the DynamoDB Local that `make test` started (set-up and
/// assertions; the functions themselves get clients held to their roles).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// Claims of a partnerships admin (the local default domain).
/// The claims of a partnerships member (issue 15): in the default members' group, and of no
/// admin domain.
pub fn member_claims(email: &str) -> Value {
    json!({"email": email, "cognito:groups": ["partnerships-members"]})
}

pub fn admin_claims() -> Value {
    json!({"email": "Tester@Example.org", "given_name": "Test", "family_name": "Er", "cognito:groups": ["staff"]})
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    /// The decoded response.
    pub fn from_response(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Self { status, body, headers }
    }

    /// The error message, for assertions.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// The signing secret of the tests' unsubscribe links.
pub const TEST_SIGNING_SECRET: &[u8] = b"integration-tests-signing-secret-0123456789";

/// The secret signed email-sync integrations share with the tests' stacks.
pub const TEST_SYNC_SECRET: &[u8] = b"integration-tests-sync-secret";

/// Mail settings of a test stack: links signed with [`TEST_SIGNING_SECRET`] under
/// `https://api.test`; email sync on for
/// `example.org`, signed integrations with [`TEST_SYNC_SECRET`], domain matching on.
pub fn test_mail_settings() -> MailSettings {
    MailSettings {
        signing_secret: Some(TEST_SIGNING_SECRET.to_vec()),
        public_api_url: Some("https://api.test".into()),
        request_budget: std::time::Duration::from_secs(20),
        worker_budget: std::time::Duration::from_secs(100),
        sync: meta::sync::SyncSettings {
            enabled: true,
            allowed_domains: vec!["example.org".into()],
            ingest_url: None,
            signing_secret: Some(TEST_SYNC_SECRET.to_vec()),
            domain_matching: true,
        },
    }
}

/// One isolated stack: its own tables, the template's routes, and the handlers, each calling
/// AWS under its own role from the template.
pub struct TestApi {
    /// Unrestricted access to the same tables, for set-up and assertions.
    pub ctx: AppContext,
    /// Every function of the template, each held to its IAM role.
    pub functions: Functions,
    /// The event source mappings of the template's streams.
    pub streams: std::sync::Arc<StreamPoller>,
    /// The EventBridge rules of the template, routed to their functions (see `with_mail`).
    pub events: Option<std::sync::Arc<EventRouter>>,
    template: Template,
    sdk: aws_config::SdkConfig,
    mail: MailSettings,
    sheets: sheets::SheetsSettings,
}

impl TestApi {
    /// Creates a fresh table set for this test.
    pub async fn new() -> Self {
        Self::with_template(template()).await
    }

    /// A fresh stack whose sheets functions use `sheets` (a test's fake Google).
    pub async fn with_sheets(sheets: sheets::SheetsSettings) -> Self {
        Self::build_with(template(), test_mail_settings(), sheets, false).await
    }

    /// A fresh stack whose mail functions use `mail` (no event bus: a send runs to its end in the
    /// request, and no change event is published).
    pub async fn with_mail(mail: MailSettings) -> Self {
        Self::build(template(), mail).await
    }

    /// As [`TestApi::with_mail`], with the stack's own event bus (`partnerships-<suffix>`): change
    /// events are published and the template's rules are routed to their functions, so a
    /// campaign can continue in the mail worker (`deliver_events`).
    pub async fn with_bus(mail: MailSettings) -> Self {
        Self::build_with(template(), mail, sheets::SheetsSettings::default(), true).await
    }

    /// A fresh table set whose functions run under the roles of `template` (a test may pass
    /// the real template with a grant removed).
    pub async fn with_template(template: Template) -> Self {
        Self::build(template, test_mail_settings()).await
    }

    async fn build(template: Template, mail: MailSettings) -> Self {
        Self::build_with(template, mail, sheets::SheetsSettings::default(), false).await
    }

    async fn build_with(
        template: Template,
        mail: MailSettings,
        sheets_settings: sheets::SheetsSettings,
        bus: bool,
    ) -> Self {
        let suffix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let sdk = sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        create_missing_tables(&client, &template, &suffix)
            .await
            .expect("tables created");
        let mut config = Config::build(
            &suffix,
            "",
            AdminPolicy::from_parts("", "example.org", "partnerships-admins"),
        )
        .expect("valid config");
        if bus {
            config.event_bus = Some(format!("partnerships-{suffix}"));
        }
        verify_sender_identity(&sdk, "example.org")
            .await
            .expect("the SES emulator that `make test` started verifies the identity");
        let functions = Functions::with_settings(&template, &config, &sdk, mail.clone(), sheets_settings.clone())
            .expect("every role in the template resolves");
        let streams = std::sync::Arc::new(StreamPoller::new(&template, functions.clone(), &sdk, &suffix));
        let events = match bus {
            true => Some(std::sync::Arc::new(
                EventRouter::setup(&template, functions.clone(), &sdk, &suffix)
                    .await
                    .expect("EventBridge rules routed on the emulator"),
            )),
            false => None,
        };
        Self {
            ctx: AppContext::new(config, client),
            functions,
            streams,
            events,
            template,
            sdk,
            mail,
            sheets: sheets_settings,
        }
    }

    /// Delivers the events waiting on the template's EventBridge rules to their functions, as
    /// EventBridge does moments after they are put; how many were delivered.
    pub async fn deliver_events(&self) -> usize {
        self.events
            .as_ref()
            .expect("a stack built with_mail and an event bus")
            .drain()
            .await
            .expect("every event is handled")
    }

    /// Another "Lambda instance" of every function on the same tables: same data, fresh memory.
    pub fn sibling(&self) -> Self {
        let functions = Functions::with_settings(
            &self.template,
            &self.ctx.config,
            &self.sdk,
            self.mail.clone(),
            self.sheets.clone(),
        )
        .expect("roles resolve");
        Self {
            ctx: self.ctx.clone(),
            functions,
            streams: self.streams.clone(),
            events: self.events.clone(),
            template: self.template.clone(),
            sdk: self.sdk.clone(),
            mail: self.mail.clone(),
            sheets: self.sheets.clone(),
        }
    }

    /// The context of the function built from `binary` (its clients held to its role).
    pub fn function(&self, binary: &str) -> &AppContext {
        self.functions
            .context(binary)
            .unwrap_or_else(|| panic!("template has no function {binary}"))
    }

    /// Lets the stream processor catch up with every write so far, as it does seconds after a
    /// write on AWS (and within a poll in `make run`): the aggregates it keeps are then current.
    pub async fn settle(&self) -> usize {
        self.streams.drain().await.expect("every stream batch applies")
    }

    /// Calls `METHOD /path?query` as the admin, with an optional JSON body.
    pub async fn call(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.call_raw(method, path_and_query, raw.as_deref(), Some(admin_claims()))
            .await
    }

    /// Calls `METHOD /path?query` as the caller whose verified claims are `claims`.
    pub async fn call_as(&self, claims: &Value, method: &str, path_and_query: &str, body: Option<Value>) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.call_raw(method, path_and_query, raw.as_deref(), Some(claims.clone()))
            .await
    }

    /// Calls as the admin with extra request headers; the reply's body is left as bytes.
    pub async fn call_with_headers(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        self.dispatch(method, path_and_query, headers, None, Some(admin_claims()))
            .await
    }

    /// Calls as the admin with request headers and a raw body.
    pub async fn call_with_headers_and_body(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        Reply::from_response(
            self.dispatch(method, path_and_query, headers, Some(body), Some(admin_claims()))
                .await,
        )
    }

    /// Calls with a raw body and explicit claims (`None` = no authorizer context).
    pub async fn call_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&str>,
        claims: Option<Value>,
    ) -> Reply {
        let json = [("content-type", "application/json")];
        Reply::from_response(self.dispatch(method, path_and_query, &json, body, claims).await)
    }

    /// The payload-v2 request API Gateway would send for `method path_and_query` on its
    /// template route, and the binary serving it.
    pub fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        claims: Option<Value>,
    ) -> (String, lambda_http::Request) {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let route = self
            .template
            .routes
            .iter()
            .find(|r| r.method == method && match_path(&r.path, path).is_some())
            .unwrap_or_else(|| panic!("no template route for {method} {path}"));
        let call = HttpCall {
            method: method.into(),
            route_path: route.path.clone(),
            raw_path: path.into(),
            raw_query: query.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.map(|b| b.as_bytes().to_vec()),
            claims: claims.and_then(|c| c.as_object().cloned()),
            source_ip: "127.0.0.1".into(),
        };
        (route.binary.clone(), call.to_request().expect("valid v2 event"))
    }

    /// Builds the payload-v2 request of the template route that `method path` matches and
    /// calls its function, under the function's own role.
    async fn dispatch(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        claims: Option<Value>,
    ) -> Response<Body> {
        let (binary, request) = self.request(method, path_and_query, headers, body, claims);
        self.functions.dispatch(&binary, request).await.expect("known binary")
    }

    /// Creates a partner through the API and returns it.
    pub async fn create_partner(&self, body: Value) -> Map<String, Value> {
        let reply = self.call("POST", "/partnerships/partners", Some(body)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["partner"].as_object().cloned().expect("partner object")
    }

    /// Creates a partner through the API and returns its id.
    pub async fn create_partner_id(&self, body: Value) -> String {
        self.create_partner(body).await["id"]
            .as_str()
            .expect("partner id")
            .to_string()
    }

    /// POSTs `body` to `path` and returns the id of the created `key` (`event`, `link`, …).
    pub async fn create_id(&self, path: &str, key: &str, body: Value) -> String {
        let reply = self.call("POST", path, Some(body)).await;
        assert_eq!(reply.status, 201, "{path}: {:?}", reply.body);
        reply.body[key]["id"].as_str().expect("created id").to_string()
    }

    /// A partner's communication timeline, newest first, as the client reads it.
    pub async fn timeline(&self, partner_id: &str) -> Vec<Value> {
        let reply = self
            .call(
                "GET",
                &format!("/partnerships/partners/{partner_id}/communications"),
                None,
            )
            .await;
        reply.body["communications"].as_array().cloned().unwrap_or_default()
    }

    /// A raw item from a table, for asserting what was stored.
    pub async fn stored(&self, table: &str, id: &str) -> Option<Map<String, Value>> {
        self.ctx.store.get(table, id).await.expect("get item")
    }

    /// Puts a raw item (seed data for resources whose functions are tested elsewhere).
    pub async fn put_raw(&self, table: &str, item: Value) {
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(item).expect("item");
        self.ctx
            .store
            .client()
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put item");
    }
}

/// A Bearer token whose payload carries `claims` (the local gateway does not verify signatures).
pub fn bearer(claims: &Value) -> String {
    let enc = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "Bearer {}.{}.local",
        enc(br#"{"alg":"none","typ":"JWT"}"#),
        enc(claims.to_string().as_bytes())
    )
}

/// GET of a plain-HTTP URL (the emulator's inspection API), its body as text.
pub async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("emulator reachable");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .expect("request sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("reply read");
    let text = String::from_utf8_lossy(&raw).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The raw messages the SES emulator accepted for `recipient` (through its own inspection API,
/// `/moto-api/data.json`), oldest first.
pub async fn sent_mail(recipient: &str) -> Vec<String> {
    let base = std::env::var("AWS_ENDPOINT_URL_SES").expect("`make test` starts the SES emulator");
    let data: Value =
        serde_json::from_str(&http_get(&format!("{base}/moto-api/data.json")).await).expect("emulator data");
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d.as_str().is_some_and(|d| d.contains(recipient)))
        })
        .filter_map(|m| m["raw_data"].as_str().map(str::to_string))
        .collect()
}
