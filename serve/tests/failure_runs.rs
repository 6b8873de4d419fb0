//! End to end: failed scrapes in the history of a real `llm-metrics-serve`
//! process. A target that keeps failing writes one row that counts its
//! failed scrapes (exactly: one per logged failure) instead of a row per
//! scrape; successful scrapes keep a row each; a database written by
//! schema 1 is migrated at start-up and keeps its rows. Real processes,
//! real SQLite files.

mod common;

use std::path::{Path, PathBuf};

use common::{Serve, Upstream, fixture};
use rusqlite::{Connection, OpenFlags};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-metrics-runs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback URL nothing listens on (connections are refused).
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/metrics")
}

fn config(dir: &Path, targets: &[(&str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (id, url) in targets {
        text.push_str(&format!(
            "[[targets]]\nid = \"{id}\"\nurl = \"{url}\"\nengine = \"vllm\"\ninterval = \"100ms\"\n"
        ));
    }
    let path = dir.join("serve.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Failed-scrape log lines for `url`.
fn failures_logged(log: &str, url: &str) -> i64 {
    let n = log
        .lines()
        .filter(|l| l.contains("scrape failed") && l.contains(url))
        .count();
    i64::try_from(n).unwrap()
}

/// `(rows, sum of repeats, first at_ms, last at_ms)` of `target`'s failed
/// scrapes.
fn failure_rows(db: &Connection, target: &str) -> (i64, i64, i64, i64) {
    db.query_row(
        "SELECT count(*), sum(s.repeats), min(s.at_ms), max(coalesce(s.last_at_ms, s.at_ms))
         FROM scrapes s JOIN targets t ON s.target = t.id WHERE t.name = ?1 AND s.ok = 0",
        [target],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

async fn run_until_failed(config: &Path, db: &Path, failures: u64) -> String {
    let serve = Serve::start(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ])
    .await;
    serve
        .wait_for("/api/v1/targets/dead", |v| {
            v["health"]["consecutive_failures"].as_u64() >= Some(failures)
        })
        .await;
    let (status, log) = serve.terminate().await;
    assert!(status.success(), "{status:?}\n{log}");
    log
}

#[tokio::test]
async fn a_target_that_keeps_failing_writes_one_row_with_its_count() {
    let dir = temp_dir("one-run");
    let dead = dead_url().await;
    let live = Upstream::start(fixture("vllm_v1.prom")).await;
    let live_url = live.url("/metrics");
    let config = config(&dir, &[("dead", &dead), ("live", &live_url)]);
    let db = dir.join("history.sqlite3");
    let log = run_until_failed(&config, &db, 30).await;

    let logged = failures_logged(&log, &dead);
    assert!(logged >= 30, "{log}");
    let db = open(&db);
    let (rows, repeats, first, last) = failure_rows(&db, "dead");
    // One row for the whole run, counting every failed scrape.
    assert_eq!(rows, 1, "one row per run of failures");
    assert_eq!(repeats, logged, "the row counts each failed scrape");
    assert!(last > first, "the run spans its first to its last failure");
    let (kind, error): (String, String) = db
        .query_row(
            "SELECT error_kind, error FROM scrapes WHERE ok = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "connect", "{error}");
    // Successful scrapes keep a row each.
    let (ok_rows, ok_repeats): (i64, i64) = db
        .query_row(
            "SELECT count(*), sum(s.repeats) FROM scrapes s JOIN targets t ON s.target = t.id
             WHERE t.name = 'live' AND s.ok = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(ok_rows >= 2, "{ok_rows}");
    assert_eq!(ok_rows, ok_repeats);
}

/// The schema as released in version 1 (`store.rs`'s first migration).
const SCHEMA_1: &str = "CREATE TABLE targets (
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
    CREATE INDEX scrapes_by_target ON scrapes(target, ok, at_ms);
    PRAGMA user_version = 1;";

#[tokio::test]
async fn a_schema_1_database_is_migrated_and_keeps_its_rows() {
    let dir = temp_dir("migrate");
    let db_path = dir.join("history.sqlite3");
    // An hour ago: within the default retention.
    let base = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
        - 3_600_000;
    {
        let db = Connection::open(&db_path).unwrap();
        db.execute_batch(SCHEMA_1).unwrap();
        db.execute("INSERT INTO targets (id, name) VALUES (1, 'dead')", [])
            .unwrap();
        for at in [base, base + 1_000, base + 2_000] {
            db.execute(
                "INSERT INTO scrapes (target, at_ms, ok, duration_ms, error_kind, error)
                 VALUES (1, ?1, 0, 5, 'connect', 'refused')",
                [at],
            )
            .unwrap();
        }
    }
    let dead = dead_url().await;
    let config = config(&dir, &[("dead", &dead)]);
    let log = run_until_failed(&config, &db_path, 5).await;

    let db = open(&db_path);
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, llm_metrics_serve::store::SCHEMA_VERSION as i64);
    // The old rows, unchanged, each standing for one scrape.
    let old: Vec<(i64, i64, Option<i64>, String)> = db
        .prepare(
            "SELECT at_ms, repeats, last_at_ms, error FROM scrapes WHERE at_ms <= ?1 ORDER BY id",
        )
        .unwrap()
        .query_map([base + 2_000], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let refused = || "refused".to_string();
    assert_eq!(
        old,
        vec![
            (base, 1, None, refused()),
            (base + 1_000, 1, None, refused()),
            (base + 2_000, 1, None, refused()),
        ]
    );
    // The new failures: one more row, counting each.
    let (rows, repeats, _, _) = failure_rows(&db, "dead");
    assert_eq!(rows, 4);
    assert_eq!(repeats, 3 + failures_logged(&log, &dead));
}
