//! The README's `wasmtime serve -Scli -Shttp --addr 127.0.0.1:PORT
//! llm-metrics.wasm`, run with the real wasmtime CLI (the version the host
//! crates pin) and driven over real HTTP against loopback servers: engines,
//! map and collect answer what the host library's JSON is (time aside), and
//! the error cases answer the same problems as under our own host
//! (`service.rs`) and `jco serve` (`tests/node/serve.test.mjs`).
//!
//! The CLI is not part of the repository: `LLM_METRICS_WASMTIME_CLI` names
//! its binary (`.ci/run` installs it with `cargo install --root`). Without
//! it these tests print `SKIPPED …` with how to get it and pass, unless
//! `LLM_METRICS_REQUIRE_WASMTIME_CLI=1` (set by `.ci/run`) makes that a
//! failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llm_metrics_host::{COMPONENT_PATH, json};

use crate::common::{fixture, plugin};
use crate::service::{
    Answer, FIXTURES, as_sent, assert_problem, collected, timeless, upstream, urlencode,
};

/// The wasmtime version the host crates are built on (Cargo.toml's pin).
const PINNED: &str = "48.0.8";

/// The wasmtime CLI named by `LLM_METRICS_WASMTIME_CLI`, or `None` (skip).
fn wasmtime_cli() -> Option<PathBuf> {
    let how = format!(
        "set LLM_METRICS_WASMTIME_CLI to a wasmtime {PINNED} binary, e.g. after \
         `cargo install wasmtime-cli --version {PINNED} --locked --no-default-features \
         --features serve,run,cranelift,component-model-async,pooling-allocator --root target/wasmtime-cli` \
         (target/wasmtime-cli/bin/wasmtime)"
    );
    let Some(path) = std::env::var_os("LLM_METRICS_WASMTIME_CLI").map(PathBuf::from) else {
        assert!(
            std::env::var("LLM_METRICS_REQUIRE_WASMTIME_CLI").as_deref() != Ok("1"),
            "LLM_METRICS_REQUIRE_WASMTIME_CLI=1 but the wasmtime CLI is not given: {how}"
        );
        eprintln!("SKIPPED wasmtime serve: no wasmtime CLI; {how}");
        return None;
    };
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; {how}", path.display()));
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!("wasmtime {PINNED}")),
        "{} is `{}`, not wasmtime {PINNED}",
        path.display(),
        version.trim()
    );
    Some(path)
}

/// `wasmtime serve` on an ephemeral loopback port, stopped when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    /// The README's command, exactly (the port picked by the OS).
    fn start(cli: &PathBuf) -> Served {
        let mut child = Command::new(cli)
            .args([
                "serve",
                "-Scli",
                "-Shttp",
                "--addr",
                "127.0.0.1:0",
                COMPONENT_PATH,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wasmtime serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("wasmtime serve said where it listens")
                .unwrap();
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                break rest.trim_end_matches('/').parse().unwrap();
            }
        };
        // Keep draining its log, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Served { child, addr }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request (`connection: close`) on a blocking socket, read to
/// the end. Run off the async runtime, which serves the upstream.
async fn request(addr: SocketAddr, method: &'static str, path: String, body: Vec<u8>) -> Answer {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The service may answer (413) before reading all of a large body.
        let _ = stream.write_all(&body);
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_reply(&raw, &path)
    })
    .await
    .unwrap()
}

fn parse_reply(raw: &[u8], path: &str) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: no header end in {}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers = lines.filter_map(|l| l.split_once(':'));
    let mut header = |name: &str| {
        headers
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let allow = header("allow");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    Answer {
        status,
        content_type,
        allow,
        json,
        text: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A chunked body's data.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&rest[..eol]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[eol + 2 + size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_serve_answers_engines_map_and_collect_as_the_cli() {
    let Some(cli) = wasmtime_cli() else { return };
    let served = Served::start(&cli);
    let addr = served.addr;

    let engines = request(addr, "GET", "/engines".into(), Vec::new()).await;
    assert_eq!(
        (engines.status, engines.content_type.as_str()),
        (200, "application/json")
    );
    let expected = json::engines(&plugin().engines().await.unwrap());
    assert_eq!(engines.json, as_sent(&expected));

    for name in FIXTURES {
        let text = fixture(name);
        let answer = request(addr, "POST", "/map?instance_id=pod-7".into(), text.clone()).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.json);
        let direct = plugin()
            .map(&text, None, "auto", "pod-7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            timeless(answer.json),
            timeless(as_sent(&json::snapshot(&direct))),
            "{name}"
        );
    }

    let up = upstream().await;
    let url = format!("http://{up}/metrics");
    let answer = request(
        addr,
        "GET",
        format!("/collect?url={}", urlencode(&url)),
        Vec::new(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["endpoint"], url.as_str());
    assert_eq!(answer.json["instance_id"], up.to_string().as_str());
    // The same document the host library's own collect gives.
    assert_eq!(timeless(answer.json), collected(&url, "auto").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_serve_answers_typed_problems() {
    let Some(cli) = wasmtime_cli() else { return };
    let served = Served::start(&cli);
    let addr = served.addr;
    let up = upstream().await;
    let get = |path: String| request(addr, "GET", path, Vec::new());
    let collect = |path: &str, extra: &str| {
        format!(
            "/collect?url={}{extra}",
            urlencode(&format!("http://{up}{path}"))
        )
    };

    let missing = get(collect("/missing", "")).await;
    assert_problem(&missing, 502, "http-status");
    assert!(missing.json["detail"].as_str().unwrap().contains("404"));
    let started = Instant::now();
    assert_problem(
        &get(collect("/stall", "&timeout_ms=500")).await,
        504,
        "timeout",
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_problem(
        &get(collect("/metrics", "&engine=nope")).await,
        404,
        "unknown-engine",
    );
    assert_problem(
        &get(collect("/metrics", "&timeout_ms=soon")).await,
        400,
        "invalid-parameter",
    );
    assert_problem(&get("/collect".into()).await, 400, "missing-parameter");
    assert_problem(
        &get("/collect?url=ftp%3A%2F%2Fx%2F".into()).await,
        422,
        "invalid-url",
    );

    let post = |path: &str, body: Vec<u8>| request(addr, "POST", path.to_string(), body);
    assert_problem(
        &post("/map?engine=nope", fixture("tgi.prom")).await,
        404,
        "unknown-engine",
    );
    let bad = post("/map", b"metric{le=\"1\" 2\n".to_vec()).await;
    assert_problem(&bad, 422, "parse");
    assert!(
        bad.json["detail"]
            .as_str()
            .unwrap()
            .contains("line 1, column")
    );
    assert_problem(
        &post("/map", vec![b'#'; (16 << 20) + 1]).await,
        413,
        "body-too-large",
    );
    assert_problem(&get("/".into()).await, 404, "not-found");
    let wrong = get("/map".into()).await;
    assert_problem(&wrong, 405, "method-not-allowed");
    assert_eq!(wrong.allow.as_deref(), Some("POST"));
}
