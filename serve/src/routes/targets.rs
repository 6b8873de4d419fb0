//! The targets API: `GET /api/v1/targets`, and `GET`/`PUT`/`DELETE`
//! `/api/v1/targets/{id}`.
//!
//! Invariant: a target added here passes the same allow-list as an ad-hoc
//! collection (and is re-checked on every scrape); its header values are
//! literals only (never read from the service's environment or files) and,
//! like every header value, never returned. The registry's rules (a cap on
//! targets, configured targets protected) answer 409 with a problem. With a
//! history, a `PUT` or `DELETE` is answered only once the definition (or
//! its removal) is committed to the database ([`persist`]), so it survives
//! a restart; a database that refuses it is 503 `store` and changes
//! nothing. Without one, the `PUT` answer says `"persisted": false`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::params;
use crate::allow::Refusal;
use crate::config::{Seconds, Secret, TargetSpec};
use crate::persist;
use crate::problem::{ApiJson, ApiPath, Problem};
use crate::scheduler;
use crate::state::Service;
use crate::store::{ApiTarget, StoreError};
use crate::targets::Refused;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, show, put, remove),
    components(schemas(PutTarget, crate::problem::ProblemBody))
)]
pub struct Api;

/// This room's routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/api/v1/targets", get(list))
        .route("/api/v1/targets/{id}", get(show).put(put).delete(remove))
}

/// `PUT /api/v1/targets/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTarget {
    /// The `/metrics` URL.
    pub url: String,
    /// Engine name (default `auto`).
    pub engine: Option<String>,
    /// Interval: seconds, or a duration like `"15s"`.
    #[schema(value_type = Option<f64>)]
    pub interval: Option<Seconds>,
    /// Fetch budget: seconds, or a duration.
    #[schema(value_type = Option<f64>)]
    pub timeout: Option<Seconds>,
    /// Literal request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// 422 `invalid-target`, saying why (with its causes).
fn invalid_target(e: anyhow::Error) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-target",
        format!("{e:#}"),
    )
}

/// A change the registry refused: 409 `too-many-targets` or
/// `configured-target`.
fn refused(r: Refused) -> Problem {
    let kind = match r {
        Refused::Full(_) => "too-many-targets",
        Refused::Configured(_) => "configured-target",
    };
    Problem::new(StatusCode::CONFLICT, kind, r.to_string())
}

/// A target definition the database would not take: logged, and 503
/// `store` (the registry is left as it was).
fn not_stored(e: &StoreError) -> Problem {
    tracing::error!(error = ?e.to_string(), "storing a target definition failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        format!("the target could not be stored, so nothing changed: {e}"),
    )
}

/// Every target with its health.
#[utoipa::path(get, path = "/api/v1/targets", tag = "api_targets", responses(
    (status = 200, description = "`{\"targets\": [...]}`", body = Object),
    (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
))]
pub async fn list(State(service): State<Arc<Service>>) -> Json<Value> {
    let targets: Vec<Value> = service
        .targets
        .all()
        .iter()
        .map(|e| e.view(false))
        .collect();
    Json(json!({ "targets": targets }))
}

/// One target with its health and latest snapshot.
#[utoipa::path(get, path = "/api/v1/targets/{id}", tag = "api_targets", params(("id" = String, Path)), responses(
    (status = 200, description = "Definition, health and `metrics`", body = Object),
    (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 404, description = "No such target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
))]
pub async fn show(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    let entry = service
        .targets
        .get(&id)
        .ok_or_else(|| Problem::not_found(format!("no target `{id}`")))?;
    Ok(Json(entry.view(true)))
}

/// Add or replace a target: 201 when new, 200 when replaced.
#[utoipa::path(put, path = "/api/v1/targets/{id}", tag = "api_targets", params(("id" = String, Path)), request_body = PutTarget, responses(
    (status = 200, description = "Replaced: the target's view, with `persisted` (kept across restarts)", body = Object),
    (status = 201, description = "Added: the target's view, with `persisted` (kept across restarts)", body = Object),
    (status = 400, description = "Malformed JSON", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 403, description = "Denied by the allow-list", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 409, description = "Too many targets, or a configured target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 413, description = "Body over the limit", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 415, description = "Not JSON", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 422, description = "Invalid target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 503, description = "The database would not store it (nothing changed)", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
))]
pub async fn put(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PutTarget>,
) -> Result<Response, Problem> {
    let headers = body
        .headers
        .into_iter()
        .map(|(n, v)| {
            if http::HeaderValue::from_str(&v).is_err() {
                return Err(anyhow::anyhow!("header `{n}`: not a valid header value"));
            }
            Ok((n.to_ascii_lowercase(), Secret(v)))
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(invalid_target)?;
    let mut spec = TargetSpec::new(
        id,
        body.url,
        body.engine.as_deref(),
        body.interval.map(|s| s.0),
        body.timeout.map(|s| s.0),
        headers,
        body.labels,
    )
    .map_err(invalid_target)?;
    spec.from_api = true;
    spec.check_engine(&service.engines)
        .map_err(invalid_target)?;
    if let Err(refusal) = service.allow_list().check(&spec.url).await {
        // Refused when it is added: a name that does not resolve is the
        // caller's to fix (422), not an upstream failure.
        let status = match &refusal {
            Refusal::Denied(_) => StatusCode::FORBIDDEN,
            Refusal::InvalidUrl(_) | Refusal::Resolve(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        return Err(Problem::new(
            status,
            refusal.kind().name(),
            refusal.to_string(),
        ));
    }
    let id = spec.id.clone();
    // The rules are checked, the definition committed, then the target
    // registered, all under one lock: a refused target is never stored,
    // and a stored one is registered (nothing else changes the registry
    // after start-up).
    let _edits = service.api_edits.lock().await;
    service
        .targets
        .admits(&spec, scheduler::rules(&service))
        .map_err(refused)?;
    let persisted = match &service.history {
        Some(store) => {
            let target = ApiTarget {
                id: id.clone(),
                spec: persist::encode(&spec),
                at_ms: params::now_ms(),
            };
            store.put_target(target).await.map_err(|e| not_stored(&e))?;
            true
        }
        None => false,
    };
    let replaced = scheduler::start(&service, spec).map_err(refused)?;
    tracing::info!(target_id = ?id, replaced, persisted, "target added through the API");
    let mut view = service
        .targets
        .get(&id)
        .map_or(Value::Null, |e| e.view(false));
    view["persisted"] = Value::Bool(persisted);
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view)).into_response())
}

/// Remove a target: 204, or 404 if there was none.
#[utoipa::path(delete, path = "/api/v1/targets/{id}", tag = "api_targets", params(("id" = String, Path)), responses(
    (status = 204, description = "Removed"),
    (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 404, description = "No such target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 409, description = "A configured target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    (status = 503, description = "The database would not delete it (nothing changed)", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
))]
pub async fn remove(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let rules = scheduler::rules(&service);
    let _edits = service.api_edits.lock().await;
    let registered = service.targets.removable(&id, rules).map_err(refused)?;
    // The stored definition goes first: a target whose deletion was
    // answered is not restored by a restart. One stored but not registered
    // (left out at start-up) is deleted too.
    let stored = match &service.history {
        Some(store) => store.delete_target(&id).await.map_err(|e| not_stored(&e))?,
        None => false,
    };
    let removed = service.targets.remove(&id, rules).map_err(refused)?;
    if registered || removed || stored {
        tracing::info!(target_id = ?id, "target removed through the API");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!("no target `{id}`")))
    }
}
