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

/// One stored successful scrape, as stored (its layout shared with the
/// target's other scrapes of that layout); decoded on demand.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// `collected_at_ms`.
    pub at_ms: i64,
    layout: Arc<Vec<u8>>,
    values: Vec<u8>,
}

impl Scrape {
    /// What it stored.
    pub fn record(&self) -> Result<Record, String> {
        let mut r = Record::default();
        self.decode_into(&mut r)?;
        Ok(r)
    }

    /// What it stored, into `r` (reusing its allocations).
    fn decode_into(&self, r: &mut Record) -> Result<(), String> {
        store::unpack_into(
            &self.layout,
            &self.values,
            u64::try_from(self.at_ms).unwrap_or(0),
            r,
        )
    }

    /// The snapshot fields it keeps (instance, engine, time, models, load,
    /// totals) as a snapshot without distributions or engine detail.
    pub fn lean_snapshot(&self) -> Result<Snapshot, String> {
        let r = self.record()?;
        Ok(native::lean_snapshot(
            &r.instance_id,
            &r.engine,
            u64::try_from(self.at_ms).unwrap_or(0),
            &r.model_names,
            &r.load,
            &r.totals,
        ))
    }
}

/// A target's successful scrapes collected in `[from_ms, to_ms]`, oldest
/// first, each checked to decode (each layout read once); `None` when the
/// store has never seen the target.
pub async fn scrapes(
    store: &Store,
    target: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Option<Vec<Scrape>>, StoreError> {
    let target = target.to_string();
    store
        .read(move |conn| {
            let Some(id) = target_id(conn, &target)? else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT at_ms, layout, record FROM scrapes
                 WHERE target = ?1 AND ok = 1 AND at_ms BETWEEN ?2 AND ?3
                   AND record IS NOT NULL
                 ORDER BY at_ms, id",
            )?;
            let mut layout_of = conn.prepare_cached("SELECT body FROM layouts WHERE id = ?1")?;
            let mut layouts: HashMap<i64, Arc<Vec<u8>>> = HashMap::new();
            let mut rows = stmt.query(rusqlite::params![id, from_ms, to_ms])?;
            let mut out = Vec::new();
            let mut check = Record::default();
            while let Some(row) = rows.next()? {
                let at_ms: i64 = row.get(0)?;
                let layout: i64 = row.get(1)?;
                let layout = match layouts.entry(layout) {
                    std::collections::hash_map::Entry::Occupied(e) => e.get().clone(),
                    std::collections::hash_map::Entry::Vacant(e) => e
                        .insert(Arc::new(layout_of.query_row([layout], |r| r.get(0))?))
                        .clone(),
                };
                let scrape = Scrape {
                    at_ms,
                    layout,
                    values: row.get(2)?,
                };
                scrape.decode_into(&mut check).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Blob,
                        e.into(),
                    )
                })?;
                out.push(scrape);
            }
            Ok(Some(out))
        })
        .await
}

/// The scrapes a window ending at `t` over `range` spans: the first
/// collected at or after `t - range` and the last at or before `t`, as
/// indices into `scrapes` (sorted by time); `None` unless there are two.
pub fn window_span(scrapes: &[Scrape], t: i64, range_ms: i64) -> Option<(usize, usize)> {
    let end = scrapes.partition_point(|p| p.at_ms <= t);
    let start = scrapes.partition_point(|p| p.at_ms < t.saturating_sub(range_ms));
    (end >= start + 2).then(|| (start, end - 1))
}

/// The window over `scrapes[first..=last]`: the component's `finish` of
/// the sum of the increments stored after `first` up to `last`, summed in
/// place. A scrape that could not be compared with its predecessor makes
/// the window that comparison's error. `Err` only for a scrape that does
/// not decode.
pub fn window_over(
    scrapes: &[Scrape],
    first: usize,
    last: usize,
) -> Result<Result<Window, WindowError>, String> {
    let mut sum: Option<Increment> = None;
    let mut scratch = Record::default();
    for s in &scrapes[first + 1..=last] {
        s.decode_into(&mut scratch)?;
        if let Some(gap) = scratch.gap.take() {
            return Ok(Err(gap));
        }
        let Some(inc) = &scratch.increment else {
            continue;
        };
        match &mut sum {
            None => sum = Some(inc.clone()),
            Some(acc) => {
                if let Err(e) = acc.add_assign(inc) {
                    return Ok(Err(e));
                }
            }
        }
    }
    Ok(match sum {
        Some(sum) => Ok(window::finish(&sum)),
        None => Err(WindowError::NotLater(
            u64::try_from(scrapes[first].at_ms).unwrap_or(0),
            u64::try_from(scrapes[last].at_ms).unwrap_or(0),
        )),
    })
}

/// The index of the last scrape at or before `t`, within [`LOOKBACK`].
pub fn latest(scrapes: &[Scrape], t: i64) -> Option<usize> {
    let end = scrapes.partition_point(|p| p.at_ms <= t);
    let lookback = i64::try_from(LOOKBACK.as_millis()).unwrap_or(i64::MAX);
    end.checked_sub(1)
        .filter(|&i| scrapes[i].at_ms >= t.saturating_sub(lookback))
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

    fn at(times: &[i64]) -> Vec<Scrape> {
        times
            .iter()
            .map(|&at_ms| Scrape {
                at_ms,
                layout: Arc::new(Vec::new()),
                values: Vec::new(),
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
fn target_id(conn: &rusqlite::Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
}
