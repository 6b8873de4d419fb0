//! Pooled keep-alive connections in the host's sender: a real loopback
//! server counts the TCP connections it accepts. Sequential collects share
//! one connection and each gets its own, right answer; a response the guest
//! stopped reading (too large, a bad status) never goes back to the pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::wit::mapper::{CollectError, Snapshot};
use llm_metrics_host::{AllowedHost, EgressPolicy, Limits, Plugin};
use tokio::net::TcpListener;

use crate::common::{fixture, plugin_with};

/// Connections accepted and requests answered by a [`counting_server`].
#[derive(Default)]
pub struct Counts {
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
}

/// An axum server on `bind` (port 0) counting accepted connections and
/// requests: `/metrics` and `/other` serve the vLLM and TGI fixtures,
/// `/big` a body larger than the tests' cap, `/missing` a 404 with a body.
pub async fn counting_server(bind: SocketAddr) -> (SocketAddr, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let text = |name: &str| {
        let body = fixture(name);
        move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }
    };
    let seen = counts.clone();
    let router = Router::new()
        .route("/metrics", get(text("vllm_v1.prom")))
        .route("/other", get(text("tgi.prom")))
        .route(
            "/big",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain")],
                    vec![b'#'; 64 * 1024],
                )
            }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such page\n".repeat(100)).into_response() }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                seen.requests.fetch_add(1, Ordering::SeqCst);
                next.run(req)
            },
        ));
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = counts.clone();
    let listener = listener.tap_io(move |_| {
        accepted.connections.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, counts)
}

/// A collect of `url` with a 16 KB body cap.
pub fn target(url: String, engine: &str) -> Target {
    Target {
        url,
        instance_id: Some("ka".into()),
        engine: engine.into(),
        timeout_ms: 5_000,
        max_body_bytes: 16 << 20,
        headers: Vec::new(),
        include_raw: false,
    }
}

fn allow(addr: SocketAddr) -> EgressPolicy {
    EgressPolicy::deny_all().allow(AllowedHost::parse(&addr.to_string()).unwrap())
}

/// What `map` makes of the fixture, as `collect` of `url` should report it.
pub async fn expected(plugin: &Plugin, fixture_name: &str, engine: &str, url: &str) -> Snapshot {
    let mut s = plugin
        .map(
            &fixture(fixture_name),
            Some("text/plain; version=0.0.4"),
            engine,
            "ka",
        )
        .await
        .unwrap()
        .unwrap();
    s.endpoint = url.to_string();
    s
}

/// The snapshot without the time it was taken.
pub fn timeless(mut s: Snapshot) -> Snapshot {
    s.collected_at_ms = 0;
    s
}

/// A plugin of its own, so its pool starts empty.
fn fresh_plugin() -> Plugin {
    plugin_with(Limits::default())
}

#[tokio::test]
async fn sequential_collects_share_one_connection_and_each_gets_its_own_answer() {
    let (addr, counts) = counting_server("127.0.0.1:0".parse().unwrap()).await;
    let plugin = fresh_plugin();
    let vllm_url = format!("http://{addr}/metrics");
    let tgi_url = format!("http://{addr}/other");
    let vllm = timeless(expected(&plugin, "vllm_v1.prom", "vllm", &vllm_url).await);
    let tgi = timeless(expected(&plugin, "tgi.prom", "tgi", &tgi_url).await);
    for i in 0..10 {
        // Alternate two different bodies on the one connection: a byte of
        // one response left on it would corrupt the next.
        let (url, engine, want) = if i % 2 == 0 {
            (&vllm_url, "vllm", &vllm)
        } else {
            (&tgi_url, "tgi", &tgi)
        };
        let snapshot = plugin
            .collect(&target(url.clone(), engine), allow(addr))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("collect {i}: {e:?}"));
        assert_eq!(&timeless(snapshot), want, "collect {i}");
    }
    assert_eq!(counts.requests.load(Ordering::SeqCst), 10);
    assert_eq!(counts.connections.load(Ordering::SeqCst), 1, "keep-alive");
    let stats = plugin.sender().stats();
    assert_eq!((stats.opened, stats.reused, stats.idle), (1, 9, 1));
}

#[tokio::test]
async fn a_response_the_guest_stopped_reading_closes_its_connection() {
    let (addr, counts) = counting_server("127.0.0.1:0".parse().unwrap()).await;
    let plugin = fresh_plugin();
    let url = format!("http://{addr}/metrics");
    let want = timeless(expected(&plugin, "vllm_v1.prom", "vllm", &url).await);
    let ok = async || {
        let s = plugin
            .collect(&target(url.clone(), "vllm"), allow(addr))
            .await
            .unwrap()
            .expect("collected");
        assert_eq!(timeless(s), want);
    };
    ok().await; // connection 1
    // Larger than the target's cap: the guest stops at the content-length.
    let mut big = target(format!("http://{addr}/big"), "vllm");
    big.max_body_bytes = 1024;
    match plugin.collect(&big, allow(addr)).await.unwrap() {
        Err(CollectError::BodyTooLarge(1024)) => {}
        other => panic!("expected body-too-large, got {other:?}"),
    }
    ok().await; // connection 2: connection 1 carried an unread body
    let missing = target(format!("http://{addr}/missing"), "vllm");
    match plugin.collect(&missing, allow(addr)).await.unwrap() {
        Err(CollectError::HttpStatus(404)) => {}
        other => panic!("expected http-status 404, got {other:?}"),
    }
    ok().await; // connection 3
    ok().await; // reused
    assert_eq!(counts.requests.load(Ordering::SeqCst), 6);
    assert_eq!(counts.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn concurrent_collects_each_get_a_connection_and_idle_ones_are_bounded() {
    let (addr, counts) = counting_server("127.0.0.1:0".parse().unwrap()).await;
    let config = llm_metrics_host::SenderConfig {
        max_idle_per_host: 2,
        ..Default::default()
    };
    let plugin = Arc::new(fresh_plugin().with_sender(llm_metrics_host::Sender::new(config)));
    let url = format!("http://{addr}/metrics");
    let want = timeless(expected(&plugin, "vllm_v1.prom", "vllm", &url).await);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (plugin, url, want) = (plugin.clone(), url.clone(), want.clone());
        tasks.push(tokio::spawn(async move {
            let s = plugin
                .collect(&target(url, "vllm"), allow(addr))
                .await
                .unwrap()
                .expect("collected");
            assert_eq!(timeless(s), want);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = plugin.sender().stats();
    assert!(stats.idle <= 2, "{stats:?}");
    assert_eq!(counts.requests.load(Ordering::SeqCst), 6);
    assert_eq!(
        counts.connections.load(Ordering::SeqCst) as u64,
        stats.opened
    );
}
