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

use crate::history::{self, WindowAt};
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

/// 404 `not-found`, unless the registry knows `id` (then `None`: a target
/// without history yet).
pub fn unknown(service: &Service, id: &str) -> Option<Problem> {
    service
        .targets
        .get(id)
        .is_none()
        .then(|| Problem::not_found(format!("no target `{id}`")))
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
/// is 503 `store`, a range of more than [`history::MAX_SUMMED`] scrapes 422
/// `invalid-range`.
pub async fn window_of(
    service: &Service,
    store: &Store,
    target: &str,
    at_ms: i64,
    range_ms: i64,
) -> Result<Option<(Snapshot, Result<WindowStats, WindowError>)>, Problem> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = service.window_permits.acquire().await;
    match history::window_at(store, target, at_ms, range_ms)
        .await
        .map_err(|e| store_problem(&e))?
    {
        WindowAt::Unknown | WindowAt::Insufficient => Ok(None),
        WindowAt::TooLong => Err(too_long(target)),
        WindowAt::Found { later, window, .. } => Ok(Some((*later, wit_window(&window)))),
    }
}

/// The native window result as the plugin's records.
pub fn wit_window(
    w: &Result<llm_metrics_guest::window::Window, llm_metrics_guest::window::WindowError>,
) -> Result<WindowStats, WindowError> {
    w.as_ref()
        .map(native::window_stats)
        .map_err(native::window_error)
}

/// 422 `invalid-range`: more stored scrapes than one answer sums.
pub fn too_long(target: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-range",
        format!(
            "the range holds more than {} stored scrapes of target `{target}` to sum; \
             ask for a shorter range (or fewer points)",
            history::MAX_SUMMED
        ),
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
