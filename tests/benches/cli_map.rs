//! `map` of a 10 MiB exposition through the CLI, as a user runs it (issue
//! 20): the whole `llm-metrics map FILE` process (start, the compiled
//! component from its cache, reading the file, the sandboxed parse and map,
//! the JSON written out) against the best native peer of the parse
//! benchmark, nom-openmetrics, parsing the same text in-process (no process,
//! no file, no mapping). Both are timed in one run; the figure is the ratio
//! of their throughputs.
//!
//! `cargo build --release -p llm-metrics && cargo bench -p llm-metrics-tests --bench cli_map [-- RUNS]`
//! (default 15 runs each). Without the release CLI beside this benchmark's
//! binary it says so and stops. The CLI's cache is a directory of its own
//! (`XDG_CACHE_HOME`), warmed by one run first.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use llm_metrics_guest::text;

fn median(mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// `target/release/llm-metrics`, beside this binary's `deps/`.
fn cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("llm-metrics");
    path.is_file().then_some(path)
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let Some(cli) = cli() else {
        println!("SKIPPED: no release CLI; run `cargo build --release -p llm-metrics` first");
        return;
    };
    let body = text::synth::vllm_exposition(10 << 20);
    let samples = body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let dir = std::env::temp_dir().join(format!("llm-metrics-cli-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vllm-10m.prom");
    std::fs::write(&file, &body).unwrap();

    let run_cli = || {
        let t = Instant::now();
        let out = Command::new(&cli)
            .arg("map")
            .arg(&file)
            .env("XDG_CACHE_HOME", &dir)
            .output()
            .expect("the CLI runs");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON snapshot");
        assert_eq!(v["engine"], "vllm", "{v}");
        ms
    };
    run_cli(); // compiles the component into the cache
    let mut cli_ms = Vec::with_capacity(runs);
    let mut peer_ms = Vec::with_capacity(runs);
    // Alternate the two, so a drift of the machine touches both.
    for _ in 0..runs {
        cli_ms.push(run_cli());
        let t = Instant::now();
        let (rest, families) =
            nom_openmetrics::parser::prometheus(black_box(&body)).expect("parses");
        assert!(rest.is_empty());
        let parsed: usize = families.iter().map(|f| f.samples.len()).sum();
        assert_eq!(parsed, samples);
        drop(black_box(families));
        peer_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (c, p) = (median(cli_ms), median(peer_ms));
    let mb = body.len() as f64 / 1e6;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "map of a {}-byte vLLM exposition, median of {runs} runs each; load average {}",
        body.len(),
        load.trim()
    );
    println!("| row | ms | MB/s |");
    println!("|---|---:|---:|");
    println!(
        "| `llm-metrics map FILE`, whole process | {c:.1} | {:.0} |",
        mb / c * 1e3
    );
    println!(
        "| nom-openmetrics, parse only, in-process | {p:.1} | {:.0} |",
        mb / p * 1e3
    );
    println!(
        "CLI / peer throughput: {:.2}x (issue 20's target: >= 1.5x)",
        p / c
    );
    let _ = std::fs::remove_dir_all(&dir);
}
