//! One target's history: `GET /api/v1/targets/{id}/window` (its window over
//! a range) and `GET /api/v1/targets/{id}/history` (its time series).
//!
//! Invariant: windows are computed by the plugin's `window` function from
//! two stored snapshots ([`stored`]); every query parameter is validated
//! ([`params`]) before the store is read, and bad ones are typed 4xx
//! problems (`invalid-duration`, `invalid-time`, `invalid-range`,
//! `invalid-step`); an unknown target is 404 `not-found`, and too little
//! history is 404 `insufficient-history`, never a made-up figure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use llm_metrics_host::wit::mapper::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::{self, DEFAULT_RANGE, MAX_SPAN, invalid, millis_of, rfc3339};
use super::stored::{self, store_of, store_problem};
use crate::history::{self, Point};
use crate::problem::{ApiPath, ApiQuery, Problem};
use crate::state::Service;

/// This room's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(target_window, target_history))]
pub struct Api;

/// This room's routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/api/v1/targets/{id}/window", get(target_window))
        .route("/api/v1/targets/{id}/history", get(target_history))
}

/// The most points one history answer has (as Prometheus' query API).
pub const MAX_POINTS: i64 = 11_000;

/// `?range=&at=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// How far back the window reaches: a duration (`5m`, `90s`) or
    /// seconds. Default 5m.
    pub range: Option<String>,
    /// Where the window ends: RFC 3339 or Unix seconds. Default now.
    pub at: Option<String>,
}

/// `?from=&to=&step=&range=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Start: RFC 3339 or Unix seconds. Default: an hour before `to`.
    pub from: Option<String>,
    /// End: RFC 3339 or Unix seconds. Default now.
    pub to: Option<String>,
    /// Between points: a duration or seconds. Default 1m.
    pub step: Option<String>,
    /// Each point's window reaches this far back. Default: `step`.
    pub range: Option<String>,
}

/// The stored points of `id` in `[from, to]`; 404 when neither the registry
/// nor the store knows the target.
async fn target_points(
    service: &Service,
    id: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Point>, Problem> {
    let store = store_of(service)?;
    match history::points(store, id, from_ms, to_ms)
        .await
        .map_err(|e| store_problem(&e))?
    {
        Some(points) => Ok(points),
        None if service.targets.get(id).is_some() => Ok(Vec::new()),
        None => Err(Problem::not_found(format!("no target `{id}`"))),
    }
}

/// One target's window over the last `range`.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{id}/window",
    tag = "api_history",
    params(("id" = String, Path), WindowQuery),
    responses(
        (status = 200, description = "`{target, range_seconds, at, earlier, later, window}`", body = Object),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such target, or fewer than two successful scrapes in the range", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The two snapshots cannot be compared (another engine, bucket layout…)", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Bad range or time", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn target_window(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> Result<Json<Value>, Problem> {
    let range = params::duration_or("range", query.range.as_deref(), DEFAULT_RANGE)?;
    let at = params::time_or("at", query.at.as_deref(), params::now_ms())?;
    let range_ms = millis_of(range);
    let points = target_points(&service, &id, at.saturating_sub(range_ms), at).await?;
    let Some((first, last)) = history::window_pair(&points, at, range_ms) else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "insufficient-history",
            format!(
                "target `{id}` has {} successful scrape(s) between {} and {}; a window needs two",
                points.len(),
                rfc3339(at.saturating_sub(range_ms)),
                rfc3339(at)
            ),
        ));
    };
    let store = store_of(&service)?;
    let snaps = history::snapshots(store, vec![first.id, last.id])
        .await
        .map_err(|e| store_problem(&e))?;
    let w = stored::window(&service, &snaps[&first.id], &snaps[&last.id]).await?;
    Ok(Json(json!({
        "target": id,
        "range_seconds": range.as_secs_f64(),
        "at": rfc3339(at),
        "earlier": rfc3339(first.at_ms),
        "later": rfc3339(last.at_ms),
        "window": w,
    })))
}

/// A history point's latest snapshot and window pair.
type Plan = (Option<Point>, Option<(Point, Point)>);

/// The normalized fields of a snapshot that a history point carries.
fn fields(snapshot: &Snapshot) -> Value {
    let doc = llm_metrics_host::json::snapshot(snapshot);
    json!({
        "collected_at": doc["collected_at"],
        "engine": doc["engine"],
        "model_names": doc["model_names"],
        "load": doc["load"],
        "totals": doc["totals"],
    })
}

/// One target's time series: the normalized fields and the window at each
/// step.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{id}/history",
    tag = "api_history",
    params(("id" = String, Path), HistoryQuery),
    responses(
        (status = 200, description = "`{target, from, to, step_seconds, range_seconds, points: [{at, snapshot, window}]}`", body = Object),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such target", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Bad time, duration, inverted range or absurd step", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn target_history(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, Problem> {
    let to = params::time_or("to", query.to.as_deref(), params::now_ms())?;
    let from = params::time_or("from", query.from.as_deref(), to.saturating_sub(3_600_000))?;
    if from > to {
        return Err(invalid(
            "invalid-range",
            format!("`from` ({}) is after `to` ({})", rfc3339(from), rfc3339(to)),
        ));
    }
    if to - from > millis_of(MAX_SPAN) {
        return Err(invalid(
            "invalid-range",
            "from `from` to `to` is over 366 days".into(),
        ));
    }
    let step = params::duration_or("step", query.step.as_deref(), Duration::from_secs(60))?;
    let step_ms = millis_of(step).max(1);
    let count = (to - from) / step_ms + 1;
    if count > MAX_POINTS || step < Duration::from_millis(1) {
        return Err(invalid(
            "invalid-step",
            format!(
                "a step of {} gives {count} points from `from` to `to`; at most {MAX_POINTS}",
                humantime::format_duration(step)
            ),
        ));
    }
    let range = params::duration_or("range", query.range.as_deref(), step)?;
    let range_ms = millis_of(range);
    let lookback = millis_of(history::LOOKBACK);
    let points = target_points(
        &service,
        &id,
        from.saturating_sub(range_ms.max(lookback)),
        to,
    )
    .await?;
    let times: Vec<i64> = (0..count).map(|i| from + i * step_ms).collect();
    let mut wanted = Vec::new();
    let plan: Vec<Plan> = times
        .iter()
        .map(|&t| {
            let latest = history::latest(&points, t);
            let pair = history::window_pair(&points, t, range_ms);
            wanted.extend(latest.map(|p| p.id));
            if let Some((a, b)) = pair {
                wanted.extend([a.id, b.id]);
            }
            (latest, pair)
        })
        .collect();
    let snaps = match wanted.is_empty() {
        true => Default::default(),
        false => history::snapshots(store_of(&service)?, wanted)
            .await
            .map_err(|e| store_problem(&e))?,
    };
    let mut out = Vec::with_capacity(plan.len());
    let mut windows: BTreeMap<(i64, i64), Value> = BTreeMap::new();
    for (t, (latest, pair)) in times.iter().zip(plan) {
        let w = match pair {
            None => Value::Null,
            Some((a, b)) => match windows.get(&(a.id, b.id)) {
                Some(v) => v.clone(),
                None => {
                    let v = match stored::window(&service, &snaps[&a.id], &snaps[&b.id]).await {
                        Ok(v) => v,
                        Err(p) if p.status == StatusCode::CONFLICT => {
                            json!({"error_kind": p.kind, "error": p.detail})
                        }
                        Err(p) => return Err(p),
                    };
                    windows.insert((a.id, b.id), v.clone());
                    v
                }
            },
        };
        out.push(json!({
            "at": rfc3339(*t),
            "snapshot": latest.map_or(Value::Null, |p| fields(&snaps[&p.id])),
            "window": w,
        }));
    }
    Ok(Json(json!({
        "target": id,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "step_seconds": step.as_secs_f64(),
        "range_seconds": range.as_secs_f64(),
        "points": out,
    })))
}
