//! Egress policy: which destinations the plugin may reach, and the host's own
//! time and size budgets for every request it makes.
//!
//! The component is untrusted. Its only way out is `wasi:http`, and every
//! request passes through [`EgressPolicy::send_request`] before any
//! connection is opened: the parsed host and port must be on the allow-list,
//! the guest's timeouts are clamped, and the response body is capped here,
//! independent of what the guest asks for.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use http::uri::{Scheme, Uri};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

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
#[derive(Clone, Debug)]
pub struct EgressPolicy {
    allowed: Vec<AllowedHost>,
    max_timeout: Duration,
    max_body_bytes: u64,
    /// Set when this policy's body cap cut a response: wasmtime 48 hands the
    /// guest body-stream errors without an error code, so the host reports it.
    body_cap_hit: Arc<AtomicBool>,
}

impl EgressPolicy {
    /// Default clamp for connect, first-byte and between-bytes waits. The
    /// default sender would otherwise wait 600 s for each.
    pub const DEFAULT_MAX_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default response body cap.
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

    /// A policy that allows nothing (what `parse` and `map` run under).
    pub fn deny_all() -> Self {
        EgressPolicy {
            allowed: Vec::new(),
            max_timeout: Self::DEFAULT_MAX_TIMEOUT,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            body_cap_hit: Arc::default(),
        }
    }

    /// Also allow `host`.
    pub fn allow(mut self, host: AllowedHost) -> Self {
        if !self.allowed.contains(&host) {
            self.allowed.push(host);
        }
        self
    }

    /// Clamp every wait of a request to at most `timeout`.
    pub fn with_max_timeout(mut self, timeout: Duration) -> Self {
        self.max_timeout = timeout;
        self
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

    /// A flag that turns true once this policy's body cap cuts a response.
    pub fn body_cap_hit(&self) -> Arc<AtomicBool> {
        self.body_cap_hit.clone()
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
        let clamp =
            |d: Option<Duration>| Some(d.map_or(self.max_timeout, |d| d.min(self.max_timeout)));
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

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        if !self.permits(request.uri()) {
            // Refused before any DNS lookup or connection.
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = self.clamp(options);
        let max_body = self.max_body_bytes;
        let cap_hit = self.body_cap_hit.clone();
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
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
            Ok((response, Box::new(io) as IoFuture))
        })
    }
}

/// Lower-case, without IPv6 brackets, so `[::1]` and `::1` compare equal.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn effective_port(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        })
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
}
