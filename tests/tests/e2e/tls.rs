//! `https` through the host's sender, against a real loopback TLS server
//! with a self-signed certificate for `localhost` (made by rcgen): the
//! name is resolved and checked by the host like `http` (no second lookup
//! for TLS), an unknown CA is refused with a typed TLS error, and with that
//! certificate as a trusted root (test-only) collects succeed over one
//! kept-alive connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use llm_metrics_host::wit::mapper::CollectError;
use llm_metrics_host::{AddressRules, AllowedHost, EgressPolicy, Limits, Sender, SenderConfig};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::common::{fixture, plugin_with};
use crate::keepalive::{expected, target, timeless};

/// A TLS server for `localhost` on the first address that name resolves
/// to, serving the vLLM fixture; counts the TCP connections it accepts.
async fn tls_server() -> (u16, Arc<AtomicUsize>, CertificateDer<'static>) {
    let first = tokio::net::lookup_host(("localhost", 0))
        .await
        .unwrap()
        .next()
        .expect("localhost resolves");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = made.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(first).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let body = Bytes::from(fixture("vllm_v1.prom"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, accepted, cert)
}

fn by_name(port: u16, rules: AddressRules) -> EgressPolicy {
    EgressPolicy::deny_all()
        .allow(AllowedHost::parse(&format!("localhost:{port}")).unwrap())
        .with_address_rules(rules)
}

fn loopback(port: u16) -> AddressRules {
    AddressRules::only_listed()
        .allow("127.0.0.0/8".parse().unwrap(), Some(port))
        .allow("::1/128".parse().unwrap(), Some(port))
}

#[tokio::test]
async fn an_unknown_ca_is_refused_with_a_typed_tls_error() {
    let (port, accepted, _) = tls_server().await;
    let plugin = plugin_with(Limits::default());
    let url = format!("https://localhost:{port}/metrics");
    match plugin
        .collect(&target(url, "vllm"), by_name(port, loopback(port)))
        .await
        .unwrap()
    {
        Err(CollectError::Transport(e)) if e.contains("TlsCertificateError") => {}
        other => panic!("expected a TLS certificate error, got {other:?}"),
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "connected, then refused"
    );
}

#[tokio::test]
async fn an_https_name_resolving_outside_the_rules_is_denied_and_never_connected() {
    let (port, accepted, _) = tls_server().await;
    let plugin = plugin_with(Limits::default());
    let rules = AddressRules::only_listed().allow("10.0.0.0/8".parse().unwrap(), None);
    let url = format!("https://localhost:{port}/metrics");
    match plugin
        .collect(&target(url, "vllm"), by_name(port, rules))
        .await
        .unwrap()
    {
        Err(CollectError::Denied(_)) => {}
        other => panic!("expected denied, got {other:?}"),
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection");
}

#[tokio::test]
async fn a_trusted_root_verifies_the_name_over_the_checked_address_and_keeps_alive() {
    let (port, accepted, cert) = tls_server().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let plugin = plugin_with(Limits::default())
        .with_sender(Sender::with_roots(SenderConfig::default(), roots));
    let url = format!("https://localhost:{port}/metrics");
    let want = timeless(expected(&plugin, "vllm_v1.prom", "vllm", &url).await);
    for i in 0..3 {
        let s = plugin
            .collect(&target(url.clone(), "vllm"), by_name(port, loopback(port)))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("collect {i}: {e:?}"));
        assert_eq!(timeless(s), want);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one TLS connection");
}
