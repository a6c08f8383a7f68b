//! The benchmark harness behind `make bench`: a small HTTP client, the dataset seeded through the
//! public API, wrk scripts and their output, a local Lambda Runtime API for cold starts, and the
//! report. See BENCHMARKS.md for the method.

pub mod coldstart;
pub mod dataset;
pub mod wrk;

use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A bearer token the local gateway accepts (it decodes, not verifies, tokens).
pub fn admin_token() -> String {
    let enc = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let claims = serde_json::json!({"email": "bench@example.org", "name": "Bench Runner"});
    format!(
        "Bearer {}.{}.bench",
        enc(br#"{"alg":"none"}"#),
        enc(claims.to_string().as_bytes())
    )
}

/// One answer: status, JSON body (or `Null`), bytes on the wire (gzipped when the gateway
/// compressed it) and the store's meters (items read, read and write capacity units).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub bytes: usize,
    pub items_read: Option<u64>,
    pub read_units: Option<f64>,
    pub write_units: Option<f64>,
}

/// A keep-alive HTTP/1.1 client for the local gateway.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:3000`).
    pub fn new(base: &str) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        Self {
            base: base.trim_end_matches('/').to_string(),
            token: admin_token(),
            client,
        }
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, BoxError> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", &self.token)
            .header("content-type", "application/json")
            .header("accept-encoding", "gzip")
            .body(Full::new(Bytes::from(payload)))?;
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let items_read = header(shared::http::ITEMS_READ_HEADER).and_then(|v| v.parse().ok());
        let read_units = header(shared::http::READ_UNITS_HEADER).and_then(|v| v.parse().ok());
        let write_units = header(shared::http::WRITE_UNITS_HEADER).and_then(|v| v.parse().ok());
        let gzipped = header("content-encoding").as_deref() == Some("gzip");
        let bytes = response.into_body().collect().await?.to_bytes();
        let text = if gzipped {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)?;
            text
        } else {
            bytes.to_vec()
        };
        let body = serde_json::from_slice(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            bytes: bytes.len(),
            items_read,
            read_units,
            write_units,
        })
    }

    /// Sends and insists on a 2xx answer.
    pub async fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, BoxError> {
        let answer = self.send(method, path, body).await?;
        if !(200..300).contains(&answer.status) {
            return Err(format!("{method} {path} answered {}: {}", answer.status, answer.body).into());
        }
        Ok(answer)
    }
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
