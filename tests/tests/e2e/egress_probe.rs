//! The egress policy against a guest that tries to get around it, and
//! per-call state under concurrency: 100 calls sharing one `Plugin` and one
//! `EgressPolicy` each get exactly their own outcome. Servers are real and
//! on 127.0.0.1 only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use llm_metrics_host::wit::collector::{Header, Target};
use llm_metrics_host::wit::mapper::CollectError;
use llm_metrics_host::wit::types::Format;
use llm_metrics_host::{AllowedHost, EgressPolicy, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{fixture, plugin_with};
use crate::hostile::hostile;

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server that counts every request it gets.
async fn counting_server(hits: Arc<AtomicUsize>, redirect_to: Option<String>) -> SocketAddr {
    let router = Router::new().fallback(move || {
        let hits = hits.clone();
        let redirect_to = redirect_to.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            match redirect_to {
                Some(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
                None => "reached 1\n".into_response(),
            }
        }
    });
    serve(router).await
}

fn target(url: String, timeout_ms: u32, headers: Vec<Header>) -> Target {
    Target {
        url,
        instance_id: None,
        engine: "auto".into(),
        timeout_ms,
        max_body_bytes: 16 << 20,
        headers,
        include_raw: false,
    }
}

/// The guest asks for a host off the list, then for where an allowed server
/// redirects it, then for the cloud metadata address. Each is refused before
/// any connection: the redirect target never sees a request.
#[tokio::test]
async fn denied_host_redirect_target_and_link_local_are_all_refused() {
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let elsewhere = counting_server(elsewhere_hits.clone(), None).await;
    let allowed_hits = Arc::new(AtomicUsize::new(0));
    let allowed = counting_server(
        allowed_hits.clone(),
        Some(format!("http://127.0.0.1:{}/stolen", elsewhere.port())),
    )
    .await;
    let probe = |value: String| Header {
        name: "probe".into(),
        value,
    };
    let t = target(
        format!("http://{allowed}/metrics"),
        5_000,
        vec![
            probe(format!("http://localhost:{}/denied-host", elsewhere.port())),
            probe(format!("follow:http://{allowed}/redirect")),
            probe("http://169.254.169.254/latest/meta-data/".into()),
        ],
    );
    let policy = EgressPolicy::deny_all().allow(AllowedHost::from_url(&t.url).unwrap());
    let plugin = hostile(Limits::default());
    let start = Instant::now();
    let report = match plugin.collect(&t, policy).await.expect("no trap") {
        Err(CollectError::Denied(report)) => report,
        other => panic!("the guest got through: {other:?}"),
    };
    assert!(start.elapsed() < Duration::from_secs(10));
    let lines: Vec<&str> = report.split("; ").collect();
    assert_eq!(
        lines,
        [
            format!("http://localhost:{}/denied-host: denied", elsewhere.port()),
            format!(
                "http://{allowed}/redirect: 302 to http://127.0.0.1:{}/stolen",
                elsewhere.port()
            ),
            format!("http://127.0.0.1:{}/stolen: denied", elsewhere.port()),
            "http://169.254.169.254/latest/meta-data/: denied".to_string(),
        ]
    );
    assert_eq!(
        allowed_hits.load(Ordering::SeqCst),
        1,
        "the allowed request"
    );
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0, "nothing else");
    // The same plugin serves the next call.
    let next = plugin
        .parse(b"ok", &crate::common::opts(Format::Auto, false))
        .await
        .expect("no trap")
        .expect("no parse error");
    assert!(next.families.is_empty());
}

/// A `timeout-ms` of 49 days reaches the guest as the host's 5-minute cap.
#[tokio::test]
async fn the_fetch_budget_is_capped() {
    let plugin = hostile(Limits::default());
    let echo = Header {
        name: "echo-budget".into(),
        value: String::new(),
    };
    for (asked, got) in [(u32::MAX, 300_000), (1_500, 1_500)] {
        let t = target(
            "http://127.0.0.1:9/metrics".into(),
            asked,
            vec![echo.clone()],
        );
        let policy = EgressPolicy::deny_all();
        match plugin.collect(&t, policy).await.expect("no trap") {
            Err(CollectError::Timeout(budget)) => assert_eq!(budget, format!("{got} ms")),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        llm_metrics_host::plugin::MAX_FETCH_BUDGET,
        Duration::from_millis(300_000)
    );
}

/// Declares a long body, sends a few bytes, hangs up: a transport error that
/// has nothing to do with any body cap.
async fn truncating_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\
                          content-length: 100000\r\n\r\nvllm:num_requests_running 1\n",
                    )
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

async fn serve_text(body: Vec<u8>) -> SocketAddr {
    serve(Router::new().route(
        "/metrics",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    ))
    .await
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Snapshot,
    TooLarge,
    Transport,
}

/// One `Plugin`, one `EgressPolicy` with a 64 KiB cap, 100 calls at once:
/// a third fetch a small exposition, a third one over the cap, a third one
/// cut off by the server. A call that hit the cap must not make any other
/// call report `body-too-large`, and vice versa.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_one_plugin_and_policy_get_their_own_outcomes() {
    let cap = 64 * 1024;
    let small = fixture("vllm_v0.prom");
    let large = fixture("vllm_v1.prom");
    assert!(small.len() < cap as usize && large.len() > cap as usize);
    let ok_addr = serve_text(small).await;
    let large_addr = serve_text(large).await;
    let cut_addr = truncating_server().await;
    let policy = EgressPolicy::deny_all()
        .allow(AllowedHost::parse("127.0.0.1").unwrap())
        .with_max_body_bytes(cap);
    let plugin = plugin_with(Limits::default());
    let calls = (0..100).map(|i| {
        let (addr, expect) = match i % 3 {
            0 => (ok_addr, Expect::Snapshot),
            1 => (large_addr, Expect::TooLarge),
            _ => (cut_addr, Expect::Transport),
        };
        let t = target(format!("http://{addr}/metrics"), 20_000, Vec::new());
        let (plugin, policy) = (&plugin, policy.clone());
        async move {
            let got = match plugin.collect(&t, policy).await.expect("no trap") {
                Ok(snapshot) => {
                    assert_eq!(snapshot.engine, "vllm");
                    Expect::Snapshot
                }
                Err(CollectError::BodyTooLarge(n)) => {
                    assert_eq!(n, cap);
                    Expect::TooLarge
                }
                Err(CollectError::Transport(_)) => Expect::Transport,
                Err(other) => panic!("call {i}: unexpected {other:?}"),
            };
            (i, expect, got)
        }
    });
    let outcomes = futures_util::future::join_all(calls).await;
    let wrong: Vec<_> = outcomes.iter().filter(|(_, e, g)| e != g).collect();
    assert!(
        wrong.is_empty(),
        "calls that got another call's outcome: {wrong:?}"
    );
    assert_eq!(outcomes.len(), 100);
}
