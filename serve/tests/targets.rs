//! End to end: configured and run-time targets, the scheduler's isolation of
//! a hung target, health, secrets, and shutdown on SIGTERM. Real processes
//! and servers on 127.0.0.1.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Serve, Tripwire, Upstream, fixture};
use serde_json::{Value, json};

#[tokio::test]
async fn a_hung_target_does_not_slow_a_fast_one() {
    let fast = Upstream::start(fixture("vllm_v1.prom")).await;
    let hung = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = common::write_config(&format!(
        r#"
        [[targets]]
        id = "fast"
        url = "{}"
        engine = "vllm"
        interval = "200ms"
        labels = {{ pool = "a" }}
        headers = {{ authorization = {{ env = "LLM_METRICS_E2E_TOKEN", prefix = "Bearer " }} }}
        [[targets]]
        id = "hung"
        url = "{}"
        interval = "200ms"
        timeout = "2s"
        "#,
        fast.url("/metrics"),
        hung.url("/hang"),
    ));
    // Two permits: the hung target holds one for its whole budget.
    let serve = {
        // SAFETY: set before the child is spawned; the child inherits it.
        unsafe { std::env::set_var("LLM_METRICS_E2E_TOKEN", "tok-7f3a") };
        Serve::start(&["--config", config.to_str().unwrap(), "--concurrency", "2"]).await
    };
    // Wait until the hung target's first scrape has timed out, then count
    // the fast target's scrapes over the next three seconds.
    serve
        .wait_for("/api/v1/targets/hung", |v| {
            v["health"]["last_error_kind"] == "timeout"
        })
        .await;
    let before = fast.hits.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = fast.hits.load(Ordering::SeqCst) - before;
    // 15 at 5/s; a generous containment bound, not a timing figure.
    assert!(
        during >= 7,
        "fast target scraped only {during} times in 3 s"
    );

    let v = serve.get("/api/v1/targets/fast").await.json();
    assert_eq!(v["health"]["consecutive_failures"], 0, "{v}");
    assert_eq!(v["health"]["stale"], false);
    assert_eq!(v["metrics"]["engine"], "vllm");
    assert_eq!(v["metrics"]["instance_id"], "fast");
    assert_eq!(v["labels"], json!({"pool": "a"}));
    assert_eq!(v["header_names"], json!(["authorization"]));
    let h = serve.get("/api/v1/targets/hung").await.json();
    assert!(
        h["health"]["consecutive_failures"].as_u64().unwrap() >= 1,
        "{h}"
    );
    assert_eq!(h["health"]["last_success"], Value::Null);
    assert_eq!(h["metrics"], Value::Null);
    // The secret reached the upstream, and nowhere else.
    assert_eq!(
        fast.last_auth.lock().unwrap().as_deref(),
        Some("Bearer tok-7f3a")
    );
    let list = serve.get("/api/v1/targets").await;
    assert_eq!(list.json()["targets"].as_array().unwrap().len(), 2);
    assert!(!list.text.contains("tok-7f3a"));
    assert!(
        !serve
            .get("/api/v1/targets/fast")
            .await
            .text
            .contains("tok-7f3a")
    );
    let (_, log) = serve.terminate().await;
    assert!(log.contains("scrape failed"), "{log}");
    assert!(!log.contains("tok-7f3a"), "{log}");
}

#[tokio::test]
async fn targets_are_added_and_removed_at_run_time() {
    let up = Upstream::start(fixture("tgi.prom")).await;
    let trap = Tripwire::start().await;
    let serve = Serve::start(&["--allow", &format!("127.0.0.1:{}", up.addr.port())]).await;
    assert_eq!(
        serve.get("/api/v1/targets").await.json(),
        json!({"targets": []})
    );

    let body = json!({"url": up.url("/metrics"), "engine": "tgi", "interval": 0.2, "labels": {"zone": "z1"}, "headers": {"x-api-key": "k-91c2"}});
    let r = serve.put("/api/v1/targets/tgi-0", &body.to_string()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("k-91c2"));
    let v = serve
        .wait_for("/api/v1/targets/tgi-0", |v| v["metrics"].is_object())
        .await;
    assert_eq!(v["metrics"]["engine"], "tgi");
    assert_eq!(v["labels"]["zone"], "z1");
    // Replacing answers 200.
    let r = serve.put("/api/v1/targets/tgi-0", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A target the allow-list does not cover is refused, and never contacted.
    let evil = json!({"url": format!("http://{}/metrics", trap.addr)});
    let r = serve.put("/api/v1/targets/evil", &evil.to_string()).await;
    assert_eq!(
        (r.status, r.json()["error_kind"].clone()),
        (403, json!("denied")),
        "{}",
        r.text
    );
    for (bad, kind) in [
        (
            json!({"url": up.url("/metrics"), "engine": "nosuch"}),
            "invalid-target",
        ),
        (
            json!({"url": up.url("/metrics"), "interval": 0.001}),
            "invalid-target",
        ),
        (
            json!({"url": up.url("/metrics"), "labels": {"__x": "y"}}),
            "invalid-target",
        ),
        (
            json!({"url": up.url("/metrics"), "headers": {"x": "a\nb"}}),
            "invalid-target",
        ),
        (json!({"url": "ftp://x/"}), "invalid-target"),
        (
            json!({"url": up.url("/metrics"), "bogus": 1}),
            "invalid-body",
        ),
        (json!({"engine": "tgi"}), "invalid-body"),
    ] {
        let r = serve.put("/api/v1/targets/bad", &bad.to_string()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
        assert_eq!(r.json()["error_kind"], kind, "{bad}");
    }
    let r = serve
        .put("/api/v1/targets/bad%20id", &body.to_string())
        .await;
    assert_eq!(r.json()["error_kind"], "invalid-target", "{}", r.text);
    assert_eq!(
        serve.get("/api/v1/targets").await.json()["targets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Removal stops the scrapes.
    assert_eq!(serve.delete("/api/v1/targets/tgi-0").await.status, 204);
    assert_eq!(serve.delete("/api/v1/targets/tgi-0").await.status, 404);
    assert_eq!(serve.get("/api/v1/targets/tgi-0").await.status, 404);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = up.hits.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        after,
        "scrapes continued after DELETE"
    );
    assert_eq!(trap.connections(), 0);
}

#[tokio::test]
async fn sigterm_lets_scrapes_in_flight_finish() {
    let up = Upstream::start(fixture("vllm_v1.prom")).await;
    // `/slow` answers after one second, so a scrape is in flight at any time.
    let config = common::write_config(&format!(
        "[[targets]]\nid = \"slow\"\nurl = \"{}\"\ninterval = \"200ms\"\ntimeout = \"5s\"\n",
        up.url("/slow")
    ));
    let serve = Serve::start(&["--config", config.to_str().unwrap()]).await;
    serve
        .wait_for("/api/v1/targets/slow", |v| v["metrics"].is_object())
        .await;
    let (status, log) = serve.terminate().await;
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("every scrape in flight finished"), "{log}");
}
