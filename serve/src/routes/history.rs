//! The history API: `GET /api/v1/targets/{id}/window`,
//! `GET /api/v1/targets/{id}/history` and `GET /api/v1/fleet/window`.
//!
//! Invariant: windows are computed by the plugin's `window` function from
//! two stored snapshots (metric semantics live in the component, never
//! here); every query parameter is validated before the store is read, and
//! bad ones are typed 4xx problems (`invalid-duration`, `invalid-time`,
//! `invalid-range`, `invalid-step`); an unknown target is 404 `not-found`,
//! and too little history is 404 `insufficient-history`, never a made-up
//! figure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use llm_metrics_host::wit::mapper::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::history::{self, Point};
use crate::problem::{ApiPath, ApiQuery, Problem};
use crate::state::Service;
use crate::store::{Store, StoreError};

/// The most points one history answer has (as Prometheus' query API).
pub const MAX_POINTS: i64 = 11_000;
/// The longest range or span accepted.
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 24 * 3600);
/// The window's range when none is given.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(300);

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

fn invalid(kind: &str, detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, kind, detail)
}

/// A duration: humantime (`5m`, `1h30m`, `500ms`) or plain seconds; over 0
/// and at most [`MAX_SPAN`].
pub fn parse_duration(name: &str, text: &str) -> Result<Duration, Problem> {
    let parsed = match text.trim().parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).ok(),
        Err(_) => humantime::parse_duration(text.trim()).ok(),
    };
    match parsed {
        Some(d) if !d.is_zero() && d <= MAX_SPAN => Ok(d),
        Some(_) => Err(invalid(
            "invalid-duration",
            format!("`{name}` must be over 0 and at most 366 days, not `{text}`"),
        )),
        None => Err(invalid(
            "invalid-duration",
            format!("`{name}`: `{text}` is not a duration (e.g. `5m`, `90s`, `300`)"),
        )),
    }
}

/// A time: RFC 3339 (`2026-12-02T08:00:00Z`) or Unix seconds.
pub fn parse_time(name: &str, text: &str) -> Result<i64, Problem> {
    let t = text.trim();
    let ms = match t.parse::<f64>() {
        Ok(secs) if (0.0..1e13).contains(&secs) => Some((secs * 1000.0) as i64),
        Ok(_) => None,
        Err(_) => humantime::parse_rfc3339_weak(t).ok().map(history::millis),
    };
    ms.ok_or_else(|| {
        invalid(
            "invalid-time",
            format!("`{name}`: `{text}` is neither RFC 3339 nor Unix seconds"),
        )
    })
}

fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn rfc3339(ms: i64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

fn store_problem(e: &StoreError) -> Problem {
    tracing::error!(error = %e, "history read failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        format!("reading the history failed: {e}"),
    )
}

fn store_of(service: &Service) -> Result<&Store, Problem> {
    service.history.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "history-disabled",
            "this service keeps no history",
        )
    })
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

/// The window between two stored snapshots, as JSON, computed by the
/// plugin (within the ad-hoc pool, so its memory stays in the bound). Two
/// snapshots the plugin will not compare are a 409 whose kind is the
/// plugin's (`different-engines`, `bucket-layout-changed`, …); history
/// points and fleet instances carry it as `error` instead.
async fn window(service: &Service, earlier: &Snapshot, later: &Snapshot) -> Result<Value, Problem> {
    let _permit = service.adhoc_permits.acquire().await;
    match service.plugin.window(earlier, later).await {
        Ok(Ok(w)) => Ok(llm_metrics_host::json::window(&w)),
        Ok(Err(e)) => {
            let (kind, message) = llm_metrics_host::json::window_error(&e);
            Err(Problem::new(StatusCode::CONFLICT, kind, message))
        }
        Err(e) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "plugin-error",
            e.to_string(),
        )),
    }
}

fn now_ms() -> i64 {
    history::millis(SystemTime::now())
}

/// One target's window over the last `range`.
#[utoipa::path(
    get,
    path = "/api/v1/targets/{id}/window",
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
    let range = match &query.range {
        Some(r) => parse_duration("range", r)?,
        None => DEFAULT_RANGE,
    };
    let at = match &query.at {
        Some(t) => parse_time("at", t)?,
        None => now_ms(),
    };
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
    let w = window(&service, &snaps[&first.id], &snaps[&last.id]).await?;
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
    let to = match &query.to {
        Some(t) => parse_time("to", t)?,
        None => now_ms(),
    };
    let from = match &query.from {
        Some(t) => parse_time("from", t)?,
        None => to.saturating_sub(3_600_000),
    };
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
    let step = match &query.step {
        Some(s) => parse_duration("step", s)?,
        None => Duration::from_secs(60),
    };
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
    let range = match &query.range {
        Some(r) => parse_duration("range", r)?,
        None => step,
    };
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
                    let v = match window(&service, &snaps[&a.id], &snaps[&b.id]).await {
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
/// `range`, and the summed rates.
#[utoipa::path(
    get,
    path = "/api/v1/fleet/window",
    params(FleetWindowQuery),
    responses(
        (status = 200, description = "`{range_seconds, at, models: [{model, instances: [{instance_id, window | error}], totals: {rates}}]}`", body = Object),
        (status = 400, description = "Bad filter", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong API token", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Bad range or time", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn fleet_window(
    State(service): State<Arc<Service>>,
    ApiQuery(query): ApiQuery<FleetWindowQuery>,
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
    let range = match &query.range {
        Some(r) => parse_duration("range", r)?,
        None => DEFAULT_RANGE,
    };
    let at = match &query.at {
        Some(t) => parse_time("at", t)?,
        None => now_ms(),
    };
    let range_ms = millis_of(range);
    let store = store_of(&service)?;
    let mut groups: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    for entry in service.targets.all() {
        if let Some((k, v)) = label
            && entry.spec.labels.get(k).map(String::as_str) != Some(v)
        {
            continue;
        }
        let id = &entry.spec.id;
        let points = history::points(store, id, at.saturating_sub(range_ms), at)
            .await
            .map_err(|e| store_problem(&e))?
            .unwrap_or_default();
        let Some((a, b)) = history::window_pair(&points, at, range_ms) else {
            continue;
        };
        let snaps = history::snapshots(store, vec![a.id, b.id])
            .await
            .map_err(|e| store_problem(&e))?;
        let later = &snaps[&b.id];
        let models: Vec<Option<String>> = if later.model_names.is_empty() {
            vec![None]
        } else {
            later.model_names.iter().cloned().map(Some).collect()
        };
        if query.model.is_some() && !models.contains(&query.model) {
            continue;
        }
        let instance = match window(&service, &snaps[&a.id], later).await {
            Ok(w) => {
                json!({"instance_id": id, "engine": later.engine, "labels": entry.spec.labels, "window": w})
            }
            Err(p) if p.status == StatusCode::CONFLICT => {
                json!({"instance_id": id, "engine": later.engine, "labels": entry.spec.labels, "error_kind": p.kind, "error": p.detail})
            }
            Err(p) => return Err(p),
        };
        for model in models {
            if query.model.is_some() && query.model != model {
                continue;
            }
            groups.entry(model).or_default().push(instance.clone());
        }
    }
    let models: Vec<Value> = groups
        .into_iter()
        .map(|(model, instances)| {
            let windows: Vec<&Value> = instances.iter().filter_map(|i| i.get("window")).collect();
            json!({
                "model": model,
                "totals": {"instances": instances.len(), "rates": sum_rates(&windows)},
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
