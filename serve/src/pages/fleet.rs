//! The fleet page (`GET /`): every server by model, with its load now and
//! its rates and time to first token over the last five minutes, and the
//! servers that never answered.
//!
//! Invariant: the figures are the fields of three API answers, fetched by
//! calling their handlers: `GET /api/v1/fleet` (load, age, per-model sums,
//! `down`), `GET /api/v1/fleet/window?range=5m` (rates, latency, summed
//! rates; absent when the service keeps no history) and
//! `GET /api/v1/targets` (each target's health: status and last error).
//! A server's status is `down` when its last scrape failed (with that
//! error), `stale` when its last success is too old, else `ok`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{problem_page, render};
use crate::problem::ApiQuery;
use crate::routes::{fleet, targets};
use crate::state::Service;

/// The window the fleet page's rates and latency cover.
pub const WINDOW: &str = "5m";

/// `GET /`.
pub async fn page(State(service): State<Arc<Service>>) -> Response {
    let live = match fleet::fleet(
        State(service.clone()),
        ApiQuery(fleet::FleetQuery {
            model: None,
            label: None,
        }),
    )
    .await
    {
        Ok(axum::Json(v)) => v,
        Err(p) => return problem_page(p, "Fleet"),
    };
    // No history (or a failed read): the page shows the load alone.
    let window = fleet::fleet_window(
        State(service.clone()),
        ApiQuery(fleet::FleetWindowQuery {
            model: None,
            label: None,
            range: Some(WINDOW.into()),
            at: None,
        }),
    )
    .await
    .map(|axum::Json(v)| v)
    .map_err(|p| json!({"kind": p.kind, "detail": p.detail}));
    let axum::Json(health) = targets::list(State(service.clone())).await;
    render(
        StatusCode::OK,
        "fleet.html",
        &context(&live, &window, &health),
    )
}

/// The page's context from the three answers.
pub fn context(live: &Value, window: &Result<Value, Value>, health: &Value) -> Value {
    let health: HashMap<&str, &Value> = health["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["id"].as_str()?, &t["health"])))
        .collect();
    let groups = window
        .as_ref()
        .ok()
        .and_then(|w| w["models"].as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let models: Vec<Value> = live["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let win = groups.iter().find(|g| g["model"] == m["model"]);
            let servers: Vec<Value> = m["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    let id = i["instance_id"].as_str().unwrap_or_default();
                    let w = win
                        .and_then(|g| g["instances"].as_array())
                        .and_then(|is| is.iter().find(|x| x["instance_id"] == i["instance_id"]));
                    server(i, w, health.get(id).copied())
                })
                .collect();
            json!({
                "model": m["model"],
                "totals": m["totals"],
                "rates": win.map_or(Value::Null, |g| g["totals"]["rates"].clone()),
                "ttft_p99": win.map_or(Value::Null, fleet_ttft_p99),
                "servers": servers,
            })
        })
        .collect();
    let down: Vec<Value> = live["down"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            json!({
                "id": d["instance_id"],
                "engine": d["engine"],
                "status": "down",
                "error": d["last_error"],
                "failures": d["consecutive_failures"],
            })
        })
        .collect();
    json!({
        "title": "Fleet",
        "refresh": 15,
        "window": "5 minutes",
        "window_error": window.as_ref().err(),
        "models": models,
        "down": down,
    })
}

/// The fleet-wide time to first token p99 of one model of the fleet window
/// answer: its instances' buckets merged (`totals.latency`); `null` when
/// none of them has any.
fn fleet_ttft_p99(group: &Value) -> Value {
    let p99 = &group["totals"]["latency"]["time_to_first_token_seconds"]["per_second"]["p99"];
    if p99.is_number() {
        p99.clone()
    } else {
        Value::Null
    }
}

/// One server's row: live load, its window (or why none) and its health.
fn server(live: &Value, window: Option<&Value>, health: Option<&Value>) -> Value {
    let failed = health.is_some_and(|h| h["last_error_kind"].is_string());
    let status = if failed {
        "down"
    } else if live["stale"] == true {
        "stale"
    } else {
        "ok"
    };
    let w = window.map_or(&Value::Null, |w| &w["window"]);
    json!({
        "id": live["instance_id"],
        "engine": live["engine"],
        "status": status,
        "error": health.filter(|_| failed).map(|h| json!({
            "kind": h["last_error_kind"],
            "message": h["last_error"],
        })),
        "running": live["requests_running"],
        "waiting": live["requests_waiting"],
        "kv": live["kv_cache_usage"],
        "age": live["age_seconds"],
        "generation": w["rates"]["generation_tokens"],
        "requests": w["rates"]["requests_succeeded"],
        "ttft_p50": w["latency"]["time_to_first_token_seconds"]["p50"],
        "ttft_p99": w["latency"]["time_to_first_token_seconds"]["p99"],
        "window_error": window.and_then(|w| w.get("error")),
    })
}
