//! End to end with the real Prometheus tools (Debian's `prometheus` package,
//! 2.42): `promtool check metrics` accepts `GET /metrics`, and a real
//! Prometheus server scrapes `serve` and stores the fleet's series.
//!
//! Without the tools the tests skip loudly, unless
//! `LLM_METRICS_REQUIRE_PROMETHEUS=1` (set by `.ci/run`) makes that a failure.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{BUDGET, Prometheus, Serve, Upstream, encode, fixture, prometheus_tool};
use tokio::io::AsyncWriteExt;

async fn serve_with_targets() -> (Serve, Upstream, Upstream) {
    let vllm = Upstream::start(fixture("vllm_v1.prom")).await;
    let tgi = Upstream::start(fixture("tgi.prom")).await;
    let dir = std::env::temp_dir().join(format!("llm-metrics-serve-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("serve.toml");
    std::fs::write(
        &path,
        format!(
            "[[targets]]\nid = \"vllm-0\"\nurl = \"{}\"\ninterval = \"200ms\"\nlabels = {{ pool = \"a\" }}\n\
             [[targets]]\nid = \"tgi-0\"\nurl = \"{}\"\ninterval = \"200ms\"\n\
             [[targets]]\nid = \"down\"\nurl = \"http://127.0.0.1:1/metrics\"\ninterval = \"200ms\"\n",
            vllm.url("/metrics"),
            tgi.url("/metrics")
        ),
    )
    .unwrap();
    let serve = Serve::start(&["--config", path.to_str().unwrap()]).await;
    for id in ["vllm-0", "tgi-0"] {
        serve
            .wait_for(&format!("/api/v1/targets/{id}"), |v| {
                v["metrics"].is_object()
            })
            .await;
    }
    serve
        .wait_for("/api/v1/targets/down", |v| {
            v["health"]["last_error_kind"] == "connect"
        })
        .await;
    (serve, vllm, tgi)
}

#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let Some(promtool) = prometheus_tool("promtool") else {
        return;
    };
    let (serve, _v, _t) = serve_with_targets().await;
    let text = serve.get("/metrics").await.text;
    assert!(text.contains("llm_metrics_kv_cache_usage_ratio{"), "{text}");
    // Latency is re-exported as histograms with the engine's buckets, and the
    // `+Inf` bucket of each series is its `_count`.
    let ttft = "llm_metrics_time_to_first_token_seconds";
    assert!(text.contains(&format!("# TYPE {ttft} histogram")), "{text}");
    let value_of = |prefix: &str| -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| {
                let (series, v) = l.rsplit_once(' ').unwrap();
                (series.to_string(), v.parse::<f64>().unwrap())
            })
            .collect()
    };
    let buckets = value_of(&format!("{ttft}_bucket{{"));
    assert!(buckets.len() > 2, "engine buckets expected:\n{text}");
    let counts = value_of(&format!("{ttft}_count{{"));
    assert!(!counts.is_empty(), "{text}");
    for (series, count) in &counts {
        let labels = series.trim_start_matches(&format!("{ttft}_count{{"));
        let inf = buckets
            .iter()
            .find(|(b, _)| b.contains("le=\"+Inf\"") && b.contains(labels.trim_end_matches('}')))
            .unwrap_or_else(|| panic!("no +Inf bucket for {series}:\n{text}"));
        assert_eq!(inf.1, *count, "{series}");
    }
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .await
        .unwrap();
    let out = tokio::time::timeout(BUDGET, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lint findings are printed too; there must be none.
    assert!(
        out.status.success() && report.trim().is_empty(),
        "{report}\n{text}"
    );
}

#[tokio::test]
async fn prometheus_scrapes_serve() {
    let Some(prometheus) = prometheus_tool("prometheus") else {
        return;
    };
    let (serve, _v, _t) = serve_with_targets().await;
    let server = Prometheus::start(&prometheus, serve.addr, "serve-prometheus", false);
    let web = server.web;
    // The fleet's series, as Prometheus stored them (`instance` from serve is
    // kept as `exported_instance`, Prometheus' own rule for a clash).
    let query = "/api/v1/query?query=".to_string()
        + &encode("llm_metrics_requests_running{exported_instance=\"vllm-0\",pool=\"a\"}");
    let deadline = tokio::time::Instant::now() + BUDGET;
    let value = loop {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(web)).await
        {
            drop(stream);
            let r = common::request(web, "GET", &query, None, &[]).await;
            if r.status == 200 {
                let v = r.json();
                if let Some(sample) = v["data"]["result"].get(0) {
                    break sample["value"][1].as_str().unwrap().to_string();
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never stored the series"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let snap = serve.get("/api/v1/targets/vllm-0").await.json();
    let expected = snap["metrics"]["load"]["requests_running"]
        .as_f64()
        .unwrap();
    assert_eq!(value.parse::<f64>().unwrap(), expected);
    // And the scrape of serve itself was healthy.
    let up = common::request(
        web,
        "GET",
        &format!("/api/v1/query?query={}", encode("up{job=\"llm-metrics\"}")),
        None,
        &[],
    )
    .await;
    assert_eq!(
        up.json()["data"]["result"][0]["value"][1],
        "1",
        "{}",
        up.text
    );
}
