//! The JSON documents: snapshot, window, families, engines, and the one-line
//! descriptions of errors.
//!
//! Invariant: non-finite numbers are the strings `"NaN"`, `"+Inf"` and
//! `"-Inf"` (JSON has no such numbers); absent values are `null`, never 0;
//! times are [`crate::timestamp`]. Field names are fixed here and nowhere
//! else: README's "Snapshot fields" documents exactly these documents.

use serde_json::{Value, json};

/// A number, or its exposition spelling when it is not finite.
pub fn number(v: f64) -> Value {
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

/// [`number`], or `null` when absent.
pub fn opt_number(v: Option<f64>) -> Value {
    v.map_or(Value::Null, number)
}

/// The JSON writer over one set of generated WIT bindings.
///
/// Invoke it in a module where `types` names the bindings of the WIT
/// interface `llm-metrics:plugin/types` and `mapper` those of
/// `llm-metrics:plugin/mapper` (both sets of generated bindings give these
/// records the same Rust shape). It defines, in that module: `snapshot`,
/// `window`, `window_error`, `family`, `families`, `distribution`,
/// `engines`, `metric_type`, `parse_error`, `collect_kind` and `collect_error`, and re-exports
/// [`number`] and [`crate::timestamp`].
#[macro_export]
macro_rules! json_writer {
    () => {
        use $crate::__private::serde_json::{Map, Value, json};
        #[allow(unused_imports)]
        pub use $crate::{number, timestamp};
        use $crate::{CollectKind, json_fields, opt_number};

        fn labels(labels: &[types::Label]) -> Value {
            let mut map = Map::with_capacity(labels.len());
            for l in labels {
                map.insert(l.name.clone(), Value::String(l.value.clone()));
            }
            Value::Object(map)
        }

        /// The type as the formats spell it.
        #[allow(dead_code)]
        pub fn metric_type(t: types::MetricType) -> &'static str {
            match t {
                types::MetricType::Counter => "counter",
                types::MetricType::Gauge => "gauge",
                types::MetricType::Histogram => "histogram",
                types::MetricType::Gaugehistogram => "gaugehistogram",
                types::MetricType::Summary => "summary",
                types::MetricType::Info => "info",
                types::MetricType::Stateset => "stateset",
                types::MetricType::Unknown => "unknown",
                types::MetricType::Untyped => "untyped",
            }
        }

        fn exemplar(e: &types::Exemplar) -> Value {
            let mut m = Map::new();
            m.insert("labels".into(), labels(&e.labels));
            m.insert("value".into(), number(e.value));
            if let Some(ts) = e.timestamp_ms {
                m.insert("timestamp_ms".into(), json!(ts));
            }
            Value::Object(m)
        }

        fn sample(s: &types::Sample) -> Value {
            let mut m = Map::new();
            m.insert("name".into(), json!(s.name));
            m.insert("labels".into(), labels(&s.labels));
            m.insert("value".into(), number(s.value));
            if let Some(ts) = s.timestamp_ms {
                m.insert("timestamp_ms".into(), json!(ts));
            }
            if let Some(e) = &s.exemplar {
                m.insert("exemplar".into(), exemplar(e));
            }
            Value::Object(m)
        }

        /// `{"name","type","help","unit","samples":[…]}` for one family.
        #[allow(dead_code)]
        pub fn family(f: &types::Family) -> Value {
            json!({
                "name": f.name,
                "type": metric_type(f.type_),
                "help": f.help,
                "unit": f.unit,
                "samples": f.samples.iter().map(sample).collect::<Vec<_>>(),
            })
        }

        /// The families as a JSON array.
        #[allow(dead_code)]
        pub fn families(fs: &[types::Family]) -> Value {
            Value::Array(fs.iter().map(family).collect())
        }

        /// `{"lower","upper"}` of the bucket a quantile lies in, or `null`.
        fn bounds(b: &Option<mapper::Bounds>) -> Value {
            b.as_ref().map_or(Value::Null, |b| {
                json!({"lower": number(b.lower), "upper": number(b.upper)})
            })
        }

        /// `{"count","sum","mean","p50","p90","p99","p50_bucket","p90_bucket",
        /// "p99_bucket","buckets":[{"le","count"}]}` (`le` of the last bucket
        /// is `"+Inf"`; a `pNN_bucket` is `{"lower","upper"}` or `null`).
        #[allow(dead_code)]
        pub fn distribution(d: &mapper::Distribution) -> Value {
            json!({
                "count": number(d.count),
                "sum": number(d.sum),
                "mean": opt_number(d.mean),
                "p50": opt_number(d.p50),
                "p90": opt_number(d.p90),
                "p99": opt_number(d.p99),
                "p50_bucket": bounds(&d.p50_bucket),
                "p90_bucket": bounds(&d.p90_bucket),
                "p99_bucket": bounds(&d.p99_bucket),
                "buckets": d.buckets.iter().map(|b| json!({
                    "le": number(b.le),
                    "count": number(b.count),
                })).collect::<Vec<_>>(),
            })
        }

        /// `[{"id","name","versions","prefixes":[…],"aliases":[…]}]`, as
        /// `llm-metrics engines` prints it.
        #[allow(dead_code)]
        pub fn engines(list: &[mapper::EngineInfo]) -> Value {
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

        fn metric_value(v: &mapper::MetricValue) -> (Value, Option<&str>) {
            match v {
                mapper::MetricValue::Number(n) => (number(*n), None),
                mapper::MetricValue::Distribution(d) => (distribution(d), None),
                mapper::MetricValue::ByLabel((label, values)) => {
                    let mut m = Map::new();
                    for lv in values {
                        m.insert(lv.key.clone(), number(lv.value));
                    }
                    (Value::Object(m), Some(label.as_str()))
                }
                mapper::MetricValue::Names(names) => (json!(names), None),
            }
        }

        /// `{"<group>": {"<field>": {"metric", "by"?, "counter", "value"}}}`.
        fn engine_metrics(groups: &[mapper::EngineGroup]) -> Value {
            let mut out = Map::new();
            for g in groups {
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
                out.insert(g.name.clone(), Value::Object(fields));
            }
            Value::Object(out)
        }

        /// The four latency distributions (`null` where absent).
        fn latency(l: &mapper::Latency) -> Value {
            let opt_dist =
                |d: &Option<mapper::Distribution>| d.as_ref().map_or(Value::Null, distribution);
            json!({
                "time_to_first_token_seconds": opt_dist(&l.time_to_first_token_seconds),
                "inter_token_latency_seconds": opt_dist(&l.inter_token_latency_seconds),
                "e2e_request_latency_seconds": opt_dist(&l.e2e_request_latency_seconds),
                "queue_time_seconds": opt_dist(&l.queue_time_seconds),
            })
        }

        /// The window document (see README, "Windows"): rates are per second,
        /// distributions' `count`/`sum` are increases over the window.
        #[allow(dead_code)]
        pub fn window(w: &mapper::WindowStats) -> Value {
            json!({
                "instance_id": w.instance_id,
                "engine": w.engine,
                "start": timestamp(w.start_ms),
                "end": timestamp(w.end_ms),
                "seconds": number(w.seconds),
                "restarted": w.restarted,
                "resets": w.resets,
                "rates": $crate::totals_fields!(json_fields!(w.rates)),
                "latency": latency(&w.latency),
                "engine_metrics": engine_metrics(&w.engine_metrics),
            })
        }

        /// `(kind, message)` of a window error, e.g. `("not-later", "…")`.
        #[allow(dead_code)]
        pub fn window_error(e: &mapper::WindowError) -> (&'static str, String) {
            match e {
                mapper::WindowError::DifferentEngines((a, b)) => (
                    "different-engines",
                    format!("the snapshots are of different engines: {a} and {b}"),
                ),
                mapper::WindowError::DifferentInstances((a, b)) => (
                    "different-instances",
                    format!("the snapshots are of different instances: {a} and {b}"),
                ),
                mapper::WindowError::BucketLayoutChanged(name) => (
                    "bucket-layout-changed",
                    format!("the bucket bounds of {name} changed between the snapshots"),
                ),
                mapper::WindowError::NotLater((a, b)) => (
                    "not-later",
                    format!(
                        "the later snapshot ({}) was not collected after the earlier ({})",
                        timestamp(*b),
                        timestamp(*a)
                    ),
                ),
            }
        }

        /// The snapshot document (see README, "Snapshot fields").
        #[allow(dead_code)]
        pub fn snapshot(s: &mapper::Snapshot) -> Value {
            let mut doc = json!({
                "instance_id": s.instance_id,
                "endpoint": s.endpoint,
                "content_type": s.content_type,
                "engine": s.engine,
                "collected_at": timestamp(s.collected_at_ms),
                "model_names": s.model_names,
                "load": $crate::load_fields!(json_fields!(s.load)),
                "totals": $crate::totals_fields!(json_fields!(s.totals)),
                "latency": latency(&s.latency),
                "engine_metrics": engine_metrics(&s.engine_metrics),
                "process_start_time_seconds": opt_number(s.process_start_time_seconds),
                "created_seconds": opt_number(s.created_seconds),
            });
            if let Some(raw) = &s.raw_metrics {
                doc["raw_metrics"] = families(raw);
            }
            doc
        }

        /// `line L, column C: message`.
        #[allow(dead_code)]
        pub fn parse_error(e: &types::ParseError) -> String {
            format!("line {}, column {}: {}", e.line, e.column, e.message)
        }

        /// The kind of a collection failure.
        #[allow(dead_code)]
        pub fn collect_kind(e: &mapper::CollectError) -> CollectKind {
            use mapper::CollectError as E;
            match e {
                E::InvalidUrl(_) => CollectKind::InvalidUrl,
                E::Denied(_) => CollectKind::Denied,
                E::Connect(_) => CollectKind::Connect,
                E::Timeout(_) => CollectKind::Timeout,
                E::HttpStatus(_) => CollectKind::HttpStatus,
                E::BodyTooLarge(_) => CollectKind::BodyTooLarge,
                E::NotAnExposition(_) => CollectKind::NotAnExposition,
                E::Parse(_) => CollectKind::Parse,
                E::UnrecognizedEngine(_) => CollectKind::UnrecognizedEngine,
                E::UnknownEngine(_) => CollectKind::UnknownEngine,
                E::MixedEngines(_) => CollectKind::MixedEngines,
                E::Transport(_) => CollectKind::Transport,
            }
        }

        /// The one-line description of a collection failure, kind first
        /// (`connect failed: …`). `pick` says how the caller picks one engine
        /// (`--engine`, `engine=`), for the mixed-engines case.
        #[allow(dead_code)]
        pub fn collect_error(e: &mapper::CollectError, pick: &str) -> String {
            use mapper::CollectError as E;
            let title = collect_kind(e).title();
            match e {
                E::InvalidUrl(m)
                | E::Denied(m)
                | E::Connect(m)
                | E::Timeout(m)
                | E::NotAnExposition(m)
                | E::UnrecognizedEngine(m)
                | E::UnknownEngine(m)
                | E::Transport(m) => format!("{title}: {m}"),
                E::HttpStatus(code) => format!("{title} {code}"),
                E::BodyTooLarge(cap) => format!("{title}: over the {cap}-byte cap"),
                E::Parse(p) => format!("{title}: {}", parse_error(p)),
                E::MixedEngines(ids) => format!(
                    "{title}: families of {} in one exposition; pass {pick} to pick one",
                    ids.join(" and ")
                ),
            }
        }
    };
}
