//! End to end: the real `llm-metrics-serve` process, real fixture servers and
//! a real HTTP client on 127.0.0.1. The ad-hoc API, its typed errors and the
//! SSRF allow-list.

mod common;

use common::{Serve, Tripwire, Upstream, encode, fixture};
use serde_json::Value;

fn collect_body(instance: &str, endpoint: &str) -> String {
    serde_json::json!({"instance_id": instance, "endpoint": endpoint}).to_string()
}

/// The envelope's exact key set.
fn assert_envelope(v: &Value) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "success",
            "instance_id",
            "timestamp",
            "metrics",
            "error",
            "error_kind"
        ]
    );
    let ts = v["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "{ts}");
    humantime::parse_rfc3339(ts).expect("RFC 3339 timestamp");
}

#[tokio::test]
async fn collect_envelope_for_each_engine() {
    let vllm = Upstream::start(fixture("vllm_v1.prom")).await;
    let tgi = Upstream::start(fixture("tgi.prom")).await;
    let serve = Serve::start(&["--allow", "127.0.0.1"]).await;

    for (engine, upstream, expect) in [
        ("vllm", &vllm, "vllm"),
        ("tgi", &tgi, "tgi"),
        ("auto", &tgi, "tgi"),
    ] {
        let r = serve
            .post(
                &format!("/api/v1/collect/{engine}"),
                &collect_body("pod-1", &upstream.url("/metrics")),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_envelope(&v);
        assert_eq!(v["success"], true);
        assert_eq!(v["instance_id"], "pod-1");
        assert_eq!(v["error"], Value::Null);
        assert_eq!(v["error_kind"], Value::Null);
        assert_eq!(v["metrics"]["engine"], expect);
        assert_eq!(v["metrics"]["instance_id"], "pod-1");
        assert_eq!(v["metrics"]["endpoint"], upstream.url("/metrics"));
    }
    // The vLLM fixture's figures come through (tests/fixtures/EXPECTED.md).
    let r = serve
        .get(&format!(
            "/api/v1/metrics/vllm/pod-2?endpoint={}",
            encode(&vllm.url("/metrics"))
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["instance_id"], "pod-2");
    assert!(v["load"]["requests_running"].is_number(), "{v}");
    assert!(!v["model_names"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn collection_failures_are_typed() {
    let up = Upstream::start(fixture("vllm_v1.prom")).await;
    let closed = {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let serve = Serve::start(&["--allow", "127.0.0.1"]).await;
    let cases = [
        (up.url("/missing"), "http-status", 502),
        (up.url("/html"), "not-an-exposition", 502),
        (format!("http://{closed}/metrics"), "connect", 502),
    ];
    for (url, kind, status) in &cases {
        let r = serve
            .post("/api/v1/collect/vllm", &collect_body("x", url))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_envelope(&v);
        assert_eq!(v["success"], false);
        assert_eq!(v["metrics"], Value::Null);
        assert_eq!(v["error_kind"], *kind, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));

        let r = serve
            .get(&format!("/api/v1/metrics/vllm/x?endpoint={}", encode(url)))
            .await;
        assert_eq!(r.status, *status, "{url}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.json()["error_kind"], *kind);
    }
    // A hung upstream: the caller's timeout, typed, answered within budget.
    let body = serde_json::json!({"instance_id": "x", "endpoint": up.url("/hang"), "timeout": 0.5});
    let r = serve.post("/api/v1/collect/vllm", &body.to_string()).await;
    assert_eq!(r.json()["error_kind"], "timeout", "{}", r.text);
    let r = serve
        .get(&format!(
            "/api/v1/metrics/vllm/x?timeout=0.5&endpoint={}",
            encode(&up.url("/hang"))
        ))
        .await;
    assert_eq!(r.status, 504, "{}", r.text);
    // TGI text asked for as vLLM is not a vLLM server.
    let tgi = Upstream::start(fixture("tgi.prom")).await;
    let r = serve
        .post(
            "/api/v1/collect/vllm",
            &collect_body("x", &tgi.url("/metrics")),
        )
        .await;
    assert_eq!(r.json()["error_kind"], "unrecognized-engine", "{}", r.text);
}

#[tokio::test]
async fn bad_requests_get_typed_4xx() {
    let serve = Serve::start(&["--allow", "127.0.0.1"]).await;
    let ok_url = "http://127.0.0.1:9/metrics";
    let big = format!(
        "{{\"instance_id\":\"{}\",\"endpoint\":\"{ok_url}\"}}",
        "x".repeat(100_000)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "/api/v1/collect/vllm",
            "{not json".into(),
            400,
            "malformed-json",
        ),
        (
            "/api/v1/collect/vllm",
            r#"{"instance_id":"a"}"#.into(),
            422,
            "invalid-body",
        ),
        (
            "/api/v1/collect/vllm",
            r#"{"instance_id":5,"endpoint":"x"}"#.into(),
            422,
            "invalid-body",
        ),
        ("/api/v1/collect/vllm", r#"[]"#.into(), 422, "invalid-body"),
        (
            "/api/v1/collect/nosuch",
            collect_body("a", ok_url),
            404,
            "unknown-engine",
        ),
        (
            "/api/v1/collect/vllm",
            collect_body(" ", ok_url),
            422,
            "invalid-body",
        ),
        (
            "/api/v1/collect/vllm",
            collect_body("a", "ftp://127.0.0.1/"),
            422,
            "invalid-url",
        ),
        (
            "/api/v1/collect/vllm",
            collect_body("a", "no url"),
            422,
            "invalid-url",
        ),
        (
            "/api/v1/collect/vllm",
            collect_body("a", "/metrics"),
            422,
            "invalid-url",
        ),
        (
            "/api/v1/collect/vllm",
            collect_body("a", "http://u:p@127.0.0.1/"),
            422,
            "invalid-url",
        ),
        (
            "/api/v1/collect/vllm",
            serde_json::json!({"instance_id": "a", "endpoint": ok_url, "timeout": -1}).to_string(),
            422,
            "invalid-timeout",
        ),
        (
            "/api/v1/collect/vllm",
            serde_json::json!({"instance_id": "a", "endpoint": ok_url, "timeout": 1e9}).to_string(),
            422,
            "invalid-timeout",
        ),
        ("/api/v1/collect/vllm", big, 413, "body-too-large"),
    ];
    for (path, body, status, kind) in cases {
        let r = serve.post(path, &body).await;
        let shown = &body[..body.len().min(80)];
        assert_eq!(r.status, status, "{path} {shown}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{shown}");
        let v = r.json();
        assert_eq!(v["error_kind"], kind, "{shown}: {v}");
        assert_eq!(v["status"], status);
    }
    // Wrong content type, missing query, unknown route, wrong method.
    let r = common::request(
        serve.addr,
        "POST",
        "/api/v1/collect/vllm",
        Some("{}".into()),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error_kind"].as_str()),
        (415, Some("unsupported-media-type"))
    );
    let r = serve.get("/api/v1/metrics/vllm/a").await;
    assert_eq!(
        (r.status, r.json()["error_kind"].as_str()),
        (400, Some("invalid-query"))
    );
    let r = serve
        .get("/api/v1/metrics/vllm/a?endpoint=gopher%3A%2F%2Fx")
        .await;
    assert_eq!(
        (r.status, r.json()["error_kind"].as_str()),
        (422, Some("invalid-url"))
    );
    let r = serve.get("/nowhere").await;
    assert_eq!(
        (r.status, r.json()["error_kind"].as_str()),
        (404, Some("not-found"))
    );
    let r = serve.get("/api/v1/collect/vllm").await;
    assert_eq!(
        (r.status, r.json()["error_kind"].as_str()),
        (405, Some("method-not-allowed"))
    );
}

#[tokio::test]
async fn ssrf_attempts_are_denied_without_a_connection() {
    let allowed = Upstream::start(fixture("vllm_v1.prom")).await;
    let trap = Tripwire::start().await;
    // Only the one upstream's port is allowed.
    let pattern = format!("127.0.0.1:{}", allowed.addr.port());
    let serve = Serve::start(&["--allow", &pattern]).await;

    let r = serve
        .post(
            "/api/v1/collect/vllm",
            &collect_body("ok", &allowed.url("/metrics")),
        )
        .await;
    assert_eq!(r.json()["success"], true, "{}", r.text);

    let denied_url = format!("http://{}/metrics", trap.addr);
    let r = serve
        .post("/api/v1/collect/vllm", &collect_body("evil", &denied_url))
        .await;
    let v = r.json();
    assert_eq!((r.status, v["success"].clone()), (200, Value::Bool(false)));
    assert_eq!(v["error_kind"], "denied", "{v}");
    let r = serve
        .get(&format!(
            "/api/v1/metrics/vllm/evil?endpoint={}",
            encode(&denied_url)
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "denied");
    // Names are checked too: `localhost` is not on the list.
    let r = serve
        .post(
            "/api/v1/collect/vllm",
            &collect_body(
                "evil",
                &format!("http://localhost:{}/metrics", trap.addr.port()),
            ),
        )
        .await;
    assert_eq!(r.json()["error_kind"], "denied", "{}", r.text);
    // Settle, then make sure nothing ever connected to the trap.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(trap.connections(), 0);
    assert_eq!(allowed.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn metadata_addresses_need_naming_explicitly() {
    // Even "everything" does not reach link-local or metadata addresses.
    let serve = Serve::start(&["--allow", "0.0.0.0/0", "--allow", "::/0"]).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
    ] {
        let r = serve
            .post("/api/v1/collect/auto", &collect_body("m", url))
            .await;
        let v = r.json();
        assert_eq!(v["error_kind"], "denied", "{url}: {v}");
        assert!(v["error"].as_str().unwrap().contains("metadata"), "{v}");
    }
    // With no --allow at all (and no targets), nothing is reachable.
    let up = Upstream::start(fixture("vllm_v1.prom")).await;
    let closed = Serve::start(&[]).await;
    let r = closed
        .post(
            "/api/v1/collect/vllm",
            &collect_body("x", &up.url("/metrics")),
        )
        .await;
    assert_eq!(r.json()["error_kind"], "denied", "{}", r.text);
    assert_eq!(up.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let serve = Serve::start(&[]).await;
    let r = serve.get("/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/collect/{engine}", "post"),
        ("/api/v1/metrics/{engine}/{instance_id}", "get"),
        ("/api/v1/targets", "get"),
        ("/api/v1/targets/{id}", "get"),
        ("/api/v1/targets/{id}", "put"),
        ("/api/v1/targets/{id}", "delete"),
        ("/api/v1/fleet", "get"),
        ("/api/v1/targets/{id}/errors", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    // Every documented route exists (a path never answers the router's
    // own "no such route").
    for path in paths.keys() {
        let concrete = path
            .replace("{engine}", "vllm")
            .replace("{instance_id}", "x")
            .replace("{id}", "x");
        let r = serve.get(&concrete).await;
        assert!(
            r.status != 404 || r.json()["detail"] != "no such route",
            "{path}: {}",
            r.text
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let envelope = &schemas["Envelope"]["properties"];
    for key in [
        "success",
        "instance_id",
        "timestamp",
        "metrics",
        "error",
        "error_kind",
    ] {
        assert!(envelope[key].is_object(), "Envelope.{key}");
    }
    assert_eq!(
        schemas["CollectBody"]["required"],
        serde_json::json!(["instance_id", "endpoint"])
    );
}

/// The OpenAPI document's exact set of paths with their methods, and of
/// schema names: the document is assembled from the rooms' fragments, and
/// this pins what the whole service documents, so a room that drops (or
/// grows) a route shows here.
#[tokio::test]
async fn openapi_document_pins_its_paths_methods_and_schemas() {
    let serve = Serve::start(&[]).await;
    let r = serve.get("/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = r.json();
    let mut operations: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{method} {path}"));
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "delete /api/v1/targets/{id}",
            "get /api/v1/fleet",
            "get /api/v1/fleet/window",
            "get /api/v1/metrics/{engine}/{instance_id}",
            "get /api/v1/targets",
            "get /api/v1/targets/{id}",
            "get /api/v1/targets/{id}/errors",
            "get /api/v1/targets/{id}/history",
            "get /api/v1/targets/{id}/window",
            "get /metrics",
            "get /openapi.json",
            "post /api/v1/collect/{engine}",
            "put /api/v1/targets/{id}",
        ]
    );
    let schemas: Vec<&str> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        schemas,
        ["CollectBody", "Envelope", "ProblemBody", "PutTarget"]
    );
}
