//! The CLI contract, through the real `llm-metrics` binary and its embedded
//! component: JSON shapes, error lines, exit statuses, the compile cache.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-cache")
}

fn llm_metrics(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-metrics"))
        .args(args)
        .env("XDG_CACHE_HOME", cache_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llm-metrics");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

#[test]
fn parse_prints_the_documented_json() {
    let text = b"# HELP tgi_queue_size Current queue size\n# TYPE tgi_queue_size gauge\ntgi_queue_size 2\n\
x{a=\"1\",b=\"two\"} NaN 1700000000000\ny +Inf\nz -Inf\n";
    let out = llm_metrics(&["parse", "-"], Some(text));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        json!([
            {"name": "tgi_queue_size", "type": "gauge", "help": "Current queue size", "unit": null,
             "samples": [{"name": "tgi_queue_size", "labels": {}, "value": 2.0}]},
            {"name": "x", "type": "untyped", "help": null, "unit": null,
             "samples": [{"name": "x", "labels": {"a": "1", "b": "two"}, "value": "NaN", "timestamp_ms": 1700000000000i64}]},
            {"name": "y", "type": "untyped", "help": null, "unit": null,
             "samples": [{"name": "y", "labels": {}, "value": "+Inf"}]},
            {"name": "z", "type": "untyped", "help": null, "unit": null,
             "samples": [{"name": "z", "labels": {}, "value": "-Inf"}]},
        ])
    );
    // Label order is the input's.
    let raw = String::from_utf8(out.stdout).unwrap();
    assert!(raw.contains(r#"{"a":"1","b":"two"}"#), "{raw}");
}

/// Issue 6: blanks inside a label set lost the labels. Every label must come
/// back, in both modes, through the real binary and component.
#[test]
fn parse_keeps_every_label_of_a_label_set_with_blanks() {
    let cases: [(&[u8], Value); 2] = [
        (b"x{q= \"1.0\"} 1\n", json!({"q": "1.0"})),
        (
            b"{ \"x\", q= \"1.0\", a= \"b\", } 1\n",
            json!({"q": "1.0", "a": "b"}),
        ),
    ];
    for (text, labels) in cases {
        for strict in [false, true] {
            let args: &[&str] = if strict {
                &["parse", "--strict", "-"]
            } else {
                &["parse", "-"]
            };
            let out = llm_metrics(args, Some(text));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc[0]["name"], "x");
            assert_eq!(doc[0]["samples"][0]["labels"], labels, "strict={strict}");
        }
    }
}

#[test]
fn parse_openmetrics_from_a_file_with_exemplar() {
    let path = temp_file(
        "om.txt",
        b"# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1 # {trace_id=\"x\"} 0.5 1.5\n# EOF\n",
    );
    let out = llm_metrics(&["parse", "--strict", path.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc[0]["type"], "counter");
    assert_eq!(doc[0]["unit"], "seconds");
    assert_eq!(doc[0]["samples"][0]["name"], "a_seconds_total");
    assert_eq!(
        doc[0]["samples"][0]["exemplar"],
        json!({"labels": {"trace_id": "x"}, "value": 0.5, "timestamp_ms": 1500})
    );
}

#[test]
fn parse_error_is_one_line_on_stderr_and_exit_1() {
    let out = llm_metrics(&["parse"], Some(b"a 1\nb 2\nc{d=1} 3\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: line 3, column 5: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn strict_flag_and_format_flag_change_the_verdict() {
    let text = b"# TYPE a counter\na_total -1\n# EOF\n";
    assert!(llm_metrics(&["parse"], Some(text)).status.success());
    let strict = llm_metrics(
        &["parse", "--strict", "--format", "openmetrics"],
        Some(text),
    );
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn check_reports_one_line_per_file_and_fails_on_any_invalid() {
    let good = fixture("vllm_v1.prom");
    let bad = temp_file("bad.prom", b"ok 1\nbad{ 1\n");
    let out = llm_metrics(
        &["check", good.to_str().unwrap(), bad.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].contains("vllm_v1.prom: OK: ")
            && lines[0].contains(" families, ")
            && lines[0].contains(" bytes, parsed in "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("bad.prom: FAILED: line 2, column "),
        "{}",
        lines[1]
    );

    let only_good = llm_metrics(&["check", good.to_str().unwrap()], None);
    assert!(only_good.status.success());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(
        llm_metrics(&["parse", "--no-such-flag"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(llm_metrics(&["collect"], None).status.code(), Some(2));
    let help = llm_metrics(&["--help"], None);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for word in ["parse", "check", "collect", "--component", "Exit status"] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}

#[test]
fn compiled_component_is_cached() {
    let out = llm_metrics(&["parse"], Some(b"a 1\n"));
    assert!(out.status.success());
    let dir = cache_dir().join("llm-metrics");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e.file_name().to_string_lossy().ends_with(".cwasm")),
        "{}",
        dir.display()
    );
}

#[test]
fn another_component_file_can_be_loaded() {
    let path = temp_file("plugin.wasm", llm_metrics_host::EMBEDDED_COMPONENT);
    let out = llm_metrics(
        &["--component", path.to_str().unwrap(), "parse"],
        Some(b"a 1\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let not_wasm = temp_file("not.wasm", b"not a component");
    let out = llm_metrics(
        &["--component", not_wasm.to_str().unwrap(), "parse"],
        Some(b"a 1\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: loading the plugin"));
}

/// Serve `body` at `/metrics` (and 404 elsewhere) on loopback from a
/// background runtime for the rest of the test process.
fn serve(body: Vec<u8>) -> std::net::SocketAddr {
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
                    let body = body.clone();
                    async move { ([("content-type", "text/plain; version=0.0.4")], body) }
                }),
            );
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn collect_prints_a_snapshot_as_json_and_as_a_table() {
    let addr = serve(std::fs::read(fixture("vllm_v1.prom")).unwrap());
    let url = format!("http://{addr}/metrics");
    let out = llm_metrics(
        &["collect", "--timeout", "5s", "--max-body", "4MiB", &url],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "instance_id",
        "endpoint",
        "engine",
        "collected_at",
        "model_names",
        "load",
        "totals",
        "latency",
        "engine_metrics",
    ] {
        assert!(doc.get(key).is_some(), "snapshot lacks {key}: {doc}");
    }
    assert!(doc.get("raw_metrics").is_none());
    assert_eq!(doc["engine"], "vllm");
    assert_eq!(doc["instance_id"], addr.to_string());
    assert_eq!(doc["endpoint"], url);
    assert_eq!(doc["content_type"], "text/plain; version=0.0.4");
    for key in ["count", "sum", "mean", "p50", "p90", "p99"] {
        assert!(
            doc["latency"]["e2e_request_latency_seconds"]
                .get(key)
                .is_some(),
            "{key}"
        );
    }

    let raw = llm_metrics(&["collect", "--raw", "--instance-id", "node-1", &url], None);
    let doc: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(doc["instance_id"], "node-1");
    assert!(doc["raw_metrics"].as_array().is_some_and(|a| !a.is_empty()));

    let table = llm_metrics(&["collect", "--output", "table", &url], None);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("requests running") && text.contains("kv cache usage"),
        "{text}"
    );
}

#[test]
fn collect_failures_exit_1_with_a_typed_error() {
    let addr = serve(std::fs::read(fixture("vllm_v1.prom")).unwrap());
    let missing = llm_metrics(&["collect", &format!("http://{addr}/nope")], None);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "error: HTTP status 404"
    );
    let capped = llm_metrics(
        &[
            "collect",
            "--max-body",
            "1KB",
            &format!("http://{addr}/metrics"),
        ],
        None,
    );
    assert_eq!(capped.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&capped.stderr).trim(),
        "error: body too large: over the 1000-byte cap"
    );
    let bad_url = llm_metrics(&["collect", "ftp://example.com/metrics"], None);
    assert_eq!(bad_url.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_url.stderr).starts_with("error: invalid URL: "));
}

#[test]
fn map_prints_the_snapshot_of_a_saved_exposition() {
    let path = fixture("tgi.prom");
    let out = llm_metrics(&["map", path.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["engine"], "tgi");
    assert_eq!(doc["endpoint"], "");
    assert_eq!(doc["instance_id"], path.display().to_string());
    assert_eq!(doc["load"]["requests_running"], 12.0);
    assert_eq!(doc["latency"]["time_to_first_token_seconds"], Value::Null);
    assert_eq!(
        doc["engine_metrics"]["request"]["failures_by_err"]["by"],
        "err"
    );

    let not_engine = llm_metrics(&["map", "--instance-id", "x"], Some(b"go_goroutines 3\n"));
    assert_eq!(not_engine.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&not_engine.stderr);
    assert!(
        stderr.starts_with("error: unrecognized engine: looked for "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("unrecognized engine").count(), 1, "{stderr}");
}

#[test]
fn engine_ids_come_from_the_plugin() {
    let out = llm_metrics(&["engines"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "vllm",
            "tgi",
            "sglang",
            "llamacpp",
            "triton",
            "trtllm-serve"
        ]
    );
    assert_eq!(doc[2]["prefixes"], json!(["sglang:"]));
    assert!(
        doc[3]["aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("llamacpp:n_past_max -> llamacpp:n_tokens_max"))
    );

    let table = llm_metrics(&["engines", "--output", "table"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("trtllm-serve  TensorRT-LLM trtllm-serve"),
        "{text}"
    );

    // Any listed id is accepted; anything else is a usage error naming the ids.
    let path = fixture("sglang_v0_5.prom");
    let out = llm_metrics(&["map", "--engine", "sglang", path.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["engine"], "sglang");
    assert_eq!(doc["load"]["kv_cache_capacity_tokens"], 524_288.0);
    assert_eq!(doc["load"]["data_parallel_ranks"], 2);
    assert_eq!(doc["load"]["max_lora"], Value::Null);
    assert_eq!(doc["load"]["running_lora_adapters"], Value::Null);

    let bad = llm_metrics(
        &["map", "--engine", "sglang2", path.to_str().unwrap()],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("unknown engine `sglang2`"), "{stderr}");
    assert!(
        stderr.contains("auto, vllm, tgi, sglang, llamacpp, triton, trtllm-serve"),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty());
}

#[test]
fn mixed_engines_are_refused_with_both_named() {
    let mut text = std::fs::read(fixture("vllm_v1.prom")).unwrap();
    text.extend(std::fs::read(fixture("triton_trtllm.prom")).unwrap());
    let out = llm_metrics(&["map", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: mixed engines: families of vllm and triton"),
        "{stderr}"
    );
    let out = llm_metrics(&["map", "--engine", "triton", "-"], Some(&text));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["load"]["requests_running"], 14.0);
}

#[test]
fn serve_subcommand_runs_the_service() {
    use std::io::{BufRead, BufReader, Read};
    /// Killed however the test ends.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-metrics"))
        .args(["serve", "--listen", "127.0.0.1:0", "--allow", "127.0.0.1"])
        .env("XDG_CACHE_HOME", cache_dir())
        // Its own history database, never the user's data directory.
        .env(
            "LLM_METRICS_DB",
            std::env::temp_dir().join(format!(
                "llm-metrics-cli-serve-{}.sqlite3",
                std::process::id()
            )),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn llm-metrics serve");
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /api/v1/targets HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"targets": []})
    );
}

/// A quantile in the first bucket is shown as what is known (`≤ 0.3`), not
/// as the interpolated half of the bucket; the JSON keeps both.
#[test]
fn the_table_shows_a_first_bucket_quantile_as_its_bound() {
    let text = b"\
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_bucket{engine=\"0\",le=\"0.3\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_count{engine=\"0\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_sum{engine=\"0\",model_name=\"m\"} 0.000138
";
    let table = llm_metrics(&["map", "--output", "table", "-"], Some(text));
    assert!(table.status.success());
    let out = String::from_utf8(table.stdout).unwrap();
    let queue = out.lines().find(|l| l.starts_with("queue time")).unwrap();
    assert!(queue.contains("p50 ≤ 0.3  p90 ≤ 0.3  p99 ≤ 0.3"), "{queue}");

    let json = llm_metrics(&["map", "-"], Some(text));
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    let q = &doc["latency"]["queue_time_seconds"];
    assert_eq!(q["p50"], json!(0.15));
    assert_eq!(q["p50_bucket"], json!({"lower": 0.0, "upper": 0.3}));
    assert_eq!(doc["totals"]["prompt_tokens_cached"], Value::Null);
}

/// The shared engine pools instances; where its address space cannot be
/// reserved (here `ulimit -v` of 16 GiB), it allocates on demand and the
/// answer is the same.
#[test]
fn map_answers_the_same_without_address_space_for_the_pool() {
    let file = fixture("vllm_v1.prom");
    let file = file.to_str().unwrap();
    let pooled = llm_metrics(&["map", "--instance-id", "v", file], None);
    assert!(
        pooled.status.success(),
        "{}",
        String::from_utf8_lossy(&pooled.stderr)
    );
    let limited = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 16777216 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_llm-metrics"),
            "map",
            "--instance-id",
            "v",
            file,
        ])
        .env("XDG_CACHE_HOME", cache_dir())
        .output()
        .unwrap();
    assert!(
        limited.status.success(),
        "{}",
        String::from_utf8_lossy(&limited.stderr)
    );
    let strip = |out: &[u8]| {
        let mut v: Value = serde_json::from_slice(out).unwrap();
        v["collected_at"] = Value::Null;
        v
    };
    assert_eq!(strip(&limited.stdout), strip(&pooled.stdout));
    assert_eq!(strip(&pooled.stdout)["engine"], "vllm");
}
