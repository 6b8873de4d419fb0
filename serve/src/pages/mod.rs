//! The pages for people: the fleet at `/` ([`fleet`]) and one server over
//! time at `/servers/{id}` ([`server`]), HTML rendered here from the
//! templates under `serve/templates/` with charts drawn as SVG
//! ([`chart`]), the login form when a token is configured ([`session`]),
//! and the stylesheet, all compiled into the binary.
//!
//! Invariant: every number a page shows comes from an answer of the JSON
//! API, fetched by calling the API's own handlers (`crate::routes`): this
//! room does no metric arithmetic, it only picks fields, formats them and
//! draws them. Templates escape everything they print (minijinja's HTML
//! auto-escaping); a page names no URL outside this service and needs no
//! script. With a token configured, no page answers anything but the login
//! form (or a redirect to it) without the session cookie.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;
use serde_json::Value;

use crate::problem::Problem;
use crate::state::Service;

pub mod chart;
pub mod failures;
pub mod fleet;
pub mod format;
pub mod server;
pub mod session;

/// The stylesheet, served at [`STYLE_PATH`].
const STYLE: &str = include_str!("../../templates/style.css");
/// Where the stylesheet is served.
pub const STYLE_PATH: &str = "/static/style.css";
/// The largest login form read (a token is far shorter).
const MAX_FORM_BYTES: usize = 8 * 1024;

/// The pages' routes, each behind the session check ([`session::require`]).
pub fn router(service: Arc<Service>) -> Router<Arc<Service>> {
    Router::new()
        .route("/", get(fleet::page))
        .route("/servers/{id}", get(server::page))
        .route(STYLE_PATH, get(style))
        .route("/login", get(session::form).post(session::login))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            service,
            session::require,
        ))
}

/// The templates, parsed once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("fleet.html", include_str!("../../templates/fleet.html")),
            ("server.html", include_str!("../../templates/server.html")),
            ("login.html", include_str!("../../templates/login.html")),
        ] {
            env.add_template(name, text)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        format::register(&mut env);
        env
    })
}

/// `name` rendered with `context` as an HTML answer with `status`; a
/// template error is a 500 problem (a bug, logged).
pub fn render(status: StatusCode, name: &str, context: &Value) -> Response {
    let rendered = templates()
        .get_template(name)
        .and_then(|t| t.render(context));
    match rendered {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            // The pages load nothing from elsewhere and run no script.
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            response
        }
        Err(e) => {
            tracing::error!(template = name, error = %e, "page rendering failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the page could not be rendered",
            )
            .into_response()
        }
    }
}

/// `GET /static/style.css`.
async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

/// A problem from an API handler, as a page: its status, kind and detail.
pub fn problem_page(p: Problem, title: &str) -> Response {
    render(
        p.status,
        "base.html",
        &serde_json::json!({
            "title": title,
            "error": {"kind": p.kind, "detail": p.detail},
        }),
    )
}
