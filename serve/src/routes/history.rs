//! One target's history: `GET /api/v1/targets/{id}/window` (its window over
//! a range) and `GET /api/v1/targets/{id}/history` (its time series).
//!
//! Invariant: windows are the component's arithmetic run natively over
//! the stored increments ([`history::window_over`]); every query parameter is validated
//! ([`params`]) before the store is read, and bad ones are typed 4xx
//! problems (`invalid-duration`, `invalid-time`, `invalid-range`,
//! `invalid-step`); an unknown target is 404 `not-found`, and too little
//! history is 404 `insufficient-history`, never a made-up figure. A history
//! answer is bounded before it is built: at most
//! [`Settings::history_max_points`] points (else 422 `invalid-step`, naming
//! the limit and the count asked), written point by point into one buffer
//! that may not pass [`Settings::history_max_bytes`] (else 422
//! `answer-too-large`), so no request holds more than that. The span's
//! scrapes are found in the index once and every point computed in one pass,
//! reading only the records its window sums, at most
//! [`history::MAX_SUMMED`] per request (else 422 `invalid-range`): no call
//! into the plugin per point, and no record held beyond the one summed.
//!
//! [`Settings::history_max_points`]: crate::state::Settings::history_max_points
//! [`Settings::history_max_bytes`]: crate::state::Settings::history_max_bytes

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use llm_metrics_host::wit::mapper::Snapshot;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::{self, DEFAULT_RANGE, invalid, millis_of, rfc3339};
use super::stored::{self, store_of, store_problem};
use crate::history::{self, Point, Records, WindowAt};
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
    let store = store_of(&service)?;
    let insufficient = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "insufficient-history",
            format!(
                "target `{id}` has fewer than two successful scrapes between {} and {}; \
                 a window needs two",
                rfc3339(at.saturating_sub(range_ms)),
                rfc3339(at)
            ),
        )
    };
    let _permit = service.window_permits.acquire().await;
    let (earlier_ms, later_ms, window) = match history::window_at(store, &id, at, range_ms)
        .await
        .map_err(|e| store_problem(&e))?
    {
        WindowAt::Unknown => {
            return Err(stored::unknown(&service, &id).unwrap_or_else(insufficient));
        }
        WindowAt::Insufficient => return Err(insufficient()),
        WindowAt::TooLong => return Err(stored::too_long(&id)),
        WindowAt::Found {
            earlier_ms,
            later_ms,
            window,
            ..
        } => (earlier_ms, later_ms, window),
    };
    let w = stored::window_json(&stored::wit_window(&window))?;
    Ok(Json(json!({
        "target": id,
        "range_seconds": range.as_secs_f64(),
        "at": rfc3339(at),
        "earlier": rfc3339(earlier_ms),
        "later": rfc3339(later_ms),
        "window": w,
    })))
}

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
        (status = 422, description = "Bad time, duration, inverted range, too many points or too large an answer", body = crate::problem::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn target_history(
    State(service): State<Arc<Service>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response, Problem> {
    let (from, to) = params::span(query.from.as_deref(), query.to.as_deref(), |to| {
        to.saturating_sub(3_600_000)
    })?;
    let step = params::duration_or("step", query.step.as_deref(), Duration::from_secs(60))?;
    let step_ms = millis_of(step).max(1);
    // Both ends are within 1970..=9999, so neither this nor `from + i *
    // step_ms` below can overflow.
    let count = (to - from) / step_ms + 1;
    let max_points = service.settings.history_max_points;
    if usize::try_from(count).map_or(true, |c| c > max_points) || step < Duration::from_millis(1) {
        return Err(invalid(
            "invalid-step",
            format!(
                "a step of {} gives {count} points from `from` to `to`; at most {max_points} \
                 (--history-max-points)",
                humantime::format_duration(step)
            ),
        ));
    }
    let range = params::duration_or("range", query.range.as_deref(), step)?;
    let range_ms = millis_of(range);
    let times: Vec<i64> = (0..count).map(|i| from + i * step_ms).collect();
    let lookback = i64::try_from(history::LOOKBACK.as_millis()).unwrap_or(i64::MAX);
    let head = json!({
        "target": id,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "step_seconds": step.as_secs_f64(),
        "range_seconds": range.as_secs_f64(),
    });
    let mut out = Answer::new(head, service.settings.history_max_bytes)?;
    let store = store_of(&service)?;
    let _permit = service.window_permits.acquire().await;
    let target = id.clone();
    let span_from = from.saturating_sub(range_ms.max(lookback));
    let (times, answer) = store
        .read(move |conn| {
            let Some(tid) = history::target_id(conn, &target)? else {
                return Ok((times, None));
            };
            let points = history::points_in(conn, tid, span_from, to)?;
            let mut records = Records::new(conn);
            let filled = fill(&mut records, &points, &times, range_ms, &target, out)?;
            Ok((times, Some(filled)))
        })
        .await
        .map_err(|e| store_problem(&e))?;
    out = match answer {
        Some(answer) => answer?,
        None => {
            if let Some(p) = stored::unknown(&service, &id) {
                return Err(p);
            }
            // Known, never stored: every point is empty.
            let mut out = Answer::new(
                json!({
                    "target": id,
                    "from": rfc3339(from),
                    "to": rfc3339(to),
                    "step_seconds": step.as_secs_f64(),
                    "range_seconds": range.as_secs_f64(),
                }),
                service.settings.history_max_bytes,
            )?;
            for t in times {
                out.push(&rfc3339(t), b"null", b"null")?;
            }
            out
        }
    };
    Ok(out.finish())
}

/// Every point of a history into `out`, in one pass forward in time over
/// the span's scrapes (`points`): each point's window sums the increments
/// in its range (at most [`history::MAX_SUMMED`] in all, else 422); a point
/// with the same span or latest scrape as the one before reuses its JSON.
fn fill(
    records: &mut Records<'_>,
    points: &[Point],
    times: &[i64],
    range_ms: i64,
    target: &str,
    mut out: Answer,
) -> rusqlite::Result<Result<Answer, Problem>> {
    let mut budget = history::MAX_SUMMED;
    let mut last_window: Option<((usize, usize), Vec<u8>)> = None;
    let mut last_fields: Option<(usize, Vec<u8>)> = None;
    for &t in times {
        let span = history::window_span(points, t, range_ms);
        let latest = history::latest(points, t);
        if let Some((a, b)) = span
            && last_window.as_ref().is_none_or(|(key, _)| *key != (a, b))
        {
            let Some(w) = records.window_over(points, a, b, &mut budget)? else {
                return Ok(Err(stored::too_long(target)));
            };
            let v = match stored::window_json(&stored::wit_window(&w)) {
                Ok(v) => v,
                Err(p) => json!({"error_kind": p.kind, "error": p.detail}),
            };
            match written(&v) {
                Ok(bytes) => last_window = Some(((a, b), bytes)),
                Err(p) => return Ok(Err(p)),
            }
        }
        if let Some(i) = latest
            && last_fields.as_ref().is_none_or(|(id, _)| *id != i)
        {
            let snapshot = records.lean_snapshot(points[i])?;
            match written(&fields(&snapshot)) {
                Ok(bytes) => last_fields = Some((i, bytes)),
                Err(p) => return Ok(Err(p)),
            }
        }
        let null: &[u8] = b"null";
        if let Err(p) = out.push(
            &rfc3339(t),
            latest.map_or(null, |_| last_fields.as_ref().map_or(null, |(_, f)| f)),
            span.map_or(null, |_| last_window.as_ref().map_or(null, |(_, w)| w)),
        ) {
            return Ok(Err(p));
        }
    }
    Ok(Ok(out))
}

/// A history answer written point by point into one buffer of at most
/// `max` bytes: `{head…, "points": [p, p, …]}`.
struct Answer {
    buf: Vec<u8>,
    max: usize,
    first: bool,
}

impl Answer {
    /// The answer's opening: `head`'s fields and `"points":[`.
    fn new(head: Value, max: usize) -> Result<Self, Problem> {
        let mut buf = serde_json::to_vec(&head).map_err(internal)?;
        buf.pop(); // the closing `}`
        buf.extend_from_slice(b",\"points\":[");
        let answer = Answer {
            buf,
            max,
            first: true,
        };
        answer.check()?;
        Ok(answer)
    }

    /// Append the point `{"at", "snapshot", "window"}` (the last two
    /// already written as JSON), or refuse the whole answer once it is too
    /// large.
    fn push(&mut self, at: &str, snapshot: &[u8], window: &[u8]) -> Result<(), Problem> {
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(b"{\"at\":");
        serde_json::to_writer(&mut self.buf, at).map_err(internal)?;
        self.buf.extend_from_slice(b",\"snapshot\":");
        self.buf.extend_from_slice(snapshot);
        self.buf.extend_from_slice(b",\"window\":");
        self.buf.extend_from_slice(window);
        self.buf.push(b'}');
        self.check()
    }

    fn check(&self) -> Result<(), Problem> {
        if self.buf.len() + 2 > self.max {
            return Err(invalid(
                "answer-too-large",
                format!(
                    "the answer would be over {} bytes (--history-max-bytes); \
                     ask for fewer points (a larger `step` or a shorter span)",
                    self.max
                ),
            ));
        }
        Ok(())
    }

    /// The finished JSON answer.
    fn finish(mut self) -> Response {
        self.buf.extend_from_slice(b"]}");
        ([(header::CONTENT_TYPE, "application/json")], self.buf).into_response()
    }
}

/// `v` as JSON text.
fn written(v: &Value) -> Result<Vec<u8>, Problem> {
    serde_json::to_vec(v).map_err(internal)
}

/// A value that would not serialize (never, for `serde_json::Value`).
fn internal(e: serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("writing the answer failed: {e}"),
    )
}
