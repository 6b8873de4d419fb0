//! The ad-hoc collection API: `POST /api/v1/collect/{engine}` (the original
//! design's envelope) and `GET /api/v1/metrics/{engine}/{instance_id}`.
//!
//! Invariant: input is validated into a [`collect::Request`] before anything
//! is fetched; invalid input is a 4xx problem document. A collection that
//! ran answers `POST` with 200 and the envelope (failure kinds in
//! `error_kind`), and `GET` with the snapshot or a problem whose status fits
//! the failure ([`Failure::status`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::allow::Destination;
use crate::collect::{self, Failure};
use crate::engine;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem};
use crate::service::Service;

/// The longest instance id accepted.
const MAX_INSTANCE_ID: usize = 256;

/// `POST /api/v1/collect/{engine}` body.
#[derive(Debug, Deserialize)]
pub struct CollectBody {
    /// The caller's name for the server.
    pub instance_id: String,
    /// The server's `/metrics` URL.
    pub endpoint: String,
    /// Fetch budget in seconds (default 10).
    pub timeout: Option<f64>,
}

/// `GET /api/v1/metrics/…` query.
#[derive(Debug, Deserialize)]
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
    let engine = engine::parse(engine_name).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-engine",
            format!(
                "unknown engine `{engine_name}`; known: {}",
                engine::NAMES.join(", ")
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
    Destination::parse(&endpoint).map_err(|e| invalid("invalid-url", e.to_string()))?;
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

/// RFC 3339 UTC, milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// `POST /api/v1/collect/{engine}`: 200 with the envelope
/// `{success, instance_id, timestamp, metrics, error, error_kind}`.
pub async fn collect(
    State(service): State<Arc<Service>>,
    ApiPath(engine_name): ApiPath<String>,
    ApiJson(body): ApiJson<CollectBody>,
) -> Result<Json<Value>, Problem> {
    let request = request(
        &service,
        &engine_name,
        body.instance_id,
        body.endpoint,
        body.timeout,
    )?;
    let result = collect::adhoc(&service.plugin, &service.allow_list(), &request).await;
    let (metrics, error, kind) = match &result {
        Ok(snapshot) => (llm_metrics_host::json::snapshot(snapshot), None, None),
        Err(failure) => {
            log_failure(&request, failure);
            (Value::Null, Some(failure.to_string()), Some(failure.kind()))
        }
    };
    Ok(Json(json!({
        "success": result.is_ok(),
        "instance_id": request.instance_id,
        "timestamp": now_rfc3339(),
        "metrics": metrics,
        "error": error,
        "error_kind": kind,
    })))
}

/// `GET /api/v1/metrics/{engine}/{instance_id}?endpoint=URL[&timeout=s]`:
/// the snapshot, or a problem with a fitting status.
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
    match collect::adhoc(&service.plugin, &service.allow_list(), &request).await {
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

fn log_failure(request: &collect::Request, failure: &Failure) {
    tracing::warn!(
        instance_id = %request.instance_id,
        endpoint = %request.endpoint,
        error_kind = failure.kind(),
        error = %failure,
        "ad-hoc collect failed"
    );
}
