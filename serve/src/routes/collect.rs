//! The ad-hoc collection API: `POST /api/v1/collect/{engine}` (the original
//! design's envelope) and `GET /api/v1/metrics/{engine}/{instance_id}`.
//!
//! Invariant: input is validated into a [`collect::Request`] before anything
//! is fetched; invalid input is a 4xx problem document. A collection that
//! ran answers `POST` with 200 and the envelope (failure kinds in
//! `error_kind`), and `GET` with the snapshot or a problem whose status fits
//! the failure ([`Failure::status`]). Waiting for an ad-hoc permit counts
//! against the request's timeout; a collection that got none within it
//! never ran, and both routes answer 503 `busy`. Logged fields are escaped.

use llm_metrics_host::describe::CollectKind;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::allow::Destination;
use crate::collect::{self, Failure};
use crate::engine;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem, ProblemBody};
use crate::state::Service;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(collect, metrics),
    components(schemas(CollectBody, Envelope, ProblemBody))
)]
pub struct Api;

/// This room's routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/api/v1/collect/{engine}", post(collect))
        .route("/api/v1/metrics/{engine}/{instance_id}", get(metrics))
}

/// The longest instance id accepted.
const MAX_INSTANCE_ID: usize = 256;

/// `POST /api/v1/collect/{engine}` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CollectBody {
    /// The caller's name for the server.
    pub instance_id: String,
    /// The server's `/metrics` URL.
    pub endpoint: String,
    /// Fetch budget in seconds (default 10).
    pub timeout: Option<f64>,
}

/// `GET /api/v1/metrics/…` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// The server's `/metrics` URL.
    pub endpoint: String,
    /// Fetch budget in seconds (default 10).
    pub timeout: Option<f64>,
}

/// Validate the parts of a request into a collection request.
fn request(
    service: &Service,
    engine_name: &str,
    instance_id: String,
    endpoint: String,
    timeout: Option<f64>,
) -> Result<collect::Request, Problem> {
    let engine = engine::parse(engine_name, &service.engines).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-engine",
            format!(
                "unknown engine `{engine_name}`; known: auto, {}",
                service.engines.join(", ")
            ),
        )
    })?;
    let invalid = |kind: &str, m: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, kind, m);
    if instance_id.trim().is_empty() || instance_id.len() > MAX_INSTANCE_ID {
        return Err(invalid(
            "invalid-body",
            format!("instance_id must be 1 to {MAX_INSTANCE_ID} bytes, not blank"),
        ));
    }
    Destination::parse(&endpoint)
        .map_err(|e| invalid(CollectKind::InvalidUrl.name(), e.to_string()))?;
    let settings = &service.settings;
    let timeout = match timeout {
        None => settings.default_timeout,
        Some(t) if t.is_finite() && t > 0.0 && t <= settings.max_timeout.as_secs_f64() => {
            Duration::from_secs_f64(t)
        }
        Some(t) => {
            return Err(invalid(
                "invalid-timeout",
                format!(
                    "timeout must be over 0 and at most {} seconds, not {t}",
                    settings.max_timeout.as_secs_f64()
                ),
            ));
        }
    };
    Ok(collect::Request {
        engine,
        instance_id,
        endpoint,
        timeout,
        headers: Vec::new(),
        max_body_bytes: settings.max_body_bytes,
    })
}

/// The answer to `POST /api/v1/collect/{engine}` (the original design's
/// envelope, plus `error_kind`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope {
    /// Whether a snapshot was collected.
    pub success: bool,
    /// The caller's instance id.
    pub instance_id: String,
    /// When the answer was made, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The snapshot (see the README, "Snapshot fields"), or null.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// What went wrong, or null.
    pub error: Option<String>,
    /// The failure's kind (`denied`, `timeout`, `http-status`, …), or null.
    pub error_kind: Option<&'static str>,
}

/// RFC 3339 UTC, milliseconds.
pub fn now_rfc3339() -> String {
    crate::targets::rfc3339(SystemTime::now())
}

/// `POST /api/v1/collect/{engine}`: 200 with the envelope
/// `{success, instance_id, timestamp, metrics, error, error_kind}`.
#[utoipa::path(
    post,
    path = "/api/v1/collect/{engine}",
    tag = "api",
    params(("engine" = String, Path, description = "auto, or an engine id the plugin lists (vllm, tgi, …)")),
    request_body = CollectBody,
    responses(
        (status = 200, description = "The collection ran; see `success`", body = Envelope),
        (status = 400, description = "Malformed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown engine", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid fields, URL or timeout", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "Busy: no ad-hoc slot came free within the timeout", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn collect(
    State(service): State<Arc<Service>>,
    ApiPath(engine_name): ApiPath<String>,
    ApiJson(body): ApiJson<CollectBody>,
) -> Result<Json<Envelope>, Problem> {
    let request = request(
        &service,
        &engine_name,
        body.instance_id,
        body.endpoint,
        body.timeout,
    )?;
    let result = adhoc(&service, &request).await;
    if let Err(busy @ Failure::Busy(_)) = &result {
        log_failure(&request, busy);
        return Err(Problem::new(busy.status(), busy.kind(), busy.to_string()));
    }
    let (metrics, error, kind) = match &result {
        Ok(snapshot) => (Some(llm_metrics_host::json::snapshot(snapshot)), None, None),
        Err(failure) => {
            log_failure(&request, failure);
            (None, Some(failure.to_string()), Some(failure.kind()))
        }
    };
    Ok(Json(Envelope {
        success: result.is_ok(),
        instance_id: request.instance_id,
        timestamp: now_rfc3339(),
        metrics,
        error,
        error_kind: kind,
    }))
}

/// `GET /api/v1/metrics/{engine}/{instance_id}?endpoint=URL[&timeout=s]`:
/// the snapshot, or a problem with a fitting status.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/{engine}/{instance_id}",
    tag = "api",
    params(
        ("engine" = String, Path, description = "auto, or an engine id the plugin lists (vllm, tgi, …)"),
        ("instance_id" = String, Path, description = "The caller's name for the server"),
        MetricsQuery,
    ),
    responses(
        (status = 200, description = "The snapshot (README, \"Snapshot fields\")", body = Object),
        (status = 400, description = "Missing or bad query", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Denied by the allow-list", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown engine", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Invalid URL or timeout", body = ProblemBody, content_type = "application/problem+json"),
        (status = 500, description = "The plugin trapped", body = ProblemBody, content_type = "application/problem+json"),
        (status = 502, description = "The upstream failed or sent no usable exposition", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "Busy: no ad-hoc slot came free within the timeout", body = ProblemBody, content_type = "application/problem+json"),
        (status = 504, description = "The fetch budget ran out", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn metrics(
    State(service): State<Arc<Service>>,
    ApiPath((engine_name, instance_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<MetricsQuery>,
) -> Result<Response, Problem> {
    let request = request(
        &service,
        &engine_name,
        instance_id,
        query.endpoint,
        query.timeout,
    )?;
    match adhoc(&service, &request).await {
        Ok(snapshot) => Ok(Json(llm_metrics_host::json::snapshot(&snapshot)).into_response()),
        Err(failure) => {
            log_failure(&request, &failure);
            Err(Problem::new(
                failure.status(),
                failure.kind(),
                failure.to_string(),
            ))
        }
    }
}

/// One ad-hoc collection, within the ad-hoc concurrency bound; the wait
/// for a permit is part of the request's timeout.
async fn adhoc(
    service: &Service,
    request: &collect::Request,
) -> Result<llm_metrics_host::wit::mapper::Snapshot, Failure> {
    let started = std::time::Instant::now();
    let permit = tokio::time::timeout(request.timeout, service.adhoc_permits.acquire()).await;
    // The semaphore is never closed, so only the timeout fails.
    let Ok(Ok(_permit)) = permit else {
        return Err(Failure::Busy(request.timeout));
    };
    let left = request.timeout.saturating_sub(started.elapsed());
    if left < Duration::from_millis(1) {
        return Err(Failure::Busy(request.timeout));
    }
    let request = collect::Request {
        timeout: left,
        ..request.clone()
    };
    collect::adhoc(&service.plugin, &service.allow_list(), &request).await
}

/// One escaped line per failed collection (`?`: control characters in the
/// caller's instance id or URL cannot start a line of their own).
fn log_failure(request: &collect::Request, failure: &Failure) {
    tracing::warn!(
        instance_id = ?request.instance_id,
        endpoint = ?request.endpoint,
        error_kind = failure.kind(),
        error = ?failure.to_string(),
        "ad-hoc collect failed"
    );
}
