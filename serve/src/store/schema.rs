//! The history database's schema: one migration per version, applied
//! forward at open.
//!
//! Invariant: `PRAGMA user_version` is how many [`MIGRATIONS`] a database
//! has had; the missing ones run in one transaction, with the conversion of
//! whole-snapshot rows to increments ([`super::upgrade`]) when the layouts
//! table is new, so a database is at one version or the next, never between.
//! A database from a newer build is refused, never rewritten.

use rusqlite::Connection;

use super::upgrade;

/// The schema, one migration per version (`PRAGMA user_version` = how many
/// have been applied). Append; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: targets by name; one row per scrape, the snapshot only when it
    // succeeded. `(target, ok, at_ms)` answers every history query from the
    // index alone.
    "CREATE TABLE targets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    ) STRICT;
    CREATE TABLE scrapes (
        id INTEGER PRIMARY KEY,
        target INTEGER NOT NULL REFERENCES targets(id),
        at_ms INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        duration_ms INTEGER,
        error_kind TEXT,
        error TEXT,
        snapshot BLOB
    ) STRICT;
    CREATE INDEX scrapes_by_target ON scrapes(target, ok, at_ms);",
    // 2: consecutive failed scrapes of one kind folded into one row (see
    // `batch`): how many scrapes a row stands for, and the latest one's
    // start (NULL for a row that stands for one). Existing rows stand for
    // one scrape each.
    "ALTER TABLE scrapes ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE scrapes ADD COLUMN last_at_ms INTEGER;",
    // 3: api targets: the targets added through the API, so they are
    // scraped again after a restart (see `api_targets`); `spec` is their
    // definition as JSON, header values included.
    "CREATE TABLE api_targets (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;",
    // 4: increments. A successful scrape is a `record` (values) in a
    // `layout` (what repeats: names, labels, bucket bounds) written once per
    // target and distinct layout; `latest` holds each target's last
    // successful snapshot whole. Older rows' `snapshot` blobs are converted
    // (`upgrade`) and set to NULL in the same transaction.
    "CREATE TABLE layouts (
        id INTEGER PRIMARY KEY,
        target INTEGER NOT NULL REFERENCES targets(id),
        body BLOB NOT NULL,
        UNIQUE (target, body)
    ) STRICT;
    ALTER TABLE scrapes ADD COLUMN layout INTEGER REFERENCES layouts(id);
    ALTER TABLE scrapes ADD COLUMN record BLOB;
    CREATE TABLE latest (
        target INTEGER PRIMARY KEY REFERENCES targets(id),
        at_ms INTEGER NOT NULL,
        snapshot BLOB NOT NULL
    ) STRICT;",
];

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Why [`migrate`] failed.
pub(super) enum Migration {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// The database's version is newer than this build's.
    Newer(i64),
}

impl From<rusqlite::Error> for Migration {
    fn from(e: rusqlite::Error) -> Self {
        Migration::Sqlite(e)
    }
}

/// Apply the migrations this database lacks, in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), Migration> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Migration::Newer(version));
    }
    let had_layouts: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'layouts')",
        [],
        |r| r.get(0),
    )?;
    for sql in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.execute_batch(sql)?;
    }
    if !had_layouts && version > 0 {
        upgrade::snapshots_to_increments(&tx)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}
