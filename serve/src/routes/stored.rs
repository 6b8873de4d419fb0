//! The stored history as the rooms read it: the store (or why there is
//! none), and a target's window over a range with its latest scrape.
//!
//! Invariant: windows are the component's arithmetic run natively
//! ([`history::window_over`]: `finish` of the sum of stored increments;
//! metric semantics live in the guest crate, never here), within the
//! window pool, so their number at once stays in the service's bound. A disabled history
//! is 404 `history-disabled`, a failed read 503 `store`, and two snapshots
//! the plugin will not compare a 409 whose kind is the plugin's
//! (`different-engines`, `bucket-layout-changed`, …).

use axum::http::StatusCode;
use llm_metrics_host::wit::mapper::{Snapshot, WindowError, WindowStats};
use serde_json::Value;

use crate::history;
use crate::native;
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

/// The window of `target` ending at `at_ms` over `range_ms`, with the
/// latest stored scrape in it (as a snapshot of its normalized fields), or
/// `None` when fewer than two successful scrapes lie in it (or the store
/// never saw the target). Computed within the window pool; a failed read
/// is 503 `store`.
pub async fn window_of(
    service: &Service,
    store: &Store,
    target: &str,
    at_ms: i64,
    range_ms: i64,
) -> Result<Option<(Snapshot, Result<WindowStats, WindowError>)>, Problem> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = service.window_permits.acquire().await;
    let scrapes = history::scrapes(store, target, at_ms.saturating_sub(range_ms), at_ms)
        .await
        .map_err(|e| store_problem(&e))?
        .unwrap_or_default();
    let Some((first, last)) = history::window_span(&scrapes, at_ms, range_ms) else {
        return Ok(None);
    };
    let w = history::window_over(&scrapes, first, last).map_err(|e| undecodable(&e))?;
    let later = scrapes[last].lean_snapshot().map_err(|e| undecodable(&e))?;
    Ok(Some((
        later,
        w.as_ref()
            .map(native::window_stats)
            .map_err(native::window_error),
    )))
}

/// A stored scrape that does not decode: logged, and 503 `store`.
pub fn undecodable(e: &str) -> Problem {
    tracing::error!(error = e, "history read failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        format!("reading the history failed: {e}"),
    )
}

/// A window as JSON. Two scrapes that cannot be compared are a 409 whose
/// kind is the plugin's (`different-engines`, …); history points and fleet
/// instances carry it as `error` instead.
pub fn window_json(w: &Result<WindowStats, WindowError>) -> Result<Value, Problem> {
    match w {
        Ok(w) => Ok(llm_metrics_host::json::window(w)),
        Err(e) => {
            let (kind, message) = llm_metrics_host::json::window_error(e);
            Err(Problem::new(StatusCode::CONFLICT, kind, message))
        }
    }
}
