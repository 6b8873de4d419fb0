//! The memory bound: a configuration whose concurrent calls could hold more
//! plugin memory than `--memory-total-mib` is refused at start-up, with the
//! numbers; the pooling allocator serves collections like the default.

mod common;

use std::process::Stdio;

use common::{BUDGET, Serve, Upstream, fixture};

#[tokio::test]
async fn a_config_over_the_memory_total_is_refused_with_the_numbers() {
    let out = tokio::time::timeout(
        BUDGET,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_llm-metrics-serve"))
            .args(["--listen", "127.0.0.1:0", "--concurrency", "8"])
            .args(["--adhoc-concurrency", "4", "--memory-mib", "256"])
            .args(["--memory-total-mib", "2048"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("exits in time")
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "it must not listen");
    let err = String::from_utf8_lossy(&out.stderr);
    // 8 + 4 + the default 4 window computations.
    for needle in [
        "8 scrapes",
        "4 ad-hoc",
        "4 window",
        "256 MiB each",
        "4096 MiB",
        "2048",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
}

#[tokio::test]
async fn instances_collect_pooled_or_on_demand_and_the_bound_admits_an_exact_fit() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    // Pooling is the default; `--on-demand` opts out; `--pooling`, the
    // flag from before pooling was the default, still starts.
    for allocator in [None, Some("--on-demand"), Some("--pooling")] {
        // 2 + 2 + 1 calls at 64 MiB: exactly 320 MiB.
        let mut args = vec![
            "--allow",
            "127.0.0.1",
            "--concurrency",
            "2",
            "--adhoc-concurrency",
            "2",
            "--window-concurrency",
            "1",
            "--memory-mib",
            "64",
            "--memory-total-mib",
            "320",
        ];
        args.extend(allocator);
        let serve = Serve::start(&args).await;
        collects(&serve, &upstream, 6, &format!("{allocator:?}")).await;
    }
}

#[tokio::test]
async fn without_address_space_for_the_pool_it_allocates_on_demand_and_collects() {
    let upstream = Upstream::start(fixture("vllm_v1.prom")).await;
    // 16 GiB of address space: enough for a few on-demand instances (each
    // reserves ~4 GiB), not for the pool's slots reserved up front.
    let serve = Serve::start_with_address_space_limit(
        16 << 20,
        &["--allow", "127.0.0.1", "--memory-mib", "64"],
    )
    .await;
    collects(&serve, &upstream, 3, "under ulimit -v").await;
    let log = serve.log.lock().unwrap().clone();
    assert!(
        log.contains("trying on-demand allocation"),
        "no fallback logged: {log}"
    );
}

/// `n` ad-hoc collects of the upstream's vLLM body through `serve`, each a
/// success.
async fn collects(serve: &Serve, upstream: &Upstream, n: usize, what: &str) {
    for i in 0..n {
        let body = format!(
            r#"{{"instance_id": "p{i}", "endpoint": "{}"}}"#,
            upstream.url("/metrics")
        );
        let r = serve.post("/api/v1/collect/vllm", &body).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text);
        let v = r.json();
        assert_eq!(v["success"], true, "{what}: {v}");
        assert_eq!(v["metrics"]["engine"], "vllm");
    }
}
