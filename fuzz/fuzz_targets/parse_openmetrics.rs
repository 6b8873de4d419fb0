//! `parse_openmetrics`: arbitrary bytes; see `llm_metrics_fuzz::checks` for what is asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_metrics_fuzz::checks;
use llm_metrics_guest::text::Format;

fuzz_target!(|data: &[u8]| {
    checks::parse_both_modes(data, Format::OpenMetrics);
});
