//! Databases written before increments (schema 2: each successful scrape a
//! whole snapshot, zstd CBOR, in `scrapes.snapshot`) converted in place.
//!
//! Invariant: runs inside the migration's transaction, so a database is
//! either wholly converted or untouched. Per target, its scrapes in time
//! order are converted exactly as the writer would have stored them
//! ([`ingest::pack_next`]: each against the previous one), their blobs set
//! to NULL, and the last becomes the target's `latest`. A blob that does not
//! decode is left as it was (reads skip a row without a record).

use std::sync::Arc;

use rusqlite::{Transaction, params};

use super::ingest::{self, Known};
use crate::native::{self, Sample};

/// Convert every stored snapshot blob to a record in its target's layout.
pub fn snapshots_to_increments(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let targets: Vec<i64> = tx
        .prepare("SELECT id FROM targets ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut known = Known::default();
    for target in targets {
        let rows: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT id, at_ms FROM scrapes
                 WHERE target = ?1 AND ok = 1 AND snapshot IS NOT NULL ORDER BY at_ms, id",
            )?
            .query_map([target], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut last = None;
        for (id, at_ms) in rows {
            let blob: Vec<u8> = tx
                .prepare_cached("SELECT snapshot FROM scrapes WHERE id = ?1")?
                .query_row([id], |r| r.get(0))?;
            let Ok(snapshot) = super::decode(&blob) else {
                tracing::warn!(
                    row = id,
                    "a stored snapshot does not decode; left as it was"
                );
                continue;
            };
            let sample = Arc::new(Sample::of(&snapshot));
            let (layout, values) = ingest::pack_next(
                tx,
                &mut known,
                target,
                &sample,
                &snapshot.model_names,
                &native::load(&snapshot),
            )?;
            tx.prepare_cached(
                "UPDATE scrapes SET layout = ?2, record = ?3, snapshot = NULL WHERE id = ?1",
            )?
            .execute(params![id, layout, values])?;
            last = Some((at_ms, blob));
        }
        if let Some((at_ms, blob)) = last {
            ingest::set_latest(tx, target, at_ms, &blob)?;
        }
    }
    Ok(())
}
