//! `GET /metrics`: every target as Prometheus text 0.0.4, so an existing
//! Prometheus stores and federates the fleet: each target's latest snapshot
//! and scrape health ([`snapshots`]), then its window over the last five
//! minutes from the stored history ([`windows`]), both written with the
//! same text rules ([`text`]).
//!
//! Invariant: the answer is one valid strict 0.0.4 exposition (each family
//! once, `# HELP` and `# TYPE` first, label values escaped, a final line
//! feed); absent values are absent series, never 0.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::Service;

pub mod snapshots;
pub mod text;
pub mod windows;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(prometheus))]
pub struct Api;

/// This room's route.
pub fn router() -> Router<Arc<Service>> {
    Router::new().route("/metrics", get(prometheus))
}

/// `GET /metrics`: the fleet as Prometheus text.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "crate::service",
    responses(
        (status = 200, description = "Every target as Prometheus text 0.0.4", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn prometheus(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let mut text = snapshots::render(&service.targets.all());
    text.push_str(&windows::render(&service).await);
    ([(header::CONTENT_TYPE, text::CONTENT_TYPE)], text)
}
