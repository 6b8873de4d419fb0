//! DNS rebinding: the host's sender resolves an allowed *name* itself,
//! checks every address against the policy's address rules, and connects to
//! (or reuses a pooled connection to) the checked address, so what a name
//! resolves to is judged on every call. `https` is covered in `tls`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::wit::mapper::CollectError;
use llm_metrics_host::{AddressRules, AllowedHost, EgressPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{fixture, plugin};

/// What a listener saw: the peer address it was connected to, and the
/// request head of every connection.
#[derive(Default)]
struct Seen {
    local: Vec<SocketAddr>,
    heads: Vec<String>,
}

/// A listener on the first address `localhost` resolves to, answering every
/// connection with the vLLM fixture and recording what it saw.
async fn localhost_listener() -> (u16, Arc<Mutex<Seen>>) {
    let first = tokio::net::lookup_host(("localhost", 0))
        .await
        .unwrap()
        .next()
        .expect("localhost resolves");
    let listener = TcpListener::bind(first).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    let body = fixture("vllm_v1.prom");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            {
                let mut seen = log.lock().unwrap();
                seen.local.push(socket.local_addr().unwrap());
                seen.heads.push(String::from_utf8_lossy(&head).into_owned());
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
    });
    (port, seen)
}

fn target(port: u16) -> Target {
    Target {
        url: format!("http://localhost:{port}/metrics"),
        instance_id: None,
        engine: "vllm".into(),
        timeout_ms: 3_000,
        max_body_bytes: 1 << 20,
        headers: Vec::new(),
        include_raw: false,
    }
}

fn by_name(port: u16) -> EgressPolicy {
    EgressPolicy::deny_all().allow(AllowedHost::parse(&format!("localhost:{port}")).unwrap())
}

#[tokio::test]
async fn a_name_resolving_outside_the_rules_is_denied_and_never_connected() {
    let (port, seen) = localhost_listener().await;
    // The name is allowed, but only addresses in 10.0.0.0/8 may be reached:
    // `localhost` resolves to loopback, as a rebinding DNS server would
    // answer with an internal address.
    let rules = AddressRules::only_listed().allow("10.0.0.0/8".parse().unwrap(), None);
    let result = plugin()
        .collect(&target(port), by_name(port).with_address_rules(rules))
        .await
        .unwrap();
    match result {
        Err(CollectError::Denied(_)) => {}
        other => panic!("expected denied, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        seen.lock().unwrap().heads.is_empty(),
        "the listener saw a connection"
    );
}

#[tokio::test]
async fn the_connection_goes_to_the_checked_address_with_the_name_as_host() {
    let (port, seen) = localhost_listener().await;
    let rules = AddressRules::only_listed()
        .allow("127.0.0.0/8".parse().unwrap(), Some(port))
        .allow("::1/128".parse().unwrap(), Some(port));
    let snapshot = plugin()
        .collect(&target(port), by_name(port).with_address_rules(rules))
        .await
        .unwrap()
        .expect("collected through the checked address");
    assert_eq!(snapshot.engine, "vllm");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.heads.len(), 1, "one connection");
    assert!(seen.local[0].ip().is_loopback());
    // The server still sees the name the guest asked for.
    let head = seen.heads[0].to_ascii_lowercase();
    assert!(
        head.contains(&format!("\r\nhost: localhost:{port}\r\n")),
        "{head}"
    );
}

/// A pooled connection to a name is no way around the rules: each call
/// resolves and checks the name again before it may take one.
#[tokio::test]
async fn a_pooled_connection_is_not_reused_for_a_call_whose_rules_deny_the_name() {
    let first = tokio::net::lookup_host(("localhost", 0))
        .await
        .unwrap()
        .next()
        .expect("localhost resolves");
    let (addr, counts) = crate::keepalive::counting_server(first).await;
    let port = addr.port();
    let plugin = crate::common::plugin_with(llm_metrics_host::Limits::default());
    let loopback = AddressRules::only_listed()
        .allow("127.0.0.0/8".parse().unwrap(), Some(port))
        .allow("::1/128".parse().unwrap(), Some(port));
    plugin
        .collect(&target(port), by_name(port).with_address_rules(loopback))
        .await
        .unwrap()
        .expect("collected through the checked address");
    assert_eq!(plugin.sender().stats().idle, 1, "a connection is pooled");
    let elsewhere = AddressRules::only_listed().allow("10.0.0.0/8".parse().unwrap(), None);
    match plugin
        .collect(&target(port), by_name(port).with_address_rules(elsewhere))
        .await
        .unwrap()
    {
        Err(CollectError::Denied(_)) => {}
        other => panic!("expected denied, got {other:?}"),
    }
    use std::sync::atomic::Ordering;
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        1,
        "no second request"
    );
    assert_eq!(counts.connections.load(Ordering::SeqCst), 1);
}
