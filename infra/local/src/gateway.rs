//! The local stand-in for API Gateway: matches template routes, plays the JWT authorizer, answers
//! CORS preflights, and calls the function handlers in-process with payload-v2 requests.
//!
//! Local only: the token's signature is NOT verified (there is no Cognito here). Its payload
//! claims are passed on as the real authorizer would pass verified ones.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::apigw::{HttpCall, match_path};
use crate::functions::{Functions, KNOWN_BINARIES};
use crate::streams::StreamPoller;
use crate::template::{CorsSpec, RouteSpec, Template};

/// Largest body accepted: a Lambda's synchronous invocation payload (6 MB) is the binding
/// limit behind API Gateway's 10 MB.
const MAX_BODY: usize = 6 * 1024 * 1024;

/// API Gateway's limit on the request line plus headers (10 KB); longer is refused before any
/// function runs.
const MAX_REQUEST_HEAD: usize = 10 * 1024;

/// Routes, CORS and the functions behind them.
#[derive(Debug)]
pub struct Gateway {
    routes: Vec<RouteSpec>,
    cors: CorsSpec,
    functions: Functions,
    streams: Option<Arc<StreamPoller>>,
    mailboxes: Vec<mailbox::MailboxConfig>,
    openapi: Option<Value>,
}

/// Local routes serving the API's OpenAPI document and a page listing its operations.
pub const OPENAPI_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// A page listing every operation of the document (no script: it works offline).
fn docs_page(doc: &Value) -> String {
    let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut rows = String::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let codes: Vec<&str> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(c, _)| c.as_str())
                .collect();
            rows.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                method.to_uppercase(),
                escape(path),
                escape(op["summary"].as_str().unwrap_or_default()),
                codes.join(" ")
            ));
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Partnerships CRM API</title></head><body style=\"font-family:sans-serif\"><h1>Partnerships CRM API</h1><p>The machine-readable document: <a href=\"{OPENAPI_PATH}\">{OPENAPI_PATH}</a> (OpenAPI 3.1).</p><table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th>method</th><th>path</th><th>what</th><th>answers</th></tr>{rows}</table></body></html>"
    )
}
/// A local-only route (not in the template): what the stream processor has cost so far.
pub const STREAM_STATS_PATH: &str = "/_local/streams";

/// A local-only route: POST runs the scheduled mailbox pull now (`make sync-mailboxes`).
pub const MAILBOX_SYNC_PATH: &str = "/_local/sync-mailboxes";

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "access-control-allow-origin",
        hyper::header::HeaderValue::from_static("*"),
    );
    response
}

/// The claims of `Authorization: Bearer <jwt>`, decoded without verification (local only).
pub fn bearer_claims(header: Option<&str>, now_secs: i64) -> Option<Map<String, Value>> {
    let token = header?
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| header?.trim().strip_prefix("bearer "))?
        .trim();
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    // An expired token is refused, as the real authorizer would.
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp < now_secs)
    {
        return None;
    }
    Some(claims)
}

impl Gateway {
    /// A gateway for the template's routes; fails if a route names a binary it cannot serve.
    pub fn new(template: &Template, functions: Functions) -> Result<Self, String> {
        if let Some(route) = template
            .routes
            .iter()
            .find(|r| !KNOWN_BINARIES.contains(&r.binary.as_str()))
        {
            return Err(format!(
                "template route {} names unknown binary {}",
                route.route_key(),
                route.binary
            ));
        }
        Ok(Self {
            routes: template.routes.clone(),
            cors: template.cors.clone(),
            functions,
            streams: None,
            mailboxes: Vec::new(),
            openapi: None,
        })
    }

    /// Serves `doc` at [`OPENAPI_PATH`] and a page of its operations at [`DOCS_PATH`].
    pub fn with_openapi(mut self, doc: Value) -> Self {
        self.openapi = Some(doc);
        self
    }

    /// Runs the mailbox pull over `mailboxes` when [`MAILBOX_SYNC_PATH`] is posted to.
    pub fn with_mailboxes(mut self, mailboxes: Vec<mailbox::MailboxConfig>) -> Self {
        self.mailboxes = mailboxes;
        self
    }

    /// Serves the stream mappings' figures at [`STREAM_STATS_PATH`].
    pub fn with_streams(mut self, streams: Arc<StreamPoller>) -> Self {
        self.streams = Some(streams);
        self
    }

    fn preflight(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        let pairs = [
            ("access-control-allow-origin", self.cors.allow_origins.join(",")),
            ("access-control-allow-methods", self.cors.allow_methods.join(",")),
            ("access-control-allow-headers", self.cors.allow_headers.join(",")),
            ("access-control-max-age", self.cors.max_age.unwrap_or(0).to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }

    /// Answers one HTTP request.
    pub async fn respond(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let method = parts.method.as_str().to_string();
        let raw_path = parts.uri.path().to_string();
        if parts.method == Method::OPTIONS && parts.headers.contains_key("access-control-request-method") {
            return self.preflight();
        }
        if let (Some(streams), true) = (
            &self.streams,
            parts.method == Method::GET && raw_path == STREAM_STATS_PATH,
        ) {
            return reply(
                StatusCode::OK,
                &serde_json::to_value(streams.stats()).unwrap_or_default(),
            );
        }
        if let (Some(doc), true) = (&self.openapi, parts.method == Method::GET) {
            if raw_path == OPENAPI_PATH {
                return reply(StatusCode::OK, doc);
            }
            if raw_path == DOCS_PATH {
                let mut page = Response::new(Full::new(Bytes::from(docs_page(doc))));
                page.headers_mut().insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
                );
                return page;
            }
        }
        if parts.method == Method::POST && raw_path == MAILBOX_SYNC_PATH {
            let Some(services) = self.functions.mail("mailbox-sync") else {
                return reply(
                    StatusCode::NOT_FOUND,
                    &json!({"message": "The template has no mailbox-sync function."}),
                );
            };
            let report = mailbox::run(services, &self.mailboxes, std::time::Duration::from_secs(240)).await;
            let mailboxes: Vec<Value> = report
                .mailboxes
                .iter()
                .map(|(owner, result)| match result {
                    Ok(pulled) => {
                        json!({"mailbox": owner, "stats": pulled.stats.to_wire(), "complete": pulled.complete})
                    }
                    Err(e) => json!({"mailbox": owner, "error": e}),
                })
                .collect();
            return reply(StatusCode::OK, &json!({"mailboxes": mailboxes}));
        }
        let matched = self
            .routes
            .iter()
            .filter(|r| r.method == method)
            .find_map(|r| match_path(&r.path, &raw_path).map(|_| r));
        let head_len = parts.uri.to_string().len()
            + parts
                .headers
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 4)
                .sum::<usize>();
        if head_len > MAX_REQUEST_HEAD {
            return reply(
                StatusCode::URI_TOO_LONG,
                &json!({"message": "Request URI or headers too long (API Gateway allows 10 KB)."}),
            );
        }
        let Some(route) = matched else {
            return reply(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}));
        };
        let claims = if route.public {
            None
        } else {
            let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
            match bearer_claims(header, chrono::Utc::now().timestamp()) {
                Some(claims) => Some(claims),
                None => {
                    return reply(StatusCode::UNAUTHORIZED, &json!({"message": "Unauthorized"}));
                }
            }
        };
        let bytes = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"message": "Request Entity Too Large: the body may be at most 6 MB."}),
                );
            }
            Err(_) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": "Could not read the request body."}),
                );
            }
        };
        let call = HttpCall {
            method,
            route_path: route.path.clone(),
            raw_path,
            raw_query: parts.uri.query().unwrap_or_default().to_string(),
            // API Gateway tells the function how the client connected; this gateway is plain HTTP.
            headers: parts
                .headers
                .iter()
                .filter(|(k, _)| !k.as_str().eq_ignore_ascii_case("x-forwarded-proto"))
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .chain([
                    ("x-forwarded-proto".to_string(), "http".to_string()),
                    ("x-forwarded-for".to_string(), peer.ip().to_string()),
                ])
                .collect(),
            body: (!bytes.is_empty()).then(|| bytes.to_vec()),
            claims,
            source_ip: peer.ip().to_string(),
        };
        let lambda_request = match call.to_request() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not build the Lambda event");
                return reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": "Internal Server Error"}),
                );
            }
        };
        let Some(response) = self.functions.dispatch(&route.binary, lambda_request).await else {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"message": "Internal Server Error"}),
            );
        };
        let (parts, body) = response.into_parts();
        let mut out = Response::new(Full::new(Bytes::from(body.to_vec())));
        *out.status_mut() = parts.status;
        *out.headers_mut() = parts.headers;
        // API Gateway's CORS configuration adds the exposed headers to every answer.
        if !self.cors.expose_headers.is_empty()
            && let Ok(value) = hyper::header::HeaderValue::from_str(&self.cors.expose_headers.join(","))
        {
            out.headers_mut().insert("access-control-expose-headers", value);
        }
        out
    }
}

/// Reads a connection's first request line before hyper does: hyper answers a URI over 64 KB
/// with a bare 414 and no body, API Gateway (and so this gateway) with JSON. Returns the stream
/// with what was read put back, or `None` once the JSON 414 is sent.
async fn refuse_overlong_request_line(stream: tokio::net::TcpStream) -> Option<Rewound> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream;
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    while !head.contains(&b'\n') && head.len() <= MAX_REQUEST_HEAD {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let line_len = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    if line_len > MAX_REQUEST_HEAD {
        let body = json!({"message": "Request URI or headers too long (API Gateway allows 10 KB)."}).to_string();
        let response = format!(
            "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\naccess-control-allow-origin: *\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return None;
    }
    Some(Rewound {
        prefix: head,
        read: 0,
        stream,
    })
}

/// A stream whose first bytes were already read: they are served again before the rest.
struct Rewound {
    prefix: Vec<u8>,
    read: usize,
    stream: tokio::net::TcpStream,
}

impl tokio::io::AsyncRead for Rewound {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.read < self.prefix.len() {
            let n = (self.prefix.len() - self.read).min(buf.remaining());
            let start = self.read;
            buf.put_slice(&self.prefix[start..start + n]);
            self.read += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Rewound {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves until `shutdown` resolves, one task per connection.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let Some(stream) = refuse_overlong_request_line(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let gateway = gateway.clone();
                async move {
                    let started = Instant::now();
                    let (method, path) = (request.method().clone(), request.uri().path().to_string());
                    let response = gateway.respond(request, peer).await;
                    tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_secs_f64() * 1e3, "request");
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "Bearer {}.{}.sig",
            enc(b"{\"alg\":\"none\"}"),
            enc(payload.to_string().as_bytes())
        )
    }

    #[test]
    fn bearer_tokens_decode_and_expire() {
        let t = token(&json!({"email": "a@example.org", "exp": 100}));
        assert_eq!(bearer_claims(Some(&t), 50).unwrap()["email"], "a@example.org");
        assert!(bearer_claims(Some(&t), 150).is_none());
        assert!(bearer_claims(Some("Bearer garbage"), 0).is_none());
        assert!(bearer_claims(None, 0).is_none());
        assert!(bearer_claims(Some("Basic abc"), 0).is_none());
    }
}
