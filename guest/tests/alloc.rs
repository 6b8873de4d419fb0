//! Zero heap allocations per entry: iterating a whole vLLM exposition (no
//! escapes) with the pull parser allocates nothing, and `parse` allocates per
//! family, not per sample. Counted by a thread-local counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use llm_metrics_guest::text::{Format, ParseOptions, Parser, parse};

// The generator is self-contained; include it rather than require a feature.
#[path = "../src/text/synth.rs"]
#[allow(dead_code)]
mod synth;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: defers to `System`; the counter is a const-initialised thread-local
// `Cell` (no destructor, no allocation), so counting cannot recurse.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCS.with(Cell::get);
    let out = f();
    (ALLOCS.with(Cell::get) - before, out)
}

#[test]
fn pull_parser_allocates_nothing_per_entry() {
    let text = synth::vllm_exposition(2 << 20);
    assert!(!text.contains('\\'), "the fixture must have no escapes");
    for format in [Format::Auto, Format::Prometheus, Format::OpenMetrics] {
        for strict in [false, true] {
            let options = ParseOptions {
                format,
                strict,
                content_type: None,
            };
            let mut parser = Parser::new(text.as_bytes(), &options);
            let (n, entries) = allocations(|| {
                let mut entries = 0usize;
                for e in parser.by_ref() {
                    // Strict OpenMetrics rejects 0.0.4 text; stop at that error.
                    if e.is_err() {
                        break;
                    }
                    entries += 1;
                }
                entries
            });
            assert!(
                entries > 1000 || format == Format::OpenMetrics,
                "{format:?} {strict}: {entries}"
            );
            assert_eq!(
                n, 0,
                "{format:?} strict={strict}: {n} allocations over {entries} entries"
            );
        }
    }
}

#[test]
fn parse_allocates_per_family_not_per_sample() {
    let text = synth::vllm_exposition(2 << 20);
    let (n, e) = allocations(|| parse(text.as_bytes(), &ParseOptions::default()).unwrap());
    let samples: usize = e.families.iter().map(|f| f.samples.len()).sum();
    let families = e.families.len();
    // Vec doubling per family plus the name index.
    assert!(
        n < families * 20 + 40,
        "{n} allocations for {families} families, {samples} samples"
    );
    assert!(samples > 10_000);
}
