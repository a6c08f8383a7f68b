//! Cold starts: a minimal Lambda Runtime API on loopback serves one invocation to a freshly
//! exec'd release binary; we time exec → the function's response, and read its peak RSS.

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::{BoxError, median};

/// One function's cold-start figures over several runs.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub function: String,
    pub runs: usize,
    pub median_ms: f64,
    pub max_ms: f64,
    pub median_peak_rss_mib: f64,
}

/// What the function posted back.
#[derive(Debug)]
enum Outcome {
    Response,
    Error(String),
}

/// Serves the Runtime API: the first `next` gets `event`, later ones wait forever; responses
/// and errors are reported on `done`.
async fn runtime_api(listener: TcpListener, event: Arc<String>, done: mpsc::UnboundedSender<Outcome>) {
    let served = Arc::new(Mutex::new(false));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (event, done, served) = (event.clone(), done.clone(), served.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (event, done, served) = (event.clone(), done.clone(), served.clone());
                async move {
                    let path = request.uri().path().to_string();
                    if path.ends_with("/invocation/next") {
                        let first = {
                            let mut flag = served.lock().unwrap_or_else(|p| p.into_inner());
                            !std::mem::replace(&mut *flag, true)
                        };
                        if !first {
                            futures::future::pending::<()>().await;
                        }
                        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                        let response = Response::builder()
                            .header("lambda-runtime-aws-request-id", "bench-request-1")
                            .header("lambda-runtime-deadline-ms", deadline.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-west-2:123456789012:function:bench",
                            )
                            .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
                            .body(Full::new(Bytes::from(event.as_str().to_owned())))
                            .unwrap_or_default();
                        return Ok::<_, Infallible>(response);
                    }
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let outcome = if path.ends_with("/response") {
                        Outcome::Response
                    } else {
                        Outcome::Error(String::from_utf8_lossy(&body).into_owned())
                    };
                    let _ = done.send(outcome);
                    Ok(Response::builder()
                        .status(202)
                        .body(Full::new(Bytes::new()))
                        .unwrap_or_default())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Execs `binary` `runs` times, each answering `event`, with `env` set.
pub async fn measure(
    name: &str,
    binary: &Path,
    event: &str,
    env: &[(String, String)],
    runs: usize,
) -> Result<ColdStart, BoxError> {
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let server = tokio::spawn(runtime_api(listener, Arc::new(event.to_string()), done_tx));
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let outcome = tokio::time::timeout(Duration::from_secs(15), done_rx.recv()).await;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let pid = child.id().unwrap_or(0);
        let peak = peak_rss_kib(pid);
        let _ = child.kill().await;
        server.abort();
        match outcome {
            Ok(Some(Outcome::Response)) => {
                times.push(elapsed);
                rss.push(peak.unwrap_or(0) as f64 / 1024.0);
            }
            Ok(Some(Outcome::Error(e))) => return Err(format!("{name} answered an error: {e}").into()),
            _ => return Err(format!("{name} did not answer within 15 s").into()),
        }
    }
    let max_ms = times.iter().copied().fold(0.0, f64::max);
    Ok(ColdStart {
        function: name.into(),
        runs,
        median_ms: median(&mut times),
        max_ms,
        median_peak_rss_mib: median(&mut rss),
    })
}
