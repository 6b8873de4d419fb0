//! Recording scrapes into the [`Store`] and reading them back.
//!
//! Invariants: a window ending at `t` over `range` spans from the first
//! successful scrape collected at or after `t - range` to the last one at
//! or before `t`, the samples PromQL's `x[range]` selects at `t`, and is the
//! component's `finish` of the sum of the increments stored in between (so
//! a reset inside the range is seen, as `rate()` sees it); with fewer than
//! two scrapes there is no window, never a made-up one. A history
//! point's normalized fields come from the last snapshot at or before `t`
//! within [`LOOKBACK`] (Prometheus' staleness look-back), else they are
//! `null`. The retention task runs in the background and only ever deletes
//! through the store's single writer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use llm_metrics_guest::window::{self, Increment, Window, WindowError};
use llm_metrics_host::wit::mapper::Snapshot;
use rusqlite::OptionalExtension;

use crate::collect::Failure;
use crate::native;
use crate::store::{self, Record, Retention, Row, Store, StoreError, Success};

/// How far back a history point looks for the latest snapshot (as
/// Prometheus' default `lookback-delta`).
pub const LOOKBACK: Duration = Duration::from_secs(300);

/// Milliseconds since the Unix epoch.
pub fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The `error_kind` of a scrape whose snapshot could not be committed.
pub const STORE_ERROR_KIND: &str = "store";

/// Commit one scrape's outcome. For a successful scrape that could not be
/// stored, the reason (the scrape must then not be shown as successful); a
/// failed scrape that cannot be stored is only logged.
pub async fn record(
    store: &Store,
    target: &str,
    started: SystemTime,
    took: Duration,
    result: &Result<Snapshot, Failure>,
) -> Option<String> {
    match result {
        Ok(snapshot) => {
            let stored = match success_row(target, snapshot, took) {
                Ok(row) => store.insert(row).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let e = stored.err()?;
            tracing::error!(target_id = target, error = %e, "scrape not stored, so not shown");
            Some(e)
        }
        Err(failure) => {
            let row = failure_row(target, started, took, failure.kind(), &failure.to_string());
            if let Err(e) = store.insert(row).await {
                tracing::error!(target_id = target, error = %e, "failed scrape not stored");
            }
            None
        }
    }
}

/// The row for a successful scrape: its native view and the whole
/// snapshot encoded (the target's latest), both made here, off the writer.
pub fn success_row(target: &str, snapshot: &Snapshot, took: Duration) -> Result<Row, String> {
    Ok(Row {
        target: target.to_string(),
        at_ms: i64::try_from(snapshot.collected_at_ms).unwrap_or(i64::MAX),
        duration_ms: Some(i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
        error: None,
        success: Some(Box::new(Success {
            sample: Arc::new(native::Sample::of(snapshot)),
            model_names: snapshot.model_names.clone(),
            load: native::load(snapshot),
            encoded: store::encode(snapshot)?,
        })),
    })
}

/// The row for a failed scrape that started at `started`.
pub fn failure_row(
    target: &str,
    started: SystemTime,
    took: Duration,
    kind: &str,
    message: &str,
) -> Row {
    Row {
        target: target.to_string(),
        at_ms: millis(started),
        duration_ms: Some(i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
        error: Some((kind.to_string(), message.to_string())),
        success: None,
    }
}

/// The most stored scrapes one answer sums: a window, every window of a
/// history together, or each target of a fleet window. Beyond it the
/// request is refused (422), so a long `range` cannot buy unbounded work.
pub const MAX_SUMMED: usize = 2_000_000;

/// A stored successful scrape's place: when, and its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// `collected_at_ms`.
    pub at_ms: i64,
    /// The row.
    pub id: i64,
}

/// A target's successful scrapes collected in `[from_ms, to_ms]`, oldest
/// first, from the index alone (16 bytes each in memory).
pub fn points_in(
    conn: &rusqlite::Connection,
    target: i64,
    from_ms: i64,
    to_ms: i64,
) -> rusqlite::Result<Vec<Point>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, id FROM scrapes
         WHERE target = ?1 AND ok = 1 AND at_ms BETWEEN ?2 AND ?3 ORDER BY at_ms, id",
    )?;
    stmt.query_map(rusqlite::params![target, from_ms, to_ms], |r| {
        Ok(Point {
            at_ms: r.get(0)?,
            id: r.get(1)?,
        })
    })?
    .collect()
}

/// Reads stored records by row, each layout once, decoding into records
/// it is given (so a run of one layout allocates nothing).
pub struct Records<'c> {
    conn: &'c rusqlite::Connection,
    layouts: HashMap<i64, Vec<u8>>,
}

fn undecodable(e: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Blob, e.into())
}

impl<'c> Records<'c> {
    /// A reader on `conn`.
    pub fn new(conn: &'c rusqlite::Connection) -> Self {
        Records {
            conn,
            layouts: HashMap::new(),
        }
    }

    /// The record of `p` into `r`; `false` for a row that has none (an
    /// old snapshot that did not decode when the database was converted).
    /// A record that does not decode is an error.
    pub fn read_into(&mut self, p: Point, r: &mut Record) -> rusqlite::Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT layout, record FROM scrapes WHERE id = ?1")?;
        let mut rows = stmt.query([p.id])?;
        let Some(row) = rows.next()? else {
            return Ok(false);
        };
        let Some(layout) = row.get::<_, Option<i64>>(0)? else {
            return Ok(false);
        };
        if let std::collections::hash_map::Entry::Vacant(e) = self.layouts.entry(layout) {
            e.insert(
                self.conn
                    .prepare_cached("SELECT body FROM layouts WHERE id = ?1")?
                    .query_row([layout], |r| r.get(0))?,
            );
        }
        let Some(values) = row.get_ref(1)?.as_blob_or_null()? else {
            return Ok(false);
        };
        let at = u64::try_from(p.at_ms).unwrap_or(0);
        store::unpack_into(&self.layouts[&layout], values, at, r).map_err(undecodable)?;
        Ok(true)
    }

    /// The snapshot fields `p` keeps (instance, engine, time, models, load,
    /// totals) as a snapshot without distributions or engine detail.
    pub fn lean_snapshot(&mut self, p: Point) -> rusqlite::Result<Snapshot> {
        let mut r = Record::default();
        if !self.read_into(p, &mut r)? {
            return Err(undecodable(format!(
                "the scrape at {} ms has no stored record",
                p.at_ms
            )));
        }
        Ok(native::lean_snapshot(
            &r.instance_id,
            &r.engine,
            u64::try_from(p.at_ms).unwrap_or(0),
            &r.model_names,
            &r.load,
            &r.totals,
        ))
    }

    /// The window over `points[first..=last]`: the component's `finish` of
    /// the sum of the increments stored after `first` up to `last`, summed
    /// in place; `None` when that would take more than `budget` scrapes
    /// (what it takes is deducted). A scrape that could not be compared
    /// with its predecessor makes the window that comparison's error.
    pub fn window_over(
        &mut self,
        points: &[Point],
        first: usize,
        last: usize,
        budget: &mut usize,
    ) -> rusqlite::Result<Option<Result<Window, WindowError>>> {
        let n = last - first;
        if n > *budget {
            return Ok(None);
        }
        *budget -= n;
        let mut sum: Option<Increment> = None;
        let mut scratch = Record::default();
        for &p in &points[first + 1..=last] {
            if !self.read_into(p, &mut scratch)? {
                continue;
            }
            if let Some(gap) = scratch.gap.take() {
                return Ok(Some(Err(gap)));
            }
            let Some(inc) = &scratch.increment else {
                continue;
            };
            match &mut sum {
                None => sum = Some(inc.clone()),
                Some(acc) => {
                    if let Err(e) = acc.add_assign(inc) {
                        return Ok(Some(Err(e)));
                    }
                }
            }
        }
        Ok(Some(match sum {
            Some(sum) => Ok(window::finish(&sum)),
            None => Err(WindowError::NotLater(
                u64::try_from(points[first].at_ms).unwrap_or(0),
                u64::try_from(points[last].at_ms).unwrap_or(0),
            )),
        }))
    }
}

/// The scrapes a window ending at `t` over `range` spans: the first
/// collected at or after `t - range` and the last at or before `t`, as
/// indices into `points` (sorted by time); `None` unless there are two.
pub fn window_span(points: &[Point], t: i64, range_ms: i64) -> Option<(usize, usize)> {
    let end = points.partition_point(|p| p.at_ms <= t);
    let start = points.partition_point(|p| p.at_ms < t.saturating_sub(range_ms));
    (end >= start + 2).then(|| (start, end - 1))
}

/// The index of the last scrape at or before `t`, within [`LOOKBACK`].
pub fn latest(points: &[Point], t: i64) -> Option<usize> {
    let end = points.partition_point(|p| p.at_ms <= t);
    let lookback = i64::try_from(LOOKBACK.as_millis()).unwrap_or(i64::MAX);
    end.checked_sub(1)
        .filter(|&i| points[i].at_ms >= t.saturating_sub(lookback))
}

/// A target's window at one time, as a single read finds it.
#[derive(Debug)]
pub enum WindowAt {
    /// The store has never seen the target.
    Unknown,
    /// Fewer than two successful scrapes in the range.
    Insufficient,
    /// More than [`MAX_SUMMED`] scrapes in the range.
    TooLong,
    /// The window.
    Found {
        /// The earlier edge's time.
        earlier_ms: i64,
        /// The later edge's time.
        later_ms: i64,
        /// The later edge's normalized fields.
        later: Box<Snapshot>,
        /// The window, or why the scrapes in it cannot be compared.
        window: Box<Result<Window, WindowError>>,
    },
}

/// The window of `target` ending at `at_ms` over `range_ms`.
pub async fn window_at(
    store: &Store,
    target: &str,
    at_ms: i64,
    range_ms: i64,
) -> Result<WindowAt, StoreError> {
    let target = target.to_string();
    store
        .read(move |conn| {
            let Some(id) = target_id(conn, &target)? else {
                return Ok(WindowAt::Unknown);
            };
            let points = points_in(conn, id, at_ms.saturating_sub(range_ms), at_ms)?;
            let Some((first, last)) = window_span(&points, at_ms, range_ms) else {
                return Ok(WindowAt::Insufficient);
            };
            let mut records = Records::new(conn);
            let mut budget = MAX_SUMMED;
            let Some(window) = records.window_over(&points, first, last, &mut budget)? else {
                return Ok(WindowAt::TooLong);
            };
            Ok(WindowAt::Found {
                earlier_ms: points[first].at_ms,
                later_ms: points[last].at_ms,
                later: Box::new(records.lean_snapshot(points[last])?),
                window: Box::new(window),
            })
        })
        .await
}

/// Apply `retention` every `every` until the process ends; results are
/// logged.
pub fn spawn_retention(store: Store, retention: Retention, every: Duration) {
    if retention.max_age.is_none() && retention.max_bytes.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.retain(retention, millis(SystemTime::now())).await {
                Ok(t) if t.rows > 0 => tracing::info!(
                    rows = t.rows,
                    bytes_in_use = t.bytes_in_use,
                    "history retention deleted old scrapes"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "history retention failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(times: &[i64]) -> Vec<Point> {
        times
            .iter()
            .enumerate()
            .map(|(i, &at_ms)| Point {
                at_ms,
                id: i as i64,
            })
            .collect()
    }

    #[test]
    fn spans_are_the_samples_a_range_selector_sees() {
        let p = at(&[0, 15_000, 30_000, 45_000, 60_000]);
        // [0, 60 s] holds all five: first and last.
        assert_eq!(window_span(&p, 60_000, 60_000), Some((0, 4)));
        // [15 s, 50 s]: 15 s to 45 s.
        assert_eq!(window_span(&p, 50_000, 35_000), Some((1, 3)));
        // One sample in range: no window.
        assert_eq!(window_span(&p, 50_000, 10_000), None);
        // Before any data.
        assert_eq!(window_span(&p, -1, 60_000), None);
        assert_eq!(latest(&p, 50_000), Some(3));
        assert_eq!(latest(&p, -1), None);
        // Beyond the look-back the latest value is absent, not repeated.
        assert_eq!(latest(&p, 60_000 + 300_001), None);
    }

    #[test]
    fn a_window_over_more_scrapes_than_the_budget_is_refused_before_reading() {
        let p = at(&[0, 15_000, 30_000, 45_000, 60_000]);
        // No tables: a read would fail, so a refusal proves none was made.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut records = Records::new(&conn);
        let mut budget = 3;
        assert!(
            records
                .window_over(&p, 0, 4, &mut budget)
                .unwrap()
                .is_none()
        );
        assert_eq!(budget, 3);
        // Within the budget it is deducted and the rows are read.
        let mut budget = 10;
        assert!(records.window_over(&p, 0, 4, &mut budget).is_err());
        assert_eq!(budget, 6);
    }
}

/// The history's command-line flags (they override the config's
/// `[history]` table).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct HistoryArgs {
    /// The history database (SQLite; config `[history] db`). Default:
    /// `llm-metrics/history.sqlite3` in the user's data directory
    /// (`$XDG_DATA_HOME`, else `~/.local/share`).
    #[arg(long, env = "LLM_METRICS_DB")]
    pub db: Option<PathBuf>,
    /// Delete scrapes older than this; `0s` keeps everything (config
    /// `retention`; default 7d).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
    /// Delete the oldest scrapes while the history is larger than this, e.g.
    /// `10GiB` (config `retention_size`).
    #[arg(long, value_parser = parse_size)]
    pub retention_size: Option<u64>,
    /// Hard cap on the database's size: beyond it writes fail as on a full
    /// disk, which target health reports (config `max_size`).
    #[arg(long, value_parser = parse_size)]
    pub db_max_size: Option<u64>,
}

/// How long scrapes are kept when neither flag nor config says.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A size such as `10GiB`, `512MB` or plain bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("`{text}` is not a size (e.g. 10GiB, 512MB): {e}"))
}

/// Open the history database (flags first, then the config's `[history]`)
/// and start its retention task. `queue`: writes that may wait for the
/// writer.
pub fn open(
    args: HistoryArgs,
    file: crate::config::HistoryConfig,
    queue: usize,
) -> anyhow::Result<Store> {
    use anyhow::Context;
    let path = match args.db.or(file.db) {
        Some(p) => p,
        None => dirs::data_dir()
            .map(|d| d.join("llm-metrics").join("history.sqlite3"))
            .context("no data directory for the history database; pass --db PATH")?,
    };
    let size =
        |flag: Option<u64>, key: Option<String>, name: &str| -> anyhow::Result<Option<u64>> {
            match (flag, key) {
                (Some(v), _) => Ok(Some(v)),
                (None, Some(text)) => parse_size(&text)
                    .map(Some)
                    .map_err(|e| anyhow::anyhow!("config `[history] {name}`: {e}")),
                (None, None) => Ok(None),
            }
        };
    let max_size = size(args.db_max_size, file.max_size, "max_size")?;
    let retention_size = size(args.retention_size, file.retention_size, "retention_size")?;
    let age = args
        .retention
        .or(file.retention.map(|s| s.0))
        .unwrap_or(DEFAULT_RETENTION);
    let store = Store::open(&store::Options {
        path,
        max_size,
        queue,
    })?;
    tracing::info!(
        db = %store.path().display(),
        retention = %humantime::format_duration(age),
        retention_size,
        max_size,
        "history"
    );
    let retention = Retention {
        max_age: (!age.is_zero()).then_some(age),
        max_bytes: retention_size,
    };
    // A pass every quarter of the age limit, between 250 ms and a minute.
    let every = retention.max_age.map_or(Duration::from_secs(60), |age| {
        (age / 4).clamp(Duration::from_millis(250), Duration::from_secs(60))
    });
    spawn_retention(store.clone(), retention, every);
    Ok(store)
}

/// The row id of target `name`, `None` when the store has never seen it.
pub fn target_id(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
}
