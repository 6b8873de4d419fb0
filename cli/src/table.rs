//! `--output table`: a snapshot or a window for a person, one figure per line.

use std::fmt::Write;

use llm_metrics_host::json::timestamp;
use llm_metrics_host::wit::mapper::{
    Bounds, Distribution, EngineGroup, EngineInfo, MetricValue, Snapshot, WindowStats,
};

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), fmt)
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.6}")
    }
}

fn names(list: Option<&[String]>) -> String {
    list.map_or_else(|| "-".to_string(), |l| l.join(", "))
}

fn dist(d: &Distribution) -> String {
    format!(
        "count {}  sum {}  mean {}  p50 {}  p90 {}  p99 {}",
        fmt(d.count),
        fmt(d.sum),
        num(d.mean),
        quantile(d.p50, d.p50_bucket),
        quantile(d.p90, d.p90_bucket),
        quantile(d.p99, d.p99_bucket)
    )
}

/// A quantile as precise as its bucket makes it: `≤ 0.3` when it lies in the
/// first bucket (the interpolated value, e.g. 0.15, would be invented), `>
/// 10` in the `+Inf` bucket, else the interpolated value (the JSON keeps it
/// and the bucket).
fn quantile(v: Option<f64>, bucket: Option<Bounds>) -> String {
    match bucket {
        Some(b) if b.upper == f64::INFINITY => format!("> {}", b.lower),
        Some(b) if b.lower <= 0.0 => format!("≤ {}", b.upper),
        _ => num(v),
    }
}

/// Render `s` as aligned `name  value` lines.
pub fn snapshot(s: &Snapshot) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("instance".into(), s.instance_id.clone()),
        ("endpoint".into(), s.endpoint.clone()),
        (
            "content type".into(),
            s.content_type.clone().unwrap_or_else(|| "-".into()),
        ),
        ("engine".into(), s.engine.clone()),
        ("collected at".into(), timestamp(s.collected_at_ms)),
        ("models".into(), s.model_names.join(", ")),
        ("requests running".into(), num(s.load.requests_running)),
        ("requests waiting".into(), num(s.load.requests_waiting)),
        ("kv cache usage".into(), num(s.load.kv_cache_usage)),
        (
            "kv cache capacity (tokens)".into(),
            num(s.load.kv_cache_capacity_tokens),
        ),
        (
            "running lora adapters".into(),
            names(s.load.running_lora_adapters.as_deref()),
        ),
        (
            "waiting lora adapters".into(),
            names(s.load.waiting_lora_adapters.as_deref()),
        ),
        ("max lora".into(), num(s.load.max_lora)),
        (
            "data-parallel ranks".into(),
            num(s.load.data_parallel_ranks.map(f64::from)),
        ),
        (
            "requests succeeded".into(),
            num(s.totals.requests_succeeded),
        ),
        ("requests failed".into(), num(s.totals.requests_failed)),
        ("requests rejected".into(), num(s.totals.requests_rejected)),
        ("prompt tokens".into(), num(s.totals.prompt_tokens)),
        (
            "prompt tokens cached".into(),
            num(s.totals.prompt_tokens_cached),
        ),
        ("generation tokens".into(), num(s.totals.generation_tokens)),
        ("preemptions".into(), num(s.totals.preemptions)),
    ];
    let l = &s.latency;
    for (name, d) in [
        ("ttft (s)", &l.time_to_first_token_seconds),
        ("inter-token (s)", &l.inter_token_latency_seconds),
        ("e2e latency (s)", &l.e2e_request_latency_seconds),
        ("queue time (s)", &l.queue_time_seconds),
    ] {
        rows.push((name.into(), d.as_ref().map_or_else(|| "-".into(), dist)));
    }
    rows.extend(engine_rows(&s.engine_metrics, ""));
    aligned(rows)
}

/// One row per engine-specific field (`suffix` after each value, e.g. `/s`).
fn engine_rows(groups: &[EngineGroup], suffix: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for g in groups {
        for f in &g.fields {
            let value = match &f.value {
                MetricValue::Number(n) => format!("{}{suffix}", fmt(*n)),
                MetricValue::Distribution(d) => dist(d),
                MetricValue::ByLabel((label, values)) => {
                    let parts: Vec<String> = values
                        .iter()
                        .map(|v| format!("{}={}{suffix}", v.key, fmt(v.value)))
                        .collect();
                    format!("by {label}: {}", parts.join(" "))
                }
                MetricValue::Names(names) => names.join(", "),
            };
            rows.push((
                format!("{}.{}", g.name, f.name),
                format!("{value}  [{}]", f.metric),
            ));
        }
    }
    rows
}

fn aligned(rows: Vec<(String, String)>) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}

/// The latest load, drawn above the window in the live view (`collect
/// --interval --output table`): what an operator watches, and how old the
/// scrape was at `now_ms` (ms since the epoch).
pub fn load(s: &Snapshot, now_ms: u64) -> String {
    let age = now_ms.saturating_sub(s.collected_at_ms);
    let age = if age < 1000 {
        format!("{age} ms")
    } else {
        format!("{:.1} s", age as f64 / 1000.0)
    };
    let kv = s
        .load
        .kv_cache_usage
        .map_or_else(|| "-".to_string(), |u| format!("{:.1} %", u * 100.0));
    aligned(vec![
        (
            "latest scrape".into(),
            format!("{} ({age} ago)", timestamp(s.collected_at_ms)),
        ),
        ("models".into(), s.model_names.join(", ")),
        ("requests running".into(), num(s.load.requests_running)),
        ("requests waiting".into(), num(s.load.requests_waiting)),
        ("kv cache usage".into(), kv),
    ])
}

/// Render a window: rates per second, latency over the window.
pub fn window(w: &WindowStats) -> String {
    let per_s = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    let mut rows: Vec<(String, String)> = vec![
        ("instance".into(), w.instance_id.clone()),
        ("engine".into(), w.engine.clone()),
        (
            "window".into(),
            format!(
                "{} to {} ({} s)",
                timestamp(w.start_ms),
                timestamp(w.end_ms),
                fmt(w.seconds)
            ),
        ),
        (
            "restarted".into(),
            if w.restarted {
                format!("yes: {}", w.resets.join("; "))
            } else {
                "no".into()
            },
        ),
        (
            "requests succeeded /s".into(),
            per_s(w.rates.requests_succeeded),
        ),
        ("requests failed /s".into(), per_s(w.rates.requests_failed)),
        (
            "requests rejected /s".into(),
            per_s(w.rates.requests_rejected),
        ),
        ("prompt tokens /s".into(), per_s(w.rates.prompt_tokens)),
        (
            "prompt tokens cached /s".into(),
            per_s(w.rates.prompt_tokens_cached),
        ),
        (
            "generation tokens /s".into(),
            per_s(w.rates.generation_tokens),
        ),
        ("preemptions /s".into(), per_s(w.rates.preemptions)),
    ];
    let l = &w.latency;
    for (name, d) in [
        ("ttft (s)", &l.time_to_first_token_seconds),
        ("inter-token (s)", &l.inter_token_latency_seconds),
        ("e2e latency (s)", &l.e2e_request_latency_seconds),
        ("queue time (s)", &l.queue_time_seconds),
    ] {
        rows.push((name.into(), d.as_ref().map_or_else(|| "-".into(), dist)));
    }
    rows.extend(engine_rows(&w.engine_metrics, "/s"));
    aligned(rows)
}

/// Render the engine list, one block per engine.
pub fn engines(list: &[EngineInfo]) -> String {
    let mut out = String::new();
    for e in list {
        let _ = writeln!(out, "{}  {} ({})", e.id, e.name, e.versions);
        let _ = writeln!(out, "  detected by: {}", e.prefixes.join(", "));
        for a in &e.aliases {
            let _ = writeln!(out, "  alias: {a}");
        }
    }
    out
}
