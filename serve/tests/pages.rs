//! The pages as a person sees them: Debian's chromium, driven headless
//! through chromedriver (WebDriver, `fantoccini`), against the real
//! `llm-metrics-serve` scraping three loopback servers: one steady (a vLLM
//! fixture), one whose counters advance (and restart once), one that is
//! down. Without chromedriver the tests skip loudly, unless
//! `LLM_METRICS_REQUIRE_CHROMIUM=1` (CI), where they fail. With
//! `LLM_METRICS_SCREENSHOTS=DIR` they save the pages as PNGs there (after
//! `LLM_METRICS_SCREENSHOTS_HOLD` more seconds of history, default 60).

mod browser;
mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use browser::{Browser, closed_port, exchange};
use common::{BUDGET, Serve, Upstream, fixture, write_config};
use fantoccini::Locator;
use serde_json::Value;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A vLLM-shaped server whose counters grow with wall-clock time since
/// `started` (storing a new start restarts it: the counters go down).
struct Advancing {
    addr: SocketAddr,
    started: Arc<AtomicU64>,
}

impl Advancing {
    async fn start() -> Advancing {
        let started = Arc::new(AtomicU64::new(now_ms()));
        let t0 = started.clone();
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let t0 = t0.load(Ordering::SeqCst);
                async move {
                    let s = (now_ms() - t0) as f64 / 1000.0;
                    // Rates that wander (40 ± 27 tokens/s) but never go
                    // down: counters stay counters.
                    let g = 40.0 * s + 400.0 * (s / 15.0).sin();
                    let (p, r) = (100.0 * s + 500.0 * (s / 25.0).sin(), 2.0 * s);
                    let body = format!(
                        "# TYPE process_start_time_seconds gauge\n\
                         process_start_time_seconds {start}\n\
                         # TYPE vllm:generation_tokens_total counter\n\
                         vllm:generation_tokens_total{{engine=\"0\",model_name=\"busy-model\"}} {g}\n\
                         # TYPE vllm:prompt_tokens_total counter\n\
                         vllm:prompt_tokens_total{{engine=\"0\",model_name=\"busy-model\"}} {p}\n\
                         # TYPE vllm:request_success_total counter\n\
                         vllm:request_success_total{{engine=\"0\",finished_reason=\"stop\",model_name=\"busy-model\"}} {r}\n\
                         # TYPE vllm:num_requests_running gauge\n\
                         vllm:num_requests_running{{engine=\"0\",model_name=\"busy-model\"}} 7\n\
                         # TYPE vllm:num_requests_waiting gauge\n\
                         vllm:num_requests_waiting{{engine=\"0\",model_name=\"busy-model\"}} 2\n\
                         # TYPE vllm:kv_cache_usage_perc gauge\n\
                         vllm:kv_cache_usage_perc{{engine=\"0\",model_name=\"busy-model\"}} 0.42\n\
                         # TYPE vllm:time_to_first_token_seconds histogram\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"0.1\",model_name=\"busy-model\"}} 0\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"0.5\",model_name=\"busy-model\"}} {r}\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"+Inf\",model_name=\"busy-model\"}} {r}\n\
                         vllm:time_to_first_token_seconds_count{{engine=\"0\",model_name=\"busy-model\"}} {r}\n\
                         vllm:time_to_first_token_seconds_sum{{engine=\"0\",model_name=\"busy-model\"}} {ts}\n",
                        ts = 0.3 * r,
                        start = t0 as f64 / 1000.0,
                    );
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Advancing { addr, started }
    }

    fn restart(&self) {
        self.started.store(now_ms(), Ordering::SeqCst);
    }
}

fn config(targets: &[(&str, String)]) -> PathBuf {
    let mut text = String::new();
    for (id, url) in targets {
        text.push_str(&format!(
            "[[targets]]\nid = \"{id}\"\nurl = \"{url}\"\nengine = \"vllm\"\ninterval = \"200ms\"\ntimeout = \"2s\"\n"
        ));
    }
    write_config(&text)
}

#[tokio::test]
async fn the_fleet_and_server_pages_show_every_server_its_charts_and_its_errors() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let steady = Upstream::start(fixture("vllm_v1.prom")).await;
    let busy = Advancing::start().await;
    let gone = format!("http://127.0.0.1:{}/metrics", closed_port());
    let cfg = config(&[
        ("steady", steady.url("/metrics")),
        ("busy", format!("http://{}/metrics", busy.addr)),
        ("gone", gone),
    ]);
    let serve = Serve::start(&["--config", cfg.to_str().unwrap()]).await;
    // Two seconds of history, then a restart, then two more.
    let windowed = |v: &Value| v["window"]["rates"]["generation_tokens"].as_f64() > Some(0.0);
    serve
        .wait_for("/api/v1/targets/busy/window?range=1m", windowed)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    busy.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    serve
        .wait_for("/api/v1/targets/gone", |v| {
            v["health"]["last_error_kind"] == "connect"
        })
        .await;
    let base = format!("http://{}", serve.addr);
    let c = &browser.client;

    // The fleet: every server named, by model; the down one with its error.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(browser.text("h1").await, "Fleet");
    let models = browser.all_texts("section.model h2").await;
    assert!(
        models.contains(&"busy-model".to_string())
            && models.contains(&"meta-llama/Llama-3.1-8B-Instruct".to_string())
            && models.contains(&"Never answered".to_string()),
        "{models:?}"
    );
    let rows = browser.all_texts("tr.server").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let row = |id: &str| format!("tr.server[data-id=\"{id}\"]");
    let gone_row = browser.text(&row("gone")).await;
    assert!(
        gone_row.contains("down") && gone_row.contains("connect:"),
        "the down server shows its error: {gone_row}"
    );
    assert!(browser.text(&row("steady")).await.contains("ok"));
    let busy_row = browser.text(&row("busy")).await;
    // running 7, waiting 2, KV cache 42 %, and rates over the window.
    assert!(
        busy_row.contains("ok") && busy_row.contains(" 7 2 42 % "),
        "{busy_row}"
    );
    let busy_cells = browser.all_texts(&format!("{} td.n", row("busy"))).await;
    assert_ne!(busy_cells[3], "—", "generation tokens/s: {busy_cells:?}");
    // The model's fleet-wide TTFT p99 (its one instance's buckets merged)
    // is that instance's p99.
    let p99 = c
        .find(Locator::Css("section.model dd.fleet-p99"))
        .await
        .unwrap();
    assert_ne!(busy_cells[6], "—", "TTFT p99: {busy_cells:?}");
    assert_eq!(p99.text().await.unwrap(), busy_cells[6]);

    // A link to the busy server's page: charts with their points.
    c.find(Locator::Css(&format!("{} a", row("busy"))))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(browser.path().await, "/servers/busy");
    assert_eq!(browser.text("h1").await, "busy");
    assert_eq!(browser.text("#range-heading").await, "Over the last 1 h");
    let figures = c.find_all(Locator::Css("figure.chart")).await.unwrap();
    assert_eq!(figures.len(), 8);
    let mut drawn = vec![];
    for f in &figures {
        let title = f
            .find(Locator::Css("figcaption"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let points: usize = f
            .attr("data-points")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        if points == 0 {
            continue;
        }
        drawn.push(title.clone());
        let svg = f.find(Locator::Css("svg")).await.unwrap();
        let markers = svg
            .find_all(Locator::Css("circle, polygon"))
            .await
            .unwrap()
            .len();
        assert!(
            markers >= points,
            "{title}: {markers} markers, {points} points"
        );
        let rows = f
            .find_all(Locator::Css("table.numbers tbody tr"))
            .await
            .unwrap();
        assert!(!rows.is_empty() && rows.len() <= points, "{title}");
    }
    for title in [
        "Tokens per second (tokens/s)",
        "Requests per second (requests/s)",
        "Running and waiting requests (requests)",
        "KV cache use (fraction of the cache (0–1))",
        "Time to first token (seconds)",
    ] {
        assert!(drawn.iter().any(|t| t == title), "{title} drawn: {drawn:?}");
    }
    // The restart is marked, on the charts and in words.
    assert!(browser.text("#restarts").await.contains("Restarts seen at"));
    let source = c.source().await.unwrap();
    assert!(
        source.contains("restart\n</text>"),
        "a restart mark in a chart"
    );
    // Nothing is fetched from elsewhere, and no script runs.
    for outside in ["src=\"http", "href=\"http", "url(http", "<script"] {
        assert!(!source.contains(outside), "{outside} in the page");
    }
    // The window's latency table: TTFT quantiles in (0.1 s, 0.5 s].
    let latency = browser.text("#latency").await;
    assert!(latency.contains("Time to first token"), "{latency}");
    // Its p50, p90, p95 (interpolated by the component's own code) and p99,
    // in order, each a duration.
    let cells = browser
        .all_texts("#latency tbody tr:first-child td.n")
        .await;
    let seconds = |t: &str| -> f64 {
        let (n, unit) = t
            .split_once(' ')
            .unwrap_or_else(|| panic!("{t:?} in {cells:?}"));
        let n: f64 = n.parse().unwrap_or_else(|_| panic!("{t:?} in {cells:?}"));
        n * match unit {
            "s" => 1.0,
            "ms" => 1e-3,
            "µs" => 1e-6,
            u => panic!("unit {u:?} in {cells:?}"),
        }
    };
    let q: Vec<f64> = cells[2..6].iter().map(|t| seconds(t)).collect();
    assert!(
        q.windows(2).all(|w| w[0] <= w[1]) && q[2] > 0.1 && q[2] <= 0.5,
        "p50 ≤ p90 ≤ p95 ≤ p99 in (0.1, 0.5]: {cells:?}"
    );

    // Ranges switch.
    for (link, range, label) in [("15 min", "15m", "15 min"), ("6 h", "6h", "6 h")] {
        c.find(Locator::LinkText(link))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(browser.path().await, format!("/servers/busy?range={range}"));
        assert_eq!(
            browser.text("#range-heading").await,
            format!("Over the last {label}")
        );
        assert_eq!(browser.text("nav.ranges a.current").await, label);
        let points: usize = c
            .find(Locator::Css("figure.chart"))
            .await
            .unwrap()
            .attr("data-points")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        assert!(points > 0, "{range}: the tokens chart has points");
    }

    // The down server's page: its error and its failed scrapes.
    c.find(Locator::LinkText("llm-metrics"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(browser.path().await, "/");
    c.find(Locator::Css(&format!("{} a", row("gone"))))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(browser.path().await, "/servers/gone");
    assert!(browser.text("#last-error").await.contains("connect"));
    let failures = browser.text("#failures").await;
    assert!(failures.contains("connect"), "{failures}");
    // An unknown server and a made-up range are typed errors, as pages.
    c.goto(&format!("{base}/servers/nobody")).await.unwrap();
    assert!(browser.text("#problem").await.contains("not-found"));
    c.goto(&format!("{base}/servers/busy?range=3w"))
        .await
        .unwrap();
    assert!(browser.text("#problem").await.contains("invalid-range"));
    // For the README: more history (LLM_METRICS_SCREENSHOTS_HOLD seconds,
    // default 60), over 15 minutes.
    if std::env::var_os("LLM_METRICS_SCREENSHOTS").is_some() {
        let hold = std::env::var("LLM_METRICS_SCREENSHOTS_HOLD")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        tokio::time::sleep(Duration::from_secs(hold)).await;
        c.goto(&format!("{base}/")).await.unwrap();
        browser.screenshot("fleet").await;
        c.goto(&format!("{base}/servers/busy?range=15m"))
            .await
            .unwrap();
        browser.screenshot("server").await;
    }
    browser.close().await;
}

#[tokio::test]
async fn with_a_token_the_pages_ask_for_it_and_refuse_a_wrong_one() {
    const TOKEN: &str = "page-token-7f3a9c";
    const READ_TOKEN: &str = "page-read-token-41d0";
    let steady = Upstream::start(fixture("vllm_v1.prom")).await;
    let cfg = config(&[("steady", steady.url("/metrics"))]);
    let serve = Serve::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--api-token",
        TOKEN,
        "--read-token",
        READ_TOKEN,
    ])
    .await;
    let form = [("content-type", "application/x-www-form-urlencoded")];

    // Over plain HTTP: the redirect, the 401, the cookie's attributes.
    let (status, headers, _) = exchange(serve.addr, "GET", "/", &[], "").await;
    assert_eq!(
        (status, headers[header::LOCATION].to_str().unwrap()),
        (303, "/login")
    );
    let (status, _, page) = exchange(serve.addr, "POST", "/login", &form, "token=wrong").await;
    assert_eq!(status, 401);
    assert!(page.contains("not right"), "{page}");
    let (status, headers, _) = exchange(
        serve.addr,
        "POST",
        "/login",
        &form,
        &format!("token={TOKEN}"),
    )
    .await;
    assert_eq!(status, 303);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains(TOKEN),
        "the cookie holds no token: {cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    // The read-only token opens the pages too.
    let (status, headers, _) = exchange(
        serve.addr,
        "POST",
        "/login",
        &form,
        &format!("token={READ_TOKEN}"),
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("llm_metrics_session=")
    );
    let (status, _, page) = exchange(serve.addr, "GET", "/", &[("cookie", session)], "").await;
    assert_eq!(status, 200);
    assert!(!page.contains(TOKEN));
    // The cookie opens the pages, not the API.
    let (status, _, _) = exchange(
        serve.addr,
        "GET",
        "/api/v1/fleet",
        &[("cookie", session)],
        "",
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = exchange(
        serve.addr,
        "GET",
        "/",
        &[("cookie", "llm_metrics_session=0")],
        "",
    )
    .await;
    assert_eq!(status, 303);

    // In the browser: sent to the form, refused, then let in.
    let Some(browser) = Browser::start().await else {
        return;
    };
    let c = &browser.client;
    let base = format!("http://{}", serve.addr);
    c.goto(&format!("{base}/servers/steady")).await.unwrap();
    assert_eq!(browser.path().await, "/login");
    let login = |token: &'static str| async move {
        c.find(Locator::Css("#token"))
            .await
            .unwrap()
            .send_keys(token)
            .await
            .unwrap();
        c.find(Locator::Css("form.login button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    login("not-the-token").await;
    browser.wait_for_path("/login").await;
    assert!(browser.text("#login-error").await.contains("not right"));
    browser.screenshot("login").await;
    login(TOKEN).await;
    browser.wait_for_path("/").await;
    let deadline = tokio::time::Instant::now() + BUDGET;
    loop {
        c.goto(&format!("{base}/")).await.unwrap();
        if browser.all_texts("tr.server").await.len() == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "steady never listed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(browser.text("tr.server").await.contains("steady"));
    assert!(!c.source().await.unwrap().contains(TOKEN));
    assert!(!browser.path().await.contains(TOKEN));
    browser.close().await;
}
