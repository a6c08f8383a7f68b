//! Request parsing and JSON responses for API Gateway HTTP API (payload v2) events.

use std::collections::{BTreeMap, HashMap};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::AppContext;
use crate::domain::normalize::dynamo_number_ok;
use crate::error::{ApiError, ApiResult, error_chain};

/// The route key API Gateway matched (`GET /partnerships/partners/{partnerId}`).
pub fn route_key(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) if ctx.route_key.is_some() => ctx.route_key.clone().unwrap_or_default(),
        _ => format!("{} {}", request.method(), request.uri().path()),
    }
}

/// A path parameter; API Gateway always supplies the route's parameters, so absence is a 404.
pub fn path_param(request: &Request, name: &str) -> ApiResult<String> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::NoRoute(format!("missing path parameter {name}")))
}

/// Query parameters, first value of each.
pub fn query_params(request: &Request) -> HashMap<String, String> {
    let mut params = HashMap::new();
    if let Some(query) = request.query_string_parameters_ref() {
        for (key, _) in query.iter() {
            if let Some(value) = query.first(key) {
                params.entry(key.to_string()).or_insert_with(|| value.to_string());
            }
        }
    }
    params
}

/// The body as a JSON object (§1.5): empty is `{}`, invalid JSON and non-objects are 406.
pub fn json_body(request: &Request) -> ApiResult<Map<String, Value>> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // The raw body is never echoed back (§14.4): it may hold notes and emails.
    if let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(bytes)
        && let Some((field, number)) = fields
            .iter()
            .find_map(|(field, raw)| first_unstorable_number(raw).map(|n| (field, n)))
    {
        return Err(ApiError::validation(
            format!(
                "'{field}' must be a number DynamoDB can store (zero, or a magnitude from 1e-130 to below 1e126; not -0)."
            ),
            json!({ field.as_str(): number }),
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation("Request body must be a JSON object.", json!({}))),
        Err(_) => Err(ApiError::validation("Invalid JSON in request body.", json!({}))),
    }
}

/// The text of the first number in `raw` (at any depth) that DynamoDB could not store.
fn first_unstorable_number(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim_start();
    match text.as_bytes().first()? {
        b'{' => serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(text)
            .ok()?
            .values()
            .find_map(|v| first_unstorable_number(v)),
        b'[' => serde_json::from_str::<Vec<Box<RawValue>>>(text)
            .ok()?
            .iter()
            .find_map(|v| first_unstorable_number(v)),
        b'-' | b'0'..=b'9' => (!dynamo_number_ok(text)).then(|| text.trim().to_string()),
        _ => None,
    }
}

/// A JSON response with the CORS header the web client expects. Never with
/// `Access-Control-Allow-Credentials`: bearer tokens need no credentials mode (§14.4).
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| r#"{"message":"Request failed."}"#.to_string());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// A non-JSON download (CSV) with the CORS header.
pub fn download(content_type: &'static str, file_name: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// 200 with a JSON body.
pub fn ok(body: &impl Serialize) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::OK, body))
}

/// 201 with a JSON body.
pub fn created(body: &impl Serialize) -> ApiResult<Response<Body>> {
    Ok(json_response(StatusCode::CREATED, body))
}

/// Header reporting how many DynamoDB items the request read (benchmarks read it to show which
/// routes grow with the tables and which with the answer).
pub const ITEMS_READ_HEADER: &str = "x-dynamodb-items-read";
/// Header reporting the read capacity units the request consumed, as DynamoDB reported them.
pub const READ_UNITS_HEADER: &str = "x-dynamodb-read-units";
/// Header reporting the write capacity units the request consumed, indexes included.
pub const WRITE_UNITS_HEADER: &str = "x-dynamodb-write-units";

/// Smallest JSON answer worth compressing: below it, gzip saves less than it costs.
const COMPRESS_FROM_BYTES: usize = 32 * 1024;

/// Runs a route: boxes its (large) future so a Lambda worker's small stack is never at risk,
/// meters the DynamoDB items and capacity it uses, turns its result into the response, and
/// gzips a large answer for a client that accepts it (the 6 MB Lambda response limit counts the
/// bytes sent, and a directory of 20,000 partners is 15 MB of JSON).
pub async fn serve(
    request: &Request,
    route: &str,
    future: impl Future<Output = ApiResult<Response<Body>>>,
) -> Response<Body> {
    let (result, meter) = crate::store::metered(Box::pin(future)).await;
    let mut response = finish(route, result);
    if accepts_gzip(request) {
        response = gzipped(response);
    }
    let headers = response.headers_mut();
    headers.insert(ITEMS_READ_HEADER, HeaderValue::from(meter.items_read));
    for (name, units) in [
        (READ_UNITS_HEADER, meter.read_units),
        (WRITE_UNITS_HEADER, meter.write_units),
    ] {
        if let Ok(value) = HeaderValue::from_str(&format!("{units}")) {
            headers.insert(name, value);
        }
    }
    response
}

/// Whether the request's `Accept-Encoding` allows gzip (and does not refuse it with `q=0`).
fn accepts_gzip(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The response with a large text body gzipped (fast level: the time saved sending it matters
/// more than the last bytes). API Gateway gets the bytes base64-encoded, as it requires.
fn gzipped(mut response: Response<Body>) -> Response<Body> {
    use std::io::Write;
    let Body::Text(text) = response.body() else {
        return response;
    };
    if text.len() < COMPRESS_FROM_BYTES {
        return response;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 8), flate2::Compression::fast());
    if encoder.write_all(text.as_bytes()).is_err() {
        return response;
    }
    let Ok(bytes) = encoder.finish() else {
        return response;
    };
    *response.body_mut() = Body::Binary(bytes);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Turns a route's result into the response, logging failures once, in one place: server
/// errors with their whole chain, client errors as a one-line notice.
pub fn finish(route: &str, result: ApiResult<Response<Body>>) -> Response<Body> {
    match result {
        Ok(response) => response,
        Err(err) => {
            if err.is_server_error() {
                tracing::error!(route, error = %error_chain(&err), "request failed");
            } else {
                tracing::info!(route, status = err.status().as_u16(), message = %err.body()["message"], "request rejected");
            }
            json_response(err.status(), &err.body())
        }
    }
}

/// The version an `If-Match` header requires (`"3"`, `W/"3"` or `3`); `None` without the header
/// or with `*`. A value that names no version can never match: `Some(u64::MAX)`.
pub fn if_match(request: &Request) -> Option<u64> {
    let raw = request
        .headers()
        .get(header::IF_MATCH)?
        .to_str()
        .unwrap_or_default()
        .trim();
    if raw == "*" {
        return None;
    }
    let tag = raw.trim_start_matches("W/").trim_matches('"');
    Some(tag.parse().unwrap_or(u64::MAX))
}

/// 412 with the current record unless `If-Match` (if any) names `version`.
pub fn check_if_match(
    request: &Request,
    version: u64,
    key: &'static str,
    current: impl FnOnce() -> Value,
) -> ApiResult<()> {
    match if_match(request) {
        Some(expected) if expected != version => Err(ApiError::PreconditionFailed {
            key,
            current: current(),
        }),
        _ => Ok(()),
    }
}

/// `response` with the record's `ETag` (its version, as `If-Match` takes it back).
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Header naming a create's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header marking an answer replayed from an earlier request with the same key.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn raw_body(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Runs a create under the request's `Idempotency-Key`, if it has one: the first request with a
/// key runs and its answer is kept for 24 h; a retry with the same key and body gets that answer
/// again (`Idempotent-Replayed: true`) and creates nothing; the key with another body is 422; a
/// second request while the first runs is 409. Keys are per caller and route. A request that
/// failed on the server side (5xx) frees its key, so a retry may run.
pub async fn idempotent(
    request: &Request,
    ctx: &AppContext,
    caller: &str,
    create: impl Future<Output = ApiResult<Response<Body>>>,
) -> ApiResult<Response<Body>> {
    use crate::store::meta::IdempotencyClaim;
    let Some(raw) = request.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        return create.await;
    };
    let key = raw.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::validation(
            format!("'Idempotency-Key' must be 1 to {MAX_IDEMPOTENCY_KEY} visible characters."),
            json!({}),
        ));
    }
    let route = route_key(request);
    let key_id = sha256_hex(&[caller.as_bytes(), route.as_bytes(), key.as_bytes()]);
    let request_hash = sha256_hex(&[request.uri().path().as_bytes(), raw_body(request)]);
    let store = &ctx.store;
    match store
        .claim_idempotency_key(&key_id, &request_hash, chrono::Utc::now().timestamp())
        .await?
    {
        IdempotencyClaim::Started => {}
        IdempotencyClaim::Done { status, response } => {
            let answer: Value = serde_json::from_str(&response).unwrap_or(Value::Null);
            let mut reply = json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &answer);
            reply
                .headers_mut()
                .insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
            return Ok(reply);
        }
        IdempotencyClaim::InProgress => {
            return Err(ApiError::Conflicting(
                "A request with this Idempotency-Key is still in progress.".into(),
            ));
        }
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::Unprocessable(
                "This Idempotency-Key was already used with a different request.".into(),
            ));
        }
    }
    let response = finish(&route, create.await);
    if response.status().is_server_error() {
        if let Err(e) = store.release_idempotency_key(&key_id).await {
            tracing::error!(error = %error_chain(&e), "could not free an idempotency key");
        }
        return Ok(response);
    }
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        _ => String::new(),
    };
    store
        .finish_idempotency_key(&key_id, response.status().as_u16(), &text)
        .await?;
    Ok(response)
}
