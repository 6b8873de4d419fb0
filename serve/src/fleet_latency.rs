//! Fleet-wide latency per model: the instances' windowed distributions
//! summed where their bucket layouts agree, by the component's own code.
//!
//! Invariant: the arithmetic (per-second rates summed per `le`, quantiles
//! interpolated in the summed buckets) is the guest crate's
//! ([`llm_metrics_guest::distribution::merge_windows`], built natively and
//! run on windows the plugin computed); this module only converts bucket
//! lists between the host's types and the guest's ([`crate::native`]) and
//! names the instances.
//! An instance whose layout differs is listed under `mismatched`, never
//! mixed in.

use llm_metrics_guest::distribution::{self as guest, WindowPart};
use llm_metrics_guest::snapshot as guest_types;
use llm_metrics_host::wit::mapper::{Distribution, Latency, WindowStats};
use serde_json::{Map, Value, json};

use crate::native;

/// Picks one distribution out of a window's latency.
type Pick = fn(&Latency) -> Option<&Distribution>;

/// The latency distributions, by their name in the window document.
const DISTRIBUTIONS: [(&str, Pick); 4] = [
    ("time_to_first_token_seconds", |l| {
        l.time_to_first_token_seconds.as_ref()
    }),
    ("inter_token_latency_seconds", |l| {
        l.inter_token_latency_seconds.as_ref()
    }),
    ("e2e_request_latency_seconds", |l| {
        l.e2e_request_latency_seconds.as_ref()
    }),
    ("queue_time_seconds", |l| l.queue_time_seconds.as_ref()),
];

/// The fleet's latency over the windows of `instances` (id, window): per
/// distribution that at least one instance has, `{"instances": [ids
/// summed], "mismatched": [ids left out], "per_second": distribution |
/// null}`, where the distribution's `count`, `sum` and `buckets` are
/// per-second rates summed over the instances and its quantiles and mean
/// those of the sum.
pub fn latency(instances: &[(&str, &WindowStats)]) -> Value {
    let mut out = Map::new();
    for (name, pick) in DISTRIBUTIONS {
        let present: Vec<(&str, &Distribution, f64)> = instances
            .iter()
            .filter_map(|(id, w)| pick(&w.latency).map(|d| (*id, d, w.seconds)))
            .collect();
        if present.is_empty() {
            continue;
        }
        let buckets: Vec<Vec<guest_types::Bucket>> = present
            .iter()
            .map(|(_, d, _)| native::buckets(&d.buckets))
            .collect();
        let parts: Vec<WindowPart<'_>> = present
            .iter()
            .zip(&buckets)
            .map(|((_, d, seconds), buckets)| WindowPart {
                buckets,
                count: d.count,
                sum: d.sum,
                seconds: *seconds,
            })
            .collect();
        let merged = guest::merge_windows(&parts);
        let ids =
            |indices: &[usize]| -> Vec<&str> { indices.iter().map(|&i| present[i].0).collect() };
        out.insert(
            name.to_string(),
            json!({
                "instances": ids(&merged.members),
                "mismatched": ids(&merged.mismatched),
                "per_second": merged
                    .distribution
                    .as_ref()
                    .map_or(Value::Null, |d| {
                        llm_metrics_host::json::distribution(&native::wit_distribution(d))
                    }),
            }),
        );
    }
    Value::Object(out)
}
