//! The `wasi:http/incoming-handler` export: the component as a small metrics
//! service that `wasmtime serve`, Spin or wasmCloud run on their own.
//!
//! | route | answer |
//! |---|---|
//! | `GET /collect?url=…[&engine=auto][&instance_id=…][&timeout_ms=10000][&max_body_bytes=16777216][&raw=false]` | the snapshot |
//! | `POST /map[?engine=auto][&instance_id=…]`, body = exposition text | the snapshot |
//! | `GET /engines` | the engine list |
//!
//! Invariant: every answer is JSON. Errors are RFC 9457 problem documents
//! (`application/problem+json`, `{"type","title","status","detail",
//! "error_kind"}`, the kinds `llm-metrics-serve` uses) with a fitting status:
//! bad query 400, unknown route 404, wrong method 405, a posted body over
//! the cap 413, unusable posted text 422; for `collect`, denied 403, invalid
//! URL 422, timeout 504, any other upstream failure 502. Egress stays the
//! host's decision: the fetch goes through `wasi:http/outgoing-handler`.

use serde_json::{Value, json};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use llm_metrics_contract::CollectKind;

use crate::bindings::wit_col;
use crate::calls;

/// Defaults for `collect`, as the CLI's.
const DEFAULT_TIMEOUT_MS: u32 = 10_000;
const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// The largest exposition `POST /map` accepts.
pub const MAX_MAP_BODY: u64 = 16 << 20;

/// An answer: status and JSON document.
struct Reply {
    status: u16,
    problem: bool,
    /// The `allow` header of a 405.
    allow: Option<&'static str>,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Reply {
            status: 200,
            problem: false,
            allow: None,
            body,
        }
    }

    fn problem(status: u16, kind: &str, detail: impl Into<String>) -> Self {
        Reply {
            status,
            problem: true,
            allow: None,
            body: json!({
                "type": format!("urn:llm-metrics:problem:{kind}"),
                "title": reason(status),
                "status": status,
                "detail": detail.into(),
                "error_kind": kind,
            }),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// Answer one request.
pub fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let reply = route(&request);
    respond(out, &reply);
}

fn route(request: &IncomingRequest) -> Reply {
    let path_and_query = request.path_with_query().unwrap_or_default();
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path_and_query, String::new()),
    };
    let method = request.method();
    let allowed = match path.as_str() {
        "/collect" | "/engines" => "GET",
        "/map" => "POST",
        _ => return Reply::problem(404, "not-found", format!("no route {path}")),
    };
    if method_name(&method) != allowed {
        let mut reply =
            Reply::problem(405, "method-not-allowed", format!("{path} takes {allowed}"));
        reply.allow = Some(allowed);
        return reply;
    }
    let params = match Params::parse(&query) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    match path.as_str() {
        "/engines" => Reply::ok(crate::json::engines(&calls::engines())),
        "/collect" => collect(&params),
        _ => map(request, &params),
    }
}

fn method_name(m: &Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(s) => s.clone(),
    }
}

/// The query parameters the routes read; anything else is refused, so a
/// misspelt parameter is an error rather than silently a default.
#[derive(Default)]
struct Params {
    url: Option<String>,
    engine: Option<String>,
    instance_id: Option<String>,
    timeout_ms: Option<u32>,
    max_body_bytes: Option<u64>,
    raw: bool,
}

impl Params {
    fn parse(query: &str) -> Result<Params, Reply> {
        let mut p = Params::default();
        let bad = |name: &str, value: &str, want: &str| {
            Reply::problem(
                400,
                "invalid-parameter",
                format!("{name}={value:?}: expected {want}"),
            )
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "url" => p.url = Some(value.into_owned()),
                "engine" => p.engine = Some(value.into_owned()),
                "instance_id" => p.instance_id = Some(value.into_owned()),
                "timeout_ms" => {
                    let ms = value
                        .parse::<u32>()
                        .ok()
                        .filter(|ms| *ms > 0)
                        .ok_or_else(|| {
                            bad("timeout_ms", &value, "milliseconds, 1 to 4294967295")
                        })?;
                    p.timeout_ms = Some(ms);
                }
                "max_body_bytes" => {
                    let n = value
                        .parse::<u64>()
                        .map_err(|_| bad("max_body_bytes", &value, "a byte count"))?;
                    p.max_body_bytes = Some(n);
                }
                "raw" => {
                    p.raw = match value.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("raw", &value, "true or false")),
                    }
                }
                other => {
                    return Err(Reply::problem(
                        400,
                        "invalid-parameter",
                        format!("unknown parameter {other:?}"),
                    ));
                }
            }
        }
        Ok(p)
    }
}

fn collect(params: &Params) -> Reply {
    let Some(url) = params.url.clone() else {
        return Reply::problem(400, "missing-parameter", "collect needs ?url=");
    };
    let target = wit_col::Target {
        url,
        instance_id: params.instance_id.clone(),
        engine: params.engine.clone().unwrap_or_else(|| "auto".into()),
        timeout_ms: params.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        max_body_bytes: params.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
        headers: Vec::new(),
        include_raw: params.raw,
    };
    match calls::collect(target) {
        Ok(snapshot) => Reply::ok(crate::json::snapshot(&snapshot)),
        Err(e) => {
            let kind = crate::json::collect_kind(&e);
            let detail = crate::json::collect_error(&e, "engine=");
            Reply::problem(kind.collect_status(), kind.name(), detail)
        }
    }
}

fn map(request: &IncomingRequest, params: &Params) -> Reply {
    if params.url.is_some() || params.timeout_ms.is_some() || params.max_body_bytes.is_some() {
        return Reply::problem(
            400,
            "invalid-parameter",
            "map takes only engine, instance_id and raw",
        );
    }
    let content_type = request
        .headers()
        .get("content-type")
        .into_iter()
        .next()
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let text = match read_body(request, MAX_MAP_BODY) {
        Ok(text) => text,
        Err(reply) => return reply,
    };
    let engine = params.engine.clone().unwrap_or_else(|| "auto".into());
    let instance_id = params.instance_id.clone().unwrap_or_default();
    let mapped = crate::convert::snapshot(
        &text,
        content_type.as_deref(),
        &engine,
        instance_id,
        String::new(),
        params.raw,
    );
    match mapped {
        Ok(snapshot) => Reply::ok(crate::json::snapshot(&snapshot)),
        Err(e) => {
            // A body that cannot be mapped is the caller's: 422, unless the
            // engine id is unknown (404, as for a collect).
            let kind = crate::json::collect_kind(&e);
            let detail = crate::json::collect_error(&e, "engine=");
            let status = match kind {
                CollectKind::UnknownEngine => kind.collect_status(),
                _ => 422,
            };
            Reply::problem(status, kind.name(), detail)
        }
    }
}

/// The request body, refused with 413 once it passes `cap` bytes.
fn read_body(request: &IncomingRequest, cap: u64) -> Result<Vec<u8>, Reply> {
    let failed =
        |what: &str| Reply::problem(400, "bad-request", format!("reading the body: {what}"));
    let body: IncomingBody = request.consume().map_err(|()| failed("consumed twice"))?;
    let mut text = Vec::new();
    {
        let stream = body.stream().map_err(|()| failed("no stream"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    text.extend_from_slice(&chunk);
                    if text.len() as u64 > cap {
                        return Err(Reply::problem(
                            413,
                            "body-too-large",
                            format!("the exposition is over the {cap}-byte cap"),
                        ));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(failed(&e.to_debug_string()));
                }
            }
        }
        // The stream is a child of the body: drop it first.
    }
    drop(IncomingBody::finish(body));
    Ok(text)
}

/// Send `reply`; a client that went away is not an error.
fn respond(out: ResponseOutparam, reply: &Reply) {
    let body = reply.body.to_string().into_bytes();
    let content_type: &[u8] = if reply.problem {
        b"application/problem+json"
    } else {
        b"application/json"
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_vec()),
        (
            "content-length".to_string(),
            body.len().to_string().into_bytes(),
        ),
    ];
    if let Some(allow) = reply.allow {
        headers.push(("allow".to_string(), allow.as_bytes().to_vec()));
    }
    let headers = Fields::from_list(&headers).expect("valid header names and values");
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(reply.status)
        .expect("a valid status code");
    let outgoing = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    {
        let Ok(stream) = outgoing.write() else { return };
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
