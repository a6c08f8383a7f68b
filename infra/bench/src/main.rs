//! `bench load` seeds a dataset through the gateway and drives wrk per route; `bench cold`
//! measures cold starts and package sizes of the release binaries; `bench report` writes
//! BENCHMARKS.md from their JSON. `infra/stack.sh bench` (make bench) runs all three.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bench::coldstart::{ColdStart, measure};
use bench::dataset::{Shape, seed};
use bench::wrk::{self, WrkResult};
use bench::{Api, admin_token, median};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn arg(args: &HashMap<String, String>, key: &str, default: &str) -> String {
    args.get(key).cloned().unwrap_or_else(|| default.to_string())
}

fn parse_args() -> (String, HashMap<String, String>, Vec<String>) {
    let mut all = std::env::args().skip(1);
    let command = all.next().unwrap_or_default();
    let mut named = HashMap::new();
    let mut repeated = Vec::new();
    let rest: Vec<String> = all.collect();
    let mut i = 0;
    while i < rest.len() {
        let key = rest[i].trim_start_matches("--").to_string();
        let value = rest.get(i + 1).cloned().unwrap_or_default();
        if key == "load" {
            repeated.push(value.clone());
        }
        named.insert(key, value);
        i += 2;
    }
    (command, named, repeated)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (command, args, loads) = parse_args();
    match command.as_str() {
        "load" => load(&args).await,
        "cold" => cold(&args).await,
        "report" => report(&args, &loads),
        _ => Err("usage: bench load|cold|report [--options]".into()),
    }
}

/// Fresh partner–event pairs reserved for each create-link run (more than a run can use).
const PAIRS_PER_RUN: usize = 20_000;

/// A benchmarked route: name, route key, wrk script, and one probe request (method, path, body).
struct BenchRoute {
    name: &'static str,
    route: &'static str,
    script: String,
    probe: (String, String, Option<Value>),
}

/// One route's figures: medians over the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RouteFigures {
    name: String,
    route: String,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    #[serde(default)]
    socket_errors: u64,
    items_read: Option<u64>,
    /// Capacity units of one request, as DynamoDB reported them.
    #[serde(default)]
    read_units: Option<f64>,
    #[serde(default)]
    write_units: Option<f64>,
    /// Write units the stream processor spent on that one write, off its request path (a write
    /// alone in its batch: the most a write costs it; under load batches share the cost).
    #[serde(default)]
    stream_write_units: Option<f64>,
    /// Bytes on the wire (gzipped where the client accepts it, as browsers do).
    answer_bytes: usize,
    /// One request on its own right after the seeding writes.
    single_request_ms: f64,
    /// A read right after a write (a link PATCH), alone: median and worst of the probes.
    #[serde(default)]
    after_write_ms: Option<(f64, f64)>,
    runs: Vec<WrkResultOut>,
}

/// The mixed load: 8 connections, a cycle of 9 reads over the read routes and 1 link PATCH.
#[allow(clippy::too_many_arguments)]
fn mixed_load(
    base: &str,
    dir: &Path,
    token: &str,
    partner_paths: &[String],
    event_paths: &[String],
    links: &[String],
    runs: usize,
    seconds: u32,
) -> Result<Value, BoxError> {
    let mut reads = vec![
        "/partnerships/partners".to_string(),
        "/partnerships/dashboard".to_string(),
        "/partnerships/events".to_string(),
    ];
    reads.extend(partner_paths.iter().take(3).cloned());
    reads.extend(event_paths.iter().take(3).cloned());
    let mixed_path = dir.join("mixed.lua");
    std::fs::write(&mixed_path, wrk::mixed(token, &reads, links))?;
    let mut mixed_runs = Vec::new();
    for _ in 0..runs {
        mixed_runs.push(wrk::run(base, &mixed_path, 8, seconds)?);
    }
    let pick = |f: fn(&WrkResult) -> f64| median(&mut mixed_runs.iter().map(f).collect::<Vec<_>>());
    let mixed = json!({
        "requestsPerSec": pick(|r| r.requests_per_sec),
        "p50Ms": pick(|r| r.p50_ms),
        "p90Ms": pick(|r| r.p90_ms),
        "p99Ms": pick(|r| r.p99_ms),
        "non2xx": mixed_runs.iter().map(|r| r.non_2xx).sum::<u64>(),
        "socketErrors": mixed_runs.iter().map(|r| r.socket_errors).sum::<u64>(),
    });
    eprintln!("mixed: {mixed}");
    Ok(mixed)
}

/// `(records delivered, write units)` of the local stack's stream processor so far.
async fn stream_stats(api: &Api) -> (u64, f64) {
    match api.expect("GET", "/_local/streams", None).await {
        Ok(answer) => (
            answer.body["records"].as_u64().unwrap_or(0),
            answer.body["writeUnits"].as_f64().unwrap_or(0.0),
        ),
        Err(_) => (0, 0.0),
    }
}

/// The processor's figures once it has delivered more than `past` records (any, when `None`)
/// and then been idle for half a second; `None` if that does not happen within `limit_secs`.
async fn idle_stream_stats(api: &Api, past: Option<u64>, limit_secs: u64) -> Option<(u64, f64)> {
    let started = Instant::now();
    let mut last = stream_stats(api).await;
    let mut still_since = Instant::now();
    while started.elapsed().as_secs() < limit_secs {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = stream_stats(api).await;
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if past.is_none_or(|p| last.0 > p) && still_since.elapsed().as_millis() >= 500 {
            return Some(last);
        }
    }
    None
}

/// Probes of "the first request after a write" per read route.
const AFTER_WRITE_PROBES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WrkResultOut {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

impl From<&WrkResult> for WrkResultOut {
    fn from(r: &WrkResult) -> Self {
        Self {
            requests_per_sec: r.requests_per_sec,
            p50_ms: r.p50_ms,
            p99_ms: r.p99_ms,
            non_2xx: r.non_2xx,
        }
    }
}

async fn load(args: &HashMap<String, String>) -> Result<(), BoxError> {
    let base = arg(args, "base", "http://127.0.0.1:3000");
    let scale: usize = arg(args, "scale", "1").parse()?;
    let runs: usize = arg(args, "runs", "3").parse()?;
    let seconds: u32 = arg(args, "seconds", "20").parse()?;
    let warmup: u32 = arg(args, "warmup", "5").parse()?;
    let out = PathBuf::from(arg(args, "out", "bench-results/load.json"));
    let api = Api::new(&base);
    let mut shape = Shape::scaled(scale);
    shape.link_targets = 40;
    let started = Instant::now();
    let data = seed(&api, shape).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    eprintln!("seeded {shape:?} in {seed_seconds:.1} s");
    // The dashboard reads what the stream processor derives from the links; measure from the
    // moment it has caught up with the seeding (and report how long that took).
    let caught_up = Instant::now();
    loop {
        let answer = api
            .expect("GET", "/partnerships/dashboard?year=all&includeArchived=true", None)
            .await?;
        if answer.body["totals"]["relationshipCount"].as_u64() == Some(data.link_ids.len() as u64) {
            break;
        }
        if caught_up.elapsed().as_secs() > 600 {
            eprintln!("the stream processor did not catch up with the seeding in 10 minutes; measuring anyway");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let stream_catch_up_seconds = Some(caught_up.elapsed().as_secs_f64()).filter(|s| *s <= 600.0);
    eprintln!("stream processor caught up after the seeding: {stream_catch_up_seconds:?} s");

    let token = admin_token();
    let partner_paths: Vec<String> = data
        .partner_ids
        .iter()
        .take(500)
        .map(|id| format!("/partnerships/partners/{id}"))
        .collect();
    let event_paths: Vec<String> = data
        .event_ids
        .iter()
        .map(|id| format!("/partnerships/events/{id}"))
        .collect();
    let links: Vec<String> = data.link_ids.iter().take(1000).cloned().collect();
    // Reads first (the writes below add data), then the writes.
    let route =
        |name: &'static str, route: &'static str, script: String, method: &str, path: String, body: Option<Value>| {
            BenchRoute {
                name,
                route,
                script,
                probe: (method.to_string(), path, body),
            }
        };
    let link_probe = format!("/partnerships/partners/{}/events", data.partner_ids[0]);
    let other_event = json!({"eventId": data.event_ids[data.event_ids.len() / 2 + 1]});
    let routes = vec![
        route(
            "list partners",
            "GET /partnerships/partners",
            wrk::rotating_get(&token, &["/partnerships/partners".into()]),
            "GET",
            "/partnerships/partners".into(),
            None,
        ),
        route(
            "partner detail",
            "GET /partnerships/partners/{id}",
            wrk::rotating_get(&token, &partner_paths),
            "GET",
            partner_paths[0].clone(),
            None,
        ),
        route(
            "dashboard",
            "GET /partnerships/dashboard",
            wrk::rotating_get(&token, &["/partnerships/dashboard".into()]),
            "GET",
            "/partnerships/dashboard".into(),
            None,
        ),
        route(
            "event detail",
            "GET /partnerships/events/{id}",
            wrk::rotating_get(&token, &event_paths),
            "GET",
            event_paths[0].clone(),
            None,
        ),
        route(
            "events list",
            "GET /partnerships/events",
            wrk::rotating_get(&token, &["/partnerships/events".into()]),
            "GET",
            "/partnerships/events".into(),
            None,
        ),
        route(
            "patch link",
            "PATCH /partnerships/partner-events/{id}",
            wrk::patch_link(&token, &links),
            "PATCH",
            format!("/partnerships/partner-events/{}", links[0]),
            Some(json!({"amount": 1234})),
        ),
        route(
            "create link",
            "POST /partnerships/partners/{id}/events",
            wrk::post_link(&token, &data.partner_ids, &data.target_event_ids, 0),
            "POST",
            link_probe,
            Some(other_event),
        ),
        route(
            "create partner",
            "POST /partnerships/partners",
            wrk::post_partner(&token),
            "POST",
            "/partnerships/partners".into(),
            Some(json!({"company": "Probe"})),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut figures = Vec::new();
    let mut mixed = Value::Null;
    for BenchRoute {
        name,
        route,
        script,
        probe: (method, path, body),
    } in routes
    {
        if name == "create link" {
            // The mixed load runs on the seeded dataset, before the create runs add thousands of
            // partners and links to it.
            mixed = mixed_load(&base, &dir, &token, &partner_paths, &event_paths, &links, runs, seconds)?;
        }
        // The processor first finishes what earlier runs left it, so the probe's cost is its own.
        let stream_before = if method == "GET" {
            (0, 0.0)
        } else {
            idle_stream_stats(&api, None, 120).await.unwrap_or_default()
        };
        let probe_started = Instant::now();
        let probe = api.send(&method, &path, body.as_ref()).await?;
        let single_request_ms = probe_started.elapsed().as_secs_f64() * 1000.0;
        let stream_write_units = if method == "GET" {
            None
        } else {
            idle_stream_stats(&api, Some(stream_before.0), 10)
                .await
                .map(|after| ((after.1 - stream_before.1) * 100.0).round() / 100.0)
        };
        // What a user meets on Lambda: a read right after somebody's write.
        let after_write_ms = if method == "GET" {
            let mut times = Vec::new();
            for n in 0..AFTER_WRITE_PROBES {
                let link = &links[n % links.len()];
                api.expect(
                    "PATCH",
                    &format!("/partnerships/partner-events/{link}"),
                    Some(&json!({"amount": 100 + n})),
                )
                .await?;
                let started = Instant::now();
                api.expect("GET", &path, None).await?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let worst = times.iter().copied().fold(0.0, f64::max);
            Some((median(&mut times), worst))
        } else {
            None
        };
        let script_path = dir.join(format!("{}.lua", name.replace(' ', "_")));
        std::fs::write(&script_path, script)?;
        if warmup > 0 {
            // A warm-up only warms: what it measured (or failed to) is not reported.
            let _ = wrk::run(&base, &script_path, 8, warmup);
        }
        let mut results: Vec<WrkResult> = Vec::new();
        for run in 0..runs {
            if name == "create link" {
                // wrk restarts the script each run: give every run its own fresh pairs.
                let offset = (run + 1) * PAIRS_PER_RUN;
                std::fs::write(
                    &script_path,
                    wrk::post_link(&token, &data.partner_ids, &data.target_event_ids, offset),
                )?;
            }
            results.push(wrk::run(&base, &script_path, 8, seconds)?);
        }
        let pick = |f: fn(&WrkResult) -> f64| median(&mut results.iter().map(f).collect::<Vec<_>>());
        let figure = RouteFigures {
            name: name.into(),
            route: route.into(),
            requests_per_sec: pick(|r| r.requests_per_sec),
            p50_ms: pick(|r| r.p50_ms),
            p99_ms: pick(|r| r.p99_ms),
            non_2xx: results.iter().map(|r| r.non_2xx).sum(),
            socket_errors: results.iter().map(|r| r.socket_errors).sum(),
            items_read: probe.items_read,
            read_units: probe.read_units,
            write_units: probe.write_units,
            stream_write_units,
            answer_bytes: probe.bytes,
            single_request_ms,
            after_write_ms,
            runs: results.iter().map(WrkResultOut::from).collect(),
        };
        eprintln!(
            "{name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, items read {:?}",
            figure.requests_per_sec, figure.p50_ms, figure.p99_ms, figure.items_read
        );
        figures.push(figure);
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let report = json!({"scale": scale, "shape": format!("{shape:?}"), "seedSeconds": seed_seconds, "streamCatchUpSeconds": stream_catch_up_seconds, "runs": runs, "seconds": seconds, "routes": figures, "mixed": mixed});
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Size of `bootstrap` (the binary) deflated in a zip, as Lambda is deployed.
fn zip_size(binary: &Path, dir: &Path) -> Result<u64, BoxError> {
    let zip = dir.join(format!(
        "{}.zip",
        binary.file_name().and_then(|n| n.to_str()).unwrap_or("fn")
    ));
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z: z.write(sys.argv[1], 'bootstrap')"])
        .arg(binary)
        .arg(&zip)
        .status()?;
    if !status.success() {
        return Err("zip failed".into());
    }
    Ok(file_size(&zip))
}

const FUNCTIONS: [(&str, &str); 7] = [
    ("partners", "partners/list"),
    ("events", "events/list"),
    ("links", "links/update"),
    ("documents", "documents/list"),
    ("communications", "communications/list"),
    ("reports", "reports/dashboard"),
    ("rollup", "rollup/schedule"),
];

async fn cold(args: &HashMap<String, String>) -> Result<(), BoxError> {
    let bin_dir = PathBuf::from(arg(args, "bin-dir", "target/release"));
    let events_dir = PathBuf::from(arg(args, "events-dir", "events"));
    let runs: usize = arg(args, "runs", "10").parse()?;
    let out = PathBuf::from(arg(args, "out", "bench-results/cold.json"));
    let env: Vec<(String, String)> = [
        "ENV",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "PARTNERSHIPS_ADMIN_DOMAINS",
    ]
    .iter()
    .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
    .collect();
    let dir = std::env::temp_dir().join(format!("bench-zip-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for (name, sample) in FUNCTIONS {
        let binary = bin_dir.join(name);
        let event = std::fs::read_to_string(events_dir.join(format!("{sample}.json")))?;
        let figures: ColdStart = measure(name, &binary, &event, &env, runs).await?;
        eprintln!(
            "{name}: cold start median {:.1} ms, peak RSS {:.1} MiB",
            figures.median_ms, figures.median_peak_rss_mib
        );
        rows.push(json!({"cold": figures, "binaryBytes": file_size(&binary), "zipBytes": zip_size(&binary, &dir)?}));
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&json!({"runs": runs, "functions": rows}))?,
    )?;
    Ok(())
}

/// The old Node.js service's figures on this machine class (issues 6 and 10) and our bars.
struct Bar {
    /// First request after a write: the old service (1×, 10×), our bar (1×, 10×), in ms.
    after_write: Option<(&'static str, f64, f64)>,
    /// Steady load: the old service's req/s at c=8 and ours to beat (writes).
    writes: Option<(f64, f64)>,
    /// Capacity: the old service's units per request and our most (RCU for reads, WCU for writes).
    capacity: Option<(&'static str, f64)>,
}

fn bar(name: &str) -> Bar {
    let none = Bar {
        after_write: None,
        writes: None,
        capacity: None,
    };
    match name {
        "list partners" => Bar {
            after_write: Some(("557 ms / 5.8 s", 150.0, 1500.0)),
            ..none
        },
        "dashboard" => Bar {
            after_write: Some(("414 ms / 15.4 s", 40.0, 60.0)),
            capacity: Some(("328 RCU", 32.8)),
            ..none
        },
        "event detail" => Bar {
            after_write: Some(("–", 30.0, f64::INFINITY)),
            ..none
        },
        "partner detail" => Bar {
            after_write: Some(("–", 10.0, f64::INFINITY)),
            ..none
        },
        "create partner" => Bar {
            writes: Some((665.0, 665.0)),
            capacity: Some(("1 WCU", 2.0)),
            ..none
        },
        "create link" => Bar {
            writes: Some((213.0, 213.0)),
            capacity: Some(("3 WCU", 6.0)),
            ..none
        },
        "patch link" => Bar {
            writes: Some((205.0, 205.0)),
            capacity: Some(("5 WCU", 10.0)),
            ..none
        },
        _ => none,
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "misses" }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem} RAM, shared by DynamoDB Local, the gateway and wrk")
}

/// Lambda arm64 price per GB-second and per request, and HTTP API price per request (us-west-2).
const ARM_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_PER_MILLION: f64 = 0.20;
const HTTP_API_PER_MILLION: f64 = 1.00;

fn report(args: &HashMap<String, String>, loads: &[String]) -> Result<(), BoxError> {
    let out = PathBuf::from(arg(args, "out", "BENCHMARKS.md"));
    let cold: Value = serde_json::from_str(&std::fs::read_to_string(arg(args, "cold", "bench-results/cold.json"))?)?;
    let mut by_scale: Vec<(u64, Value, Vec<RouteFigures>)> = Vec::new();
    for path in loads {
        let load: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let routes: Vec<RouteFigures> = serde_json::from_value(load["routes"].clone())?;
        by_scale.push((load["scale"].as_u64().unwrap_or(1), load, routes));
    }
    let find = |scale: u64, name: &str| {
        by_scale
            .iter()
            .find(|(s, _, _)| *s == scale)
            .and_then(|(_, _, routes)| routes.iter().find(|r| r.name == name))
    };
    let mut md = String::new();
    md.push_str(include_str!("../METHOD.md"));
    md.push_str(&format!(
        "\n## Machine\n\n{} — measured {}.\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d")
    ));

    md.push_str(&format!("\n## First request after a write\n\nWhat a user meets on Lambda: a read right after somebody's write (a link PATCH), one request at a time; median and worst of {AFTER_WRITE_PROBES}. Nothing is cached, so this is also every request's cost on a cold instance. Bytes are on the wire, gzipped as a browser accepts.\n\n| route | 1× median / worst ms | 10× median / worst ms | items read 1× / 10× | bytes 1× / 10× | old service 1× / 10× | bar 1× / 10× ms | verdict |\n|---|---|---|---|---|---|---|---|\n"));
    for name in [
        "list partners",
        "dashboard",
        "event detail",
        "partner detail",
        "events list",
    ] {
        let (one, ten) = (find(1, name), find(10, name));
        let cell = |r: Option<&RouteFigures>| {
            r.and_then(|r| r.after_write_ms)
                .map(|(m, w)| format!("{m:.1} / {w:.1}"))
                .unwrap_or_else(|| "–".into())
        };
        let items = |r: Option<&RouteFigures>| {
            r.and_then(|r| r.items_read)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into())
        };
        let bytes = |r: Option<&RouteFigures>| r.map(|r| r.answer_bytes.to_string()).unwrap_or_else(|| "–".into());
        let b = bar(name);
        let (reference, bar_text, ok) = match b.after_write {
            Some((reference, one_bar, ten_bar)) => {
                let within = |r: Option<&RouteFigures>, limit: f64| {
                    r.and_then(|r| r.after_write_ms).is_none_or(|(m, _)| m <= limit)
                };
                (
                    reference.to_string(),
                    format!(
                        "{one_bar} / {}",
                        if ten_bar.is_finite() {
                            ten_bar.to_string()
                        } else {
                            "–".into()
                        }
                    ),
                    Some(within(one, one_bar) && within(ten, ten_bar)),
                )
            }
            None => ("–".into(), "–".into(), None),
        };
        md.push_str(&format!(
            "| {name} | {} | {} | {} / {} | {} / {} | {reference} | {bar_text} | {} |\n",
            cell(one),
            cell(ten),
            items(one),
            items(ten),
            bytes(one),
            bytes(ten),
            ok.map(verdict).unwrap_or("–")
        ));
    }

    md.push_str("\n## Mixed load\n\nwrk, 8 connections, a cycle of 9 reads (directory, dashboard, events list, three partner and three event details) then 1 link PATCH, on the seeded dataset (before the create runs grow it).\n\n| scale | req/s | p50 ms | p90 ms | p99 ms | non-2xx / socket errors | old service | bar | verdict |\n|---|---|---|---|---|---|---|---|---|\n");
    for (scale, load, _) in &by_scale {
        let m = &load["mixed"];
        let (rps, p99) = (
            m["requestsPerSec"].as_f64().unwrap_or(0.0),
            m["p99Ms"].as_f64().unwrap_or(f64::INFINITY),
        );
        let judged = if *scale == 1 {
            verdict(rps >= 30.0 && p99 <= 500.0)
        } else {
            "(scale)"
        };
        md.push_str(&format!(
            "| {scale}× | {rps:.1} | {:.1} | {:.1} | {p99:.1} | {} / {} | {} | ≥ 30 req/s, p99 ≤ 500 ms | {judged} |\n",
            m["p50Ms"].as_f64().unwrap_or(0.0),
            m["p90Ms"].as_f64().unwrap_or(0.0),
            m["non2xx"],
            m["socketErrors"].as_u64().unwrap_or(0),
            if *scale == 1 { "6.0 req/s, p90 1.85 s" } else { "–" }
        ));
    }

    md.push_str("\n## Writes under load\n\nwrk, 8 connections, 1×; invariants kept (see the race tests).\n\n| route | req/s | p50 ms | p99 ms | non-2xx | old service req/s | verdict |\n|---|---|---|---|---|---|---|\n");
    for name in ["create partner", "create link", "patch link"] {
        if let (Some(r), Some((old, target))) = (find(1, name), bar(name).writes) {
            md.push_str(&format!(
                "| {name} | {:.0} | {:.2} | {:.2} | {} | {old:.0} | {} |\n",
                r.requests_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.non_2xx,
                verdict(r.requests_per_sec >= target)
            ));
        }
    }

    md.push_str("\n## Capacity units per request\n\nAs DynamoDB reports them (`ReturnConsumedCapacity: TOTAL` on every call, indexes included), one request after the seeding, 1× / 10×. *Stream processor* is what the same write then cost the stream processor, off the request path, measured alone in its batch (the most it costs; under load a batch of records shares one transaction).\n\n| route | read units | write units | stream processor write units | items read | old service | bar | verdict |\n|---|---|---|---|---|---|---|---|\n");
    let names: Vec<String> = by_scale
        .first()
        .map(|(_, _, r)| r.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    for name in &names {
        let (one, ten) = (find(1, name), find(10, name));
        let units = |f: fn(&RouteFigures) -> Option<f64>| {
            format!(
                "{} / {}",
                one.and_then(f).map(|u| format!("{u}")).unwrap_or_else(|| "–".into()),
                ten.and_then(f).map(|u| format!("{u}")).unwrap_or_else(|| "–".into())
            )
        };
        let b = bar(name);
        let (reference, limit, ok) = match b.capacity {
            Some((reference, limit)) => {
                let used = one
                    .and_then(|r| {
                        if b.writes.is_some() {
                            r.write_units
                        } else {
                            r.read_units
                        }
                    })
                    .unwrap_or(f64::INFINITY);
                (reference, format!("≤ {limit}"), Some(used <= limit))
            }
            None => ("–", "–".into(), None),
        };
        md.push_str(&format!(
            "| {name} | {} | {} | {} | {} / {} | {reference} | {limit} | {} |\n",
            units(|r| r.read_units),
            units(|r| r.write_units),
            units(|r| r.stream_write_units),
            one.and_then(|r| r.items_read)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
            ten.and_then(|r| r.items_read)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
            ok.map(verdict).unwrap_or("–")
        ));
    }

    let mut p50_by_route: HashMap<String, f64> = HashMap::new();
    for (scale, load, routes) in &by_scale {
        md.push_str(&format!(
            "\n## Steady load per route, {}× dataset\n\n`{}` — seeded through the public API in {:.0} s. wrk, 1 thread, 8 connections, {} s per run after a warm-up, median of {} runs. No answer is cached: every request reads DynamoDB.\n\n| route | req/s | p50 ms | p99 ms | non-2xx / socket errors |\n|---|---|---|---|---|\n",
            scale,
            load["shape"].as_str().unwrap_or(""),
            load["seedSeconds"].as_f64().unwrap_or(0.0),
            load["seconds"],
            load["runs"]
        ));
        for r in routes {
            md.push_str(&format!(
                "| {} `{}` | {:.0} | {:.2} | {:.2} | {} / {} |\n",
                r.name, r.route, r.requests_per_sec, r.p50_ms, r.p99_ms, r.non_2xx, r.socket_errors
            ));
            if *scale == 1 {
                p50_by_route.insert(r.name.clone(), r.p50_ms);
            }
        }
    }
    md.push_str("\n## Cold start and package size\n\nRelease profile (`opt-level = \"s\"`, LTO, `codegen-units = 1`, `panic = \"abort\"`, stripped), exec → first response through the local Runtime API, SDK client built and DynamoDB connection warmed during init.\n\n| function | cold start median ms | max ms | peak RSS MiB | binary bytes | zip bytes |\n|---|---|---|---|---|---|\n");
    for f in cold["functions"].as_array().into_iter().flatten() {
        let c = &f["cold"];
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.1} | {} | {} |\n",
            c["function"].as_str().unwrap_or(""),
            c["median_ms"].as_f64().unwrap_or(0.0),
            c["max_ms"].as_f64().unwrap_or(0.0),
            c["median_peak_rss_mib"].as_f64().unwrap_or(0.0),
            f["binaryBytes"],
            f["zipBytes"]
        ));
    }
    md.push_str("\nBar: ≤ 30 ms and ≤ 32 MiB (Node.js reference: 855 ms import, 155 MiB).\n");
    md.push_str("\n## Cost per 1M requests (128 MB, arm64)\n\nDuration taken as the route's p50 latency through the gateway (an upper bound on the Lambda's billed duration, which excludes the gateway); Lambda arm64 $0.0000133334 per GB-s, $0.20 per 1M requests; HTTP API $1.00 per 1M requests.\n\n| route | p50 ms | Lambda compute $ | Lambda requests $ | HTTP API $ | total $ |\n|---|---|---|---|---|---|\n");
    let mut names: Vec<&String> = p50_by_route.keys().collect();
    names.sort();
    for name in names {
        let ms = p50_by_route[name].max(1.0).ceil();
        let compute = 1_000_000.0 * ms / 1000.0 * 0.125 * ARM_GB_SECOND;
        md.push_str(&format!(
            "| {name} | {ms:.0} | {compute:.2} | {LAMBDA_PER_MILLION:.2} | {HTTP_API_PER_MILLION:.2} | {:.2} |\n",
            compute + LAMBDA_PER_MILLION + HTTP_API_PER_MILLION
        ));
    }
    md.push_str(include_str!("../FINDINGS.md"));
    std::fs::write(&out, md)?;
    Ok(())
}
