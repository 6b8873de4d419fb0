//! Egress policy: which destinations the plugin may reach, and the host's own
//! time and size budgets for every request it makes.
//!
//! The component is untrusted. Its only way out is `wasi:http`, and every
//! request passes through [`CallEgress`]'s `send_request` before any
//! connection is opened or any name looked up: the parsed host and port must
//! be on the allow-list. The request then goes to the host's own sender
//! ([`crate::sender`]), which resolves a host name, checks every address it
//! resolves to against the policy's [`AddressRules`] and connects to (or
//! reuses a pooled connection to) exactly the checked address, for `http`
//! and `https` alike: no second lookup, so no DNS rebinding between check
//! and connect. The guest's timeouts are clamped, and the response body is
//! capped here, independent of what the guest asks for. A policy is immutable
//! configuration shared by any number of calls; what a call observes lives
//! in that call's [`CallEgress`], never in the shared policy.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use http::uri::Uri;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub use crate::address::AddressRules;
use crate::origin::{effective_port, normalize_host};
use crate::sender::{self, Sender};

/// One allowed destination: a host name or IP, optionally with a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// Parse `host`, `host:port`, `[v6]` or `[v6]:port`. Without a port, any
    /// port on that host is allowed.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let spec = spec.trim();
        let authority: http::uri::Authority = spec
            .parse()
            .with_context(|| format!("`{spec}` is not a host or host:port"))?;
        if authority.as_str().contains('@') {
            bail!("`{spec}`: a host may not carry credentials");
        }
        Ok(AllowedHost {
            host: normalize_host(authority.host()),
            port: authority.port_u16(),
        })
    }

    /// The host and port of `url` (port defaulted from the scheme), so that
    /// exactly that endpoint is allowed.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("`{url}` is not a URL"))?;
        let host = uri.host().with_context(|| format!("`{url}` has no host"))?;
        Ok(AllowedHost {
            host: normalize_host(host),
            port: Some(effective_port(&uri)),
        })
    }

    fn permits(&self, host: &str, port: u16) -> bool {
        self.host == host && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => write!(f, "{host}"),
        }
    }
}

/// What the plugin may reach and the budgets every request gets.
///
/// A policy is plain configuration: it can be cloned and shared by any number
/// of concurrent calls. What one call observes (whether the body cap cut its
/// response) lives in that call's store, see [`CallEgress`].
#[derive(Clone, Debug)]
pub struct EgressPolicy {
    allowed: Vec<AllowedHost>,
    /// Which addresses a host name may resolve to.
    addresses: AddressRules,
    /// The embedder's clamp on every wait; `None` leaves it to the fetch budget.
    max_timeout: Option<Duration>,
    max_body_bytes: u64,
}

impl EgressPolicy {
    /// Clamp for connect, first-byte and between-bytes waits when neither the
    /// embedder nor a fetch budget sets one. The default sender would
    /// otherwise wait 600 s for each.
    pub const DEFAULT_MAX_TIMEOUT: Duration = sender::DEFAULT_WAIT;
    /// Default response body cap.
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

    /// A policy that allows nothing (what `parse` and `map` run under).
    pub fn deny_all() -> Self {
        EgressPolicy {
            allowed: Vec::new(),
            addresses: AddressRules::default(),
            max_timeout: None,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Also allow `host`.
    pub fn allow(mut self, host: AllowedHost) -> Self {
        if !self.allowed.contains(&host) {
            self.allowed.push(host);
        }
        self
    }

    /// Check the addresses an allowed host *name* resolves to against
    /// `rules` (default: [`AddressRules::any_public`], so a name resolving
    /// to a link-local or metadata address is refused). A host given as an
    /// address literal is named explicitly and is not checked again.
    pub fn with_address_rules(mut self, rules: AddressRules) -> Self {
        self.addresses = rules;
        self
    }

    /// The rules resolved addresses must pass.
    pub fn address_rules(&self) -> &AddressRules {
        &self.addresses
    }

    /// Clamp every wait of a request to at most `timeout`. A clamp already
    /// set is only ever tightened: the smaller of the two wins.
    pub fn with_max_timeout(mut self, timeout: Duration) -> Self {
        self.max_timeout = Some(self.max_timeout.map_or(timeout, |t| t.min(timeout)));
        self
    }

    /// The clamp on every wait of a request.
    pub fn max_timeout(&self) -> Duration {
        self.max_timeout.unwrap_or(Self::DEFAULT_MAX_TIMEOUT)
    }

    /// Cap every response body at `bytes`.
    pub fn with_max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The response body cap.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// The allowed destinations.
    pub fn allowed(&self) -> &[AllowedHost] {
        &self.allowed
    }

    /// Whether a request to `uri` may go out.
    pub fn permits(&self, uri: &Uri) -> bool {
        let Some(host) = uri.host() else { return false };
        let host = normalize_host(host);
        let port = effective_port(uri);
        self.allowed.iter().any(|a| a.permits(&host, port))
    }

    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let max = self.max_timeout();
        let clamp = |d: Option<Duration>| Some(d.map_or(max, |d| d.min(max)));
        let o = options.unwrap_or_default();
        RequestOptions {
            connect_timeout: clamp(o.connect_timeout),
            first_byte_timeout: clamp(o.first_byte_timeout),
            between_bytes_timeout: clamp(o.between_bytes_timeout),
        }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// One call's view of a policy: the policy, plus what this call observed.
///
/// Each call's store owns its own `CallEgress`, so a response cut by the body
/// cap in one call is never reported by another call sharing the policy.
#[derive(Debug)]
pub struct CallEgress {
    policy: EgressPolicy,
    /// The plugin's connection pool, shared by its calls.
    sender: Sender,
    /// Set when the body cap cut a response of this call: wasmtime 48 hands
    /// the guest body-stream errors without an error code, so the host
    /// reports it. Shared only with this call's own response bodies.
    body_cap_hit: Arc<AtomicBool>,
}

impl CallEgress {
    /// A fresh per-call view of `policy`, sending through `sender` (whose
    /// pooled connections outlive the call).
    pub fn new(policy: EgressPolicy, sender: Sender) -> Self {
        CallEgress {
            policy,
            sender,
            body_cap_hit: Arc::default(),
        }
    }

    /// The policy this call runs under.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Whether the body cap cut a response during this call.
    pub fn body_cap_hit(&self) -> bool {
        self.body_cap_hit.load(Ordering::SeqCst)
    }
}

impl WasiHttpHooks for CallEgress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        if !self.policy.permits(request.uri()) {
            // Refused before any DNS lookup or connection.
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = self.policy.clamp(options);
        let max_body = self.policy.max_body_bytes;
        let cap_hit = self.body_cap_hit.clone();
        let rules = self.policy.addresses.clone();
        let sender = self.sender.clone();
        Box::new(async move {
            let response = sender.send(request, &rules, options).await?;
            // The host's own cap, whatever the guest does with the stream.
            let response = response.map(|body| {
                http_body_util::Limited::new(body, usize::try_from(max_body).unwrap_or(usize::MAX))
                    .map_err(move |e| match e.downcast::<HttpError>() {
                        Ok(e) => *e,
                        Err(_) => {
                            cap_hit.store(true, Ordering::SeqCst);
                            HttpError::HttpResponseBodySize(Some(max_body))
                        }
                    })
                    .boxed_unsync()
            });
            // The connection is driven by a task of the sender's own: no
            // I/O is left for the caller to drive.
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn exact_endpoint_from_url() {
        let p = EgressPolicy::deny_all()
            .allow(AllowedHost::from_url("http://127.0.0.1:8000/metrics").unwrap());
        assert!(p.permits(&uri("http://127.0.0.1:8000/other")));
        assert!(!p.permits(&uri("http://127.0.0.1:8001/metrics")));
        assert!(!p.permits(&uri("http://localhost:8000/metrics")));
    }

    #[test]
    fn default_ports_and_any_port() {
        let p = EgressPolicy::deny_all()
            .allow(AllowedHost::from_url("https://Example.COM/metrics").unwrap());
        assert!(p.permits(&uri("https://example.com:443/")));
        assert!(!p.permits(&uri("http://example.com/")));
        let p = EgressPolicy::deny_all().allow(AllowedHost::parse("[::1]").unwrap());
        assert!(p.permits(&uri("http://[::1]:9/")));
        assert!(p.permits(&uri("http://[::1]:10/")));
    }

    #[test]
    fn deny_all_denies() {
        assert!(!EgressPolicy::deny_all().permits(&uri("http://127.0.0.1/")));
        assert!(AllowedHost::parse("user@host").is_err());
    }

    #[test]
    fn timeouts_are_clamped() {
        let p = EgressPolicy::deny_all().with_max_timeout(Duration::from_secs(2));
        let o = p.clamp(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(600)),
            first_byte_timeout: None,
            between_bytes_timeout: Some(Duration::from_millis(5)),
        }));
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.first_byte_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.between_bytes_timeout, Some(Duration::from_millis(5)));
    }

    #[test]
    fn a_second_clamp_only_tightens() {
        let p = EgressPolicy::deny_all().with_max_timeout(Duration::from_secs(2));
        assert_eq!(
            p.clone()
                .with_max_timeout(Duration::from_secs(30))
                .max_timeout(),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.with_max_timeout(Duration::from_millis(300)).max_timeout(),
            Duration::from_millis(300)
        );
        assert_eq!(
            EgressPolicy::deny_all().max_timeout(),
            EgressPolicy::DEFAULT_MAX_TIMEOUT
        );
    }
}
