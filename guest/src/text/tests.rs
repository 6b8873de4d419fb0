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
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    for strict in [false, true] {
        let options = ParseOptions {
            strict,
            ..ParseOptions::default()
        };
        let mut best = f64::MAX;
        for _ in 0..rounds {
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
            "strict={strict}: {:.0} MB/s (best of {rounds})",
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

#[test]
#[ignore = "profiling loop"]
fn profile_loop() {
    let size: usize = std::env::var("SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10 << 20);
    let text = synth::vllm_exposition(size);
    let strict = std::env::var("STRICT").is_ok();
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    for _ in 0..iters {
        let e = parse(
            text.as_bytes(),
            &ParseOptions {
                strict,
                ..ParseOptions::default()
            },
        )
        .unwrap();
        std::hint::black_box(e);
    }
}

#[test]
#[ignore = "timing breakdown"]
fn breakdown() {
    let text = synth::vllm_exposition(10 << 20);
    let b = text.as_bytes();
    let mb = b.len() as f64 / 1e6;
    let best = |f: &dyn Fn() -> usize| {
        let mut best = f64::MAX;
        let mut r = 0;
        for _ in 0..40 {
            let t = Instant::now();
            r = std::hint::black_box(f());
            best = best.min(t.elapsed().as_secs_f64());
        }
        (mb / best, r)
    };
    println!(
        "from_utf8 {:?}",
        best(&|| std::str::from_utf8(b).unwrap().len())
    );
    println!(
        "memchr lines {:?}",
        best(&|| memchr::memchr_iter(b'\n', b).count())
    );
    println!(
        "parser {:?}",
        best(&|| Parser::new(b, &ParseOptions::default()).count())
    );
    println!(
        "parse {:?}",
        best(&|| parse(b, &ParseOptions::default()).unwrap().families.len())
    );
}
