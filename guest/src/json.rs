//! The snapshot and engine list as JSON, for the `wasi:http` service export.
//!
//! Invariant: the documents are the ones `llm-metrics map`/`engines` print
//! (the host's `json` module): same field names, `null` (never 0) for what is
//! not exposed, non-finite numbers as `"NaN"`, `"+Inf"`, `"-Inf"`. The e2e
//! test `service.rs` compares both for every fixture, so the two cannot drift.

use serde_json::{Map, Value, json};

use crate::bindings::wit;
use crate::bindings::wit_c::{Distribution, EngineInfo, MetricValue, Snapshot};

/// A number, or its exposition spelling when it is not finite.
fn number(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("+Inf")
    } else if v == f64::NEG_INFINITY {
        json!("-Inf")
    } else {
        json!(v)
    }
}

fn opt_number(v: Option<f64>) -> Value {
    v.map_or(Value::Null, number)
}

fn labels(labels: &[wit::Label]) -> Value {
    let mut map = Map::with_capacity(labels.len());
    for l in labels {
        map.insert(l.name.clone(), Value::String(l.value.clone()));
    }
    Value::Object(map)
}

fn metric_type(t: wit::MetricType) -> &'static str {
    match t {
        wit::MetricType::Counter => "counter",
        wit::MetricType::Gauge => "gauge",
        wit::MetricType::Histogram => "histogram",
        wit::MetricType::Gaugehistogram => "gaugehistogram",
        wit::MetricType::Summary => "summary",
        wit::MetricType::Info => "info",
        wit::MetricType::Stateset => "stateset",
        wit::MetricType::Unknown => "unknown",
        wit::MetricType::Untyped => "untyped",
    }
}

fn sample(s: &wit::Sample) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    m.insert("labels".into(), labels(&s.labels));
    m.insert("value".into(), number(s.value));
    if let Some(ts) = s.timestamp_ms {
        m.insert("timestamp_ms".into(), json!(ts));
    }
    if let Some(e) = &s.exemplar {
        let mut x = Map::new();
        x.insert("labels".into(), labels(&e.labels));
        x.insert("value".into(), number(e.value));
        if let Some(ts) = e.timestamp_ms {
            x.insert("timestamp_ms".into(), json!(ts));
        }
        m.insert("exemplar".into(), Value::Object(x));
    }
    Value::Object(m)
}

fn family(f: &wit::Family) -> Value {
    json!({
        "name": f.name,
        "type": metric_type(f.type_),
        "help": f.help,
        "unit": f.unit,
        "samples": f.samples.iter().map(sample).collect::<Vec<_>>(),
    })
}

fn distribution(d: &Distribution) -> Value {
    json!({
        "count": number(d.count),
        "sum": number(d.sum),
        "mean": opt_number(d.mean),
        "p50": opt_number(d.p50),
        "p90": opt_number(d.p90),
        "p99": opt_number(d.p99),
        "buckets": d.buckets.iter().map(|b| json!({
            "le": number(b.le),
            "count": number(b.count),
        })).collect::<Vec<_>>(),
    })
}

/// `[{"id","name","versions","prefixes":[…],"aliases":[…]}]`.
pub fn engines(list: &[EngineInfo]) -> Value {
    Value::Array(
        list.iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "name": e.name,
                    "versions": e.versions,
                    "prefixes": e.prefixes,
                    "aliases": e.aliases,
                })
            })
            .collect(),
    )
}

/// RFC 3339 UTC with milliseconds.
fn timestamp(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

fn metric_value(v: &MetricValue) -> (Value, Option<&str>) {
    match v {
        MetricValue::Number(n) => (number(*n), None),
        MetricValue::Distribution(d) => (distribution(d), None),
        MetricValue::ByLabel((label, values)) => {
            let mut m = Map::new();
            for lv in values {
                m.insert(lv.key.clone(), number(lv.value));
            }
            (Value::Object(m), Some(label.as_str()))
        }
        MetricValue::Names(names) => (json!(names), None),
    }
}

/// The snapshot document (README, "Snapshot fields").
pub fn snapshot(s: &Snapshot) -> Value {
    let opt_dist = |d: &Option<Distribution>| d.as_ref().map_or(Value::Null, distribution);
    let mut groups = Map::new();
    for g in &s.engine_metrics {
        let mut fields = Map::new();
        for f in &g.fields {
            let (value, by) = metric_value(&f.value);
            let mut field = Map::new();
            field.insert("metric".into(), json!(f.metric));
            if let Some(by) = by {
                field.insert("by".into(), json!(by));
            }
            field.insert("counter".into(), json!(f.counter));
            field.insert("value".into(), value);
            fields.insert(f.name.clone(), Value::Object(field));
        }
        groups.insert(g.name.clone(), Value::Object(fields));
    }
    let mut doc = json!({
        "instance_id": s.instance_id,
        "endpoint": s.endpoint,
        "content_type": s.content_type,
        "engine": s.engine,
        "collected_at": timestamp(s.collected_at_ms),
        "model_names": s.model_names,
        "load": {
            "requests_running": opt_number(s.load.requests_running),
            "requests_waiting": opt_number(s.load.requests_waiting),
            "kv_cache_usage": opt_number(s.load.kv_cache_usage),
            "kv_cache_capacity_tokens": opt_number(s.load.kv_cache_capacity_tokens),
            "running_lora_adapters": s.load.running_lora_adapters,
            "waiting_lora_adapters": s.load.waiting_lora_adapters,
            "max_lora": opt_number(s.load.max_lora),
            "data_parallel_ranks": s.load.data_parallel_ranks,
        },
        "totals": {
            "requests_succeeded": opt_number(s.totals.requests_succeeded),
            "requests_failed": opt_number(s.totals.requests_failed),
            "prompt_tokens": opt_number(s.totals.prompt_tokens),
            "generation_tokens": opt_number(s.totals.generation_tokens),
            "preemptions": opt_number(s.totals.preemptions),
        },
        "latency": {
            "time_to_first_token_seconds": opt_dist(&s.latency.time_to_first_token_seconds),
            "inter_token_latency_seconds": opt_dist(&s.latency.inter_token_latency_seconds),
            "e2e_request_latency_seconds": opt_dist(&s.latency.e2e_request_latency_seconds),
            "queue_time_seconds": opt_dist(&s.latency.queue_time_seconds),
        },
        "engine_metrics": groups,
        "process_start_time_seconds": opt_number(s.process_start_time_seconds),
        "created_seconds": opt_number(s.created_seconds),
    });
    if let Some(raw) = &s.raw_metrics {
        doc["raw_metrics"] = Value::Array(raw.iter().map(family).collect());
    }
    doc
}
