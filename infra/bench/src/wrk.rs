//! wrk scripts for the benchmarked routes and the parsing of wrk's `--latency` report.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::BoxError;

/// What one wrk run measured.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

fn lua_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("{{{}}}", quoted.join(","))
}

fn header(token: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = {token:?}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Accept-Encoding\"] = \"gzip\"\n"
    )
}

/// GETs that rotate through `paths`.
pub fn rotating_get(token: &str, paths: &[String]) -> String {
    format!(
        "{}local paths = {}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
        header(token),
        lua_list(paths)
    )
}

/// A POST of a fresh partner each time.
pub fn post_partner(token: &str) -> String {
    format!(
        "{}local i = 0\nrequest = function()\n  i = i + 1\n  local body = '{{\"company\":\"Bench Co ' .. i .. '\",\"contactName\":\"Load\",\"tags\":[\"bench\"]}}'\n  return wrk.format(\"POST\", \"/partnerships/partners\", nil, body)\nend\n",
        header(token)
    )
}

/// POSTs of links, each a fresh (partner, target event) pair, starting at pair `offset` (each
/// run gets its own range: wrk restarts the script's state every run).
pub fn post_link(token: &str, partners: &[String], targets: &[String], offset: usize) -> String {
    format!(
        "{}local partners = {}\nlocal targets = {}\nlocal i = {offset}\nrequest = function()\n  local p = partners[(i % #partners) + 1]\n  local e = targets[(math.floor(i / #partners) % #targets) + 1]\n  i = i + 1\n  local body = '{{\"eventId\":\"' .. e .. '\",\"status\":\"pitched\",\"packageTier\":\"gold\"}}'\n  return wrk.format(\"POST\", \"/partnerships/partners/\" .. p .. \"/events\", nil, body)\nend\n",
        header(token),
        lua_list(partners),
        lua_list(targets)
    )
}

/// The mixed load: 9 reads rotating through `reads`, then one PATCH of a link (rotating
/// through `links`), and again — a user browsing while others edit.
pub fn mixed(token: &str, reads: &[String], links: &[String]) -> String {
    format!(
        "{}local reads = {}\nlocal links = {}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  if i % 10 == 0 then\n    local body = '{{\"amount\":' .. (1000 + i % 5000) .. '}}'\n    return wrk.format(\"PATCH\", \"/partnerships/partner-events/\" .. links[(math.floor(i / 10) % #links) + 1], nil, body)\n  end\n  return wrk.format(\"GET\", reads[(i % #reads) + 1])\nend\n",
        header(token),
        lua_list(reads),
        lua_list(links)
    )
}

/// PATCHes of link amounts and statuses, rotating through `links`.
pub fn patch_link(token: &str, links: &[String]) -> String {
    format!(
        "{}local links = {}\nlocal statuses = {{\"pitched\",\"confirmed\",\"paid\",\"declined\"}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  local body = '{{\"amount\":' .. (1000 + i % 5000) .. ',\"status\":\"' .. statuses[(i % 4) + 1] .. '\"}}'\n  return wrk.format(\"PATCH\", \"/partnerships/partner-events/\" .. links[(i % #links) + 1], nil, body)\nend\n",
        header(token),
        lua_list(links)
    )
}

fn duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

/// Parses `wrk --latency` output.
pub fn parse(output: &str) -> Option<WrkResult> {
    let mut result = WrkResult::default();
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("50%") {
            result.p50_ms = duration_ms(rest)?;
        } else if let Some(rest) = line.strip_prefix("90%") {
            result.p90_ms = duration_ms(rest)?;
        } else if let Some(rest) = line.strip_prefix("99%") {
            result.p99_ms = duration_ms(rest)?;
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            result.requests_per_sec = rest.trim().parse().ok()?;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            result.non_2xx = rest.trim().parse().ok()?;
        } else if line.contains("requests in") {
            result.requests = line.split_whitespace().next()?.parse().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            result.socket_errors = rest
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        }
    }
    // A run where nothing finished (every request over wrk's 2 s timeout) is a figure too.
    let finished = output.contains("requests in");
    (result.requests_per_sec > 0.0 || finished).then_some(result)
}

/// Runs wrk with one thread and `connections` connections for `seconds` against `base`.
pub fn run(base: &str, script: &Path, connections: u32, seconds: u32) -> Result<WrkResult, BoxError> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(base)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text).ok_or_else(|| {
        format!(
            "unreadable wrk output: {text} {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_latency_reports() {
        let output = "Running 20s test @ http://127.0.0.1:3000\n  1 threads and 8 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency     2.10ms    1.02ms  30.00ms   90.00%\n  Latency Distribution\n     50%  812.00us\n     75%    2.00ms\n     90%    3.00ms\n     99%    1.20s\n  40123 requests in 20.00s, 10.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 7\nRequests/sec:   2006.15\nTransfer/sec:    512.00KB\n";
        let r = parse(output).unwrap();
        assert_eq!(r.p50_ms, 0.812);
        assert_eq!(r.p90_ms, 3.0);
        assert_eq!(r.p99_ms, 1200.0);
        assert_eq!(r.requests_per_sec, 2006.15);
        assert_eq!(r.requests, 40123);
        assert_eq!(r.non_2xx, 7);
        assert_eq!(r.socket_errors, 3);
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn scripts_embed_their_inputs() {
        let s = post_link("Bearer x", &["p1".into()], &["e1".into()], 7);
        assert!(s.contains("local i = 7"));
        assert!(s.contains("{\"p1\"}") && s.contains("{\"e1\"}") && s.contains("\"Bearer x\""));
        assert!(rotating_get("t", &["/a".into(), "/b".into()]).contains("{\"/a\",\"/b\"}"));
    }
}
