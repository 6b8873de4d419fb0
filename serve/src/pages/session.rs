//! The pages' login: with `--api-token`, a page answers only a browser
//! that holds this process's session cookie; the login form (`POST
//! /login`, the token in the body) gives it in exchange for the admin or
//! the read-only token.
//!
//! Invariant: the cookie never holds a token. It holds a session id of 32
//! random bytes drawn once per process (so a restart logs everyone out),
//! compared in constant time, and it is `HttpOnly; SameSite=Strict;
//! Path=/`. It opens the pages alone, which only read (`GET`); the JSON
//! API still takes only `Authorization: Bearer`. A token is read only from
//! a form body, never from a URL, and no page writes it back.

use std::sync::{Arc, OnceLock};

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{STYLE_PATH, render};
use crate::routes::auth::constant_time_eq;
use crate::state::Service;

/// The cookie's name.
pub const COOKIE: &str = "llm_metrics_session";

/// This process's session id: 32 random bytes, hex.
fn session_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut bytes = [0u8; 32];
        // Without the operating system's randomness there is no safe
        // session: refuse to start one (every login fails loudly).
        getrandom::getrandom(&mut bytes).expect("the operating system's random source");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// Whether the request carries this process's session cookie.
pub fn has_session(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == COOKIE && constant_time_eq(value.as_bytes(), session_id().as_bytes())
        })
}

/// The middleware: without a configured token, or on the login form and
/// the stylesheet, pass; else pass a request with the session cookie and
/// send any other to the login form.
pub async fn require(
    State(service): State<Arc<Service>>,
    request: Request,
    next: Next,
) -> Response {
    if service.settings.api_token.is_none()
        || matches!(request.uri().path(), "/login" | STYLE_PATH)
        || has_session(request.headers())
    {
        return next.run(request).await;
    }
    Redirect::to("/login").into_response()
}

/// The login form's body.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The admin or the read-only token.
    #[serde(default)]
    pub token: String,
}

/// `GET /login`: the form (or, with no token configured, the fleet page).
pub async fn form(State(service): State<Arc<Service>>) -> Response {
    if service.settings.api_token.is_none() {
        return Redirect::to("/").into_response();
    }
    login_page(StatusCode::OK, None)
}

/// `POST /login`: a right token sets the cookie and goes to the fleet
/// page; a wrong or missing one is the form again, 401.
pub async fn login(
    State(service): State<Arc<Service>>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(admin) = service.settings.api_token.as_deref() else {
        return Redirect::to("/").into_response();
    };
    let presented = form.map(|Form(f)| f.token).unwrap_or_default();
    let presented = presented.as_bytes();
    let right = !presented.is_empty()
        && (constant_time_eq(presented, admin.as_bytes())
            || service
                .settings
                .read_token
                .as_deref()
                .is_some_and(|t| constant_time_eq(presented, t.as_bytes())));
    if !right {
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("That token is not right. Use the service's --api-token or --read-token."),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        session_id()
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let mut response = render(
        status,
        "login.html",
        &json!({"title": "Log in", "login_error": error}),
    );
    // Nothing about a login is to be kept.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
