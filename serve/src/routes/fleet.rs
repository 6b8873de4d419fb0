//! The fleet: `GET /api/v1/fleet[?model=…&label=k=v]`, what a load-aware
//! router asks for (per model, the instances serving it with their load and
//! freshness, and the sums), and `GET /api/v1/fleet/window`, the same
//! grouping over a window of the stored history (each instance's rates and
//! latency, the summed rates, and per model the latency distributions
//! summed over instances by [`crate::fleet_latency`]).
//!
//! Invariant: targets with a snapshot (for a window: two stored snapshots in
//! the range) appear under their models; a target that never answered is
//! listed under `down` with its last error (the live view only, and only
//! when no model is asked for); an instance serving several models
//! appears under each; a server that names no model (TGI) is grouped under
//! `"model": null`. Sums skip absent values and say how many instances
//! reported each one, so an absent figure is never counted as 0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use llm_metrics_host::wit::mapper::{Snapshot, WindowStats};
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::{self, DEFAULT_RANGE, LabelFilter, millis_of, rfc3339};
use super::stored::{self, store_of};
use crate::fleet_latency;
use crate::problem::{ApiQuery, Problem};
use crate::state::Service;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(fleet, fleet_window))]
pub struct Api;

/// This room's routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/api/v1/fleet", get(fleet))
        .route("/api/v1/fleet/window", get(fleet_window))
}

/// `?model=&label=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// Only this model.
    pub model: Option<String>,
    /// Only targets with this label, written `name=value`.
    pub label: Option<String>,
}

/// `?model=&label=&range=&at=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetWindowQuery {
    /// Only this model.
    pub model: Option<String>,
    /// Only targets with this label, written `name=value`.
    pub label: Option<String>,
    /// How far back the window reaches. Default 5m.
    pub range: Option<String>,
    /// Where the window ends. Default now.
    pub at: Option<String>,
}

/// The models a snapshot serves: its model names, or one `None` for a
/// server that names none.
fn models(snapshot: &Snapshot) -> Vec<Option<String>> {
    if snapshot.model_names.is_empty() {
        vec![None]
    } else {
        snapshot.model_names.iter().cloned().map(Some).collect()
    }
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
    tag = "fleet",
    params(FleetQuery),
    responses(
        (status = 200, description = "Per model: instances with load and freshness, and sums; targets that never answered under `down`", body = Object),
        (status = 400, description = "Bad filter", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn fleet(
    State(service): State<Arc<Service>>,
    ApiQuery(query): ApiQuery<FleetQuery>,
) -> Result<Json<Value>, Problem> {
    let label = LabelFilter::parse(query.label.as_deref())?;
    let now = Instant::now();
    let mut groups: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    let mut sums: BTreeMap<Option<String>, [Sum; 3]> = BTreeMap::new();
    let mut down = Vec::new();
    for entry in service.targets.all() {
        if !label.admits(&entry.spec.labels) {
            continue;
        }
        let health = entry.health();
        let Some(snap) = entry.snapshot() else {
            // Never answered: its models are unknown, so it is listed apart,
            // with why (unless a model was asked for).
            if query.model.is_none() {
                down.push(json!({
                    "instance_id": entry.spec.id,
                    "engine": entry.spec.engine,
                    "stale": entry.is_stale(&health, now),
                    "consecutive_failures": health.consecutive_failures,
                    "last_error": health.last_error_kind.map(|kind| json!({
                        "kind": kind,
                        "message": health.last_error,
                    })),
                    "labels": entry.spec.labels,
                }));
            }
            continue;
        };
        for model in models(&snap) {
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
    Ok(Json(json!({ "models": models, "down": down })))
}

/// Sums of the numeric fields of `rates` objects, skipping absent ones and
/// saying how many instances reported each (an absent rate is never 0).
fn sum_rates(windows: &[&Value]) -> Value {
    let mut sums: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for w in windows {
        if let Some(rates) = w.get("rates").and_then(Value::as_object) {
            for (k, v) in rates {
                let s = sums.entry(k.clone()).or_default();
                if let Some(v) = v.as_f64() {
                    s.0 += v;
                    s.1 += 1;
                }
            }
        }
    }
    Value::Object(
        sums.into_iter()
            .map(|(k, (sum, n))| (k, json!({"sum": (n > 0).then_some(sum), "reported_by": n})))
            .collect(),
    )
}

/// Per model across the fleet: each instance's window over the last
/// `range`, the summed rates, and the fleet-wide latency (bucket rates
/// summed over the instances whose layouts agree, then quantiles).
#[utoipa::path(
    get,
    path = "/api/v1/fleet/window",
    tag = "api_history",
    params(FleetWindowQuery),
    responses(
        (status = 200, description = "`{range_seconds, at, models: [{model, instances: [{instance_id, window | error}], totals: {instances, rates, latency: {<distribution>: {instances, mismatched, per_second}}}}]}`", body = Object),
        (status = 400, description = "Bad filter", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Bad range or time", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn fleet_window(
    State(service): State<Arc<Service>>,
    ApiQuery(query): ApiQuery<FleetWindowQuery>,
) -> Result<Json<Value>, Problem> {
    let label = LabelFilter::parse(query.label.as_deref())?;
    let range = params::duration_or("range", query.range.as_deref(), DEFAULT_RANGE)?;
    let at = params::time_or("at", query.at.as_deref(), params::now_ms())?;
    let range_ms = millis_of(range);
    let store = store_of(&service)?;
    type Member = (String, Value, Option<Arc<WindowStats>>);
    let mut groups: BTreeMap<Option<String>, Vec<Member>> = BTreeMap::new();
    for entry in service.targets.all() {
        if !label.admits(&entry.spec.labels) {
            continue;
        }
        let id = &entry.spec.id;
        let Some((later, w)) = stored::window_of(&service, store, id, at, range_ms).await? else {
            continue;
        };
        let models = models(&later);
        if query.model.is_some() && !models.contains(&query.model) {
            continue;
        }
        let (instance, stats) = match stored::window_json(&w) {
            Ok(doc) => (
                json!({"instance_id": id, "engine": later.engine, "labels": entry.spec.labels, "window": doc}),
                w.ok().map(Arc::new),
            ),
            Err(p) => (
                json!({"instance_id": id, "engine": later.engine, "labels": entry.spec.labels, "error_kind": p.kind, "error": p.detail}),
                None,
            ),
        };
        for model in models {
            if query.model.is_some() && query.model != model {
                continue;
            }
            groups
                .entry(model)
                .or_default()
                .push((id.clone(), instance.clone(), stats.clone()));
        }
    }
    let models: Vec<Value> = groups
        .into_iter()
        .map(|(model, members)| {
            let windows: Vec<&Value> = members
                .iter()
                .filter_map(|(_, i, _)| i.get("window"))
                .collect();
            let stats: Vec<(&str, &WindowStats)> = members
                .iter()
                .filter_map(|(id, _, w)| Some((id.as_str(), w.as_deref()?)))
                .collect();
            let totals = json!({
                "instances": members.len(),
                "rates": sum_rates(&windows),
                "latency": fleet_latency::latency(&stats),
            });
            let instances: Vec<Value> = members.into_iter().map(|(_, i, _)| i).collect();
            json!({
                "model": model,
                "totals": totals,
                "instances": instances,
            })
        })
        .collect();
    Ok(Json(json!({
        "range_seconds": range.as_secs_f64(),
        "at": rfc3339(at),
        "models": models,
    })))
}
