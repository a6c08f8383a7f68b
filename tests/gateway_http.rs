//! The local gateway over real HTTP: routing from template.yaml, the JWT-authorizer stand-in,
//! CORS preflights, and payload-v2 requests reaching the partners handler.

use std::sync::Arc;

use integration_tests::{TestApi, bearer, template};
use local_stack::gateway::{Gateway, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct RawReply {
    status: u16,
    headers: String,
    body: Value,
}

async fn send(port: u16, request: String) -> RawReply {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    RawReply {
        status,
        headers: head.to_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

fn http(method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> String {
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    if let Some(auth) = auth {
        request.push_str(&format!("authorization: {auth}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    request
}

#[tokio::test]
async fn gateway_serves_template_routes_like_api_gateway() {
    let api = TestApi::new().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let gateway = Arc::new(Gateway::new(&template(), api.functions.clone()).expect("every template binary is served"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, gateway, async {
        let _ = stopped.await;
    }));

    let no_token = send(port, http("GET", "/partnerships/partners", None, None)).await;
    assert_eq!(
        (no_token.status, no_token.body["message"].clone()),
        (401, json!("Unauthorized"))
    );
    let garbage = send(
        port,
        http("GET", "/partnerships/partners", Some("Bearer nonsense"), None),
    )
    .await;
    assert_eq!(garbage.status, 401);

    let preflight = send(
        port,
        "OPTIONS /partnerships/partners HTTP/1.1\r\nhost: x\r\norigin: http://localhost:5173\r\naccess-control-request-method: POST\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert!(preflight.headers.contains("access-control-allow-origin: *"));
    assert!(
        preflight
            .headers
            .contains("access-control-allow-methods: get,post,put,patch,delete,options")
    );
    assert!(!preflight.headers.contains("access-control-allow-credentials"));

    let token = bearer(&json!({"email": "exec@example.org", "cognito:groups": ["a", "b"], "exp": 4102444800u64}));
    let created = send(
        port,
        http(
            "POST",
            "/partnerships/partners",
            Some(&token),
            Some(r#"{"company":"Via HTTP"}"#),
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(created.headers.contains("access-control-allow-origin: *"));
    let id = created.body["partner"]["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["partner"]["updatedBy"], "exec@example.org");

    let detail = send(
        port,
        http("GET", &format!("/partnerships/partners/{id}"), Some(&token), None),
    )
    .await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["partner"]["company"], "Via HTTP");
    let listed = send(
        port,
        http("GET", "/partnerships/partners?search=via%20http", Some(&token), None),
    )
    .await;
    assert_eq!(listed.body["partners"].as_array().map(Vec::len), Some(1));

    let expired = bearer(&json!({"email": "exec@example.org", "exp": 1}));
    assert_eq!(
        send(port, http("GET", "/partnerships/partners", Some(&expired), None))
            .await
            .status,
        401
    );
    let unknown = send(port, http("GET", "/partnerships/nowhere", Some(&token), None)).await;
    assert_eq!(
        (unknown.status, unknown.body["message"].clone()),
        (404, json!("Not Found"))
    );
    let wrong_method = send(port, http("DELETE", "/partnerships/partners", Some(&token), None)).await;
    assert_eq!(wrong_method.status, 404);

    let _ = stop.send(());
    server.await.unwrap();
}

/// Sends `request` and reads what comes back, even if the gateway answers (and closes) before
/// the whole request is written.
async fn send_oversized(port: u16, request: Vec<u8>) -> RawReply {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
    });
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw).await;
    writing.abort();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    RawReply {
        status: head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0),
        headers: head.to_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

#[tokio::test]
async fn oversized_requests_get_a_json_message() {
    let api = TestApi::new().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let gateway = Arc::new(Gateway::new(&template(), api.functions.clone()).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    let token = bearer(&json!({"email": "exec@example.org"}));

    for query_len in [20_000usize, 100_000] {
        let path = format!("/partnerships/partners?search={}", "a".repeat(query_len));
        let reply = send_oversized(port, http("GET", &path, Some(&token), None).into_bytes()).await;
        assert_eq!(reply.status, 414, "{query_len}-byte query");
        assert!(reply.body["message"].is_string(), "{query_len}: {:?}", reply.body);
    }

    let body = format!(r#"{{"company":"{}"}}"#, "x".repeat(7 * 1024 * 1024));
    let reply = send_oversized(
        port,
        http("POST", "/partnerships/partners", Some(&token), Some(&body)).into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 413);
    assert!(
        reply.body["message"].as_str().is_some_and(|m| m.contains("6 MB")),
        "{:?}",
        reply.body
    );

    let _ = stop.send(());
    server.await.unwrap();
}
