//! `map_vllm`: arbitrary bytes; see `llm_metrics_fuzz::checks` for what is asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_metrics_fuzz::checks;

fuzz_target!(|data: &[u8]| {
    checks::map_engine(data, "vllm");
});
