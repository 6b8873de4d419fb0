//! The host's own HTTP/1.1 sender for the plugin's requests: keep-alive
//! connections pooled per [`Plugin`](crate::Plugin), each opened to an
//! address the call's [`AddressRules`] accepted.
//!
//! Invariants:
//! - A connection is only opened to the address [`vet`] returned for this
//!   call: a host *name* is resolved here, within the connect budget, and
//!   EVERY address it resolves to must pass the rules (DNS rebinding); an
//!   address literal was named on the allow-list and is used as it is. For
//!   `https` the TCP connection goes to that address while TLS verifies the
//!   certificate against the URL's host name (webpki roots), so no second
//!   lookup happens anywhere.
//! - An idle connection is handed out only for the same scheme, host, port
//!   and vetted address it was opened for, and only after the response it
//!   last carried was read to its end (hyper's HTTP/1 framing decides where
//!   that is). A response dropped or failed before its end closes its
//!   connection, so no byte of one call's response reaches another call.
//! - Idle connections are bounded: at most [`SenderConfig::max_idle_per_host`]
//!   per destination, [`SenderConfig::max_idle_total`] in all, none kept
//!   longer than [`SenderConfig::idle_timeout`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Scheme, Uri};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::address::AddressRules;
use crate::origin::{effective_port, normalize_host};

/// How long the sender waits to connect, for the first byte and between
/// bytes when a request's options leave a wait unset (the egress policy
/// sets them all, clamped to at most this by default:
/// [`EgressPolicy::DEFAULT_MAX_TIMEOUT`](crate::EgressPolicy::DEFAULT_MAX_TIMEOUT)).
/// wasmtime's own default sender would wait 600 s for each.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Bounds on the idle connections a [`Sender`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// Idle connections kept per destination (scheme, host, port and
    /// vetted address): enough for that many calls at once to one server.
    pub max_idle_per_host: usize,
    /// Idle connections kept in all.
    pub max_idle_total: usize,
    /// How long an idle connection is kept. The default, 4 s, is below the
    /// 5 s keep-alive of uvicorn (vLLM's API server), so the client drops a
    /// connection before the server would close it under a new request.
    pub idle_timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            max_idle_per_host: 32,
            max_idle_total: 1024,
            idle_timeout: Duration::from_secs(4),
        }
    }
}

/// Connection counts of a [`Sender`] since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Connections opened (TCP, plus TLS for `https`).
    pub opened: u64,
    /// Requests sent on a connection taken from the pool.
    pub reused: u64,
    /// Connections idle in the pool now.
    pub idle: usize,
}

/// Sends the plugin's requests over pooled keep-alive connections. Cheap to
/// clone: clones share one pool.
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Inner {
    config: SenderConfig,
    tls: tokio_rustls::TlsConnector,
    pool: Mutex<Pool>,
    opened: AtomicU64,
    reused: AtomicU64,
}

/// Where a connection goes: a pooled connection is only reused for the
/// same key.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    tls: bool,
    host: String,
    port: u16,
    addr: SocketAddr,
}

struct Idle {
    conn: http1::SendRequest<WasiBody>,
    since: Instant,
}

#[derive(Default)]
struct Pool {
    idle: HashMap<Key, Vec<Idle>>,
    total: usize,
    last_sweep: Option<Instant>,
}

impl Default for Sender {
    fn default() -> Self {
        Sender::new(SenderConfig::default())
    }
}

impl Sender {
    /// A sender trusting the webpki roots (Mozilla's CA set) for `https`.
    pub fn new(config: SenderConfig) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        Self::with_roots(config, roots)
    }

    /// A sender trusting exactly `roots` for `https` (e.g. a private CA).
    pub fn with_roots(config: SenderConfig, roots: rustls::RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Sender {
            inner: Arc::new(Inner {
                config,
                tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
                pool: Mutex::default(),
                opened: AtomicU64::new(0),
                reused: AtomicU64::new(0),
            }),
        }
    }

    /// Connections opened and reused so far, and idle now.
    pub fn stats(&self) -> SenderStats {
        SenderStats {
            opened: self.inner.opened.load(Ordering::Relaxed),
            reused: self.inner.reused.load(Ordering::Relaxed),
            idle: self.inner.lock().total,
        }
    }

    /// Send `request` (already allowed by the policy) to an address `rules`
    /// accept, under `options`' waits (all set: the policy clamped them).
    pub(crate) async fn send(
        &self,
        request: http::Request<WasiBody>,
        rules: &AddressRules,
        options: RequestOptions,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let max = DEFAULT_WAIT;
        let connect_budget = options.connect_timeout.unwrap_or(max);
        let first_byte = options.first_byte_timeout.unwrap_or(max);
        let between_bytes = options.between_bytes_timeout.unwrap_or(max);

        let uri = request.uri();
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(HttpError::HttpProtocolError),
        };
        let host = normalize_host(uri.host().ok_or(HttpError::HttpRequestUriInvalid)?);
        let port = effective_port(uri);
        let deadline = Instant::now() + connect_budget;
        let addr = vet(&host, port, rules, deadline).await?;
        let key = Key {
            tls,
            host,
            port,
            addr,
        };

        // On the wire the request line carries the path only; the `Host`
        // header (set from the guest's authority) keeps the name.
        let (mut parts, body) = request.into_parts();
        parts.uri = origin_form(&parts.uri)?;
        let mut request = http::Request::from_parts(parts, body);

        loop {
            let (mut conn, reused) = match self.checkout(&key, deadline).await {
                Some(conn) => (conn, true),
                None => (self.connect(&key, deadline).await?, false),
            };
            let sent = tokio::time::timeout(first_byte, conn.try_send_request(request)).await;
            let response = match sent {
                Err(_) => return Err(HttpError::ConnectionReadTimeout),
                Ok(Ok(response)) => response,
                // A pooled connection the server closed before the request
                // went out: the request comes back unsent, try another.
                Ok(Err(mut e)) if reused && e.message().is_some() => {
                    request = e.take_message().expect("checked above");
                    continue;
                }
                Ok(Err(e)) => return Err(HttpError::Hyper(e.into_error())),
            };
            if reused {
                self.inner.reused.fetch_add(1, Ordering::Relaxed);
            }
            let mut checkin = Some(Checkin {
                conn,
                key,
                pool: Arc::downgrade(&self.inner),
            });
            if response.body().is_end_stream()
                && let Some(checkin) = checkin.take()
            {
                // No body to read (e.g. `content-length: 0`).
                checkin.release();
            }
            return Ok(response.map(|incoming| {
                http_body_util::BodyExt::boxed_unsync(PooledBody {
                    incoming,
                    between_bytes,
                    timer: Box::pin(tokio::time::sleep(between_bytes)),
                    checkin,
                })
            }));
        }
    }

    /// An idle connection for `key`, once hyper is ready to send on it: a
    /// connection goes back to the pool when its response was read to the
    /// end, and its task may still be finishing that response. One that
    /// closes meanwhile is dropped and the next one tried.
    async fn checkout(&self, key: &Key, deadline: Instant) -> Option<http1::SendRequest<WasiBody>> {
        while let Some(mut conn) = self.inner.take_idle(key) {
            if conn.is_ready() {
                return Some(conn);
            }
            if let Ok(Ok(())) = tokio::time::timeout_at(deadline, conn.ready()).await {
                return Some(conn);
            }
        }
        None
    }

    /// Open a connection to the vetted `key.addr` by `deadline`.
    async fn connect(
        &self,
        key: &Key,
        deadline: Instant,
    ) -> Result<http1::SendRequest<WasiBody>, HttpError> {
        let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect(key.addr)).await {
            Err(_) => return Err(HttpError::ConnectionTimeout),
            Ok(Err(e)) => return Err(HttpError::Connect(e)),
            Ok(Ok(tcp)) => tcp,
        };
        // Requests are one small write: send it now, not after an ACK.
        tcp.set_nodelay(true).map_err(HttpError::Connect)?;
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        if !key.tls {
            return handshake(tcp, deadline).await;
        }
        let name = server_name(&key.host)?;
        let stream =
            match tokio::time::timeout_at(deadline, self.inner.tls.connect(name, tcp)).await {
                Err(_) => return Err(HttpError::ConnectionTimeout),
                Ok(Err(e)) => return Err(tls_error(e)),
                Ok(Ok(stream)) => stream,
            };
        handshake(stream, deadline).await
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // The pool holds no invariant a panic could break half-way.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle connection for `key` that is young
    /// enough and still open, if any.
    fn take_idle(&self, key: &Key) -> Option<http1::SendRequest<WasiBody>> {
        let now = Instant::now();
        let mut stale = Vec::new();
        let mut pool = self.lock();
        let list = pool.idle.get_mut(key)?;
        let mut found = None;
        while let Some(idle) = list.pop() {
            if now.duration_since(idle.since) < self.config.idle_timeout && !idle.conn.is_closed() {
                found = Some(idle.conn);
                break;
            }
            stale.push(idle);
        }
        let taken = stale.len() + usize::from(found.is_some());
        if list.is_empty() {
            pool.idle.remove(key);
        }
        pool.total -= taken;
        drop(pool);
        drop(stale); // closes them, outside the lock
        found
    }

    /// Keep `conn` for `key`, within the bounds.
    fn checkin(&self, key: Key, conn: http1::SendRequest<WasiBody>) {
        let now = Instant::now();
        let mut expired = Vec::new();
        let mut pool = self.lock();
        let timeout = self.config.idle_timeout;
        // Sweep every destination at most once per idle timeout, so a
        // destination never asked for again does not keep its connections.
        if pool
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= timeout)
        {
            pool.last_sweep = Some(now);
            let mut removed = 0;
            pool.idle.retain(|_, list| {
                let before = list.len();
                let (keep, old): (Vec<Idle>, Vec<Idle>) = std::mem::take(list)
                    .into_iter()
                    .partition(|i| now.duration_since(i.since) < timeout && !i.conn.is_closed());
                removed += before - keep.len();
                expired.extend(old);
                *list = keep;
                !list.is_empty()
            });
            pool.total -= removed;
        }
        let config = self.config;
        if pool.total < config.max_idle_total {
            let list = pool.idle.entry(key).or_default();
            if list.len() < config.max_idle_per_host {
                list.push(Idle { conn, since: now });
                pool.total += 1;
            }
        }
        drop(pool);
        drop(expired);
    }
}

/// Resolve `host` (by `deadline`) and check every address it resolves to
/// against `rules`; the first one is where the connection goes. An address
/// literal was named on the allow-list and is not checked again.
pub(crate) async fn vet(
    host: &str,
    port: u16,
    rules: &AddressRules,
    deadline: Instant,
) -> Result<SocketAddr, HttpError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup = tokio::net::lookup_host((host, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout_at(deadline, lookup).await {
        Err(_) => return Err(HttpError::DnsTimeout),
        Ok(Err(e)) => {
            return Err(HttpError::DnsError {
                rcode: Some(format!("cannot resolve {host}: {e}")),
                info_code: None,
            });
        }
        Ok(Ok(addrs)) => addrs.collect(),
    };
    let Some(&first) = addrs.first() else {
        return Err(HttpError::DnsError {
            rcode: Some(format!("{host} resolves to no address")),
            info_code: None,
        });
    };
    if addrs.iter().any(|a| rules.check(a.ip(), port).is_err()) {
        return Err(HttpError::HttpRequestDenied);
    }
    Ok(SocketAddr::new(first.ip().to_canonical(), port))
}

/// The HTTP/1.1 handshake on `io` by `deadline`; the connection is driven
/// by a task of its own for as long as its sender (in use or idle) lives.
async fn handshake<T>(io: T, deadline: Instant) -> Result<http1::SendRequest<WasiBody>, HttpError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (conn, driver) =
        match tokio::time::timeout_at(deadline, http1::handshake(TokioIo::new(io))).await {
            Err(_) => return Err(HttpError::ConnectionTimeout),
            Ok(Err(e)) => return Err(HttpError::Hyper(e)),
            Ok(Ok(pair)) => pair,
        };
    tokio::spawn(async move {
        // Its errors reach the request or body that was in flight.
        let _ = driver.await;
    });
    Ok(conn)
}

/// `uri` as the request line's origin form: path and query only.
fn origin_form(uri: &Uri) -> Result<Uri, HttpError> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)
}

/// The name TLS verifies the certificate against: the URL's host.
fn server_name(host: &str) -> Result<ServerName<'static>, HttpError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    ServerName::try_from(host.to_string()).map_err(|_| HttpError::DnsError {
        rcode: Some(format!("`{host}` is not a valid TLS server name")),
        info_code: None,
    })
}

/// A typed error for a failed TLS handshake: the certificate, an alert
/// from the server, or the protocol.
fn tls_error(e: std::io::Error) -> HttpError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(_)) => HttpError::TlsCertificateError,
        Some(rustls::Error::AlertReceived(alert)) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => HttpError::Tls(e),
    }
}

/// A connection on its way back to the pool once its response is read.
struct Checkin {
    conn: http1::SendRequest<WasiBody>,
    key: Key,
    pool: Weak<Inner>,
}

impl Checkin {
    /// Back to the pool; [`Sender::checkout`] waits until hyper has
    /// finished with the response before sending on it again.
    fn release(self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.checkin(self.key, self.conn);
        }
    }
}

/// A response body with the between-bytes timeout; when it has been read
/// to its end, its connection goes back to the pool. Dropped earlier, or
/// after an error, the connection is dropped with it (and closed).
struct PooledBody {
    incoming: Incoming,
    between_bytes: Duration,
    timer: Pin<Box<Sleep>>,
    checkin: Option<Checkin>,
}

impl PooledBody {
    fn finished(&mut self) {
        if let Some(checkin) = self.checkin.take() {
            checkin.release();
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finished();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.checkin = None;
                Poll::Ready(Some(Err(if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    HttpError::Hyper(e)
                })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + this.between_bytes;
                this.timer.as_mut().reset(next);
                if this.incoming.is_end_stream() {
                    this.finished();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.checkin = None;
                    Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
