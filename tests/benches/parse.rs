//! Parse throughput on one generated 10 MiB vLLM-shaped exposition: our parser
//! natively (lenient and strict), our parser inside the component through the
//! host, and the peer parsers published on crates.io.
//!
//! Every timed closure checks a cheap fact about its own result (csv's habit),
//! so a faster-but-wrong parse fails the run instead of winning it. The
//! expected figures are counted from the text by line, not by any parser.
//!
//! Run with `cargo bench -p llm-metrics-tests --bench parse`; `BENCHMARKS.md`
//! records the numbers and what each peer builds per sample.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use llm_metrics_guest::engines;
use llm_metrics_guest::text::{self, Format, ParseOptions};
use llm_metrics_host::plugin::shared_engine;
use llm_metrics_host::wit::types as wit;
use llm_metrics_host::{EMBEDDED_COMPONENT, Limits, Plugin};
use wasmtime::component::Component;

/// Size of the generated input.
const INPUT_BYTES: usize = 10 << 20;

/// The input and the figures every parser must reproduce.
struct Input {
    text: String,
    /// Sample lines (every non-empty line not starting with `#`).
    samples: usize,
    /// `# TYPE` lines: one per family.
    families: usize,
    /// Samples left when each histogram's `_bucket`/`_sum` lines fold into one
    /// value per label set (the `_count` line stands for it), as
    /// openmetrics-parser models them.
    folded: usize,
    /// Sum of `vllm:num_requests_running`, what the vLLM mapper reports as
    /// `load.requests-running`.
    running: f64,
}

impl Input {
    fn generate() -> Self {
        let text = text::synth::vllm_exposition(INPUT_BYTES);
        let sample_lines = || {
            text.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
        };
        let samples = sample_lines().count();
        let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let bucket_or_sum = sample_lines()
            .filter(|l| {
                let name = &l[..l.find(['{', ' ']).unwrap_or(l.len())];
                name.ends_with("_bucket") || name.ends_with("_sum")
            })
            .count();
        let running = sample_lines()
            .filter(|l| l.starts_with("vllm:num_requests_running{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        Input {
            running,
            samples,
            families,
            folded: samples - bucket_or_sum,
            text,
        }
    }
}

fn native(exposition: &text::Exposition<'_>) -> (usize, usize) {
    let samples = exposition.families.iter().map(|f| f.samples.len()).sum();
    (exposition.families.len(), samples)
}

/// The families as owned WIT records: what the host holds after the
/// component's result is lifted out of the sandbox, built natively.
fn to_wit(exposition: &text::Exposition<'_>) -> Vec<wit::Family> {
    let labels = |l: &text::Labels<'_>| -> Vec<wit::Label> {
        l.iter()
            .map(|(name, value)| wit::Label {
                name: name.into_owned(),
                value: value.into_owned(),
            })
            .collect()
    };
    exposition
        .families
        .iter()
        .map(|f| wit::Family {
            name: f.name.to_string(),
            // An enum: which variant does not change the cost.
            type_: wit::MetricType::Untyped,
            help: f.help.as_deref().map(str::to_string),
            unit: f.unit.as_deref().map(str::to_string),
            samples: f
                .samples
                .iter()
                .map(|s| wit::Sample {
                    name: s.name.to_string(),
                    labels: labels(&s.labels),
                    value: s.value,
                    timestamp_ms: s.timestamp_ms,
                    exemplar: s.exemplar.as_ref().map(|e| wit::Exemplar {
                        labels: labels(&e.labels),
                        value: e.value,
                        timestamp_ms: e.timestamp_ms,
                    }),
                })
                .collect(),
        })
        .collect()
}

fn component(parsed: &llm_metrics_host::wit::parser::Parsed) -> (usize, usize) {
    let samples = parsed.families.iter().map(|f| f.samples.len()).sum();
    (parsed.families.len(), samples)
}

/// Peers that cannot read this input are not timed; this says, on every run,
/// what they make of it, so the note in `BENCHMARKS.md` stays checkable.
fn untimed_peers(input: &Input) {
    let lines = input.text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("never fails");
    eprintln!(
        "not timed: prometheus-parse returns {} of {} samples ({} families' HELP): \
         its name regex `\\w+` skips every `vllm:` line",
        scrape.samples.len(),
        input.samples,
        scrape.docs.len(),
    );
}

fn parse(c: &mut Criterion) {
    let input = Input::generate();
    eprintln!(
        "input: {} bytes, {} families, {} samples",
        input.text.len(),
        input.families,
        input.samples
    );
    untimed_peers(&input);
    let text = input.text.as_str();
    let bytes = text.as_bytes();
    let want = (input.families, input.samples);

    let mut g = c.benchmark_group("parse_vllm_10MiB");
    g.throughput(Throughput::Bytes(bytes.len() as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for (id, strict) in [("native_lenient", false), ("native_strict", true)] {
        let options = ParseOptions {
            format: Format::Prometheus,
            strict,
            content_type: None,
        };
        g.bench_function(id, |b| {
            b.iter(|| {
                let exposition = text::parse(black_box(bytes), &options).expect("parses");
                assert_eq!(native(&exposition), want);
                exposition
            })
        });
    }

    let lenient = ParseOptions {
        format: Format::Prometheus,
        strict: false,
        content_type: None,
    };
    // Reference for `component_map_vllm`: the same parse and map, natively,
    // in one pass (`engines::map_text`, what the component's `map` runs).
    g.bench_function("native_map_vllm", |b| {
        b.iter(|| {
            let snapshot = engines::map_text(black_box(bytes), &lenient, "vllm")
                .expect("parses")
                .expect("maps");
            assert_eq!(snapshot.load.requests_running, Some(input.running));
            snapshot
        })
    });

    // Reference for the component rows: the same owned records, no sandbox.
    g.bench_function("native_lenient_to_wit", |b| {
        b.iter(|| {
            let exposition = text::parse(black_box(bytes), &lenient).expect("parses");
            let families = to_wit(&exposition);
            let samples: usize = families.iter().map(|f| f.samples.len()).sum();
            assert_eq!((families.len(), samples), want);
            families
        })
    });

    // The component: compiled once; every call instantiates it in a fresh
    // store, copies the text in and the families out as WIT values.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let engine = shared_engine().expect("engine");
    let compiled = Component::from_binary(&engine, EMBEDDED_COMPONENT).expect("component");
    let plugin = Plugin::from_component(&engine, &compiled, Limits::default()).expect("links");
    for (id, strict) in [("component_lenient", false), ("component_strict", true)] {
        let options = wit::ParseOptions {
            format: wit::Format::Prometheus,
            strict,
            content_type: None,
        };
        g.bench_function(id, |b| {
            b.iter(|| {
                let parsed = rt
                    .block_on(plugin.parse(black_box(bytes), &options))
                    .expect("no trap")
                    .expect("parses");
                assert_eq!(component(&parsed), want);
                parsed
            })
        });
    }

    // Parse and map inside the component, returning only a small snapshot:
    // the sandbox's parsing cost without lifting every sample out.
    g.bench_function("component_map_vllm", |b| {
        b.iter(|| {
            let snapshot = rt
                .block_on(plugin.map(black_box(bytes), None, "vllm", "bench"))
                .expect("no trap")
                .expect("maps");
            assert_eq!(snapshot.load.requests_running, Some(input.running));
            snapshot
        })
    });

    // Peers. Each builds its own model; the fact checked is what that model
    // can show: samples per family, or folded series for openmetrics-parser.
    g.bench_function("nom-openmetrics", |b| {
        b.iter(|| {
            let (rest, families) =
                nom_openmetrics::parser::prometheus(black_box(text)).expect("parses");
            assert!(rest.is_empty());
            let samples: usize = families.iter().map(|f| f.samples.len()).sum();
            assert_eq!(samples, input.samples);
            families
        })
    });
    g.bench_function("prom_text_format_parser", |b| {
        b.iter(|| {
            let scrape = prom_text_format_parser::Scrape::parse(black_box(text)).expect("parses");
            let samples: usize = scrape.metrics.iter().map(|m| m.samples.len()).sum();
            assert_eq!((scrape.metrics.len(), samples), want);
            scrape
        })
    });
    g.bench_function("prometheus-exposition-format-rs", |b| {
        b.iter(|| {
            let metrics =
                prometheus_exposition_format_rs::parse_complete(black_box(text)).expect("parses");
            let samples: usize = metrics.iter().map(|m| m.samples.len()).sum();
            assert_eq!(samples, input.samples);
            metrics
        })
    });
    g.bench_function("openmetrics-parser", |b| {
        b.iter(|| {
            let exposition =
                openmetrics_parser::prometheus::parse_prometheus(black_box(text)).expect("parses");
            let folded: usize = exposition
                .families
                .values()
                .map(|f| f.iter_samples().count())
                .sum();
            assert_eq!(
                (exposition.families.len(), folded),
                (input.families, input.folded)
            );
            exposition
        })
    });

    // The compact result (`parse-compact`): the same families as flat
    // records with spans into the text, lifted out and checked by the host's
    // view, which then reads every name and label as a `&str` of the text.
    let compact_options = wit::ParseOptions {
        format: wit::Format::Prometheus,
        strict: false,
        content_type: None,
    };
    g.bench_function("component_parse_compact", |b| {
        b.iter(|| {
            let raw = rt
                .block_on(plugin.parse_compact(black_box(bytes), &compact_options))
                .expect("no trap")
                .expect("parses");
            let view = llm_metrics_host::CompactExposition::new(bytes, raw).expect("well formed");
            assert_eq!((view.families().len(), view.sample_count()), want);
            view
        })
    });
    // Reference for `component_parse_compact`: the same records, no sandbox.
    let native_options = ParseOptions {
        format: Format::Prometheus,
        strict: false,
        content_type: None,
    };
    g.bench_function("native_lenient_to_compact", |b| {
        b.iter(|| {
            let (_, compact) = llm_metrics_guest::compact::parse(black_box(bytes), &native_options)
                .expect("parses");
            assert_eq!((compact.families.len(), compact.samples.len()), want);
            compact
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
