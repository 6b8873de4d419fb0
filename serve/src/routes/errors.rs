//! One target's failed scrapes: `GET /api/v1/targets/{id}/errors`.
//!
//! Invariant: every query parameter is validated ([`params`]) before the
//! store is read, and bad ones are typed 422 problems (`invalid-time`,
//! `invalid-range`, `invalid-limit`); an unknown target (neither in the
//! registry nor in the store) is 404 `not-found`. The answer is bounded: at
//! most `limit` rows (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]),
//! newest first, with `truncated` saying whether more matched. A run of
//! repeated failures (see [`crate::store::MAX_RUN`]) is one row with its
//! count and its first and latest times.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::{self, rfc3339};
use super::stored::{self, store_of, store_problem};
use crate::failed;
use crate::problem::{ApiPath, ApiQuery, Problem};
use crate::state::Service;

/// Rows in an answer when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The most rows an answer may have.
pub const MAX_LIMIT: usize = 1000;
/// How far back `from` lies from `to` when not given (a day).
pub const DEFAULT_SPAN_MS: i64 = 24 * 3600 * 1000;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(target_errors))]
pub struct Api;

/// This room's routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new().route("/api/v1/targets/{id}/errors", get(target_errors))
}

/// `?from=&to=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// Start: RFC 3339 or Unix seconds. Default: a day before `to`.
    pub from: Option<String>,
    /// End: RFC 3339 or Unix seconds. Default now.
    pub to: Option<String>,
    /// The most rows to return, 1 to 1000. Default 100.
    pub limit: Option<String>,
}

/// One target's failed scrapes in a range, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{id}/errors",
    tag = "api_history",
    params(("id" = String, Path), ErrorsQuery),
    responses(
        (status = 200, description = "`{target, from, to, limit, truncated, errors: [{at, last_at, count, kind, message, duration_seconds}]}`, newest first", body = Object),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Bad time, inverted or too long a range, or bad limit", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn target_errors(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ErrorsQuery>,
) -> Result<Json<Value>, Problem> {
    let (from, to) = params::span(query.from.as_deref(), query.to.as_deref(), |to| {
        to.saturating_sub(DEFAULT_SPAN_MS).max(0)
    })?;
    let limit = params::limit_or("limit", query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let store = store_of(&service)?;
    let page = match failed::list(store, &id, from, to, limit)
        .await
        .map_err(|e| store_problem(&e))?
    {
        Some(page) => page,
        None => match stored::unknown(&service, &id) {
            Some(p) => return Err(p),
            None => failed::Page::default(),
        },
    };
    let errors: Vec<Value> = page.rows.iter().map(row).collect();
    Ok(Json(json!({
        "target": id,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "limit": limit,
        "truncated": page.truncated,
        "errors": errors,
    })))
}

/// One stored row of failed scrapes as this route lists it: `{at, last_at,
/// count, kind, message, duration_seconds}`.
pub fn row(f: &failed::Failed) -> Value {
    json!({
        "at": rfc3339(f.at_ms),
        "last_at": rfc3339(f.last_at_ms),
        "count": f.count,
        "kind": f.kind,
        "message": f.message,
        "duration_seconds": f.duration_ms.map(|ms| ms as f64 / 1000.0),
    })
}
