//! End to end: what one caller may not do to the others, against a real
//! `llm-metrics-serve`: collects holding every ad-hoc slot do not stall
//! reads, and a short collect answers within its own timeout; control
//! characters in logged fields stay escaped on the real process's stderr;
//! the bearer scheme in any case, the read-only token, and configured
//! targets protected from the API.

mod common;

use std::time::Duration;

use common::{BUDGET, Serve, Upstream, encode, fixture, request};
use serde_json::json;

/// A configured target `cfg` on `upstream`, scraped every 200 ms.
fn config_for(upstream: &Upstream) -> std::path::PathBuf {
    common::write_config(&format!(
        "[[targets]]\nid = \"cfg\"\nurl = \"{}\"\nengine = \"vllm\"\ninterval = \"200ms\"\n",
        upstream.url("/metrics")
    ))
}

#[tokio::test]
async fn reads_and_short_collects_never_wait_for_collect_slots() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = config_for(&upstream);
    let serve = Serve::start(&[
        "--config",
        config.to_str().unwrap(),
        "--adhoc-concurrency",
        "2",
    ])
    .await;
    let deadline = tokio::time::Instant::now() + BUDGET;
    while serve.get("/api/v1/targets/cfg/window").await.status != 200 {
        assert!(tokio::time::Instant::now() < deadline, "no window");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two collects of a server that never answers hold both ad-hoc slots
    // for 45 s.
    let addr = serve.addr;
    let hang =
        json!({"instance_id": "h", "endpoint": upstream.url("/hang"), "timeout": 45}).to_string();
    let hung: Vec<_> = (0..2)
        .map(|_| {
            let body = hang.clone();
            tokio::spawn(async move {
                request(
                    addr,
                    "POST",
                    "/api/v1/collect/auto",
                    Some(body),
                    &[("content-type", "application/json")],
                )
                .await
            })
        })
        .collect();
    // A collect with `timeout=1` answers 503 `busy` (the wait for a slot
    // is part of its timeout), once both slots are taken.
    let short =
        json!({"instance_id": "s", "endpoint": upstream.url("/metrics"), "timeout": 1}).to_string();
    loop {
        let r = serve.post("/api/v1/collect/auto", &short).await;
        if r.status == 503 {
            assert_eq!(r.json()["error_kind"], "busy", "{}", r.text);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            tokio::time::Instant::now() < deadline,
            "never busy: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = serve
        .get(&format!(
            "/api/v1/metrics/auto/s?endpoint={}&timeout=1",
            encode(&upstream.url("/metrics"))
        ))
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    // Reads that compute windows answer while the slots stay taken.
    let m = serve.get("/metrics").await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert!(m.text.contains("llm_metrics_window_seconds{"), "{}", m.text);
    let w = serve.get("/api/v1/targets/cfg/window").await;
    assert_eq!(w.status, 200, "{}", w.text);
    let h = serve.get("/api/v1/targets/cfg/history?step=10s").await;
    assert_eq!(h.status, 200, "{}", h.text);
    let f = serve.get("/api/v1/fleet/window").await;
    assert_eq!(f.status, 200, "{}", f.text);
    assert!(f.text.contains("\"cfg\""), "{}", f.text);
    assert!(
        hung.iter().all(|h| !h.is_finished()),
        "the reads answered only after the hanging collects ended"
    );
    for h in hung {
        h.abort();
    }
}

#[tokio::test]
async fn control_characters_in_logged_fields_stay_escaped() {
    let serve = Serve::start(&[]).await;
    // Denied (nothing is allowed), so each is logged as a failure.
    let r = serve
        .post(
            "/api/v1/collect/auto",
            &json!({
                "instance_id": "x\r\nFORGED-BODY level=ERROR \u{1b}[31mred",
                "endpoint": "http://127.0.0.1:9/metrics",
            })
            .to_string(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "denied");
    let r = serve
        .get(&format!(
            "/api/v1/metrics/auto/y%0D%0AFORGED-PATH%1B%5B2J?endpoint={}",
            encode("http://127.0.0.1:9/metrics")
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let (_, log) = serve.terminate().await;
    assert!(log.contains("FORGED-BODY"), "{log}");
    assert!(log.contains("FORGED-PATH"), "{log}");
    for line in log.lines() {
        assert!(
            !line.starts_with("FORGED"),
            "a forged line: {line:?}\n{log}"
        );
    }
    assert!(!log.contains('\r'), "{log:?}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
    assert!(log.contains("\\r\\n"), "{log}");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let serve = Serve::start(&["--api-token", "admin-7"]).await;
    for auth in [
        "Bearer admin-7",
        "bearer admin-7",
        "BEARER admin-7",
        "bEaReR  admin-7",
    ] {
        let r = request(
            serve.addr,
            "GET",
            "/api/v1/targets",
            None,
            &[("authorization", auth)],
        )
        .await;
        assert_eq!(r.status, 200, "{auth}: {}", r.text);
    }
    for auth in [
        "Basic admin-7",
        "Bearer admin-8",
        "Beare admin-7",
        "admin-7",
    ] {
        let r = request(
            serve.addr,
            "GET",
            "/api/v1/targets",
            None,
            &[("authorization", auth)],
        )
        .await;
        assert_eq!(r.status, 401, "{auth}: {}", r.text);
    }
}

#[tokio::test]
async fn tokens_schemes_and_configured_targets() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = config_for(&upstream);
    let serve = Serve::start(&[
        "--config",
        config.to_str().unwrap(),
        "--api-token",
        "admin-7",
        "--read-token",
        "read-3",
    ])
    .await;
    let addr = serve.addr;
    let call = |method: &'static str, path: String, auth: &'static str, body: Option<String>| async move {
        request(
            addr,
            method,
            &path,
            body,
            &[
                ("authorization", auth),
                ("content-type", "application/json"),
            ],
        )
        .await
    };
    // The scheme in any case (RFC 9110 §11.1).
    for auth in [
        "Bearer admin-7",
        "bearer admin-7",
        "BEARER admin-7",
        "bearer read-3",
    ] {
        let r = call("GET", "/api/v1/targets".into(), auth, None).await;
        assert_eq!(r.status, 200, "{auth}: {}", r.text);
    }
    assert_eq!(
        call("GET", "/api/v1/targets".into(), "Basic admin-7", None)
            .await
            .status,
        401
    );
    assert_eq!(
        call("GET", "/api/v1/targets".into(), "Bearer nope", None)
            .await
            .status,
        401
    );

    // The read-only token reads…
    for path in [
        "/metrics",
        "/api/v1/targets/cfg",
        "/api/v1/fleet",
        "/openapi.json",
    ] {
        let r = call("GET", path.into(), "Bearer read-3", None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    // …and changes nothing, nor makes the service fetch.
    let target = json!({"url": upstream.url("/metrics")}).to_string();
    let collect = json!({"instance_id": "x", "endpoint": upstream.url("/metrics")}).to_string();
    for (method, path, body) in [
        (
            "PUT",
            "/api/v1/targets/new".to_string(),
            Some(target.clone()),
        ),
        ("DELETE", "/api/v1/targets/cfg".to_string(), None),
        ("POST", "/api/v1/collect/auto".to_string(), Some(collect)),
        (
            "GET",
            format!(
                "/api/v1/metrics/auto/x?endpoint={}",
                encode(&upstream.url("/metrics"))
            ),
            None,
        ),
    ] {
        let r = call(method, path.clone(), "Bearer read-3", body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert_eq!(r.json()["error_kind"], "read-only-token");
    }

    // The admin token may not replace or delete a configured target…
    let r = call(
        "DELETE",
        "/api/v1/targets/cfg".into(),
        "Bearer admin-7",
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "configured-target");
    let r = call(
        "PUT",
        "/api/v1/targets/cfg".into(),
        "Bearer admin-7",
        Some(target.clone()),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "configured-target");
    let r = call("GET", "/api/v1/targets/cfg".into(), "Bearer admin-7", None).await;
    assert_eq!(r.json()["url"], upstream.url("/metrics"));
    // …but may its own.
    let r = call(
        "PUT",
        "/api/v1/targets/new".into(),
        "Bearer admin-7",
        Some(target.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = call(
        "DELETE",
        "/api/v1/targets/new".into(),
        "Bearer admin-7",
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);

    // The operator may opt out.
    let open = Serve::start(&[
        "--config",
        config.to_str().unwrap(),
        "--api-edits-configured",
    ])
    .await;
    assert_eq!(open.put("/api/v1/targets/cfg", &target).await.status, 200);
    assert_eq!(open.delete("/api/v1/targets/cfg").await.status, 204);
}
