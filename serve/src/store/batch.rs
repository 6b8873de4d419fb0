//! One batch of scrapes written in one transaction, with consecutive failed
//! scrapes folded into runs.
//!
//! Invariants: every successful scrape is a row of its own. A failed scrape
//! of the same kind as its target's previous scrape (also failed), within
//! [`MAX_RUN`] of that run's first one, adds to that row instead of making
//! a new one: `repeats` counts the failed scrapes the row stands for (1 for
//! any other row), `at_ms` stays the first one's start, `last_at_ms` is the
//! latest one's start, and `duration_ms` and `error` are the latest one's.
//! So a target that keeps failing writes a row per [`MAX_RUN`], not per
//! scrape, and the counts stay exact. The open runs are only remembered by
//! the writer; after a restart or a rolled-back batch the next failure
//! opens a new run.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::Row;
use super::ingest::{self, Known};

/// The longest span of one run (from its first failed scrape to its
/// latest): beyond it, the next failure opens a new row, so age-based
/// retention (which looks at a row's first time) never drops recent
/// failures with an old run.
pub const MAX_RUN: Duration = Duration::from_secs(3600);

/// What the writer remembers between batches.
#[derive(Debug, Default)]
pub struct Memory {
    /// Target name → its id in `targets`.
    ids: HashMap<String, i64>,
    /// Target id → its open run of failures.
    runs: HashMap<i64, Run>,
    /// Previous scrapes and layouts, for increments.
    known: Known,
}

impl Memory {
    /// Forget everything (a batch was rolled back: its ids and runs are
    /// void).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.runs.clear();
        self.known.clear();
    }
}

/// A target's latest row, a failure that later ones of its kind may join.
#[derive(Debug)]
struct Run {
    row: i64,
    kind: String,
    first_ms: i64,
}

/// Write `rows` in one transaction.
pub fn insert<'a>(
    conn: &mut Connection,
    memory: &mut Memory,
    rows: impl Iterator<Item = &'a Row>,
) -> rusqlite::Result<()> {
    let max_run = i64::try_from(MAX_RUN.as_millis()).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO scrapes (target, at_ms, ok, duration_ms, error_kind, error)
             VALUES (?1, ?2, 0, ?3, ?4, ?5)",
        )?;
        let mut extend = tx.prepare_cached(
            "UPDATE scrapes SET repeats = repeats + 1,
                 last_at_ms = max(coalesce(last_at_ms, at_ms), ?2),
                 duration_ms = ?3, error = ?4
             WHERE id = ?1 AND ok = 0",
        )?;
        for row in rows {
            let target = target_id(&tx, &mut memory.ids, &row.target)?;
            if let Some(success) = &row.success {
                ingest::insert(
                    &tx,
                    &mut memory.known,
                    target,
                    row.at_ms,
                    row.duration_ms,
                    success,
                )?;
                memory.runs.remove(&target);
                continue;
            }
            if let Some((kind, message)) = &row.error {
                let open = memory.runs.get(&target).filter(|run| {
                    run.kind == *kind && row.at_ms.saturating_sub(run.first_ms) <= max_run
                });
                // The row may be gone (retention): then a new one.
                if let Some(run) = open
                    && extend.execute(params![run.row, row.at_ms, row.duration_ms, message])? == 1
                {
                    continue;
                }
            }
            insert.execute(params![
                target,
                row.at_ms,
                row.duration_ms,
                row.error.as_ref().map(|(k, _)| k),
                row.error.as_ref().map(|(_, m)| m),
            ])?;
            match &row.error {
                Some((kind, _)) => {
                    let run = Run {
                        row: tx.last_insert_rowid(),
                        kind: kind.clone(),
                        first_ms: row.at_ms,
                    };
                    memory.runs.insert(target, run);
                }
                None => {
                    memory.runs.remove(&target);
                }
            }
        }
    }
    tx.commit()
}

/// The id of target `name`, added on first sight.
fn target_id(
    tx: &rusqlite::Transaction<'_>,
    ids: &mut HashMap<String, i64>,
    name: &str,
) -> rusqlite::Result<i64> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    tx.execute(
        "INSERT INTO targets (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        [name],
    )?;
    let id: Option<i64> = tx
        .query_row("SELECT id FROM targets WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    let id = id.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    ids.insert(name.to_string(), id);
    Ok(id)
}
