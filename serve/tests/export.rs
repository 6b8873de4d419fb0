//! End to end: `GET /metrics` checked by our own strict parser (the real
//! component through the real host), the fleet view, and the API token.

mod common;

use common::{Serve, Upstream, fixture};
use llm_metrics_host::plugin::default_cache_dir;
use llm_metrics_host::wit::types::{Format, MetricType, ParseOptions};
use llm_metrics_host::{ComponentSource, Plugin, PluginOptions};
use serde_json::{Value, json};

async fn two_targets(extra: &[&str]) -> (Serve, Upstream, Upstream) {
    let vllm = Upstream::start(fixture("vllm_v1.prom")).await;
    let tgi = Upstream::start(fixture("tgi.prom")).await;
    let dir = std::env::temp_dir().join(format!("llm-metrics-serve-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.toml", extra.len()));
    std::fs::write(
        &path,
        format!(
            "[[targets]]\nid = \"vllm-0\"\nurl = \"{}\"\ninterval = \"1s\"\nlabels = {{ pool = \"a\", zone = \"q\\\"uote\" }}\n\
             [[targets]]\nid = \"tgi-0\"\nurl = \"{}\"\nengine = \"tgi\"\ninterval = \"1s\"\nlabels = {{ pool = \"b\" }}\n",
            vllm.url("/metrics"),
            tgi.url("/metrics")
        ),
    )
    .unwrap();
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let serve = Serve::start(&args).await;
    (serve, vllm, tgi)
}

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn metrics_pass_the_strict_parser_and_fleet_groups_by_model() {
    let (serve, _vllm, _tgi) = two_targets(&[]).await;
    for id in ["vllm-0", "tgi-0"] {
        serve
            .wait_for(&format!("/api/v1/targets/{id}"), |v| {
                v["metrics"].is_object()
            })
            .await;
    }
    let r = serve.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        r.content_type
    );

    let plugin = Plugin::new(
        &ComponentSource::Embedded,
        &PluginOptions {
            cache_dir: default_cache_dir(),
            ..PluginOptions::default()
        },
    )
    .unwrap();
    let options = ParseOptions {
        format: Format::Prometheus,
        strict: true,
        content_type: Some(r.content_type.clone()),
    };
    let parsed = plugin
        .parse(r.text.as_bytes(), &options)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("strict parse failed: {e:?}\n{}", r.text));
    let family = |name: &str| {
        parsed
            .families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no {name} in\n{}", r.text))
    };
    let label = |s: &llm_metrics_host::wit::types::Sample, k: &str| {
        s.labels
            .iter()
            .find(|l| l.name == k)
            .map(|l| l.value.clone())
    };
    let up = family("llm_metrics_target_up");
    assert_eq!(up.type_, MetricType::Gauge);
    assert_eq!(up.samples.len(), 2);
    assert!(up.samples.iter().all(|s| s.value == 1.0));
    let running = family("llm_metrics_requests_running");
    let v = running
        .samples
        .iter()
        .find(|s| label(s, "instance").as_deref() == Some("vllm-0"))
        .unwrap();
    assert_eq!(label(v, "engine").as_deref(), Some("vllm"));
    assert_eq!(label(v, "pool").as_deref(), Some("a"));
    assert_eq!(label(v, "zone").as_deref(), Some("q\"uote"));
    assert!(label(v, "model").is_some_and(|m| !m.is_empty()));
    // The value is the snapshot's.
    let snap = serve.get("/api/v1/targets/vllm-0").await.json();
    assert_eq!(json!(v.value), snap["metrics"]["load"]["requests_running"]);
    let scrapes = family("llm_metrics_scrapes_total");
    assert_eq!(scrapes.type_, MetricType::Counter);
    let e2e = family("llm_metrics_e2e_request_latency_seconds");
    assert_eq!(e2e.type_, MetricType::Histogram);
    assert!(e2e.samples.iter().any(|s| s.name.ends_with("_count")));
    // The engine's buckets, read back by our strict parser, end in `+Inf`.
    let vllm_buckets: Vec<_> = e2e
        .samples
        .iter()
        .filter(|s| {
            s.name.ends_with("_bucket") && label(s, "instance").as_deref() == Some("vllm-0")
        })
        .collect();
    assert!(vllm_buckets.len() > 2, "{vllm_buckets:?}");
    assert_eq!(
        label(vllm_buckets.last().unwrap(), "le").as_deref(),
        Some("+Inf")
    );

    // Fleet: vLLM's model, and TGI (no model label) under null.
    let fleet = serve.get("/api/v1/fleet").await.json();
    let models = fleet["models"].as_array().unwrap();
    let tgi = models.iter().find(|m| m["model"].is_null()).unwrap();
    assert_eq!(tgi["instances"][0]["instance_id"], "tgi-0");
    let vllm = models.iter().find(|m| !m["model"].is_null()).unwrap();
    assert_eq!(vllm["instances"][0]["instance_id"], "vllm-0");
    assert_eq!(vllm["instances"][0]["stale"], false);
    assert_eq!(
        vllm["totals"]["requests_running"]["sum"],
        snap["metrics"]["load"]["requests_running"]
    );
    let model = vllm["model"].as_str().unwrap().to_string();
    let only_a = serve.get("/api/v1/fleet?label=pool%3Da").await.json();
    assert_eq!(only_a["models"].as_array().unwrap().len(), 1, "{only_a}");
    let by_model = serve
        .get(&format!("/api/v1/fleet?model={}", common::encode(&model)))
        .await
        .json();
    assert_eq!(by_model["models"][0]["model"], Value::String(model));
    assert_eq!(by_model["models"].as_array().unwrap().len(), 1);
    let r = serve.get("/api/v1/fleet?label=nonsense").await;
    assert_eq!(
        (r.status, r.json()["error_kind"].clone()),
        (400, json!("invalid-query"))
    );
}

#[tokio::test]
async fn api_token_guards_every_route() {
    let (serve, _vllm, _tgi) = two_targets(&["--api-token", "t0ken-5e"]).await;
    for path in ["/metrics", "/api/v1/targets", "/api/v1/fleet", "/nowhere"] {
        let r = serve.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error_kind"], "unauthorized");
        let bad = common::request(
            serve.addr,
            "GET",
            path,
            None,
            &[("authorization", &auth("t0ken-5f"))],
        )
        .await;
        assert_eq!(bad.status, 401, "{path}");
    }
    let ok = common::request(
        serve.addr,
        "GET",
        "/api/v1/targets",
        None,
        &[("authorization", &auth("t0ken-5e"))],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["targets"].as_array().unwrap().len(), 2);
    let (status, log) = serve.terminate().await;
    assert!(status.success());
    assert!(!log.contains("t0ken-5e"), "{log}");
}

/// A target that never answered is listed under `down` with its last error,
/// and `/metrics` labels it with one engine on every series once detected.
#[tokio::test]
async fn a_target_that_never_answered_is_listed_down() {
    let vllm = Upstream::start(fixture("vllm_v1.prom")).await;
    let port = vllm.addr.port();
    // A port nothing listens on, allowed like the live one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let serve = Serve::start(&[
        "--allow",
        &format!("127.0.0.1:{port}"),
        "--allow",
        &format!("127.0.0.1:{dead_port}"),
    ])
    .await;
    let put = |id: &'static str, url: String| {
        let serve = &serve;
        async move {
            let body = json!({"url": url, "interval": 0.2}).to_string();
            let r = serve.put(&format!("/api/v1/targets/{id}"), &body).await;
            assert_eq!(r.status, 201, "{}", r.json());
        }
    };
    put("live", vllm.url("/metrics")).await;
    put("dead", format!("http://127.0.0.1:{dead_port}/metrics")).await;
    let fleet = serve
        .wait_for("/api/v1/fleet", |f| {
            f["down"][0]["last_error"]["kind"].is_string() && !f["models"][0].is_null()
        })
        .await;
    let down = fleet["down"].as_array().unwrap();
    assert_eq!(down.len(), 1, "{fleet}");
    assert_eq!(down[0]["instance_id"], "dead");
    assert_eq!(down[0]["engine"], "auto");
    assert_eq!(down[0]["last_error"]["kind"], "connect", "{fleet}");
    assert!(down[0]["consecutive_failures"].as_u64().unwrap() >= 1);
    // Asked for a model, only instances known to serve it are listed.
    let model = fleet["models"][0]["model"].as_str().unwrap().to_string();
    let by_model = serve
        .get(&format!("/api/v1/fleet?model={}", common::encode(&model)))
        .await
        .json();
    assert_eq!(by_model["down"], json!([]));

    // The live target's every series says `engine="vllm"`, never `auto`.
    let text = serve.get("/metrics").await.text;
    let live: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("instance=\"live\""))
        .collect();
    assert!(live.len() > 5, "{text}");
    assert!(
        live.iter().all(|l| l.contains("engine=\"vllm\"")),
        "{live:#?}"
    );
    assert!(text.contains("llm_metrics_target_up{instance=\"dead\",engine=\"auto\"}"));
}
