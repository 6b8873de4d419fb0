//! One server's page (`GET /servers/{id}?range=1h`): its health, its
//! window over the chosen range (rates, latency quantiles, engine-specific
//! rates and distributions), charts of its history over that range with
//! restarts marked, and its recent failed scrapes.
//!
//! Invariant: the figures are the fields of API answers, fetched by calling
//! their handlers (`GET /api/v1/targets/{id}`, `…/window`, `…/history`);
//! the failed scrapes come from [`super::failures`]. The range is one of
//! [`RANGES`]; anything else is a 422 page. The history is asked for at
//! [`POINTS`] steps across the range, each point's window reaching back
//! its step or three scrape intervals, whichever is longer (so a point
//! always spans at least two scrapes).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use llm_metrics_guest::distribution::{Bucket, histogram_quantile};
use serde::Deserialize;
use serde_json::{Value, json};

use super::chart::{Chart, Series, clock};
use super::{failures, problem_page, render};
use crate::problem::{ApiPath, ApiQuery, Problem};
use crate::routes::history::{HistoryQuery, WindowQuery, target_history, target_window};
use crate::routes::params::{self, invalid, millis_of};
use crate::routes::stored::store_of;
use crate::routes::targets;
use crate::state::Service;

/// The ranges a person can pick, as the API spells them, and their labels.
pub const RANGES: [(&str, &str); 5] = [
    ("15m", "15 min"),
    ("1h", "1 h"),
    ("6h", "6 h"),
    ("24h", "24 h"),
    ("7d", "7 days"),
];
/// The range when none is asked for.
pub const DEFAULT: &str = "1h";
/// History points asked for across a range.
pub const POINTS: u32 = 120;

/// `?range=`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// One of [`RANGES`].
    pub range: Option<String>,
}

/// `GET /servers/{id}`.
pub async fn page(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Response {
    match build(&service, id, query).await {
        Ok(context) => render(StatusCode::OK, "server.html", &context),
        Err(p) => problem_page(p, "Server"),
    }
}

async fn build(service: &Arc<Service>, id: String, query: PageQuery) -> Result<Value, Problem> {
    let range = query.range.as_deref().unwrap_or(DEFAULT);
    let Some(&(_, label)) = RANGES.iter().find(|(r, _)| *r == range) else {
        return Err(invalid(
            "invalid-range",
            format!(
                "range `{range}` is not one of {}",
                RANGES.map(|(r, _)| r).join(", ")
            ),
        ));
    };
    let axum::Json(target) = targets::show(State(service.clone()), ApiPath(id.clone())).await?;
    let span = params::parse_duration("range", range)?;
    let to = params::now_ms();
    let from = to - millis_of(span);
    let step = span / POINTS;
    let interval = target["interval"]
        .as_f64()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(1));
    let reach = step.max(interval.saturating_mul(3));
    let window = target_window(
        State(service.clone()),
        ApiPath(id.clone()),
        ApiQuery(WindowQuery {
            range: Some(range.into()),
            at: Some(seconds(to)),
        }),
    )
    .await
    .map(|axum::Json(v)| v["window"].clone())
    .map_err(|p| json!({"kind": p.kind, "detail": p.detail}));
    let history = target_history(
        State(service.clone()),
        ApiPath(id.clone()),
        ApiQuery(HistoryQuery {
            from: Some(seconds(from)),
            to: Some(seconds(to)),
            step: Some(format!("{}ms", step.as_millis())),
            range: Some(format!("{}ms", reach.as_millis())),
        }),
    )
    .await;
    let (charts, restarts, history_error) = match history {
        Ok(r) => match answer(r).await {
            Ok(h) => {
                let (charts, restarts) = charts(&h, from, to);
                let span = (to - from) as f64 / 1000.0;
                let marks: Vec<String> = restarts.iter().map(|t| clock(*t, span)).collect();
                (charts, marks, Value::Null)
            }
            Err(e) => (vec![], vec![], e),
        },
        Err(p) => (vec![], vec![], json!({"kind": p.kind, "detail": p.detail})),
    };
    // No history: no failed scrapes stored; a failed read: said on the page.
    let (failed, failures_error) = match store_of(service) {
        Ok(store) => match failures::recent(store, &id, to).await {
            Ok(rows) => (rows, None),
            Err(e) => (vec![], Some(e.to_string())),
        },
        Err(_) => (vec![], None),
    };
    let ranges: Vec<Value> = RANGES
        .iter()
        .map(|(r, l)| json!({"range": r, "label": l, "current": *r == range}))
        .collect();
    Ok(json!({
        "title": id,
        "id": id,
        "range": range,
        "range_label": label,
        "ranges": ranges,
        "target": target,
        "window": window.as_ref().ok(),
        "window_error": window.as_ref().err(),
        "latency": window.as_ref().map_or(Value::Null, latency),
        "engine_rows": window.as_ref().map_or(Value::Null, engine_rows),
        "charts": charts,
        "restarts": restarts,
        "history_error": history_error,
        "failures": failed,
        "failures_error": failures_error,
    }))
}

/// Milliseconds since the epoch as the API's Unix seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The history handler's JSON answer, read back.
async fn answer(r: Response) -> Result<Value, Value> {
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .map_err(|e| json!({"kind": "internal", "detail": e.to_string()}))?;
    serde_json::from_slice(&bytes).map_err(|e| json!({"kind": "internal", "detail": e.to_string()}))
}

/// The latency rows of a window: each distribution's quantiles and mean.
fn latency(w: &Value) -> Value {
    let names = [
        ("time_to_first_token_seconds", "Time to first token"),
        ("inter_token_latency_seconds", "Inter-token latency"),
        ("e2e_request_latency_seconds", "End-to-end latency"),
        ("queue_time_seconds", "Queue time"),
    ];
    Value::Array(
        names
            .iter()
            .map(|(k, label)| {
                let d = &w["latency"][k];
                json!({"name": label, "d": d, "p95": p95(d)})
            })
            .collect(),
    )
}

/// A window distribution's p95: the API answers p50, p90 and p99, so the
/// 95th percentile is interpolated in the same buckets by the component's
/// own `histogram_quantile` (the guest crate, built natively; no second
/// copy of the arithmetic). `null` for a summary (no buckets) or no
/// observations.
fn p95(d: &Value) -> Value {
    let bound = |v: &Value| match v {
        Value::String(s) if s == "+Inf" => Some(f64::INFINITY),
        v => v.as_f64(),
    };
    let buckets: Option<Vec<Bucket>> = d["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            Some(Bucket {
                le: bound(&b["le"])?,
                count: b["count"].as_f64()?,
            })
        })
        .collect();
    buckets
        .filter(|b| !b.is_empty())
        .and_then(|b| histogram_quantile(0.95, &b))
        .map_or(Value::Null, |v| json!(v))
}

/// The engine-specific rows of a window: `{group, field, metric, kind,
/// value | by | d}`.
fn engine_rows(w: &Value) -> Value {
    let mut rows = vec![];
    for (group, fields) in w["engine_metrics"].as_object().into_iter().flatten() {
        for (field, f) in fields.as_object().into_iter().flatten() {
            let v = &f["value"];
            let kind = if v.is_number() {
                "number"
            } else if v.get("buckets").is_some() || v.get("count").is_some() {
                "distribution"
            } else if v.is_object() {
                "by"
            } else {
                "names"
            };
            rows.push(json!({
                "group": group, "field": field, "metric": f["metric"],
                "by_label": f["by"], "counter": f["counter"], "kind": kind, "value": v,
            }));
        }
    }
    Value::Array(rows)
}

/// Seconds since the epoch of an RFC 3339 time from the API.
fn epoch(at: &Value) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(at.as_str()?).ok()?;
    Some(
        t.duration_since(std::time::SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs_f64(),
    )
}

/// The charts of a history answer, and its restarts (seconds since the
/// epoch of the points whose window saw one).
fn charts(history: &Value, from_ms: i64, to_ms: i64) -> (Vec<Value>, Vec<f64>) {
    let points: Vec<(f64, &Value)> = history["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((epoch(&p["at"])?, p)))
        .collect();
    let series = |name: &'static str, path: &[&str]| Series {
        name,
        points: points
            .iter()
            .map(|(t, p)| {
                let v = path.iter().fold(*p, |v, k| &v[*k]);
                (*t, v.as_f64())
            })
            .collect(),
    };
    let restarts: Vec<f64> = points
        .iter()
        .filter(|(_, p)| p["window"]["restarted"] == true)
        .map(|(t, _)| *t)
        .collect();
    let (from, to) = (from_ms as f64 / 1000.0, to_ms as f64 / 1000.0);
    let chart = |title, unit, style, series| Chart {
        title,
        unit,
        style,
        from,
        to,
        series,
    };
    let q = |key: &'static str| {
        vec![
            series("p50", &["window", "latency", key, "p50"]),
            series("p99", &["window", "latency", key, "p99"]),
        ]
    };
    let charts = [
        chart(
            "Tokens per second",
            "tokens/s",
            "num",
            vec![
                series("generation", &["window", "rates", "generation_tokens"]),
                series("prompt", &["window", "rates", "prompt_tokens"]),
            ],
        ),
        chart(
            "Requests per second",
            "requests/s",
            "num",
            vec![
                series("succeeded", &["window", "rates", "requests_succeeded"]),
                series("failed", &["window", "rates", "requests_failed"]),
            ],
        ),
        chart(
            "Running and waiting requests",
            "requests",
            "num",
            vec![
                series("running", &["snapshot", "load", "requests_running"]),
                series("waiting", &["snapshot", "load", "requests_waiting"]),
            ],
        ),
        chart(
            "KV cache use",
            "fraction of the cache (0–1)",
            "pct",
            vec![series(
                "KV cache use",
                &["snapshot", "load", "kv_cache_usage"],
            )],
        ),
        chart(
            "Time to first token",
            "seconds",
            "secs",
            q("time_to_first_token_seconds"),
        ),
        chart(
            "Inter-token latency",
            "seconds",
            "secs",
            q("inter_token_latency_seconds"),
        ),
        chart(
            "End-to-end request latency",
            "seconds",
            "secs",
            q("e2e_request_latency_seconds"),
        ),
        chart("Queue time", "seconds", "secs", q("queue_time_seconds")),
    ];
    let out = charts
        .iter()
        .map(|c| {
            json!({
                "title": c.title,
                "unit": c.unit,
                "style": c.style,
                "points": c.values(),
                "svg": c.svg(&restarts),
                "table": c.table(),
            })
        })
        .collect();
    (out, restarts)
}
