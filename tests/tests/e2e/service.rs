//! The component as a `wasi:http` service, run the way `wasmtime serve` runs
//! it: wasmtime-wasi-http's `ProxyPre` (through `llm_metrics_host::Service`)
//! behind a hyper server on loopback, real HTTP requests from a hyper client,
//! and the component's own fetches through the host's egress hook.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use llm_metrics_host::plugin::shared_engine;
use llm_metrics_host::{AllowedHost, EgressPolicy, Limits, Service, json};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use wasmtime_wasi_http::io::TokioIo;

use crate::common::{component, fixture, plugin};

/// Every exposition fixture.
pub(super) const FIXTURES: &[&str] = &[
    "llamacpp_b5000.prom",
    "llamacpp_recent.prom",
    "sglang_v0_4.prom",
    "sglang_v0_5.prom",
    "tgi.prom",
    "triton_trtllm.prom",
    "trtllm_serve.prom",
    "vllm_v0.prom",
    "vllm_v1.prom",
];

/// The component behind a hyper HTTP/1.1 server on an ephemeral loopback port.
async fn start(egress: EgressPolicy) -> SocketAddr {
    let service = Service::from_component(
        &shared_engine().unwrap(),
        component(),
        Limits::default(),
        egress,
    )
    .expect("the component links as a service");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |req| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(service.respond(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    addr
}

/// An upstream engine on loopback: `/metrics` is vLLM, `/html` a web page,
/// `/missing` a 404, `/stall` never answers (within a test's time).
pub(super) async fn upstream() -> SocketAddr {
    let router = Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    fixture("vllm_v1.prom"),
                )
            }),
        )
        .route(
            "/html",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>hi</html>") }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/stall",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                ""
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// An HTTP answer: status, the headers the tests look at, the JSON body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) allow: Option<String>,
    pub(super) json: Value,
    /// The body as sent, byte for byte.
    pub(super) text: String,
}

/// One real HTTP/1.1 request over a fresh loopback connection.
async fn send(addr: SocketAddr, method: &str, path: &str, body: Vec<u8>) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let allow = header("allow");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Answer {
        status,
        content_type,
        allow,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        json,
    }
}

/// The host's document as the client sees it: printed and parsed back with
/// the same parser as the service's answer (serde_json's default float
/// parser may land one ulp off, the same way for the same text).
pub(super) fn as_sent(doc: &Value) -> Value {
    serde_json::from_str(&doc.to_string()).unwrap()
}

/// Milliseconds since the epoch of an RFC 3339 UTC time with milliseconds
/// (`2025-01-31T12:00:00.250Z`), counted the slow way (days month by month),
/// independently of the contract's writer.
fn millis(text: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| text[r].parse::<u64>().unwrap();
    assert_eq!(text.len(), 24, "{text}");
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut days = (1970..year)
        .map(|y| if leap(y) { 366 } else { 365 })
        .sum::<u64>();
    for m in 1..month {
        days += match m {
            2 if leap(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
    }
    days += day - 1;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    secs * 1000 + n(20..23)
}

/// The snapshot without its collection time, which differs between calls.
pub(super) fn timeless(mut doc: Value) -> Value {
    let collected = doc.as_object_mut().unwrap().remove("collected_at");
    assert!(collected.is_some_and(|c| c.is_string()), "{doc}");
    doc
}

pub(super) fn assert_problem(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.content_type, "application/problem+json");
    assert_eq!(a.json["error_kind"], kind, "{}", a.json);
    assert_eq!(a.json["status"], status);
    assert_eq!(
        a.json["type"],
        format!("urn:llm-metrics:problem:{kind}").as_str()
    );
    assert!(a.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn engines_and_map_answer_what_the_cli_prints() {
    let addr = start(EgressPolicy::deny_all()).await;

    let engines = send(addr, "GET", "/engines", Vec::new()).await;
    assert_eq!(engines.status, 200);
    assert_eq!(engines.content_type, "application/json");
    let expected = json::engines(&plugin().engines().await.unwrap());
    assert_eq!(engines.json, as_sent(&expected));

    for name in FIXTURES {
        let text = fixture(name);
        let answer = send(addr, "POST", "/map?instance_id=pod-7", text.clone()).await;
        let direct = plugin()
            .map(&text, Some("text/plain; version=0.0.4"), "auto", "pod-7")
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(answer.status, 200, "{name}: {}", answer.json);
        // Byte for byte, the collection time included: the host's writer
        // given the instant the guest stamped writes the guest's text.
        let mut direct = direct;
        direct.collected_at_ms = millis(answer.json["collected_at"].as_str().unwrap());
        assert_eq!(answer.text, json::snapshot(&direct).to_string(), "{name}");
    }

    // `raw=true` adds the parsed families, as `--raw` does.
    let raw = send(
        addr,
        "POST",
        "/map?raw=true&engine=vllm",
        fixture("vllm_v1.prom"),
    )
    .await;
    assert_eq!(raw.status, 200);
    let families = raw.json["raw_metrics"].as_array().unwrap();
    assert!(
        families
            .iter()
            .any(|f| f["name"] == "vllm:num_requests_running")
    );
}

#[tokio::test]
async fn map_errors_are_typed_problems() {
    let addr = start(EgressPolicy::deny_all()).await;

    let bad = send(addr, "POST", "/map", b"metric{le=\"1\" 2\n".to_vec()).await;
    assert_problem(&bad, 422, "parse");
    assert!(
        bad.json["detail"]
            .as_str()
            .unwrap()
            .contains("line 1, column"),
        "{}",
        bad.json
    );

    let unknown = send(addr, "POST", "/map?engine=nope", fixture("tgi.prom")).await;
    assert_problem(&unknown, 404, "unknown-engine");

    let foreign = send(addr, "POST", "/map", b"go_goroutines 7\n".to_vec()).await;
    assert_problem(&foreign, 422, "unrecognized-engine");

    let quoted = send(addr, "POST", "/map", b"\"vllm:x 1\\n\"".to_vec()).await;
    assert_problem(&quoted, 422, "not-an-exposition");

    let huge = send(addr, "POST", "/map", vec![b'#'; (16 << 20) + 1]).await;
    assert_problem(&huge, 413, "body-too-large");

    let stray = send(addr, "POST", "/map?url=http://x/", Vec::new()).await;
    assert_problem(&stray, 400, "invalid-parameter");
}

/// The mapping component exports no `incoming-handler`: it is refused at
/// link time, not at the first request.
#[test]
fn a_component_without_the_handler_is_refused() {
    let engine = shared_engine().unwrap();
    let mapping = wasmtime::component::Component::from_binary(
        &engine,
        llm_metrics_host::EMBEDDED_MAPPING_COMPONENT,
    )
    .unwrap();
    let err = Service::from_component(
        &engine,
        &mapping,
        Limits::default(),
        EgressPolicy::deny_all(),
    )
    .err()
    .expect("refused");
    let message = format!("{err:#}");
    assert!(message.contains("incoming-handler"), "{message}");
}

#[tokio::test]
async fn routes_and_methods() {
    let addr = start(EgressPolicy::deny_all()).await;
    assert_problem(&send(addr, "GET", "/", Vec::new()).await, 404, "not-found");
    assert_problem(
        &send(addr, "GET", "/metrics", Vec::new()).await,
        404,
        "not-found",
    );
    let wrong = send(addr, "GET", "/map", Vec::new()).await;
    assert_problem(&wrong, 405, "method-not-allowed");
    assert_eq!(wrong.allow.as_deref(), Some("POST"));
    let wrong = send(addr, "DELETE", "/engines", Vec::new()).await;
    assert_problem(&wrong, 405, "method-not-allowed");
    assert_eq!(wrong.allow.as_deref(), Some("GET"));
}

#[tokio::test]
async fn collect_through_the_egress_hook() {
    let up = upstream().await;
    let addr =
        start(EgressPolicy::deny_all().allow(AllowedHost::parse(&up.to_string()).unwrap())).await;

    let url = format!("http://{up}/metrics");
    let path = format!("/collect?url={}&engine=vllm", urlencode(&url));
    let ok = send(addr, "GET", &path, Vec::new()).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["engine"], "vllm");
    assert_eq!(ok.json["endpoint"], url.as_str());
    assert_eq!(ok.json["instance_id"], up.to_string().as_str());
    // The same document the host's own collect gives, time aside.
    assert_eq!(timeless(ok.json), collected(&url, "vllm").await);

    let named = format!("/collect?url={}&instance_id=gpu-3", urlencode(&url));
    assert_eq!(
        send(addr, "GET", &named, Vec::new()).await.json["instance_id"],
        "gpu-3"
    );

    let html = format!("/collect?url={}", urlencode(&format!("http://{up}/html")));
    assert_problem(
        &send(addr, "GET", &html, Vec::new()).await,
        502,
        "not-an-exposition",
    );
    let missing = format!(
        "/collect?url={}",
        urlencode(&format!("http://{up}/missing"))
    );
    let missing = send(addr, "GET", &missing, Vec::new()).await;
    assert_problem(&missing, 502, "http-status");
    assert!(missing.json["detail"].as_str().unwrap().contains("404"));

    let bad_url = send(addr, "GET", "/collect?url=ftp%3A%2F%2Fx%2F", Vec::new()).await;
    assert_problem(&bad_url, 422, "invalid-url");
    assert_problem(
        &send(addr, "GET", "/collect", Vec::new()).await,
        400,
        "missing-parameter",
    );
    let zero = format!("/collect?url={}&timeout_ms=0", urlencode(&url));
    assert_problem(
        &send(addr, "GET", &zero, Vec::new()).await,
        400,
        "invalid-parameter",
    );
    let unknown = format!("/collect?url={}&engine=nope", urlencode(&url));
    assert_problem(
        &send(addr, "GET", &unknown, Vec::new()).await,
        404,
        "unknown-engine",
    );
}

/// What the host library's own `collect` of `url` gives, as a client reads
/// it (see `as_sent`), without its collection time.
pub(super) async fn collected(url: &str, engine: &str) -> Value {
    let target = llm_metrics_host::wit::collector::Target {
        url: url.to_string(),
        instance_id: None,
        engine: engine.into(),
        timeout_ms: 10_000,
        max_body_bytes: 16 << 20,
        headers: Vec::new(),
        include_raw: false,
    };
    let egress = EgressPolicy::deny_all().allow(AllowedHost::from_url(url).unwrap());
    let direct = plugin().collect(&target, egress).await.unwrap().unwrap();
    timeless(as_sent(&json::snapshot(&direct)))
}

/// A destination the host does not allow is refused before any connection:
/// the listener behind it never sees one.
#[tokio::test]
async fn egress_the_host_does_not_allow_is_denied_without_a_connection() {
    let up = upstream().await;
    let forbidden = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let forbidden_addr = forbidden.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while forbidden.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let addr =
        start(EgressPolicy::deny_all().allow(AllowedHost::parse(&up.to_string()).unwrap())).await;

    let url = format!("http://{forbidden_addr}/metrics");
    let denied = send(
        addr,
        "GET",
        &format!("/collect?url={}", urlencode(&url)),
        Vec::new(),
    )
    .await;
    assert_problem(&denied, 403, "denied");
    let metadata = urlencode("http://169.254.169.254/latest/meta-data/");
    assert_problem(
        &send(addr, "GET", &format!("/collect?url={metadata}"), Vec::new()).await,
        403,
        "denied",
    );
    // Give a stray connection time to arrive before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // The service keeps serving allowed destinations.
    let ok = format!(
        "/collect?url={}",
        urlencode(&format!("http://{up}/metrics"))
    );
    assert_eq!(send(addr, "GET", &ok, Vec::new()).await.status, 200);
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
