//! Reading a target's failed scrapes back from the [`Store`].
//!
//! Invariants: a stored row of failures (one failed scrape, or a run of
//! repeats folded by the writer, see [`crate::store::MAX_RUN`]) is listed
//! when any part of it (first to latest start) lies in the range asked
//! for, whole (its count is the run's, never split); rows come newest first
//! and at most `limit` of them, with whether more matched. The scan is
//! bounded by the index on `(target, ok, at_ms)`: a run is never longer
//! than `MAX_RUN`, so only rows starting at most that long before the
//! range are read.

use crate::store::{MAX_RUN, Store, StoreError};

/// One stored row of failed scrapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// When the first failed scrape of the row started (ms since the epoch).
    pub at_ms: i64,
    /// When the latest one started (the same as `at_ms` for a row of one).
    pub last_at_ms: i64,
    /// How many failed scrapes the row stands for.
    pub count: i64,
    /// The failure's kind (`connect`, `timeout`, `http-status`, …).
    pub kind: String,
    /// The latest failure's message.
    pub message: String,
    /// How long the latest failed scrape took.
    pub duration_ms: Option<i64>,
}

/// What [`list`] found.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// At most `limit` rows, newest first.
    pub rows: Vec<Failed>,
    /// More rows matched than `limit`.
    pub truncated: bool,
}

/// `target`'s failed scrapes overlapping `[from_ms, to_ms]`, newest first,
/// at most `limit`; `None` when the store has never seen the target.
pub async fn list(
    store: &Store,
    target: &str,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Option<Page>, StoreError> {
    let target = target.to_string();
    let max_run = i64::try_from(MAX_RUN.as_millis()).unwrap_or(i64::MAX);
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
    store
        .read(move |conn| {
            let id: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
                "SELECT id FROM targets WHERE name = ?1",
                [&target],
                |r| r.get(0),
            ))?;
            let Some(id) = id else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT at_ms, coalesce(last_at_ms, at_ms), repeats, error_kind, error, duration_ms
                 FROM scrapes
                 WHERE target = ?1 AND ok = 0 AND at_ms BETWEEN ?2 AND ?3
                   AND coalesce(last_at_ms, at_ms) >= ?4
                 ORDER BY at_ms DESC, id DESC LIMIT ?5",
            )?;
            let mut rows = stmt
                .query_map(
                    rusqlite::params![id, from_ms.saturating_sub(max_run), to_ms, from_ms, fetch],
                    |r| {
                        Ok(Failed {
                            at_ms: r.get(0)?,
                            last_at_ms: r.get(1)?,
                            count: r.get(2)?,
                            kind: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            message: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                            duration_ms: r.get(5)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let truncated = rows.len() > limit;
            rows.truncate(limit);
            Ok(Some(Page { rows, truncated }))
        })
        .await
}
