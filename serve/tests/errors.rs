//! End to end: `GET /api/v1/targets/{id}/errors` on a real
//! `llm-metrics-serve` process scraping a target that is down and one that
//! fails, recovers and fails again another way. Real processes, real HTTP,
//! real SQLite files.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use common::{Serve, fixture, write_config};
use serde_json::Value;

/// A loopback URL nothing listens on (connections are refused).
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/metrics")
}

/// What the flaky upstream answers.
const UNAVAILABLE: u8 = 0;
const HEALTHY: u8 = 1;
const HTML: u8 = 2;

/// An inference server whose `/metrics` answers 503, the vLLM fixture, or
/// a web page, as `mode` says.
async fn flaky(mode: Arc<AtomicU8>) -> String {
    let body = fixture("vllm_v1.prom");
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (mode, body) = (mode.clone(), body.clone());
            async move {
                use axum::response::IntoResponse;
                match mode.load(Ordering::SeqCst) {
                    UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
                    HEALTHY => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
                        .into_response(),
                    _ => (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<!doctype html><html><body>login</body></html>",
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/metrics")
}

fn config(targets: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (id, url) in targets {
        text.push_str(&format!(
            "[[targets]]\nid = \"{id}\"\nurl = \"{url}\"\nengine = \"vllm\"\ninterval = \"100ms\"\n"
        ));
    }
    text
}

/// `llm_metrics_scrape_errors_total` of `instance` and `kind` in `/metrics`.
async fn errors_total(serve: &Serve, instance: &str, kind: &str) -> i64 {
    let text = serve.get("/metrics").await.text;
    let wanted = [
        format!("instance=\"{instance}\""),
        format!("kind=\"{kind}\""),
    ];
    text.lines()
        .filter(|l| l.starts_with("llm_metrics_scrape_errors_total{"))
        .find(|l| wanted.iter().all(|w| l.contains(w.as_str())))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse::<f64>().unwrap() as i64)
}

fn rows(v: &Value) -> &Vec<Value> {
    v["errors"].as_array().unwrap()
}

#[tokio::test]
async fn a_down_target_is_one_run_counted_exactly() {
    let dead = dead_url().await;
    let cfg = write_config(&config(&[("dead", &dead)]));
    let serve = Serve::start(&["--config", cfg.to_str().unwrap()]).await;
    serve
        .wait_for("/api/v1/targets/dead", |v| {
            v["health"]["consecutive_failures"].as_u64() >= Some(4)
        })
        .await;
    let r = serve.get("/api/v1/targets/dead/errors").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["target"], "dead");
    assert_eq!(v["limit"], 100);
    assert_eq!(v["truncated"], false);
    // Every failure so far is one folded row: one kind, counted.
    let errors = rows(&v);
    assert_eq!(errors.len(), 1, "{v}");
    let e = &errors[0];
    assert_eq!(e["kind"], "connect", "{e}");
    assert!(e["count"].as_i64().unwrap() >= 4, "{e}");
    assert!(e["message"].as_str().unwrap().contains("connect"), "{e}");
    assert!(e["duration_seconds"].as_f64().unwrap() >= 0.0, "{e}");
    // RFC 3339 times, the latest no earlier than the first (same format, so
    // they compare as text).
    let (at, last) = (e["at"].as_str().unwrap(), e["last_at"].as_str().unwrap());
    assert!(at.ends_with('Z') && at.contains('T'), "{at}");
    assert!(last >= at, "{at} {last}");
    // A range before any failure holds none.
    let r = serve
        .get("/api/v1/targets/dead/errors?from=0&to=1000")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(rows(&r.json()).is_empty(), "{}", r.text);
}

#[tokio::test]
async fn failures_then_recovery_then_other_failures_newest_first() {
    let mode = Arc::new(AtomicU8::new(UNAVAILABLE));
    let url = flaky(mode.clone()).await;
    let cfg = write_config(&config(&[("flaky", &url)]));
    let serve = Serve::start(&["--config", cfg.to_str().unwrap()]).await;
    let path = "/api/v1/targets/flaky";
    serve
        .wait_for(path, |v| {
            v["health"]["consecutive_failures"].as_u64() >= Some(3)
        })
        .await;
    mode.store(HEALTHY, Ordering::SeqCst);
    serve
        .wait_for(path, |v| {
            v["health"]["consecutive_failures"] == 0 && !v["health"]["last_success"].is_null()
        })
        .await;
    mode.store(HTML, Ordering::SeqCst);
    let v = serve
        .wait_for(path, |v| {
            v["health"]["consecutive_failures"].as_u64() >= Some(2)
        })
        .await;
    let later_kind = v["health"]["last_error_kind"].as_str().unwrap().to_string();
    assert_ne!(later_kind, "http-status");
    mode.store(HEALTHY, Ordering::SeqCst);
    serve
        .wait_for(path, |v| v["health"]["consecutive_failures"] == 0)
        .await;

    let r = serve.get("/api/v1/targets/flaky/errors").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let errors = rows(&v);
    assert_eq!(errors.len(), 2, "{v}");
    // Newest first: the page's run, then the 503s'.
    assert_eq!(errors[0]["kind"], later_kind.as_str(), "{v}");
    assert_eq!(errors[1]["kind"], "http-status", "{v}");
    assert!(
        errors[1]["message"].as_str().unwrap().contains("503"),
        "{v}"
    );
    assert!(
        errors[0]["at"].as_str().unwrap() > errors[1]["last_at"].as_str().unwrap(),
        "{v}"
    );
    // Each run counts exactly the failures of its kind the service counted.
    assert_eq!(
        errors[1]["count"].as_i64().unwrap(),
        errors_total(&serve, "flaky", "http-status").await,
        "{v}"
    );
    assert_eq!(
        errors[0]["count"].as_i64().unwrap(),
        errors_total(&serve, "flaky", &later_kind).await,
        "{v}"
    );
    // `limit` bounds the answer and says more matched.
    let r = serve.get("/api/v1/targets/flaky/errors?limit=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(rows(&v).len(), 1, "{v}");
    assert_eq!(rows(&v)[0]["kind"], later_kind.as_str(), "{v}");
    assert_eq!(v["truncated"], true, "{v}");
    // A range that ends before the page's run began holds only the 503s.
    let before = errors[1]["last_at"].as_str().unwrap();
    let r = serve
        .get(&format!(
            "/api/v1/targets/flaky/errors?to={}",
            common::encode(before)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(rows(&v).len(), 1, "{v}");
    assert_eq!(rows(&v)[0]["kind"], "http-status", "{v}");
}

#[tokio::test]
async fn bad_parameters_are_typed_problems() {
    let dead = dead_url().await;
    let cfg = write_config(&config(&[("dead", &dead)]));
    let serve = Serve::start(&["--config", cfg.to_str().unwrap()]).await;
    for (query, status, kind) in [
        ("limit=0", 422, "invalid-limit"),
        ("limit=1001", 422, "invalid-limit"),
        ("limit=ten", 422, "invalid-limit"),
        ("from=yesterday", 422, "invalid-time"),
        ("to=99999999999999", 422, "invalid-time"),
        ("from=2000&to=1000", 422, "invalid-range"),
        ("from=0&to=40000000", 422, "invalid-range"),
    ] {
        let r = serve
            .get(&format!("/api/v1/targets/dead/errors?{query}"))
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{query}");
        assert_eq!(r.json()["error_kind"], kind, "{query}: {}", r.text);
    }
    let r = serve.get("/api/v1/targets/nobody/errors").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "not-found");
    // The largest limit is accepted.
    let r = serve.get("/api/v1/targets/dead/errors?limit=1000").await;
    assert_eq!(r.status, 200, "{}", r.text);
}
