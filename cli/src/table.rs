//! `--output table`: the snapshot for a person, one figure per line.

use std::fmt::Write;

use llm_metrics_host::json::timestamp;
use llm_metrics_host::wit::mapper::{Distribution, EngineInfo, MetricValue, Snapshot};

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
        num(d.p50),
        num(d.p90),
        num(d.p99)
    )
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
        ("prompt tokens".into(), num(s.totals.prompt_tokens)),
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
    for g in &s.engine_metrics {
        for f in &g.fields {
            let value = match &f.value {
                MetricValue::Number(n) => fmt(*n),
                MetricValue::Distribution(d) => dist(d),
                MetricValue::ByLabel((label, values)) => {
                    let parts: Vec<String> = values
                        .iter()
                        .map(|v| format!("{}={}", v.key, fmt(v.value)))
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
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
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
