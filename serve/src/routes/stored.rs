//! The stored history as the rooms read it: the store (or why there is
//! none), the stored snapshots at a window's edges, and the window between
//! two of them, computed by the plugin.
//!
//! Invariant: windows are computed only by the plugin's `window` function
//! (metric semantics live in the component, never here), within the
//! window pool (never the ad-hoc one, so a read never waits for a collect),
//! so their memory stays in the service's bound. A disabled history
//! is 404 `history-disabled`, a failed read 503 `store`, and two snapshots
//! the plugin will not compare a 409 whose kind is the plugin's
//! (`different-engines`, `bucket-layout-changed`, …).

use std::sync::Arc;

use axum::http::StatusCode;
use llm_metrics_host::CallError;
use llm_metrics_host::wit::mapper::{Snapshot, WindowError, WindowStats};
use serde_json::Value;

use crate::history;
use crate::problem::Problem;
use crate::state::Service;
use crate::store::{Store, StoreError};

/// The history, or 404 `history-disabled`.
pub fn store_of(service: &Service) -> Result<&Store, Problem> {
    service.history.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "history-disabled",
            "this service keeps no history",
        )
    })
}

/// A failed read: logged, and 503 `store`.
pub fn store_problem(e: &StoreError) -> Problem {
    tracing::error!(error = ?e.to_string(), "history read failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        format!("reading the history failed: {e}"),
    )
}

/// The stored snapshots of `target` at the edges of the window ending at
/// `at_ms` over `range_ms` (earlier, later), or `None` when fewer than two
/// successful scrapes lie in it (or the store never saw the target).
pub async fn edges(
    store: &Store,
    target: &str,
    at_ms: i64,
    range_ms: i64,
) -> Result<Option<(Arc<Snapshot>, Arc<Snapshot>)>, StoreError> {
    let plan = history::plan(store, target, vec![at_ms], range_ms)
        .await?
        .unwrap_or_default();
    let Some((_, Some((a, b)))) = plan.first().copied() else {
        return Ok(None);
    };
    let snaps = history::snapshots(store, vec![a.id, b.id]).await?;
    Ok(Some((snaps[&a.id].clone(), snaps[&b.id].clone())))
}

/// The window between two stored snapshots, computed by the plugin within
/// the window pool.
pub async fn compute(
    service: &Service,
    earlier: &Snapshot,
    later: &Snapshot,
) -> Result<Result<WindowStats, WindowError>, CallError> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = service.window_permits.acquire().await;
    service.plugin.window(earlier, later).await
}

/// [`compute`] as JSON. Two snapshots the plugin will not compare are a 409
/// whose kind is the plugin's; history points and fleet instances carry it
/// as `error` instead.
pub async fn window(
    service: &Service,
    earlier: &Snapshot,
    later: &Snapshot,
) -> Result<Value, Problem> {
    stats(service, earlier, later)
        .await
        .map(|w| llm_metrics_host::json::window(&w))
}

/// [`compute`] with its failures as [`window`]'s problems.
pub async fn stats(
    service: &Service,
    earlier: &Snapshot,
    later: &Snapshot,
) -> Result<WindowStats, Problem> {
    match compute(service, earlier, later).await {
        Ok(Ok(w)) => Ok(w),
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
