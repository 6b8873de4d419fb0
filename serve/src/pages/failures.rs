//! The recent failed scrapes of one target, for the server page: the
//! store's failed rows, newest first.
//!
//! Invariant: this is the one place the pages read the store directly, and
//! only rows the API does not list yet (a target's failed scrapes); it
//! reads, never writes, and at most [`RECENT`] rows. A row stands for
//! `repeats` consecutive failures of one kind, the latest at `last_at_ms`.

use serde_json::{Value, json};

use crate::routes::params::rfc3339;
use crate::store::{Store, StoreError};

/// The most failed-scrape rows a page shows.
pub const RECENT: i64 = 20;

/// `target`'s latest failed scrapes as `[{at, last_at, repeats, kind,
/// message, duration_seconds}]`, newest first (empty when the store never
/// saw it).
pub async fn recent(store: &Store, target: &str) -> Result<Vec<Value>, StoreError> {
    let target = target.to_string();
    store
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT s.at_ms, s.last_at_ms, s.repeats, s.error_kind, s.error, s.duration_ms
                 FROM scrapes s JOIN targets t ON t.id = s.target
                 WHERE t.name = ?1 AND s.ok = 0
                 ORDER BY s.at_ms DESC LIMIT ?2",
            )?;
            stmt.query_map(rusqlite::params![target, RECENT], |r| {
                let at: i64 = r.get(0)?;
                let last: Option<i64> = r.get(1)?;
                let duration: Option<i64> = r.get(5)?;
                Ok(json!({
                    "at": rfc3339(at),
                    "last_at": last.map(rfc3339),
                    "repeats": r.get::<_, i64>(2)?,
                    "kind": r.get::<_, Option<String>>(3)?,
                    "message": r.get::<_, Option<String>>(4)?,
                    "duration_seconds": duration.map(|ms| ms as f64 / 1000.0),
                }))
            })?
            .collect()
        })
        .await
}
