//! End to end: the hostile inputs of issue 18 against a real
//! `llm-metrics-serve`: each is refused with a typed problem, and afterwards
//! every route still answers correctly. Also the caps on history answers,
//! targets and labels, the URL the sender would refuse, start-up checks of
//! the config file, and the panic layer over real HTTP.

mod common;

use std::time::{Duration, SystemTime};

use common::{BUDGET, Serve, Upstream, encode, fixture};
use serde_json::{Value, json};

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A configured target `cfg` on `upstream`, scraped every `interval`.
fn config_for(upstream: &Upstream, interval: &str) -> std::path::PathBuf {
    common::write_config(&format!(
        "[[targets]]\nid = \"cfg\"\nurl = \"{}\"\nengine = \"vllm\"\ninterval = \"{interval}\"\nlabels = {{ pool = \"a\" }}\n",
        upstream.url("/metrics")
    ))
}

/// Wait until `cfg` has a window over the last 5 minutes (two stored
/// scrapes).
async fn wait_for_window(serve: &Serve) {
    let deadline = tokio::time::Instant::now() + BUDGET;
    loop {
        let r = serve.get("/api/v1/targets/cfg/window").await;
        if r.status == 200 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no window: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status and `error_kind` of a reply.
fn problem(r: &common::Reply) -> (u16, String) {
    let kind = serde_json::from_str::<Value>(&r.text)
        .ok()
        .and_then(|v| v["error_kind"].as_str().map(String::from))
        .unwrap_or_default();
    (r.status, kind)
}

/// Every route answers, and answers correctly.
async fn every_route_answers(serve: &Serve) {
    let m = serve.get("/metrics").await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert!(m.text.contains("instance=\"cfg\""), "{}", m.text);
    assert!(m.text.contains("llm_metrics_window_seconds"), "{}", m.text);
    let list = serve.get("/api/v1/targets").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(
        list.json()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "cfg")
    );
    let one = serve.get("/api/v1/targets/cfg").await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json()["metrics"]["engine"], "vllm");
    let w = serve.get("/api/v1/targets/cfg/window?range=5m").await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert!(w.json()["window"].is_object(), "{}", w.text);
    let to = now_s();
    let h = serve
        .get(&format!(
            "/api/v1/targets/cfg/history?from={}&to={to}&step=1s",
            to - 5.0
        ))
        .await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(
        h.json()["points"].as_array().unwrap().len(),
        6,
        "{}",
        h.text
    );
    let f = serve.get("/api/v1/fleet").await;
    assert_eq!(f.status, 200, "{}", f.text);
    assert!(f.text.contains("\"cfg\""), "{}", f.text);
    let fw = serve.get("/api/v1/fleet/window").await;
    assert_eq!(fw.status, 200, "{}", fw.text);
    assert!(fw.text.contains("\"cfg\""), "{}", fw.text);
    let doc = serve.get("/openapi.json").await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert!(doc.json()["paths"].is_object());
}

#[tokio::test]
async fn hostile_inputs_are_refused_and_every_route_still_answers() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = config_for(&upstream, "200ms");
    // Default settings only, so the same test runs against any build.
    let serve = Serve::start(&["--config", config.to_str().unwrap()]).await;
    wait_for_window(&serve).await;
    every_route_answers(&serve).await;
    let url = upstream.url("/metrics");

    // Intervals past any sane range, and a timeout past the fetch budget.
    for interval in [
        json!(1e19),
        json!(18446744073709551615u64),
        json!("500000000000y"),
        json!("25h"),
    ] {
        let r = serve
            .put(
                "/api/v1/targets/huge",
                &json!({"url": url, "interval": interval}).to_string(),
            )
            .await;
        assert_eq!(
            problem(&r),
            (422, "invalid-target".into()),
            "{interval}: {}",
            r.text
        );
    }
    let r = serve
        .put(
            "/api/v1/targets/huge",
            &json!({"url": url, "timeout": 1e19}).to_string(),
        )
        .await;
    assert_eq!(problem(&r), (422, "invalid-target".into()), "{}", r.text);

    // Times past year 9999 (and before 1970).
    for path in [
        "/api/v1/targets/cfg/window?at=253402300800",
        "/api/v1/targets/cfg/window?at=9999999999999",
        "/api/v1/targets/cfg/window?at=-5",
        "/api/v1/targets/cfg/history?from=253402300800&to=253402300801",
        "/api/v1/targets/cfg/history?to=253402300800",
        "/api/v1/fleet/window?at=9999999999999",
        "/api/v1/fleet/window?at=1e300",
    ] {
        let r = serve.get(path).await;
        assert_eq!(
            problem(&r),
            (422, "invalid-time".into()),
            "{path}: {}",
            r.text
        );
    }
    // The last millisecond of 9999 is a time (and too little history).
    let r = serve
        .get("/api/v1/targets/cfg/window?at=253402300799.999")
        .await;
    assert_eq!(
        problem(&r),
        (404, "insufficient-history".into()),
        "{}",
        r.text
    );

    // A history with a huge point count.
    let r = serve
        .get("/api/v1/targets/cfg/history?from=0&to=31536000&step=0.001")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let to = now_s();
    let r = serve
        .get(&format!(
            "/api/v1/targets/cfg/history?from={}&to={to}&step=0.001",
            to - 3600.0
        ))
        .await;
    assert_eq!(problem(&r), (422, "invalid-step".into()), "{}", r.text);

    // Big label maps: too many, too long, too much in all.
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("l{i}"), json!("v"))).collect();
    let long_name: serde_json::Map<String, Value> =
        [("n".repeat(129), json!("v"))].into_iter().collect();
    let long_value: serde_json::Map<String, Value> = [("n".to_string(), json!("v".repeat(1025)))]
        .into_iter()
        .collect();
    let bulky: serde_json::Map<String, Value> = (0..30)
        .map(|i| (format!("l{i}"), json!("v".repeat(1000))))
        .collect();
    for labels in [many, long_name, long_value, bulky] {
        let r = serve
            .put(
                "/api/v1/targets/labels",
                &json!({"url": url, "labels": labels}).to_string(),
            )
            .await;
        assert_eq!(problem(&r), (422, "invalid-target".into()), "{}", r.text);
    }

    // Many PUTs past the default cap (1,000, the configured target
    // included), of targets that fail fast (404).
    let missing = upstream.url("/missing");
    let put = |i: usize, interval: u64| {
        let body = json!({"url": missing, "interval": interval}).to_string();
        let path = format!("/api/v1/targets/t{i}");
        let serve = &serve;
        async move { serve.put(&path, &body).await }
    };
    for i in 0..999 {
        let r = put(i, 60).await;
        assert_eq!(r.status, 201, "{i}: {}", r.text);
    }
    for i in 999..1050 {
        let r = put(i, 60).await;
        assert_eq!(problem(&r), (409, "too-many-targets".into()), "{}", r.text);
        assert!(
            r.json()["detail"].as_str().unwrap().contains("1000"),
            "{}",
            r.text
        );
    }
    // Replacing one is not a new one; deleting one makes room for one.
    assert_eq!(put(0, 30).await.status, 200);
    assert_eq!(serve.delete("/api/v1/targets/t2").await.status, 204);
    assert_eq!(put(2000, 60).await.status, 201);
    assert_eq!(problem(&put(2001, 60).await).0, 409);

    // CR/LF in ids.
    for path in ["/api/v1/targets/a%0D%0Ab", "/api/v1/targets/a%0Ab"] {
        let r = serve.put(path, &json!({"url": url}).to_string()).await;
        assert_eq!(problem(&r), (422, "invalid-target".into()), "{}", r.text);
    }

    // A URL the sender would refuse, at PUT and at collect time.
    let bad = format!(
        "http://{}?@127.0.0.2:{}/metrics",
        upstream.addr,
        upstream.addr.port()
    );
    let r = serve
        .put("/api/v1/targets/trick", &json!({"url": bad}).to_string())
        .await;
    assert_eq!(problem(&r), (422, "invalid-target".into()), "{}", r.text);
    let r = serve
        .post(
            "/api/v1/collect/auto",
            &json!({"instance_id": "x", "endpoint": bad}).to_string(),
        )
        .await;
    assert_eq!(problem(&r), (422, "invalid-url".into()), "{}", r.text);
    let r = serve
        .get(&format!("/api/v1/metrics/auto/x?endpoint={}", encode(&bad)))
        .await;
    assert_eq!(problem(&r), (422, "invalid-url".into()), "{}", r.text);

    // After all of it: every route, still correct.
    every_route_answers(&serve).await;
    let targets = serve.get("/api/v1/targets").await.json();
    let targets = targets["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1000);
    assert!(targets.iter().all(|t| t["id"] != "t2" && t["id"] != "huge"));
}

#[tokio::test]
async fn history_answers_are_capped_by_points_and_bytes() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = config_for(&upstream, "100ms");
    let serve = Serve::start(&[
        "--config",
        config.to_str().unwrap(),
        "--history-max-points",
        "100",
        "--history-max-bytes",
        "100KiB",
    ])
    .await;
    // Until 8 s of scrapes are stored.
    let deadline = tokio::time::Instant::now() + BUDGET;
    loop {
        let to = now_s();
        let r = serve
            .get(&format!(
                "/api/v1/targets/cfg/history?from={}&to={to}&step=8s",
                to - 8.0
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.json()["points"][0]["snapshot"].is_object() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let to = now_s();
    let from = to - 8.0;
    // The issue's request: 4,001 points.
    let r = serve
        .get(&format!(
            "/api/v1/targets/cfg/history?from={from}&to={to}&step=0.002&range=1s"
        ))
        .await;
    assert_eq!(problem(&r), (422, "invalid-step".into()), "{}", r.text);
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("4001") && detail.contains("100"),
        "{detail}"
    );
    // Within the point cap, over the byte cap.
    let r = serve
        .get(&format!(
            "/api/v1/targets/cfg/history?from={from}&to={to}&step=0.1&range=1s"
        ))
        .await;
    assert_eq!(problem(&r), (422, "answer-too-large".into()), "{}", r.text);
    assert!(r.text.contains("102400"), "{}", r.text);
    // Within both: a whole, valid answer.
    let r = serve
        .get(&format!(
            "/api/v1/targets/cfg/history?from={}&to={to}&step=1s&range=1s",
            to - 2.0
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.content_type.starts_with("application/json"), "{r:?}");
    let v = r.json();
    assert_eq!(v["target"], "cfg");
    assert_eq!(v["step_seconds"], 1.0);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{v}");
    assert!(points[2]["snapshot"]["engine"] == "vllm", "{v}");
    assert!(points[2]["window"].is_object(), "{v}");
}

/// Run the binary with `args`, expecting it to refuse to start; its stderr.
async fn refused_start(args: &[&str]) -> String {
    let out = tokio::time::timeout(
        BUDGET,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-metrics-serve"))
            .args(["--listen", "127.0.0.1:0", "--db"])
            .arg(common::fresh_db())
            .args(args)
            .output(),
    )
    .await
    .expect("exited in time")
    .unwrap();
    assert!(!out.status.success(), "started with {args:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "bound a listener"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn start_up_refuses_config_intervals_labels_and_targets_out_of_range() {
    for (entry, said) in [
        ("interval = \"500000000000y\"", "interval must be"),
        ("interval = 1e19", "interval must be"),
        ("interval = 1e20", "not a duration"),
        ("interval = 90000", "interval must be"),
        ("timeout = \"1000d\"", "timeout must be"),
    ] {
        let config = common::write_config(&format!(
            "[[targets]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/metrics\"\n{entry}\n"
        ));
        let err = refused_start(&["--config", config.to_str().unwrap()]).await;
        assert!(err.contains(said), "{entry}: {err}");
    }
    let labels: String = (0..33).map(|i| format!("l{i} = \"v\", ")).collect();
    let config = common::write_config(&format!(
        "[[targets]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/metrics\"\nlabels = {{ {} }}\n",
        labels.trim_end_matches(", ")
    ));
    let err = refused_start(&["--config", config.to_str().unwrap()]).await;
    assert!(err.contains("at most 32"), "{err}");
    let two = common::write_config(
        "[[targets]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/metrics\"\n\
         [[targets]]\nid = \"b\"\nurl = \"http://127.0.0.1:9/metrics\"\n",
    );
    let err = refused_start(&["--config", two.to_str().unwrap(), "--max-targets", "1"]).await;
    assert!(err.contains("--max-targets"), "{err}");
    let err = refused_start(&["--read-token", "r"]).await;
    assert!(err.contains("--api-token"), "{err}");
    // The config file's `[limits]` table, under the flags.
    let limited = common::write_config(
        "[limits]\nmax_targets = 1\n[[targets]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/metrics\"\n\
         [[targets]]\nid = \"b\"\nurl = \"http://127.0.0.1:9/metrics\"\n",
    );
    let err = refused_start(&["--config", limited.to_str().unwrap()]).await;
    assert!(err.contains("over --max-targets 1"), "{err}");
    let serve = Serve::start(&["--config", limited.to_str().unwrap(), "--max-targets", "3"]).await;
    let body = json!({"url": "http://127.0.0.1:9/metrics"}).to_string();
    assert_eq!(serve.put("/api/v1/targets/c", &body).await.status, 201);
    let r = serve.put("/api/v1/targets/d", &body).await;
    assert_eq!(problem(&r), (409, "too-many-targets".into()), "{}", r.text);
    for table in [
        "[limits]\nhistory_max_bytes = \"lots\"",
        "[limits]\nwindow_concurrency = 0",
        "[limits]\nmax_target = 5",
    ] {
        let config = common::write_config(table);
        let err = refused_start(&["--config", config.to_str().unwrap()]).await;
        assert!(
            err.contains("limits") || err.contains("max_target"),
            "{table}: {err}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_nothing_else_breaks() {
    use axum::Router;
    use axum::routing::get;
    // The service's own panic layer, over real HTTP.
    let app: Router = Router::new()
        .route(
            "/boom",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("overflow when multiplying duration by scalar");
                }
                "unreachable"
            }),
        )
        .route("/fine", get(|| async { "fine" }))
        .layer(llm_metrics_serve::routes::catch_panics());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..3 {
        let r = common::request(addr, "GET", "/boom", None, &[]).await;
        assert_eq!(r.status, 500, "{}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
        let v = r.json();
        assert_eq!(v["error_kind"], "internal", "{v}");
        assert!(
            !r.text.contains("overflow"),
            "the panic's message is not sent"
        );
        let ok = common::request(addr, "GET", "/fine", None, &[]).await;
        assert_eq!((ok.status, ok.text.as_str()), (200, "fine"));
    }
}
