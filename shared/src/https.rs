//! One small HTTP/1.1 client (TLS for `https`, with the web's root certificates) for the
//! providers with no AWS SDK: OAuth token endpoints and Google's REST APIs.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;

/// Why a request could not be made (an answer with any status is not an error).
#[derive(Debug, thiserror::Error)]
pub enum HttpsError {
    #[error("bad URL {0}")]
    Url(String),
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("timed out")]
    Timeout,
}

/// Every request gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(30);

fn tls_config() -> Arc<tokio_rustls::rustls::ClientConfig> {
    let roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Arc::new(
        tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Sends `method url` with `headers` and `body`: the answer's status and body.
pub async fn request(
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(http::StatusCode, Vec<u8>), HttpsError> {
    match tokio::time::timeout(TIMEOUT, send(method, url, headers, body)).await {
        Ok(result) => result,
        Err(_) => Err(HttpsError::Timeout),
    }
}

async fn send(
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(http::StatusCode, Vec<u8>), HttpsError> {
    let http_err = |e: &dyn std::fmt::Display| HttpsError::Http(e.to_string());
    let uri: http::Uri = url.parse().map_err(|_| HttpsError::Url(url.to_string()))?;
    let host = uri.host().ok_or_else(|| HttpsError::Url(url.to_string()))?.to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, &host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
        .map_err(|e| http_err(&e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    let response = if https {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| http_err(&e))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| http_err(&e))?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(|e| http_err(&e))?
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| http_err(&e))?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(|e| http_err(&e))?
    };
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| http_err(&e))?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}
