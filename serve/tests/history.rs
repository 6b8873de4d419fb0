//! End to end: the history store of the real `llm-metrics-serve` process.
//! Scrapes of loopback fixture servers are committed before the API shows
//! them, survive `kill -9` and a restart, and a locked, corrupt or
//! unwritable database stops start-up with a message naming its path; a
//! full database is reported in target health while the latest data is
//! still served. Real processes, real SQLite files.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BUDGET, Serve, Upstream, fixture};
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("llm-metrics-history-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(dir: &Path, targets: &[(&str, String)]) -> PathBuf {
    let mut text = String::new();
    for (id, url) in targets {
        text.push_str(&format!(
            "[[targets]]\nid = \"{id}\"\nurl = \"{url}\"\nengine = \"vllm\"\ninterval = \"200ms\"\n"
        ));
    }
    let path = dir.join("serve.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Run the binary to completion (it should refuse to start).
fn refused(args: &[&str]) -> (i32, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_llm-metrics-serve"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + BUDGET;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not exit although its database is unusable");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill_9(serve: &mut Serve) {
    let pid = serve.child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// The collected_at of every history point (with a snapshot) in the last
/// `span`, at a step of 100 ms.
async fn stored(serve: &Serve, id: &str, from: &str, to: &str) -> Vec<String> {
    let r = serve
        .get(&format!(
            "/api/v1/targets/{id}/history?from={from}&to={to}&step=100ms"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut seen: Vec<String> = r.json()["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["snapshot"]["collected_at"].as_str().map(String::from))
        .collect();
    seen.dedup();
    seen
}

#[tokio::test]
async fn acknowledged_scrapes_survive_kill_9_and_scraping_continues() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let dir = temp_dir("kill9");
    let db = dir.join("history.sqlite3");
    let cfg = config(&dir, &[("v0", upstream.url("/metrics"))]);
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ];
    let mut serve = Serve::start(&args).await;
    let start = api_time_now();
    // Note each snapshot the API acknowledges, until there are five.
    let mut acked: Vec<String> = Vec::new();
    while acked.len() < 5 {
        let v = serve
            .wait_for("/api/v1/targets/v0", |v| {
                v["metrics"]["collected_at"].is_string()
                    && !acked.contains(&v["metrics"]["collected_at"].as_str().unwrap().to_string())
            })
            .await;
        acked.push(v["metrics"]["collected_at"].as_str().unwrap().to_string());
    }
    // Scrapes every 200 ms: the kill lands while one may be in flight.
    kill_9(&mut serve);
    serve.child.wait().await.unwrap();
    drop(serve);

    // The database is consistent and holds every acknowledged scrape.
    let stored_ms = |db: &Path| -> Vec<i64> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let mut stmt = conn
            .prepare("SELECT at_ms FROM scrapes WHERE ok = 1 ORDER BY at_ms")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let ms = |c: &str| {
        humantime::parse_rfc3339(c)
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = stored_ms(&db);
    for c in &acked {
        assert!(
            before.contains(&ms(c)),
            "acknowledged scrape at {c} lost; stored: {before:?}"
        );
    }
    // After a restart the API reads that history back ...
    let serve = Serve::start(&args).await;
    let seen = stored(&serve, "v0", &start, &api_time_now()).await;
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.iter().all(|c| before.contains(&ms(c))), "{seen:?}");
    // ... and it continues: a scrape newer than any before the kill is stored.
    let last = acked.last().unwrap().clone();
    serve
        .wait_for("/api/v1/targets/v0", |v| {
            v["metrics"]["collected_at"]
                .as_str()
                .is_some_and(|c| c > last.as_str())
        })
        .await;
    let after = stored_ms(&db);
    assert!(after.len() > before.len());
    assert!(after.last() > before.last());
    // The first scrape after the restart is stored as its increments since
    // the last one committed before the kill (kept whole in `latest`), so
    // a window across the kill is one window, not a gap.
    let last_before = *before.last().unwrap();
    let (body, values, at_ms): (Vec<u8>, Vec<u8>, i64) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT l.body, s.record, s.at_ms FROM scrapes s JOIN layouts l ON s.layout = l.id
             WHERE s.ok = 1 AND s.at_ms > ?1 ORDER BY s.at_ms LIMIT 1",
            [last_before],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let record =
        llm_metrics_serve::store::unpack(&body, &values, u64::try_from(at_ms).unwrap()).unwrap();
    let increment = record.increment.expect("an increment across the restart");
    assert_eq!(increment.start_ms, u64::try_from(last_before).unwrap());
    assert!(!increment.restarted, "{:?}", increment.resets);
    let r = serve
        .get(&format!(
            "/api/v1/targets/v0/window?range=10m&at={}",
            api_time_now()
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Now, in RFC 3339 as the API writes it.
fn api_time_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[tokio::test]
async fn a_second_process_on_the_same_database_is_refused() {
    let dir = temp_dir("locked");
    let db = dir.join("history.sqlite3");
    let first = Serve::start(&["--db", db.to_str().unwrap()]).await;
    let (code, err) = refused(&["--db", db.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(err.contains("locked by another process"), "{err}");
    drop(first);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_corrupt_or_unwritable_database_is_refused_at_start_up() {
    let dir = temp_dir("corrupt");
    let db = dir.join("history.sqlite3");
    std::fs::write(&db, vec![0x5a; 16 * 1024]).unwrap();
    let (code, err) = refused(&["--db", db.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(err.contains("not a database"), "{err}");

    // Its directory cannot exist: the "directory" is a file.
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let inside = blocker.join("history.sqlite3");
    let (code, err) = refused(&["--db", inside.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(inside.to_str().unwrap()), "{err}");
    assert!(err.contains("creating"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_full_database_is_reported_in_health_while_the_latest_data_is_served() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let dir = temp_dir("full");
    let db = dir.join("history.sqlite3");
    let cfg = config(&dir, &[("v0", upstream.url("/metrics"))]);
    // A cap of 96 KiB: the schema and a few dozen snapshots, then SQLite
    // refuses to grow the file (SQLITE_FULL, as on a full disk).
    let serve = Serve::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--db-max-size",
        "96KiB",
    ])
    .await;
    let v = serve
        .wait_for("/api/v1/targets/v0", |v| {
            v["health"]["last_error_kind"] == "store"
        })
        .await;
    let message = v["health"]["last_error"].as_str().unwrap();
    assert!(message.contains(db.to_str().unwrap()), "{message}");
    assert!(message.contains("full"), "{message}");
    // The latest committed snapshot is still served, and /metrics too.
    assert_eq!(v["metrics"]["engine"], "vllm", "{v}");
    let m = serve.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.text.contains(
            "llm_metrics_scrape_errors_total{instance=\"v0\",engine=\"vllm\",kind=\"store\"}"
        ),
        "{}",
        m.text
    );
    let log = serve.log.lock().unwrap().clone();
    assert!(log.contains("history write failed"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_history_queries_get_typed_4xx() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let dir = temp_dir("bad");
    let db = dir.join("history.sqlite3");
    let cfg = config(&dir, &[("v0", upstream.url("/metrics"))]);
    let serve = Serve::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ])
    .await;
    for (path, status, kind) in [
        ("/api/v1/targets/nope/window?range=5m", 404, "not-found"),
        ("/api/v1/targets/nope/history", 404, "not-found"),
        (
            "/api/v1/targets/v0/window?range=soon",
            422,
            "invalid-duration",
        ),
        (
            "/api/v1/targets/v0/window?range=0s",
            422,
            "invalid-duration",
        ),
        (
            "/api/v1/targets/v0/window?range=400d",
            422,
            "invalid-duration",
        ),
        (
            "/api/v1/targets/v0/window?at=yesterday",
            422,
            "invalid-time",
        ),
        (
            "/api/v1/targets/v0/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            422,
            "invalid-range",
        ),
        (
            "/api/v1/targets/v0/history?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&step=1s",
            422,
            "invalid-step",
        ),
        (
            "/api/v1/targets/v0/history?step=-5",
            422,
            "invalid-duration",
        ),
        (
            "/api/v1/fleet/window?range=nonsense",
            422,
            "invalid-duration",
        ),
    ] {
        let r = serve.get(path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json", "{path}");
        let v: Value = r.json();
        assert_eq!(v["error_kind"], kind, "{path}: {v}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused_not_rewritten() {
    let dir = temp_dir("newer");
    let db = dir.join("history.sqlite3");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let (code, err) = refused(&["--db", db.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(err.contains("schema version 99"), "{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99, "left as it was");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retention_deletes_old_scrapes_in_the_background() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    let dir = temp_dir("retention");
    let db = dir.join("history.sqlite3");
    let cfg = config(&dir, &[("v0", upstream.url("/metrics"))]);
    let serve = Serve::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--retention",
        "2s",
    ])
    .await;
    serve
        .wait_for("/api/v1/targets/v0", |v| {
            v["health"]["scrapes"].as_u64() >= Some(25)
        })
        .await;
    // Scrapes every 200 ms for 5 s; a retention pass every 500 ms keeps
    // about the last 2 s of them.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (rows, oldest): (i64, i64) = conn
        .query_row("SELECT count(*), min(at_ms) FROM scrapes", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(rows > 0);
    assert!(
        now - oldest < 4_000,
        "oldest row is {} ms old",
        now - oldest
    );
    let log = serve.log.lock().unwrap().clone();
    assert!(
        log.contains("history retention deleted old scrapes"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
