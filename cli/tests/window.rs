//! `llm-metrics window` and `llm-metrics collect --interval`, through the
//! real binary and its embedded component. The fixtures and the expected
//! figures are in `tests/fixtures/EXPECTED.md` ("Windows").

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;

fn llm_metrics(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llm-metrics"))
        .args(args)
        .env(
            "XDG_CACHE_HOME",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
        )
        .output()
        .expect("run llm-metrics")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn close(v: &Value, expected: f64) {
    let a = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!(
        (a - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{a} != {expected}"
    );
}

/// A copy of a fixture in a fresh directory, modified at `at`.
fn copy_modified(name: &str, dir: &str, at: SystemTime) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name.rsplit('/').next().unwrap());
    std::fs::copy(fixture(name), &path).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(at)
        .unwrap();
    path
}

#[test]
fn window_of_two_saved_scrapes() {
    let (t0, t1) = (
        fixture("window/vllm_t0.prom"),
        fixture("window/vllm_t1.prom"),
    );
    let (t0, t1) = (t0.to_str().unwrap(), t1.to_str().unwrap());
    let out = llm_metrics(&["window", "--elapsed", "10s", t0, t1]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    close(&w["seconds"], 10.0);
    assert_eq!(w["engine"], "vllm");
    assert_eq!(w["restarted"], false);
    close(&w["rates"]["prompt_tokens"], 500.0);
    close(&w["rates"]["requests_succeeded"], 5.0);
    close(&w["rates"]["requests_failed"], 0.2);
    let ttft = &w["latency"]["time_to_first_token_seconds"];
    close(&ttft["count"], 50.0);
    close(&ttft["p50"], 0.2125);
    close(&ttft["p90"], 0.8125);
    assert_eq!(ttft["buckets"].as_array().unwrap().len(), 5);
    assert_eq!(ttft["buckets"][4]["le"], "+Inf");
    close(
        &w["engine_metrics"]["cache"]["prefix_cache_hits"]["value"],
        200.0,
    );
    assert!(w["engine_metrics"]["cache"].get("kv_cache_usage").is_none());

    let table = llm_metrics(&["window", "--elapsed", "10s", "--output", "table", t0, t1]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("prompt tokens /s"), "{text}");
    assert!(text.contains("500.000"), "{text}");
}

#[test]
fn window_length_from_modification_times() {
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_900_000);
    let t1 = copy_modified(
        "window/vllm_t1.prom",
        "mtimes",
        base + Duration::from_secs(10),
    );
    let t2 = copy_modified(
        "window/vllm_t2_restarted.prom",
        "mtimes",
        base + Duration::from_secs(30),
    );
    let (a, b) = (t1.to_str().unwrap(), t2.to_str().unwrap());
    let out = llm_metrics(&["window", a, b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    close(&w["seconds"], 20.0);
    assert_eq!(w["start"], "2025-11-23T12:13:30.000Z");
    assert_eq!(w["restarted"], true);
    assert_eq!(
        w["resets"][0],
        "process_start_time_seconds 1763800000 -> 1763803600"
    );
    close(&w["rates"]["prompt_tokens"], 60.0);

    // Swapped: the later file is older. A typed error, exit 1, with a hint.
    let out = llm_metrics(&["window", b, a]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with("error: not later: ") && err.contains("--elapsed"),
        "{err}"
    );
}

#[test]
fn window_errors_are_typed() {
    let t0 = fixture("window/vllm_t0.prom");
    let tgi = fixture("tgi.prom");
    let out = llm_metrics(&[
        "window",
        "--elapsed",
        "1s",
        t0.to_str().unwrap(),
        tgi.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: different engines: the snapshots are of different engines: vllm and tgi"
    );
    let missing = llm_metrics(&["window", t0.to_str().unwrap(), "/nonexistent.prom"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).starts_with("error: reading /nonexistent.prom"),
        "{}",
        stderr(&missing)
    );
    // Usage errors exit 2.
    assert_eq!(
        llm_metrics(&["window", t0.to_str().unwrap()]).status.code(),
        Some(2)
    );
    assert_eq!(
        llm_metrics(&["collect", "--count", "2", "http://127.0.0.1:1/metrics"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        llm_metrics(&[
            "collect",
            "--interval",
            "10ms",
            "http://127.0.0.1:1/metrics"
        ])
        .status
        .code(),
        Some(2)
    );
}

/// Serve the window fixtures in turn, one per request, then the last again.
fn serve_sequence() -> std::net::SocketAddr {
    let texts: Arc<Vec<Vec<u8>>> = Arc::new(
        [
            "window/vllm_t0.prom",
            "window/vllm_t1.prom",
            "window/vllm_t2_restarted.prom",
            "window/vllm_t3.prom",
        ]
        .iter()
        .map(|f| std::fs::read(fixture(f)).unwrap())
        .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let router = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let (texts, next) = (texts.clone(), next.clone());
                    async move {
                        let i = next.fetch_add(1, Ordering::SeqCst).min(texts.len() - 1);
                        (
                            [("content-type", "text/plain; version=0.0.4")],
                            texts[i].clone(),
                        )
                    }
                }),
            );
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn collect_every_interval_prints_json_lines() {
    let url = format!("http://{}/metrics", serve_sequence());
    let out = llm_metrics(&["collect", "--interval", "200ms", "--count", "3", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    // t0→t1, t1→t2 (restart), t2→t3: increases 5000, 1200, 2400 prompt tokens.
    for (w, (restarted, increase)) in
        lines
            .iter()
            .zip([(false, 5000.0), (true, 1200.0), (false, 2400.0)])
    {
        assert_eq!(w["restarted"], restarted, "{w}");
        let seconds = w["seconds"].as_f64().unwrap();
        assert!(seconds > 0.0, "{w}");
        close(
            &Value::from(w["rates"]["prompt_tokens"].as_f64().unwrap() * seconds),
            increase,
        );
    }
}

#[test]
fn collect_every_interval_as_a_table() {
    let url = format!("http://{}/metrics", serve_sequence());
    let out = llm_metrics(&[
        "collect",
        "--interval",
        "100ms",
        "--count",
        "2",
        "--output",
        "table",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    // Not a terminal: two tables one after the other, no escape codes.
    assert_eq!(text.matches("prompt tokens /s").count(), 2, "{text}");
    assert!(!text.contains('\x1b'));
    assert!(text.contains("restarted") && text.contains("yes: process_start_time_seconds"));
    // Each table opens with the latest load (t1, then t2), above the window.
    let tables: Vec<&str> = text.split("latest scrape").skip(1).collect();
    assert_eq!(tables.len(), 2, "{text}");
    for (table, (running, kv)) in tables.iter().zip([("4", "50.0 %"), ("1", "5.0 %")]) {
        let line = |name: &str| {
            table
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} line: {table}"))
                .split_at(name.len())
                .1
                .trim()
                .to_string()
        };
        assert_eq!(line("models"), "m");
        assert_eq!(line("requests running"), running);
        assert_eq!(line("requests waiting"), "0");
        assert_eq!(line("kv cache usage"), kv);
        assert!(table.lines().next().unwrap().ends_with(" ago)"), "{table}");
        assert!(
            table.find("requests running") < table.find("prompt tokens /s"),
            "the load comes above the window: {table}"
        );
    }
}

#[test]
fn collect_every_interval_reports_failures_and_goes_on() {
    // Nothing listens on port 1: every interval is an error line, exit 1.
    let out = llm_metrics(&[
        "collect",
        "--interval",
        "100ms",
        "--count",
        "2",
        "--timeout",
        "1s",
        "http://127.0.0.1:1/metrics",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.lines().all(|l| l.starts_with("error: connect")),
        "{err}"
    );
}
