//! Optional API authentication: `Authorization: Bearer <token>` (the scheme
//! in any case, RFC 9110 §11.1), with the admin token (`--api-token`) or a
//! read-only one (`--read-token`).
//!
//! Invariant: when a token is configured, no route answers anything but a
//! 401 problem without it, and the comparison takes the same time wherever
//! the first differing byte is. The read-only token reaches only [`reads`]:
//! `GET`/`HEAD` of every route except the ad-hoc
//! `GET /api/v1/metrics/{engine}/{instance_id}`, which makes the service
//! fetch (egress), like `POST /api/v1/collect/…`; anything else with it is
//! 403 `read-only-token`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use crate::state::Service;

/// Equal without an early exit (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credentials of an `Authorization` value whose scheme is `Bearer`
/// in any case.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

/// Whether the read-only token may make this request: no change and no
/// fetch.
pub fn reads(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && !path.starts_with("/api/v1/metrics/")
}

/// The middleware: pass when no token is configured or the bearer matches
/// (the read-only token: only for [`reads`]).
pub async fn require_token(
    State(service): State<Arc<Service>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &service.settings.api_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    if presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let read_only = service.settings.read_token.as_ref();
    if presented
        .is_some_and(|p| read_only.is_some_and(|t| constant_time_eq(p.as_bytes(), t.as_bytes())))
    {
        if reads(request.method(), request.uri().path()) {
            return next.run(request).await;
        }
        return Problem::new(
            StatusCode::FORBIDDEN,
            "read-only-token",
            "the read-only token may only GET, and not the ad-hoc GET /api/v1/metrics/…",
        )
        .into_response();
    }
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this service requires `Authorization: Bearer <token>`",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
        assert!(super::constant_time_eq(b"", b""));
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        assert_eq!(super::bearer("Bearer t"), Some("t"));
        assert_eq!(super::bearer("bearer t"), Some("t"));
        assert_eq!(super::bearer("BEARER  t"), Some("t"));
        assert_eq!(super::bearer("Basic t"), None);
        assert_eq!(super::bearer("Bearer"), None);
    }
}
