//! Unit tests that need crate internals: the naive oracle parser and the
//! native throughput check.

use std::time::Instant;

use super::*;

/// `cargo test --release -p llm-metrics-guest --lib throughput -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release"]
fn throughput() {
    let text = synth::vllm_exposition(10 << 20);
    let samples: usize = text.lines().filter(|l| !l.starts_with('#')).count();
    println!("{} bytes, {} samples", text.len(), samples);
    for strict in [false, true] {
        let options = ParseOptions {
            strict,
            ..ParseOptions::default()
        };
        let mut best = f64::MAX;
        for _ in 0..15 {
            let t = Instant::now();
            let e = parse(text.as_bytes(), &options).expect("synthetic exposition parses");
            let dt = t.elapsed().as_secs_f64();
            assert_eq!(
                e.families.iter().map(|f| f.samples.len()).sum::<usize>(),
                samples
            );
            best = best.min(dt);
        }
        println!(
            "strict={strict}: {:.0} MB/s (best of 15)",
            text.len() as f64 / best / 1e6
        );
    }
    let t = Instant::now();
    let n = Parser::new(text.as_bytes(), &ParseOptions::default()).count();
    println!(
        "Parser iteration only: {:.0} MB/s ({n} entries)",
        text.len() as f64 / t.elapsed().as_secs_f64() / 1e6
    );
}

#[test]
#[ignore = "writes /tmp/vllm.prom for inspection"]
fn dump_synth() {
    std::fs::write("/tmp/vllm.prom", synth::vllm_exposition(10 << 20)).unwrap();
}
