//! `differential`: a generated valid exposition; fast parser == oracle == generator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_metrics_fuzz::{differential, expo::Doc};

fuzz_target!(|doc: Doc| {
    differential::check(&doc);
});
