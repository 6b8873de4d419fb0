//! `GET /api/v1/fleet[?model=…&label=k=v]`: what a load-aware router asks
//! for: per model, the instances serving it with their load and freshness,
//! and the sums.
//!
//! Invariant: only targets with a snapshot appear; an instance serving
//! several models appears under each; a server that names no model (TGI)
//! is grouped under `"model": null`. Sums skip absent values and say how many
//! instances reported each one, so an absent figure is never counted as 0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::problem::{ApiQuery, Problem};
use crate::state::Service;

/// Filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// Only this model.
    pub model: Option<String>,
    /// Only targets with this label, written `name=value`.
    pub label: Option<String>,
}

#[derive(Default)]
struct Sum {
    value: f64,
    reported: u64,
}

impl Sum {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.value += v;
            self.reported += 1;
        }
    }

    fn json(&self) -> Value {
        json!({"sum": self.value, "reported_by": self.reported})
    }
}

/// The fleet view.
#[utoipa::path(
    get,
    path = "/api/v1/fleet",
    params(FleetQuery),
    responses(
        (status = 200, description = "Per model: instances with load and freshness, and sums", body = Object),
        (status = 400, description = "Bad filter", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn fleet(
    State(service): State<Arc<Service>>,
    ApiQuery(query): ApiQuery<FleetQuery>,
) -> Result<Json<Value>, Problem> {
    let label = match &query.label {
        None => None,
        Some(l) => Some(l.split_once('=').ok_or_else(|| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "label must be written name=value",
            )
        })?),
    };
    let now = Instant::now();
    let mut groups: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    let mut sums: BTreeMap<Option<String>, [Sum; 3]> = BTreeMap::new();
    for entry in service.targets.all() {
        if let Some((k, v)) = label
            && entry.spec.labels.get(k).map(String::as_str) != Some(v)
        {
            continue;
        }
        let Some(snap) = entry.snapshot() else {
            continue;
        };
        let health = entry.health();
        let models: Vec<Option<String>> = if snap.model_names.is_empty() {
            vec![None]
        } else {
            snap.model_names.iter().cloned().map(Some).collect()
        };
        for model in models {
            if query.model.is_some() && query.model != model {
                continue;
            }
            let load = &snap.load;
            groups.entry(model.clone()).or_default().push(json!({
                "instance_id": entry.spec.id,
                "engine": snap.engine,
                "requests_running": load.requests_running,
                "requests_waiting": load.requests_waiting,
                "kv_cache_usage": load.kv_cache_usage,
                "age_seconds": health.last_success_at.map(|t| now.saturating_duration_since(t).as_secs_f64()),
                "stale": entry.is_stale(&health, now),
                "labels": entry.spec.labels,
            }));
            let s = sums.entry(model).or_default();
            s[0].add(load.requests_running);
            s[1].add(load.requests_waiting);
            s[2].add(load.kv_cache_usage);
        }
    }
    let models: Vec<Value> = groups
        .into_iter()
        .map(|(model, instances)| {
            let s = &sums[&model];
            let n = instances.len();
            json!({
                "model": model,
                "instances": instances,
                "totals": {
                    "instances": n,
                    "requests_running": s[0].json(),
                    "requests_waiting": s[1].json(),
                    "kv_cache_usage_mean": (s[2].reported > 0).then(|| s[2].value / s[2].reported as f64),
                },
            })
        })
        .collect();
    Ok(Json(json!({ "models": models })))
}
