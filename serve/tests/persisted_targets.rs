//! End to end: targets added with `PUT` survive a restart (`kill -9` too)
//! of a real `llm-metrics-serve` process on the same database and are
//! scraped again, with their header values; `DELETE` survives it as well;
//! the config file wins an id clash. Real processes, real HTTP, real SQLite
//! files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::{Serve, Upstream, fixture};
use serde_json::{Value, json};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-metrics-keep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start(db: &Path, extra: &[&str]) -> Serve {
    let mut args = vec!["--db", db.to_str().unwrap(), "--allow", "127.0.0.1"];
    args.extend_from_slice(extra);
    Serve::start(&args).await
}

/// `kill -9`, and wait until the process is gone (its lock released).
async fn kill_9(mut serve: Serve) -> String {
    let pid = serve.child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::timeout(common::BUDGET, serve.child.wait())
        .await
        .expect("killed in time")
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    serve.log.lock().unwrap().clone()
}

/// Wait until `id` has been scraped successfully at least once.
async fn scraped(serve: &Serve, id: &str) -> Value {
    serve
        .wait_for(&format!("/api/v1/targets/{id}"), |v| {
            !v["health"]["last_success"].is_null()
        })
        .await
}

#[tokio::test]
async fn put_targets_survive_kill_9_and_delete_survives_a_restart() {
    let dir = temp_dir("survive");
    let db = dir.join("history.sqlite3");
    let up = Upstream::start(fixture("vllm_v1.prom")).await;
    let secret = "Bearer keep-7c1e";

    let serve = start(&db, &[]).await;
    let body = json!({
        "url": up.url("/metrics"),
        "engine": "vllm",
        "interval": "100ms",
        "timeout": 1,
        "labels": {"pool": "kept"},
        "headers": {"Authorization": secret},
    });
    let r = serve.put("/api/v1/targets/api-a", &body.to_string()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["persisted"], true, "{}", r.text);
    scraped(&serve, "api-a").await;
    // `kill -9`: no shutdown, no chance to write anything more.
    let log = kill_9(serve).await;
    assert!(!log.contains("keep-7c1e"), "a header value was logged");
    // A new database holds header values: owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&db).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "database mode {mode:o}");

    let hits_before = up.hits.load(Ordering::SeqCst);
    *up.last_auth.lock().unwrap() = None;
    let serve = start(&db, &[]).await;
    let list = serve.get("/api/v1/targets").await.json();
    let ids: Vec<&str> = list["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["api-a"], "{list}");
    // Scraped again, as it was defined, with its header.
    let v = scraped(&serve, "api-a").await;
    assert_eq!(v["url"], up.url("/metrics"));
    assert_eq!(v["engine"], "vllm");
    assert_eq!(v["interval"], 0.1);
    assert_eq!(v["timeout"], 1.0);
    assert_eq!(v["labels"], json!({"pool": "kept"}));
    assert_eq!(v["header_names"], json!(["authorization"]));
    assert_eq!(v["metrics"]["engine"], "vllm", "{v}");
    assert!(up.hits.load(Ordering::SeqCst) > hits_before);
    assert_eq!(up.last_auth.lock().unwrap().as_deref(), Some(secret));
    // Replaced: the new definition is the one kept.
    let body = json!({"url": up.url("/metrics"), "interval": "200ms"});
    let r = serve.put("/api/v1/targets/api-a", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let log = kill_9(serve).await;
    assert!(!log.contains("keep-7c1e"), "a header value was logged");

    let serve = start(&db, &[]).await;
    let v = scraped(&serve, "api-a").await;
    assert_eq!(v["interval"], 0.2, "{v}");
    assert_eq!(v["engine"], "auto", "{v}");
    assert_eq!(v["header_names"], json!([]), "{v}");
    let r = serve.delete("/api/v1/targets/api-a").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (status, _) = serve.terminate().await;
    assert!(status.success());

    let serve = start(&db, &[]).await;
    let r = serve.get("/api/v1/targets/api-a").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        serve.get("/api/v1/targets").await.json()["targets"],
        json!([])
    );
    let r = serve.delete("/api/v1/targets/api-a").await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Its history stays readable by id.
    let r = serve.get("/api/v1/targets/api-a/errors").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn the_config_file_wins_an_id_clash() {
    let dir = temp_dir("clash");
    let db = dir.join("history.sqlite3");
    let from_api = Upstream::start(fixture("vllm_v1.prom")).await;
    let from_config = Upstream::start(fixture("vllm_v1.prom")).await;

    let serve = start(&db, &[]).await;
    let body = json!({"url": from_api.url("/metrics"), "interval": "100ms"});
    let r = serve.put("/api/v1/targets/both", &body.to_string()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    kill_9(serve).await;

    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nid = \"both\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            from_config.url("/metrics")
        ),
    )
    .unwrap();
    let serve = start(&db, &["--config", config.to_str().unwrap()]).await;
    let v = scraped(&serve, "both").await;
    assert_eq!(v["url"], from_config.url("/metrics"), "{v}");
    let (status, log) = serve.terminate().await;
    assert!(status.success());
    assert!(
        log.contains("the config file's is used"),
        "the clash was not logged: {log}"
    );
    // Without the config file, the API's definition is back.
    let serve = start(&db, &[]).await;
    let v = scraped(&serve, "both").await;
    assert_eq!(v["url"], from_api.url("/metrics"), "{v}");
}

/// A definition the database cannot take (full: the `--db-max-size` cap)
/// is 503 `store`, and the target is not added either.
#[tokio::test]
async fn a_put_the_database_refuses_changes_nothing() {
    let dir = temp_dir("full");
    let db = dir.join("history.sqlite3");
    let up = Upstream::start(fixture("vllm_v1.prom")).await;
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nid = \"filler\"\nurl = \"{}\"\ninterval = \"100ms\"\n",
            up.url("/metrics")
        ),
    )
    .unwrap();
    let serve = start(
        &db,
        &[
            "--config",
            config.to_str().unwrap(),
            "--db-max-size",
            "96KiB",
        ],
    )
    .await;
    serve
        .wait_for("/api/v1/targets/filler", |v| {
            v["health"]["last_error_kind"] == "store"
        })
        .await;
    // Larger than a page, so it cannot fit in free space.
    let body = json!({
        "url": up.url("/metrics"),
        "headers": {"x-large": "v".repeat(16 * 1024)},
    });
    let r = serve.put("/api/v1/targets/late", &body.to_string()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["error_kind"], "store", "{}", r.text);
    let r = serve.get("/api/v1/targets/late").await;
    assert_eq!(r.status, 404, "{}", r.text);
}
