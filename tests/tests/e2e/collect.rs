//! `collect` through the component against real HTTP servers on loopback:
//! well-behaved engines, hostile servers, and the host's egress policy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use llm_metrics_host::wit::collector::{CollectError, Engine, Snapshot, Target};
use llm_metrics_host::{AllowedHost, EgressPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{fixture, plugin};

const VLLM_CT: &str = "text/plain; version=1.0.0; charset=utf-8";

/// Serve `router` on an ephemeral loopback port for the rest of the test.
async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server whose `/metrics` returns `body` with `content_type`.
async fn serve_body(content_type: &'static str, body: Vec<u8>) -> SocketAddr {
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, content_type)], body) }
        }),
    );
    serve(router).await
}

fn target(addr: SocketAddr, timeout_ms: u32, max_body_bytes: u64) -> Target {
    Target {
        url: format!("http://{addr}/metrics"),
        instance_id: None,
        engine: Engine::Auto,
        timeout_ms,
        max_body_bytes,
        headers: Vec::new(),
        include_raw: false,
    }
}

fn allow(t: &Target) -> EgressPolicy {
    EgressPolicy::deny_all().allow(AllowedHost::from_url(&t.url).unwrap())
}

async fn collect(t: &Target) -> Result<Snapshot, CollectError> {
    plugin()
        .collect(t, allow(t))
        .await
        .expect("the plugin must not trap")
}

/// After any failure, a normal collection still works.
async fn next_collect_works() {
    let addr = serve_body(VLLM_CT, fixture("vllm_v1.prom")).await;
    let snap = collect(&target(addr, 5_000, 16 << 20))
        .await
        .expect("a good server after a bad one");
    assert_eq!(snap.engine, Engine::Vllm);
}

#[tokio::test]
async fn status_errors_404_and_500() {
    let router = Router::new()
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    let addr = serve(router).await;
    for (path, code) in [("missing", 404), ("broken", 500)] {
        let mut t = target(addr, 2_000, 1 << 20);
        t.url = format!("http://{addr}/{path}");
        assert_eq!(
            collect(&t).await.unwrap_err(),
            CollectError::HttpStatus(code)
        );
    }
    next_collect_works().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let router = Router::new().route(
        "/metrics",
        get(|| async { Redirect::temporary("http://127.0.0.1:9/elsewhere") }),
    );
    let addr = serve(router).await;
    assert_eq!(
        collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err(),
        CollectError::HttpStatus(307)
    );
    next_collect_works().await;
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // closed again: nothing listens there
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::Connect(_) => {}
        other => panic!("expected a connect error, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn silent_server_times_out_within_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..8 {
            let Ok((socket, _)) = listener.accept().await else {
                break;
            };
            held.push(socket); // accept and never answer
        }
    });
    let start = Instant::now();
    let err = collect(&target(addr, 800, 1 << 20)).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, CollectError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    next_collect_works().await;
}

#[tokio::test]
async fn dripping_server_times_out_within_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..30 {
            // One byte per second: never idle long enough for a between-bytes timeout.
            if socket.write_all(b"1\r\na\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let start = Instant::now();
    let err = collect(&target(addr, 1_500, 1 << 20)).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, CollectError::Timeout(_)), "{err:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "cut by the budget, took {elapsed:?}"
    );
    next_collect_works().await;
}

#[tokio::test]
async fn endless_body_stops_at_the_cap() {
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            // At most 1 GiB, far past any cap used here.
            let chunks = futures_stream(16_384);
            Response::builder()
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from_stream(chunks))
                .unwrap()
        }),
    );
    let addr = serve(router).await;
    let start = Instant::now();
    let err = collect(&target(addr, 5_000, 1 << 20)).await.unwrap_err();
    assert_eq!(err, CollectError::BodyTooLarge(1 << 20));
    assert!(start.elapsed() < Duration::from_secs(5));
    next_collect_works().await;
}

/// `n` chunks of 64 KiB of sample lines.
fn futures_stream(
    n: usize,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let line = b"vllm:num_requests_running{engine=\"0\"} 1\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    futures_util::stream::iter((0..n).map(move |_| Ok(chunk.clone())))
}

#[tokio::test]
async fn declared_body_over_the_cap_is_refused() {
    let addr = serve_body("text/plain", fixture("vllm_v1.prom")).await;
    let err = collect(&target(addr, 2_000, 1_000)).await.unwrap_err();
    assert_eq!(err, CollectError::BodyTooLarge(1_000));
    next_collect_works().await;
}

#[tokio::test]
async fn host_caps_the_body_even_when_the_guest_allows_more() {
    let addr = serve_body("text/plain", fixture("vllm_v1.prom")).await;
    let t = target(addr, 2_000, 64 << 20);
    let err = plugin()
        .collect(&t, allow(&t).with_max_body_bytes(1_000))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CollectError::BodyTooLarge(_)), "{err:?}");
    next_collect_works().await;
}

#[tokio::test]
async fn non_utf8_body_is_a_parse_error_with_position() {
    let addr = serve_body(
        "text/plain; version=0.0.4",
        b"vllm:num_requests_running 1\nvllm:x{a=\"\xc3\x28\"} 2\n".to_vec(),
    )
    .await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::Parse(e) => assert_eq!((e.line, e.column), (2, 11), "{}", e.message),
        other => panic!("expected a parse error, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn html_page_is_not_an_exposition() {
    let addr = serve_body(
        "text/html; charset=utf-8",
        b"<html><body>Login</body></html>".to_vec(),
    )
    .await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::NotAnExposition(m) => assert!(m.contains("text/html"), "{m}"),
        other => panic!("expected not-an-exposition, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn exposition_of_no_known_engine_is_an_error() {
    let text = b"# TYPE go_goroutines gauge\ngo_goroutines 12\n".to_vec();
    let addr = serve_body("text/plain", text).await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::UnrecognizedEngine(m) => assert!(m.contains("go_goroutines"), "{m}"),
        other => panic!("expected unrecognized-engine, got {other:?}"),
    }
}

#[tokio::test]
async fn host_not_on_the_allow_list_is_denied_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let t = target(addr, 2_000, 1 << 20);
    // Same host, other port: not this endpoint.
    let other_port = EgressPolicy::deny_all()
        .allow(AllowedHost::parse(&format!("127.0.0.1:{}", addr.port() ^ 1)).unwrap());
    for policy in [EgressPolicy::deny_all(), other_port] {
        match plugin().collect(&t, policy).await.unwrap().unwrap_err() {
            CollectError::Denied(_) => {}
            other => panic!("expected denied, got {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener saw a connection"
    );
    next_collect_works().await;
}

#[tokio::test]
async fn request_headers_and_accept_reach_the_server() {
    let router = Router::new().route(
        "/metrics",
        get(|headers: axum::http::HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let accept = headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if auth != "Bearer s3cret" || !accept.starts_with("text/plain;version=0.0.4") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            ([(header::CONTENT_TYPE, VLLM_CT)], fixture("vllm_v1.prom")).into_response()
        }),
    );
    let addr = serve(router).await;
    let mut t = target(addr, 2_000, 16 << 20);
    assert_eq!(
        collect(&t).await.unwrap_err(),
        CollectError::HttpStatus(401)
    );
    t.headers.push(llm_metrics_host::wit::collector::Header {
        name: "Authorization".into(),
        value: "Bearer s3cret".into(),
    });
    t.instance_id = Some("gpu-node-7".into());
    let snap = collect(&t).await.unwrap();
    assert_eq!(snap.instance_id, "gpu-node-7");
    assert_eq!(snap.endpoint, t.url);
}
