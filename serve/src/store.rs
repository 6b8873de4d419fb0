//! The history store: every scrape, in an embedded SQLite database.
//!
//! Invariants: exactly one connection writes, owned by a dedicated thread
//! fed by a bounded channel, and a write is acknowledged only after its
//! transaction committed (WAL, `synchronous=FULL`): whoever awaits
//! [`Store::insert`] and gets `Ok` knows the row survives `kill -9` and a
//! power cut. One process at a time: a lock file next to the database is
//! held for the process's life. The schema is versioned by
//! `PRAGMA user_version` and migrated forward in one transaction at open; a
//! database from a newer build is refused, never rewritten. Readers use
//! their own read-only connections (WAL: they never block the writer).
//!
//! A successful scrape is stored as increments (`ingest`): what every
//! counter and bucket gained since the target's previous successful scrape,
//! with its gauges and cumulative totals, packed against a per-target
//! layout written once (`pack`); the target's latest snapshot is also kept
//! whole (`latest`, one row per target). Databases written before (whole
//! snapshots as zstd CBOR per row) are converted at open (`upgrade`).
//! Indexed columns: target, time, success. Consecutive failed scrapes of one kind are one row with a
//! count (see [`MAX_RUN`]), so a target that keeps failing does not grow
//! the database by a row per scrape.
//!
//! The targets added through the API are kept too (one row each, header
//! values included), so a new database file is created readable by its
//! owner alone (mode 0600; SQLite gives its `-wal` and `-shm` files the
//! same mode).

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_metrics_host::wit::mapper::Snapshot;
use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use tokio::sync::{mpsc, oneshot};

mod api_targets;
mod batch;
mod ingest;
mod pack;
mod schema;
mod upgrade;
pub use api_targets::ApiTarget;
pub use batch::MAX_RUN;
pub use ingest::Success;
pub use pack::{Record, unpack, unpack_into};
pub use schema::SCHEMA_VERSION;
use schema::{Migration, migrate};

/// Inserts written in one transaction at most.
const MAX_BATCH: usize = 512;
/// Read-only connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;
/// Rows one retention statement deletes (so scrapes interleave).
const DELETE_CHUNK: i64 = 5_000;
/// The largest decoded snapshot accepted from the database.
const MAX_DECODED: usize = 64 << 20;

/// What kind of trouble the database is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Another process holds the database.
    Locked,
    /// Not an SQLite database, or damaged.
    Corrupt,
    /// The disk, or the configured size cap, is full.
    Full,
    /// The file or its directory cannot be created or written.
    Unwritable,
    /// Written by a newer build (a schema version this one does not know).
    Newer,
    /// The writer thread is gone.
    Closed,
    /// Anything else SQLite or the file system reported.
    Io,
}

/// A store failure; the message names the database's path.
#[derive(Clone, Debug, thiserror::Error)]
#[error("history database {}: {message}", path.display())]
pub struct StoreError {
    /// The database file.
    pub path: PathBuf,
    /// What kind of trouble.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    fn new(path: &Path, kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            path: path.to_path_buf(),
            kind,
            message: message.into(),
        }
    }

    fn sqlite(path: &Path, e: &rusqlite::Error) -> Self {
        let kind = match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Locked,
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => ErrorKind::Corrupt,
            Some(ErrorCode::DiskFull) => ErrorKind::Full,
            Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
                ErrorKind::Unwritable
            }
            _ => ErrorKind::Io,
        };
        let hint = match kind {
            ErrorKind::Locked => " (another process is writing to it)",
            ErrorKind::Corrupt => {
                " (not an llm-metrics history database, or damaged: move it away)"
            }
            ErrorKind::Full => " (the disk or the --db-max-size cap is full)",
            _ => "",
        };
        StoreError::new(path, kind, format!("{e}{hint}"))
    }
}

/// Where and how to keep the history.
#[derive(Clone, Debug)]
pub struct Options {
    /// The database file.
    pub path: PathBuf,
    /// Hard cap on the database's size (SQLite's `max_page_count`): writes
    /// beyond it fail as on a full disk.
    pub max_size: Option<u64>,
    /// Writes that may wait for the writer before scrapes wait too.
    pub queue: usize,
}

/// One scrape to store.
#[derive(Clone, Debug)]
pub struct Row {
    /// The target's id.
    pub target: String,
    /// Milliseconds since the Unix epoch: the snapshot's `collected_at_ms`,
    /// or when a failed scrape started.
    pub at_ms: i64,
    /// How long the scrape took.
    pub duration_ms: Option<i64>,
    /// The failure's kind and message, for a failed scrape.
    pub error: Option<(String, String)>,
    /// A successful scrape.
    pub success: Option<Box<Success>>,
}

/// What a retention pass removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trimmed {
    /// Rows deleted.
    pub rows: u64,
    /// Bytes in use afterwards (pages in use × page size).
    pub bytes_in_use: u64,
}

/// How much history to keep.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Rows older than this are deleted.
    pub max_age: Option<Duration>,
    /// The oldest rows are deleted while the data exceeds this.
    pub max_bytes: Option<u64>,
}

enum Command {
    Insert(Row, oneshot::Sender<Result<(), StoreError>>),
    Retain(Retention, i64, oneshot::Sender<Result<Trimmed, StoreError>>),
    PutTarget(ApiTarget, oneshot::Sender<Result<(), StoreError>>),
    DeleteTarget(String, oneshot::Sender<Result<bool, StoreError>>),
}

/// A handle on the history database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writes: mpsc::Sender<Command>,
    readers: Mutex<Vec<Connection>>,
    /// Held (flock) for the process's life: one process per database.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// `snapshot` as stored: CBOR, zstd-compressed, without raw families.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, String> {
    let mut cbor = Vec::with_capacity(4096);
    if snapshot.raw_metrics.is_some() {
        let mut lean = snapshot.clone();
        lean.raw_metrics = None;
        ciborium::into_writer(&lean, &mut cbor)
    } else {
        ciborium::into_writer(snapshot, &mut cbor)
    }
    .map_err(|e| format!("encoding a snapshot: {e}"))?;
    // One compression context per thread, reused: creating one per scrape
    // was ~1 % of the service's CPU at 300 scrapes/s.
    thread_local! {
        static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { RefCell::new(None) };
    }
    COMPRESSOR
        .with_borrow_mut(|slot| {
            let compressor = match slot {
                Some(c) => c,
                None => slot.insert(zstd::bulk::Compressor::new(3)?),
            };
            compressor.compress(&cbor)
        })
        .map_err(|e| format!("compressing a snapshot: {e}"))
}

/// A stored snapshot back.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let cbor = zstd::bulk::decompress(bytes, MAX_DECODED)
        .map_err(|e| format!("decompressing a stored snapshot: {e}"))?;
    ciborium::from_reader(cbor.as_slice()).map_err(|e| format!("decoding a stored snapshot: {e}"))
}

impl Store {
    /// Open (creating and migrating as needed) the database and start its
    /// writer. Every failure names the path: locked by another process,
    /// corrupt, unwritable, or from a newer build.
    pub fn open(options: &Options) -> Result<Store, StoreError> {
        let path = options.path.as_path();
        let unwritable = |what: &str, e: std::io::Error| {
            StoreError::new(path, ErrorKind::Unwritable, format!("{what}: {e}"))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| unwritable(&format!("creating {}", dir.display()), e))?;
        }
        let lock_path = sidecar(path, "-lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| unwritable(&format!("opening {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::new(
                    path,
                    ErrorKind::Locked,
                    format!(
                        "locked by another process (another llm-metrics-serve holds {})",
                        lock_path.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(unwritable(&format!("locking {}", lock_path.display()), e));
            }
        }
        // A new database holds header values of API targets: owner only.
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(unwritable("creating the database", e)),
            }
        }
        let err = |e: rusqlite::Error| StoreError::sqlite(path, &e);
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        // Only takes effect on a new database (before the first table):
        // freed pages can then be returned to the file system.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::new(
                path,
                ErrorKind::Io,
                format!("cannot use write-ahead logging (journal mode stays `{mode}`)"),
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        if let Some(max) = options.max_size {
            let page: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(err)?;
            let pages = i64::try_from(max).unwrap_or(i64::MAX) / page.max(1);
            let _: i64 = conn
                .query_row(
                    &format!("PRAGMA max_page_count = {}", pages.max(1)),
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
        }
        migrate(&mut conn).map_err(|e| match e {
            Migration::Sqlite(e) => err(e),
            Migration::Newer(found) => StoreError::new(
                path,
                ErrorKind::Newer,
                format!(
                    "schema version {found} was written by a newer llm-metrics (this build knows up to {})",
                    SCHEMA_VERSION
                ),
            ),
        })?;
        let (writes, queue) = mpsc::channel(options.queue.max(1));
        let writer_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || writer(conn, queue, &writer_path))
            .map_err(|e| {
                StoreError::new(path, ErrorKind::Io, format!("starting the writer: {e}"))
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writes,
                readers: Mutex::new(Vec::new()),
                _lock: lock,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn closed(&self) -> StoreError {
        StoreError::new(
            &self.inner.path,
            ErrorKind::Closed,
            "the writer has stopped",
        )
    }

    /// Store `row`; `Ok` only once it is committed. Waits while the writer's
    /// queue is full.
    pub async fn insert(&self, row: Row) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.inner
            .writes
            .send(Command::Insert(row, ack))
            .await
            .map_err(|_| self.closed())?;
        done.await.map_err(|_| self.closed())?
    }

    /// Delete what `retention` no longer keeps (as of `now_ms`).
    pub async fn retain(&self, retention: Retention, now_ms: i64) -> Result<Trimmed, StoreError> {
        let (ack, done) = oneshot::channel();
        self.inner
            .writes
            .send(Command::Retain(retention, now_ms, ack))
            .await
            .map_err(|_| self.closed())?;
        done.await.map_err(|_| self.closed())?
    }

    /// Run `f` on a read-only connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let path = inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let idle = inner
                .readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let conn = match idle {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &inner.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(|e| StoreError::sqlite(&inner.path, &e))?;
                    c.busy_timeout(Duration::from_secs(5))
                        .map_err(|e| StoreError::sqlite(&inner.path, &e))?;
                    c
                }
            };
            let result = f(&conn).map_err(|e| StoreError::sqlite(&inner.path, &e));
            let mut idle = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::new(&path, ErrorKind::Io, format!("reader: {e}")))?
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The writer thread: batches the inserts that are waiting into one
/// transaction, then acknowledges each with the commit's outcome.
fn writer(mut conn: Connection, mut queue: mpsc::Receiver<Command>, path: &Path) {
    let mut memory = batch::Memory::default();
    let mut pending = None;
    loop {
        let first = match pending.take() {
            Some(c) => c,
            None => match queue.blocking_recv() {
                Some(c) => c,
                None => return,
            },
        };
        match first {
            Command::Retain(retention, now_ms, ack) => {
                let result =
                    retain(&conn, retention, now_ms).map_err(|e| StoreError::sqlite(path, &e));
                let _ = ack.send(result);
            }
            Command::PutTarget(target, ack) => {
                let result = api_targets::put(&mut conn, &target.id, &target.spec, target.at_ms)
                    .map_err(|e| StoreError::sqlite(path, &e));
                let _ = ack.send(result);
            }
            Command::DeleteTarget(id, ack) => {
                let result =
                    api_targets::delete(&mut conn, &id).map_err(|e| StoreError::sqlite(path, &e));
                let _ = ack.send(result);
            }
            Command::Insert(row, ack) => {
                let mut batch = vec![(row, ack)];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(Command::Insert(row, ack)) => batch.push((row, ack)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let result = batch::insert(&mut conn, &mut memory, batch.iter().map(|(r, _)| r))
                    .map_err(|e| StoreError::sqlite(path, &e));
                if let Err(e) = &result {
                    // Ids and runs learnt inside the rolled-back transaction
                    // are void.
                    memory.clear();
                    tracing::error!(error = %e, rows = batch.len(), "history write failed");
                }
                for (_, ack) in batch {
                    let _ = ack.send(result.clone());
                }
            }
        }
    }
}

fn bytes_in_use(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
}

/// One retention pass: rows over the age limit, then the oldest rows while
/// the data is over the size limit; freed pages go back to the file system.
fn retain(conn: &Connection, retention: Retention, now_ms: i64) -> rusqlite::Result<Trimmed> {
    let mut rows = 0u64;
    if let Some(age) = retention.max_age {
        let cutoff = now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let targets: Vec<i64> = conn
            .prepare("SELECT id FROM targets")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut delete = conn.prepare_cached(
            "DELETE FROM scrapes WHERE id IN (SELECT id FROM scrapes
             WHERE target = ?1 AND ok IN (0, 1) AND at_ms < ?2 LIMIT ?3)",
        )?;
        for target in targets {
            loop {
                let n = delete.execute(params![target, cutoff, DELETE_CHUNK])?;
                rows += n as u64;
                if (n as i64) < DELETE_CHUNK {
                    break;
                }
            }
        }
    }
    if let Some(max) = retention.max_bytes {
        loop {
            let used = bytes_in_use(conn)?;
            if used <= max {
                break;
            }
            let (count, oldest): (i64, Option<i64>) =
                conn.query_row("SELECT count(*), min(id) FROM scrapes", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let Some(oldest) = oldest else { break };
            // Delete the oldest share of rows that matches the excess.
            let share = (used - max) as f64 / used as f64;
            let n = ((count as f64 * share).ceil() as i64).clamp(1, DELETE_CHUNK);
            let deleted = conn.execute("DELETE FROM scrapes WHERE id < ?1", [oldest + n])?;
            rows += deleted as u64;
            if deleted == 0 {
                break;
            }
        }
    }
    if rows > 0 {
        conn.execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    Ok(Trimmed {
        rows,
        bytes_in_use: bytes_in_use(conn)?,
    })
}
