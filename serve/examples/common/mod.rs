//! What the service's benchmarks share: the stored history the history and
//! pages benchmarks generate (a real snapshot with its counters advanced per
//! scrape), the ~65 KB vLLM body and loopback upstream the load benchmarks
//! scrape, starting `serve`, a plain HTTP GET and a percentile. Each
//! benchmark uses part of it (`#[allow(dead_code)]` on its `mod common`).

use std::process::Stdio;

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use llm_metrics_host::wit::mapper::{Distribution, Snapshot};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The scrape interval the generated history uses.
pub const STEP_MS: i64 = 15_000;

/// Advances a distribution by `k` scrapes' worth of observations.
pub fn bump(d: &mut Option<Distribution>, k: f64) {
    if let Some(d) = d {
        d.count += 3.0 * k;
        d.sum += 0.7 * k;
        // The new observations land in the upper half of the buckets.
        let half = d.buckets.len() / 2;
        for b in d.buckets.iter_mut().skip(half) {
            b.count += 3.0 * k;
        }
    }
}

/// `base` as scrape number `i` of target `t`: counters advanced.
pub fn snapshot_at(base: &Snapshot, t: usize, i: i64, at_ms: i64) -> Snapshot {
    let mut s = base.clone();
    let k = i as f64 + t as f64 * 0.01;
    s.instance_id = format!("t{t:03}");
    s.collected_at_ms = u64::try_from(at_ms).unwrap();
    for v in [
        &mut s.totals.requests_succeeded,
        &mut s.totals.prompt_tokens,
        &mut s.totals.generation_tokens,
    ]
    .into_iter()
    .flatten()
    {
        *v += 17.0 * k;
    }
    s.load.requests_running = Some((i % 13) as f64);
    s.load.kv_cache_usage = Some((i % 100) as f64 / 100.0);
    bump(&mut s.latency.time_to_first_token_seconds, k);
    bump(&mut s.latency.inter_token_latency_seconds, k);
    bump(&mut s.latency.e2e_request_latency_seconds, k);
    bump(&mut s.latency.queue_time_seconds, k);
    s
}

/// The first ~65 KB of the vLLM fixture, cut at a line end.
pub fn vllm_body() -> Bytes {
    let full = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vllm_v1.prom"
    ))
    .expect("fixture");
    let cut = full[..65_000.min(full.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(full.len(), |i| i + 1);
    Bytes::from(full[..cut].to_vec())
}

/// A loopback axum server answering `GET route` with `body` as 0.0.4 text,
/// running until the process ends: its address.
pub async fn upstream(route: &str, body: Bytes) -> SocketAddr {
    let app = Router::new().route(
        route,
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `GET path` on a fresh connection: the status and the body's length.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, usize) {
    let (status, body) = get_body(addr, path).await;
    (status, body.len())
}

/// `GET path` on a fresh connection: the status and the body.
pub async fn get_body(addr: SocketAddr, path: &str) -> (u16, Bytes) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

/// The `q` quantile of `sorted` (nearest rank); NaN when it is empty.
pub fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// `serve_bin` started with `args` on a free loopback port: the process
/// (killed when dropped) and the address its first line names. Its stderr is
/// discarded, so it logs errors only (`RUST_LOG=error`).
pub async fn spawn_serve(serve_bin: &str, args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(serve_bin)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}
