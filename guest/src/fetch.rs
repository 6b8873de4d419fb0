//! A blocking `GET` over `wasi:http/outgoing-handler` with one deadline and a
//! body cap.
//!
//! Every wait polls the pending operation together with a timer for the
//! whole-fetch deadline, so a server that stalls or drips bytes is cut at the
//! budget, not at some multiple of it. The body is read in chunks and never
//! grows past the cap.
//!
//! Memory: the body is the one copy of the response the guest keeps, and the
//! parser reads it in place. With a `Content-Length` (at most the cap) its
//! buffer is allocated once at that size, so a body of N bytes costs N bytes
//! plus the one chunk in flight. Without one, the chunks are kept as they
//! arrive and joined once at the exact size: 2N bytes for that moment, after
//! which the chunks' N bytes are free for the parse to reuse.

use std::time::Duration;

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// What to fetch.
pub struct Request<'a> {
    /// Absolute `http` or `https` URL.
    pub url: &'a str,
    /// Budget for the whole fetch: connect, headers and body.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: u64,
    /// Extra headers; a caller's `accept` replaces the default one.
    pub headers: Vec<(&'a str, &'a str)>,
}

/// A successful fetch.
pub struct Response {
    /// `host[:port]` of the URL.
    pub authority: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a fetch failed.
pub enum FetchError {
    /// Unparseable URL or unsupported scheme.
    InvalidUrl(String),
    /// The host refused the destination.
    Denied(String),
    /// DNS or connection failure.
    Connect(String),
    /// The budget ran out in the named phase.
    Timeout(String),
    /// Non-2xx status (redirects are not followed).
    Status(u16),
    /// The body is larger than the cap.
    BodyTooLarge(u64),
    /// The response is not exposition text.
    NotAnExposition(String),
    /// Any other failure.
    Transport(String),
}

/// Ask for the classic text format: an OpenMetrics request makes
/// prometheus_client ≥ 0.23 rewrite `vllm:` names to `vllm_`.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
const CHUNK: u64 = 64 * 1024;

/// Fetch `request.url`.
pub fn get(request: &Request<'_>) -> Result<Response, FetchError> {
    let deadline = monotonic_clock::now().saturating_add(nanos(request.timeout));
    let url = parse_url(request.url)?;

    let mut headers: Vec<(String, Vec<u8>)> = Vec::with_capacity(request.headers.len() + 1);
    if !request
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        headers.push(("accept".into(), ACCEPT.into()));
    }
    for (k, v) in &request.headers {
        headers.push((k.to_ascii_lowercase(), v.as_bytes().to_vec()));
    }
    let fields = Fields::from_list(&headers)
        .map_err(|e| FetchError::InvalidUrl(format!("invalid request header: {e:?}")))?;
    let req = OutgoingRequest::new(fields);
    let invalid = |what: &str| FetchError::InvalidUrl(format!("invalid {what} in URL"));
    req.set_method(&Method::Get)
        .map_err(|()| invalid("method"))?;
    req.set_scheme(Some(&url.scheme))
        .map_err(|()| invalid("scheme"))?;
    req.set_authority(Some(&url.authority))
        .map_err(|()| invalid("authority"))?;
    req.set_path_with_query(Some(&url.path))
        .map_err(|()| invalid("path"))?;

    // Per-phase timeouts are the whole budget; the deadline below is the real bound.
    let options = RequestOptions::new();
    let budget = nanos(request.timeout);
    // A host may not support an option; the deadline still applies.
    let _ = options.set_connect_timeout(Some(budget));
    let _ = options.set_first_byte_timeout(Some(budget));
    let _ = options.set_between_bytes_timeout(Some(budget));

    let body = req
        .body()
        .map_err(|()| FetchError::Transport("request body unavailable".into()))?;
    OutgoingBody::finish(body, None).map_err(error_code)?;
    let pending = outgoing_handler::handle(req, Some(options)).map_err(error_code)?;

    wait(
        &pending.subscribe(),
        deadline,
        "waiting for response headers",
    )?;
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(error_code(code)),
        Some(Err(())) | None => return Err(FetchError::Transport("response already taken".into())),
    };

    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(FetchError::Status(status));
    }
    let headers = response.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .first()
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
    };
    let content_type = header("content-type");
    check_content_type(content_type.as_deref())?;
    if let Some(encoding) = header("content-encoding")
        && !encoding.eq_ignore_ascii_case("identity")
    {
        return Err(FetchError::NotAnExposition(format!(
            "unrequested content-encoding `{encoding}`"
        )));
    }
    let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > request.max_body_bytes
    {
        return Err(FetchError::BodyTooLarge(request.max_body_bytes));
    }

    let incoming = response
        .consume()
        .map_err(|()| FetchError::Transport("response body unavailable".into()))?;
    let body = read_body(&incoming, deadline, request.max_body_bytes, declared)?;
    drop(incoming); // after the stream, which read_body dropped: child first
    Ok(Response {
        authority: url.authority,
        content_type,
        body,
    })
}

/// Read the whole body, at most `cap` bytes. `declared` is the
/// `Content-Length` (already checked against `cap`): the buffer is allocated
/// at that size up front, so it is neither copied as it grows nor larger than
/// the body (were more to arrive, the buffer would still grow, up to `cap`).
fn read_body(
    incoming: &IncomingBody,
    deadline: u64,
    cap: u64,
    declared: Option<u64>,
) -> Result<Vec<u8>, FetchError> {
    let stream = incoming
        .stream()
        .map_err(|()| FetchError::Transport("response body stream unavailable".into()))?;
    let ready = stream.subscribe();
    let mut body = match declared {
        Some(len) => Body::Sized(Vec::with_capacity(
            usize::try_from(len.min(cap)).unwrap_or(0),
        )),
        None => Body::Chunks(Vec::new(), 0),
    };
    loop {
        wait(&ready, deadline, "reading the response body")?;
        match stream.read(CHUNK) {
            Ok(chunk) => {
                if body.len() as u64 + chunk.len() as u64 > cap {
                    return Err(FetchError::BodyTooLarge(cap));
                }
                body.push(chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasip2::http::types::http_error_code(&e) {
                    Some(ErrorCode::HttpResponseBodySize(_)) => FetchError::BodyTooLarge(cap),
                    Some(code) => error_code(code),
                    None => FetchError::Transport(first_line(&e.to_debug_string())),
                });
            }
        }
    }
    drop(ready);
    drop(stream);
    Ok(body.finish())
}

/// A body as it arrives.
enum Body {
    /// Copied into one buffer allocated at the declared length.
    Sized(Vec<u8>),
    /// Length unknown: the chunks as the stream handed them over (no copy),
    /// and their total length. Joined once, at the exact size, at the end:
    /// a growing buffer would instead end up to twice the body's size.
    Chunks(Vec<Vec<u8>>, usize),
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Body::Sized(b) => b.len(),
            Body::Chunks(_, len) => *len,
        }
    }

    fn push(&mut self, chunk: Vec<u8>) {
        match self {
            Body::Sized(b) => b.extend_from_slice(&chunk),
            Body::Chunks(parts, len) => {
                if !chunk.is_empty() {
                    *len += chunk.len();
                    parts.push(chunk);
                }
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Body::Sized(b) => b,
            Body::Chunks(mut parts, len) => {
                if parts.len() == 1 {
                    return parts.pop().unwrap_or_default();
                }
                let mut body = Vec::with_capacity(len);
                for part in parts {
                    body.extend_from_slice(&part);
                }
                body
            }
        }
    }
}

/// Block until `pollable` is ready or the deadline passes.
fn wait(
    pollable: &wasip2::io::poll::Pollable,
    deadline: u64,
    phase: &str,
) -> Result<(), FetchError> {
    if pollable.ready() {
        return Ok(());
    }
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = wasip2::io::poll::poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err(FetchError::Timeout(format!("budget ran out {phase}")))
    }
}

/// Exposition text comes as `text/plain` (any version) or OpenMetrics; a
/// missing type is tolerated. Anything else (HTML login pages, JSON) is not.
fn check_content_type(content_type: Option<&str>) -> Result<(), FetchError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "text/plain" | "application/openmetrics-text" | "" => Ok(()),
        _ => Err(FetchError::NotAnExposition(format!("content type `{ct}`"))),
    }
}

struct Url {
    scheme: Scheme,
    authority: String,
    path: String,
}

/// Split an absolute URL; `http::Uri` does the RFC 3986 work.
fn parse_url(raw: &str) -> Result<Url, FetchError> {
    let uri: http::Uri = raw
        .parse()
        .map_err(|e| FetchError::InvalidUrl(format!("`{raw}`: {e}")))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        Some(s) => return Err(FetchError::InvalidUrl(format!("unsupported scheme `{s}`"))),
        None => return Err(FetchError::InvalidUrl(format!("`{raw}` has no scheme"))),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| FetchError::InvalidUrl(format!("`{raw}` has no host")))?;
    if authority.as_str().contains('@') {
        return Err(FetchError::InvalidUrl(
            "credentials in the URL are not supported; send a header instead".into(),
        ));
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    Ok(Url {
        scheme,
        authority: authority.as_str().to_string(),
        path,
    })
}

/// Host error text can carry a multi-line backtrace; one line is the message.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn error_code(code: ErrorCode) -> FetchError {
    use ErrorCode as E;
    match code {
        E::HttpRequestDenied => {
            FetchError::Denied("the host's egress policy refused this destination".into())
        }
        E::DnsTimeout => FetchError::Timeout("DNS lookup".into()),
        E::ConnectionTimeout => FetchError::Timeout("connecting".into()),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => {
            FetchError::Timeout("waiting for the server".into())
        }
        E::DnsError(p) => FetchError::Connect(format!(
            "DNS error: {}",
            p.rcode
                .or(p.info_code.map(|c| c.to_string()))
                .unwrap_or_default()
        )),
        E::ConnectionRefused => FetchError::Connect("connection refused".into()),
        E::DestinationNotFound => FetchError::Connect("destination not found".into()),
        E::DestinationUnavailable => FetchError::Connect("destination unavailable".into()),
        E::DestinationIpProhibited | E::DestinationIpUnroutable => {
            FetchError::Connect("destination IP not reachable".into())
        }
        E::HttpRequestUriInvalid => FetchError::InvalidUrl("the host rejected the URL".into()),
        E::HttpResponseBodySize(_) => {
            FetchError::Transport("response body over the host's limit".into())
        }
        other => FetchError::Transport(format!("{other:?}")),
    }
}
