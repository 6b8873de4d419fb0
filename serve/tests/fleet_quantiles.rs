//! End to end: fleet-wide latency per model in `GET /api/v1/fleet/window`
//! from a real `llm-metrics-serve` scraping instances of one model whose
//! TTFT histograms advance differently: the buckets' rates summed over the
//! instances, then quantiles, as a real Prometheus computes
//! `histogram_quantile(q, sum by (le, model) (rate(x_bucket[w])))` over
//! serve's `/metrics`; an instance with another bucket layout is reported,
//! not mixed in.
//!
//! Each upstream's counters grow linearly with wall-clock time, so the
//! expected figures are hand-computed whatever the scrape times:
//! instance `a` observes 10/s in (0.1, 0.5]; `b` observes 2/s in
//! (0.1, 0.5] and 5/s in (0.5, 1]. Summed: 0.1 → 0, 0.5 → 12, 1 → 17,
//! +Inf → 17 per second, so p50 = 0.1 + 0.4 × 8.5/12, p90 = 0.5 + 0.5 ×
//! 3.3/5, p99 = 0.5 + 0.5 × 4.83/5; `a` alone has p50 0.3, `b` alone 0.65.

mod common;

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use common::{BUDGET, Prometheus, Serve, encode, prometheus_tool};
use serde_json::Value;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A vLLM-shaped upstream of model `m` whose TTFT bucket `le` gains
/// `rate` observations per second (cumulative rates, `+Inf` last), each
/// observation worth `value` seconds on average.
async fn upstream(buckets: &'static [(&'static str, f64)], value: f64) -> String {
    let t0 = now_ms();
    let app = Router::new().route(
        "/metrics",
        get(move || async move {
            let t = (now_ms() - t0) as f64 / 1000.0;
            let labels = "engine=\"0\",model_name=\"m\"";
            let mut body = format!(
                "# TYPE vllm:generation_tokens_total counter\n\
                 vllm:generation_tokens_total{{{labels}}} {g}\n\
                 # TYPE vllm:num_requests_running gauge\n\
                 vllm:num_requests_running{{{labels}}} 1\n\
                 # TYPE vllm:time_to_first_token_seconds histogram\n",
                g = 10.0 * t
            );
            for (le, rate) in buckets {
                body.push_str(&format!(
                    "vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"{le}\",model_name=\"m\"}} {}\n",
                    rate * t
                ));
            }
            let count = buckets.last().unwrap().1 * t;
            body.push_str(&format!(
                "vllm:time_to_first_token_seconds_count{{{labels}}} {count}\n\
                 vllm:time_to_first_token_seconds_sum{{{labels}}} {}\n",
                value * count
            ));
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/metrics")
}

const A: &[(&str, f64)] = &[("0.1", 0.0), ("0.5", 10.0), ("1", 10.0), ("+Inf", 10.0)];
const B: &[(&str, f64)] = &[("0.1", 0.0), ("0.5", 2.0), ("1", 7.0), ("+Inf", 7.0)];
/// Another layout (bounds 0.2 and +Inf).
const C: &[(&str, f64)] = &[("0.2", 4.0), ("+Inf", 4.0)];

const P50: f64 = 0.1 + 0.4 * 8.5 / 12.0;
const P90: f64 = 0.5 + 0.5 * (15.3 - 12.0) / 5.0;
const P99: f64 = 0.5 + 0.5 * (16.83 - 12.0) / 5.0;

async fn serve_for(targets: &[(&str, &str)]) -> Serve {
    let mut text = String::new();
    for (id, url) in targets {
        text.push_str(&format!(
            "[[targets]]\nid = \"{id}\"\nurl = \"{url}\"\nengine = \"vllm\"\ninterval = \"100ms\"\n"
        ));
    }
    let cfg = common::write_config(&text);
    let serve = Serve::start(&["--config", cfg.to_str().unwrap()]).await;
    for (id, _) in targets {
        serve
            .wait_for(&format!("/api/v1/targets/{id}"), |v| {
                v["health"]["scrapes"].as_u64() >= Some(10)
            })
            .await;
    }
    serve
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs()
}

/// The model `m`'s fleet TTFT from a fleet window answer.
fn fleet_ttft(answer: &Value) -> &Value {
    let models = answer["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{answer}");
    assert_eq!(models[0]["model"], "m", "{answer}");
    &models[0]["totals"]["latency"]["time_to_first_token_seconds"]
}

#[tokio::test]
async fn another_bucket_layout_is_reported_not_mixed() {
    let (a, b, c) = (
        upstream(A, 0.3).await,
        upstream(B, 0.6).await,
        upstream(C, 0.1).await,
    );
    let serve = serve_for(&[("a", &a), ("b", &b), ("c", &c)]).await;
    let r = serve.get("/api/v1/fleet/window?model=m&range=1s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let ttft = fleet_ttft(&v);
    assert_eq!(ttft["instances"], serde_json::json!(["a", "b"]), "{v}");
    assert_eq!(ttft["mismatched"], serde_json::json!(["c"]), "{v}");
    let d = &ttft["per_second"];
    // The sum of a's and b's rates alone: c's bucket (≤ 0.2) is not in it.
    let les: Vec<Value> = d["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["le"].clone())
        .collect();
    assert_eq!(
        les,
        [
            serde_json::json!(0.1),
            serde_json::json!(0.5),
            serde_json::json!(1.0),
            serde_json::json!("+Inf")
        ],
        "{d}"
    );
    assert!(close(d["count"].as_f64().unwrap(), 17.0, 0.05), "{d}");
    for (q, expected) in [("p50", P50), ("p90", P90), ("p99", P99)] {
        let got = d[q].as_f64().unwrap_or_else(|| panic!("{q}: {d}"));
        assert!(close(got, expected, 0.02), "{q}: {got} vs {expected}: {d}");
    }
    // The mean of the summed rates: (10 × 0.3 + 7 × 0.6) / 17.
    assert!(close(d["mean"].as_f64().unwrap(), 7.2 / 17.0, 0.02), "{d}");
    // Each instance keeps its own window, c's too.
    let instances = v["models"][0]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3, "{v}");
    let own = |id: &str| {
        instances.iter().find(|i| i["instance_id"] == id).unwrap()["window"]["latency"]
            ["time_to_first_token_seconds"]["p50"]
            .as_f64()
            .unwrap()
    };
    assert!(close(own("a"), 0.3, 0.02), "{v}");
    assert!(close(own("b"), 0.65, 0.02), "{v}");
    assert!(own("c") <= 0.2, "{v}");
}

/// A PromQL instant query's single value at `at`, once there is one.
async fn query(web: std::net::SocketAddr, promql: &str, at: f64) -> Option<f64> {
    let r = common::request(
        web,
        "GET",
        &format!("/api/v1/query?query={}&time={at}", encode(promql)),
        None,
        &[],
    )
    .await;
    if r.status != 200 {
        return None;
    }
    r.json()["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
}

#[tokio::test]
async fn fleet_quantiles_agree_with_prometheus_histogram_quantile() {
    let Some(prometheus) = prometheus_tool("prometheus") else {
        return;
    };
    let (a, b) = (upstream(A, 0.3).await, upstream(B, 0.6).await);
    let serve = serve_for(&[("a", &a), ("b", &b)]).await;
    let server = Prometheus::start(&prometheus, serve.addr, "fleet-prometheus", true);
    let web = server.web;
    // Once Prometheus holds 10 s of both instances (so each series covers
    // the whole range), ask both for the same 6 s ending at one instant.
    let deadline = tokio::time::Instant::now() + BUDGET;
    let bucket = "llm_metrics_time_to_first_token_seconds_bucket";
    let at = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never had both instances"
        );
        let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(web)).await
        else {
            continue;
        };
        let at = now_ms() as f64 / 1000.0;
        let fewest = format!("min(count_over_time({bucket}{{le=\"+Inf\",model=\"m\"}}[12s]))");
        let series = format!("count(count_over_time({bucket}{{le=\"+Inf\",model=\"m\"}}[12s]))");
        if query(web, &fewest, at).await.is_some_and(|n| n >= 10.0)
            && query(web, &series, at).await == Some(2.0)
        {
            break at;
        }
    };
    let ours = serve
        .get(&format!("/api/v1/fleet/window?model=m&range=6s&at={at}"))
        .await;
    assert_eq!(ours.status, 200, "{}", ours.text);
    let ours = ours.json();
    let ttft = fleet_ttft(&ours);
    assert_eq!(ttft["instances"], serde_json::json!(["a", "b"]), "{ours}");
    assert_eq!(ttft["mismatched"], serde_json::json!([]), "{ours}");
    for (q, key, expected) in [(0.5, "p50", P50), (0.9, "p90", P90), (0.99, "p99", P99)] {
        let promql = format!(
            "histogram_quantile({q}, sum by (le, model) (rate({bucket}{{model=\"m\"}}[6s])))"
        );
        let prom = query(web, &promql, at)
            .await
            .unwrap_or_else(|| panic!("Prometheus has no {promql}"));
        let mine = ttft["per_second"][key].as_f64().unwrap();
        eprintln!("{key}: ours {mine}, Prometheus {prom}, hand-computed {expected}");
        assert!(
            close(mine, expected, 0.02),
            "{key}: ours {mine} vs {expected}: {ours}"
        );
        assert!(
            close(prom, expected, 0.05),
            "{key}: Prometheus {prom} vs {expected}"
        );
        assert!(
            close(mine, prom, 0.05),
            "{key}: ours {mine} vs Prometheus {prom}"
        );
    }
    // The summed rates too: sum by (model) (rate(x_count[6s])).
    let promql =
        "sum by (model) (rate(llm_metrics_time_to_first_token_seconds_count{model=\"m\"}[6s]))";
    let prom = query(web, promql, at).await.unwrap();
    let mine = ttft["per_second"]["count"].as_f64().unwrap();
    assert!(
        close(mine, prom, 0.1),
        "count: ours {mine} vs Prometheus {prom}"
    );
    let _ = std::fs::remove_dir_all(&server.dir);
}
