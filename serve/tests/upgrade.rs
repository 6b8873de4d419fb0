//! End to end: a history database written by the build before increments
//! (schema 2: each successful scrape a whole snapshot, zstd CBOR, in
//! `scrapes.snapshot`) is converted when a real `llm-metrics-serve` opens
//! it, and its windows and history answer what they answered before: the
//! plugin's `window` between the stored snapshots, the same JSON. The
//! snapshots are real: the window fixtures (one vLLM server at 0 s, 10 s, a
//! restart at 30 s, and 50 s) mapped by the plugin and encoded by the
//! store's own encoder. Real process, real SQLite file.

mod common;

use common::Serve;
use llm_metrics_host::wit::mapper::Snapshot;
use llm_metrics_host::{ComponentSource, Plugin, PluginOptions};
use rusqlite::Connection;

/// The schema as released in versions 1 and 2 (`store.rs`'s first two
/// migrations), frozen here on purpose.
const SCHEMA_2: &str = "CREATE TABLE targets (
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
    ALTER TABLE scrapes ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE scrapes ADD COLUMN last_at_ms INTEGER;
    PRAGMA user_version = 2;";

const FIXTURES: [&str; 4] = [
    "window/vllm_t0.prom",
    "window/vllm_t1.prom",
    "window/vllm_t2_restarted.prom",
    "window/vllm_t3.prom",
];
/// Seconds after the first scrape.
const AT: [i64; 4] = [0, 10, 30, 50];

fn seconds(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

#[tokio::test]
async fn a_schema_2_database_is_converted_and_answers_as_before() {
    let plugin = Plugin::new(&ComponentSource::Embedded, &PluginOptions::default()).unwrap();
    // Ten minutes ago: within the default retention.
    let base = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
        - 600_000;
    let mut snaps: Vec<Snapshot> = Vec::new();
    for (name, at) in FIXTURES.iter().zip(AT) {
        let text = common::fixture(name);
        let mut s = plugin
            .map(&text, None, "vllm", "old-0")
            .await
            .unwrap()
            .unwrap();
        s.collected_at_ms = u64::try_from(base + at * 1000).unwrap();
        snaps.push(s);
    }
    let db_path = common::fresh_db();
    {
        let db = Connection::open(&db_path).unwrap();
        db.execute_batch(SCHEMA_2).unwrap();
        db.execute("INSERT INTO targets (id, name) VALUES (1, 'old')", [])
            .unwrap();
        for s in &snaps {
            let blob = llm_metrics_serve::store::encode(s).unwrap();
            db.execute(
                "INSERT INTO scrapes (target, at_ms, ok, duration_ms, snapshot)
                 VALUES (1, ?1, 1, 7, ?2)",
                rusqlite::params![i64::try_from(s.collected_at_ms).unwrap(), blob],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO scrapes (target, at_ms, ok, duration_ms, error_kind, error, repeats)
             VALUES (1, ?1, 0, 5, 'connect', 'refused', 3)",
            [base + 20_000],
        )
        .unwrap();
    }
    // Before the upgrade a window was the plugin's between its edges.
    let mut before = Vec::new();
    for (i, j) in [(0, 1), (1, 2), (2, 3)] {
        let w = plugin.window(&snaps[i], &snaps[j]).await.unwrap().unwrap();
        before.push(llm_metrics_host::json::window(&w));
    }

    let serve = Serve::start(&["--db", db_path.to_str().unwrap()]).await;
    for ((i, j), expected) in [(0, 1), (1, 2), (2, 3)].into_iter().zip(&before) {
        let (from, to) = (base + AT[i] * 1000, base + AT[j] * 1000);
        let r = serve
            .get(&format!(
                "/api/v1/targets/old/window?range={}s&at={}",
                (to - from) / 1000,
                seconds(to)
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(&r.json()["window"], expected, "{i} -> {j}");
    }
    // The history: points at 10 s and 50 s have windows (one pair each);
    // the one at 30 s spans the restart; every point carries the latest
    // scrape's normalized fields.
    let r = serve
        .get(&format!(
            "/api/v1/targets/old/history?from={}&to={}&step=20s",
            seconds(base + 10_000),
            seconds(base + 50_000)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{v}");
    // At 10 s over 20 s: 0 s → 10 s. At 30 s: 10 s → 30 s. At 50 s: 30 s → 50 s.
    for (point, expected) in points.iter().zip(&before) {
        assert_eq!(&point["window"], expected, "{point}");
    }
    for (point, s) in points.iter().zip([&snaps[1], &snaps[2], &snaps[3]]) {
        let doc = llm_metrics_host::json::snapshot(s);
        for key in ["collected_at", "engine", "model_names", "load", "totals"] {
            assert_eq!(point["snapshot"][key], doc[key], "{key}: {point}");
        }
    }
    serve.terminate().await;

    // Converted in place: no blob left, the latest kept whole, the failure
    // run as it was.
    let db = Connection::open(&db_path).unwrap();
    let (blobs, records): (i64, i64) = db
        .query_row(
            "SELECT count(snapshot), count(record) FROM scrapes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((blobs, records), (0, 4));
    let latest: i64 = db
        .query_row("SELECT at_ms FROM latest WHERE target = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(latest, base + 50_000);
    let repeats: i64 = db
        .query_row("SELECT repeats FROM scrapes WHERE ok = 0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(repeats, 3);
}
