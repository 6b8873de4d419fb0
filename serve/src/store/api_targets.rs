//! The targets added through the API, one row each in `api_targets`.
//!
//! Invariants: a row is the latest definition `PUT` for its id (written by
//! the single writer, each change its own committed transaction), and a
//! `DELETE` removes it; the definition is opaque text here (its meaning and
//! validation are [`crate::persist`]'s). The [`Store`] methods here send
//! the writer its commands.

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::{Command, Store, StoreError};

/// A target added through the API, as stored.
#[derive(Clone, Debug)]
pub struct ApiTarget {
    /// The target's id.
    pub id: String,
    /// Its definition (opaque to the store; see [`crate::persist`]).
    pub spec: String,
    /// When it was written, ms since the epoch.
    pub at_ms: i64,
}

impl Store {
    /// Store (or replace) a target added through the API; `Ok` only once
    /// it is committed.
    pub async fn put_target(&self, target: ApiTarget) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.inner
            .writes
            .send(Command::PutTarget(target, ack))
            .await
            .map_err(|_| self.closed())?;
        done.await.map_err(|_| self.closed())?
    }

    /// Delete the stored target `id`; `Ok(true)` once a stored one is gone
    /// (committed), `Ok(false)` if none was stored.
    pub async fn delete_target(&self, id: &str) -> Result<bool, StoreError> {
        let (ack, done) = oneshot::channel();
        self.inner
            .writes
            .send(Command::DeleteTarget(id.to_string(), ack))
            .await
            .map_err(|_| self.closed())?;
        done.await.map_err(|_| self.closed())?
    }

    /// Every stored target added through the API, `(id, spec)`, by id.
    pub async fn api_targets(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(all).await
    }
}

/// Insert or replace `id`'s definition, in one transaction.
pub fn put(conn: &mut Connection, id: &str, spec: &str, now_ms: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO api_targets (id, spec, updated_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_ms = excluded.updated_ms",
        params![id, spec, now_ms],
    )?;
    tx.commit()
}

/// Delete `id`'s definition, in one transaction; whether there was one.
pub fn delete(conn: &mut Connection, id: &str) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let n = tx.execute("DELETE FROM api_targets WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(n > 0)
}

/// Every stored definition, `(id, spec)`, by id.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare("SELECT id, spec FROM api_targets ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}
