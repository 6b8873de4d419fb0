//! End to end: the listener's limits against a real `llm-metrics-serve`
//! process. A slowloris at `ulimit -n 1024` (more held partial requests than
//! the process has file descriptors) leaves normal clients answered, and
//! the partial requests are closed after the header timeout; running out
//! of file descriptors (a cap set too high) stalls `accept` but does not
//! stop it; a request body
//! that stops arriving, or a client that stops reading, is closed after
//! the idle timeout; the config file's `[listen]` table is honoured;
//! shutdown still drains while partial requests are held.

mod common;

use common::{BUDGET, Serve, request};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "t0ken-sl0w";

/// Read until the service closes the connection (end of file or reset),
/// within [`BUDGET`]; what it sent first (perhaps an error response).
async fn closed_by_peer(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BUDGET, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the service closed the connection in time");
    String::from_utf8_lossy(&seen).into_owned()
}

/// Open `n` connections that each send the start of a request and hold.
async fn partial_requests(serve: &Serve, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = tokio::time::timeout(BUDGET, TcpStream::connect(serve.addr))
            .await
            .expect("connect in time")
            .expect("connect");
        // The backlog may hold it unaccepted; the bytes wait in the kernel.
        s.write_all(b"GET /api/v1/targets HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write a partial request");
        held.push(s);
    }
    held
}

#[tokio::test]
async fn slowloris_at_1024_fds_leaves_normal_clients_answered() {
    let serve = Serve::start_with_fd_limit(
        1024,
        &[
            "--api-token",
            TOKEN,
            "--header-timeout",
            "2s",
            "--allow",
            "127.0.0.1:9",
        ],
    )
    .await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let mut held = partial_requests(&serve, 1100).await;

    // A normal client, while 1,100 partial requests are held: answered,
    // and correctly.
    let put = request(
        serve.addr,
        "PUT",
        "/api/v1/targets/steady",
        Some(r#"{"url": "http://127.0.0.1:9/metrics", "interval": "1h"}"#.into()),
        &headers,
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.text);
    let got = request(serve.addr, "GET", "/api/v1/targets/steady", None, &headers).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let v: Value = got.json();
    assert_eq!(v["id"], "steady", "{v}");
    assert_eq!(v["url"], "http://127.0.0.1:9/metrics", "{v}");

    // Every partial request is closed once its header time is up (those
    // the backlog held, once accepted), none answered as a request.
    for s in &mut held {
        let seen = closed_by_peer(s).await;
        assert!(!seen.starts_with("HTTP/1.1 2"), "answered: {seen}");
    }
    drop(held);

    // Still serving; and a SIGTERM while partial requests are held still
    // drains (the header timeout ends them) and exits cleanly.
    let _held = partial_requests(&serve, 50).await;
    let r = request(serve.addr, "GET", "/api/v1/targets", None, &headers).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, log) = serve.terminate().await;
    assert!(status.success(), "{status:?}\n{log}");
}

#[tokio::test]
async fn running_out_of_file_descriptors_does_not_stop_the_listener() {
    // A cap above what the process can open: `accept` fails (EMFILE).
    let serve = Serve::start_with_fd_limit(
        1024,
        &["--max-connections", "4000", "--header-timeout", "20s"],
    )
    .await;
    let mut held = partial_requests(&serve, 1100).await;
    // Answered once the header timeout has freed descriptors.
    let r = serve.get("/api/v1/targets").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for s in &mut held {
        closed_by_peer(s).await;
    }
    drop(held);
    let r = serve.get("/api/v1/targets").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, log) = serve.terminate().await;
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("accept error"), "no EMFILE was hit:\n{log}");
}

#[tokio::test]
async fn a_stalled_request_body_is_closed_after_the_idle_timeout() {
    let serve = Serve::start(&["--idle-timeout", "1s"]).await;
    let mut s = TcpStream::connect(serve.addr).await.unwrap();
    s.write_all(
        b"PUT /api/v1/targets/stalled HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"url\": ",
    )
    .await
    .unwrap();
    let seen = closed_by_peer(&mut s).await;
    assert!(!seen.starts_with("HTTP/1.1 2"), "answered: {seen}");
    // Nothing was created from the partial body.
    let r = serve.get("/api/v1/targets/stalled").await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_idle_timeout() {
    let serve = Serve::start(&["--idle-timeout", "1s"]).await;
    // A small receive window, and far more pipelined responses than the
    // socket buffers hold: the service's writes block until it gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(serve.addr).await.unwrap();
    const ASKED: usize = 400;
    let one = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(&one.repeat(ASKED)).await.unwrap();
    // Not reading for several idle timeouts...
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    // ...then reading all there is: the connection ends early.
    let seen = closed_by_peer(&mut s).await;
    let answered = seen.matches("HTTP/1.1 200").count();
    assert!(answered < ASKED, "all {ASKED} answered to a stalled reader");
}

#[tokio::test]
async fn the_config_files_listen_table_sets_the_limits() {
    let dir = std::env::temp_dir().join(format!("llm-metrics-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("listen.toml");
    std::fs::write(
        &config,
        "[listen]\nmax_connections = 1\nheader_timeout = \"1s\"\nidle_timeout = \"30s\"\n",
    )
    .unwrap();
    let serve = Serve::start(&["--config", config.to_str().unwrap()]).await;
    // One connection at a time: while one holds a partial request the next
    // waits unaccepted, and is answered once the first is closed (after one
    // second) — within the budget, whatever the machine's speed.
    let mut first = partial_requests(&serve, 1).await;
    let r = serve.get("/api/v1/targets").await;
    assert_eq!(r.status, 200, "{}", r.text);
    closed_by_peer(&mut first[0]).await;
    // A config with a zero cap is refused at start-up.
    std::fs::write(&config, "[listen]\nmax_connections = 0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llm-metrics-serve"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .args(["--db", common::fresh_db().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_connections"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
