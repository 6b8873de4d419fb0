//! The HTTP API, one room per group of routes: [`collect`] (ad-hoc
//! collections), [`targets`] (the registry), [`history`] (one target's
//! windows and time series), [`errors`] (one target's failed scrapes),
//! [`fleet`] (every target by model, now and over
//! a window), [`metrics`] (the Prometheus re-export) and [`openapi`] (the
//! document). Each room owns its handlers, its `router()` and its part of
//! the OpenAPI document (`Api`); this module only puts the rooms together.
//!
//! Invariant: every route answers JSON (success documents or problem
//! documents, [`crate::problem`]) except `/metrics` (Prometheus text) and
//! the pages for people ([`crate::pages`], merged beside this router by
//! [`crate::app`], outside the token check: they keep their own, a session
//! cookie for reading alone);
//! request bodies are capped at [`Settings::max_request_bytes`]; with an API
//! token configured, [`auth`] answers every route first; a panic in a
//! handler answers that request alone with a 500 problem
//! ([`catch_panics`]). Rooms import [`params`] and [`stored`] (and never
//! this module), so the rooms and the assembly form no circle. The OpenAPI document lists exactly the routes
//! the router serves (a test checks one against the other). Each path
//! spells its operation tag (`api`, `api_targets`, `api_history`, `fleet`,
//! `crate::service`: the module names the document was generated from
//! before the rooms), so the document stayed byte for byte the same.
//!
//! [`Settings::max_request_bytes`]: crate::state::Settings::max_request_bytes

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;

use crate::problem;
use crate::state::Service;

pub mod auth;
pub mod collect;
pub mod errors;
pub mod fleet;
pub mod history;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod stored;
pub mod targets;

/// Every API route, with the fallbacks, the body limit and the token check
/// ([`crate::app`] adds the pages and the panic layer).
pub fn api(service: Arc<Service>) -> Router<Arc<Service>> {
    let limit = service.settings.max_request_bytes;
    Router::new()
        .merge(collect::router())
        .merge(targets::router())
        .merge(history::router())
        .merge(errors::router())
        .merge(fleet::router())
        .merge(metrics::router())
        .merge(openapi::router(document()))
        .fallback(problem::no_route)
        .method_not_allowed_fallback(problem::wrong_method)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            service.clone(),
            auth::require_token,
        ))
}

/// The layer that turns a panic in any handler into a 500 problem for that
/// request alone ([`problem::panicked`]); the router's outermost layer.
pub fn catch_panics() -> tower_http::catch_panic::CatchPanicLayer<
    fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response,
> {
    tower_http::catch_panic::CatchPanicLayer::custom(problem::panicked as fn(_) -> _)
}

/// The document's title and description; the rooms bring the paths.
#[derive(OpenApi)]
#[openapi(info(
    title = "llm-metrics serve",
    description = "Collect normalized metrics from LLM inference servers (vLLM, TGI) through a sandboxed plugin."
))]
struct Info;

/// The OpenAPI 3.1 document: [`Info`] and every room's part.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Info::openapi();
    for part in [
        collect::Api::openapi(),
        targets::Api::openapi(),
        history::Api::openapi(),
        errors::Api::openapi(),
        fleet::Api::openapi(),
        metrics::Api::openapi(),
        openapi::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc
}
