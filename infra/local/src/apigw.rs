//! Builds the API Gateway HTTP API (payload v2) event a request would produce and parses it with
//! `lambda_http`, so functions see locally exactly what they see on AWS.

use std::collections::BTreeMap;

use base64::Engine;
use lambda_http::Request;
use serde_json::{Map, Value, json};

/// One HTTP call, already matched to a route.
#[derive(Debug, Clone, Default)]
pub struct HttpCall {
    pub method: String,
    /// Route key path, e.g. `/partnerships/partners/{partnerId}`.
    pub route_path: String,
    /// The request path as sent.
    pub raw_path: String,
    /// Query string without `?`, as sent.
    pub raw_query: String,
    /// Header names lower-cased, as API Gateway delivers them.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Claims of a verified token (None on public routes).
    pub claims: Option<Map<String, Value>>,
    pub source_ip: String,
}

/// Renders a claim as the JWT authorizer does: strings as-is, arrays as `[a b]`, others as JSON.
pub fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_string).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// Path parameters of `raw_path` under `route_path`, percent-decoded; `None` if it does not match.
pub fn match_path(route_path: &str, raw_path: &str) -> Option<BTreeMap<String, String>> {
    let route: Vec<&str> = route_path.trim_matches('/').split('/').collect();
    let actual: Vec<&str> = raw_path.trim_matches('/').split('/').collect();
    if route.len() != actual.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (pattern, segment) in route.iter().zip(&actual) {
        if let Some(name) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            let decoded = percent_decode(segment);
            params.insert(name.to_string(), decoded);
        } else if pattern != segment {
            return None;
        }
    }
    Some(params)
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl HttpCall {
    /// The v2 event JSON.
    pub fn event(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let name = name.to_lowercase();
            let merged = match headers.get(&name).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{value}"),
                None => value.clone(),
            };
            headers.insert(name, Value::String(merged));
        }
        let mut query = Map::new();
        for (k, v) in form_urlencoded::parse(self.raw_query.as_bytes()) {
            let merged = match query.get(k.as_ref()).and_then(Value::as_str) {
                Some(prev) => format!("{prev},{v}"),
                None => v.into_owned(),
            };
            query.insert(k.into_owned(), Value::String(merged));
        }
        let path_params = match_path(&self.route_path, &self.raw_path).unwrap_or_default();
        let route_key = format!("{} {}", self.method, self.route_path);
        let now = chrono::Utc::now();
        let (body, is_base64) = match &self.body {
            None => (Value::Null, false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (Value::String(text.to_string()), false),
                Err(_) => (
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                    true,
                ),
            },
        };
        let authorizer = self.claims.as_ref().map(|claims| {
            let claims: Map<String, Value> = claims
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(claim_string(v))))
                .collect();
            json!({"jwt": {"claims": claims, "scopes": null}})
        });
        let user_agent = headers
            .get("user-agent")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.raw_path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": "127.0.0.1",
                "domainPrefix": "local",
                "http": {
                    "method": self.method,
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": user_agent,
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route_key,
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.timestamp_millis(),
            },
            "isBase64Encoded": is_base64,
        });
        if let Some(authorizer) = authorizer {
            event["requestContext"]["authorizer"] = authorizer;
        }
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !path_params.is_empty() {
            event["pathParameters"] = json!(path_params);
        }
        if !body.is_null() {
            event["body"] = body;
        }
        event
    }

    /// The `lambda_http::Request` Lambda would hand the function.
    pub fn to_request(&self) -> Result<Request, serde_json::Error> {
        lambda_http::request::from_str(&self.event().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn paths_match_and_decode() {
        let p = match_path("/partnerships/partners/{partnerId}", "/partnerships/partners/a%20b").unwrap();
        assert_eq!(p["partnerId"], "a b");
        assert!(match_path("/partnerships/partners/{partnerId}", "/partnerships/partners").is_none());
        assert!(match_path("/partnerships/partners", "/partnerships/events").is_none());
    }

    #[test]
    fn claims_render_like_the_authorizer() {
        assert_eq!(claim_string(&json!(["a", "b"])), "[a b]");
        assert_eq!(claim_string(&json!(17)), "17");
    }

    #[test]
    fn events_parse_into_lambda_requests() {
        let call = HttpCall {
            method: "GET".into(),
            route_path: "/partnerships/partners/{partnerId}".into(),
            raw_path: "/partnerships/partners/p%3A1".into(),
            raw_query: "search=acme+co&tag=a&tag=b".into(),
            headers: vec![("Authorization".into(), "Bearer x".into())],
            claims: Some(
                json!({"email": "a@example.org", "exp": 5, "cognito:groups": ["g"]})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            ..Default::default()
        };
        let request = call.to_request().unwrap();
        assert_eq!(
            request.path_parameters_ref().and_then(|p| p.first("partnerId")),
            Some("p:1")
        );
        let query = request.query_string_parameters_ref().cloned().unwrap_or_default();
        assert_eq!(query.first("search"), Some("acme co"));
        // lambda_http re-parses rawQueryString, so repeated keys stay separate values.
        assert_eq!(query.all("tag"), Some(vec!["a", "b"]));
        assert_eq!(
            shared::http::route_key(&request),
            "GET /partnerships/partners/{partnerId}"
        );
        let caller = shared::auth::Caller::from_request(&request).unwrap();
        assert_eq!(caller.email, "a@example.org");
        assert_eq!(caller.groups, vec!["g"]);
    }
}
