//! Pooled engines and their slots: a call beyond a pooled engine's slots
//! waits for one and then answers, never fails to instantiate. A loopback
//! server that holds each request a while counts how many are in flight at
//! once, which is how many calls hold a slot (each holds one while it
//! fetches).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use llm_metrics_host::engine::{SHARED_SLOTS, shared_engine_pools};
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::{
    AllowedHost, ComponentSource, EgressPolicy, EngineChoice, Limits, Plugin, PluginOptions,
};
use tokio::net::TcpListener;

use crate::common::fixture;

/// Requests in flight now, and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// A server answering `/metrics` with the vLLM fixture after holding the
/// request for `hold`.
async fn holding_server(hold: Duration) -> (SocketAddr, Arc<InFlight>) {
    let counts = Arc::new(InFlight::default());
    let seen = counts.clone();
    let body = fixture("vllm_v1.prom");
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let (seen, body) = (seen.clone(), body.clone());
            async move {
                let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
                seen.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                seen.now.fetch_sub(1, Ordering::SeqCst);
                ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, counts)
}

/// `calls` collects of the server at once through `plugin`; every one must
/// answer with the fixture's snapshot.
async fn collect_at_once(plugin: Arc<Plugin>, addr: SocketAddr, calls: usize) {
    let target = Target {
        url: format!("http://{addr}/metrics"),
        instance_id: Some("slots".into()),
        engine: "vllm".into(),
        timeout_ms: 30_000,
        max_body_bytes: 16 << 20,
        headers: Vec::new(),
        include_raw: false,
    };
    let policy = EgressPolicy::deny_all().allow(AllowedHost::parse(&addr.to_string()).unwrap());
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let (plugin, target, policy) = (plugin.clone(), target.clone(), policy.clone());
            tokio::spawn(async move { plugin.collect(&target, policy).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let snapshot = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("call {i} did not run: {e}"))
            .unwrap_or_else(|e| panic!("call {i}: {e:?}"));
        assert_eq!(snapshot.engine, "vllm");
        assert!(snapshot.load.requests_running.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_a_pooled_engines_slots_wait_for_one() {
    let (addr, counts) = holding_server(Duration::from_millis(100)).await;
    let options = PluginOptions {
        limits: Limits {
            memory_bytes: 64 << 20,
            ..Limits::default()
        },
        cache_dir: None,
        engine: EngineChoice::Pooled { slots: 2 },
    };
    let plugin = Arc::new(Plugin::new(&ComponentSource::Embedded, &options).unwrap());
    collect_at_once(plugin, addr, 6).await;
    let most = counts.most.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "two slots, yet {most} requests were in flight at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_engine_pools_and_more_calls_than_slots_all_answer() {
    assert!(
        shared_engine_pools(),
        "the shared engine fell back to on-demand allocation on this machine"
    );
    let (addr, counts) = holding_server(Duration::from_millis(100)).await;
    let plugin =
        Arc::new(Plugin::new(&ComponentSource::Embedded, &PluginOptions::default()).unwrap());
    let calls = SHARED_SLOTS as usize + 8;
    collect_at_once(plugin, addr, calls).await;
    let most = counts.most.load(Ordering::SeqCst);
    assert!(
        most <= SHARED_SLOTS as usize,
        "{SHARED_SLOTS} shared slots, yet {most} requests were in flight at once"
    );
}
