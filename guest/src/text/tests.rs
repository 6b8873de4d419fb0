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

/// `cargo test --release -p llm-metrics-guest --lib hundred_mb -- --ignored --nocapture`
#[test]
#[ignore = "100 MB inputs; run in release"]
fn hundred_mb_lines() {
    const N: usize = 100 << 20;
    let shapes: Vec<(&str, Vec<u8>)> = vec![
        ("name", [vec![b'a'; N], b" 1\n".to_vec()].concat()),
        (
            "label value",
            [b"a{b=\"".to_vec(), vec![b'x'; N], b"\"} 1\n".to_vec()].concat(),
        ),
        (
            "escapes",
            [
                b"a{b=\"".to_vec(),
                b"\\\\".repeat(N / 2),
                b"\"} 1\n".to_vec(),
            ]
            .concat(),
        ),
        ("unterminated", [b"a{b=\"".to_vec(), vec![b'x'; N]].concat()),
        (
            "digits",
            [b"a ".to_vec(), vec![b'7'; N], b"\n".to_vec()].concat(),
        ),
        ("labels", {
            let mut v = b"a{".to_vec();
            let mut i = 0;
            while v.len() < N {
                v.extend_from_slice(format!("l{i}=\"v\",").as_bytes());
                i += 1;
            }
            v.extend_from_slice(b"} 1\n");
            v
        }),
        ("blanks", vec![b' '; N]),
        (
            "exemplar",
            [
                b"a_total 1 # {".to_vec(),
                b"x=\"y\",".repeat(N / 6),
                b"} 1\n# EOF\n".to_vec(),
            ]
            .concat(),
        ),
    ];
    for (what, input) in &shapes {
        for format in [Format::Prometheus, Format::OpenMetrics] {
            for strict in [false, true] {
                let options = ParseOptions {
                    format,
                    strict,
                    content_type: None,
                };
                let t = Instant::now();
                let r = parse(input, &options).map(|e| e.families.len());
                let dt = t.elapsed();
                println!(
                    "{what:>12} {format:?} strict={strict}: {:?} in {dt:?}",
                    r.map_err(|e| e.kind)
                );
                assert!(dt.as_secs_f64() < 5.0, "{what} took {dt:?}");
            }
        }
    }
}
