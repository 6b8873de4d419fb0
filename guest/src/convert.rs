//! Native values ⇄ WIT records: the one place the guest copies parse and
//! mapping results into owned WIT records (and WIT snapshots back into the
//! native types a window reads).
//!
//! Invariant: every conversion is field for field; nothing here computes a
//! metric (that is `engines` and `window`), so the JSON and WIT views of a
//! snapshot hold the same numbers.

use crate::bindings::{wit, wit_c};
use crate::engines;
use crate::text;
use crate::window;
use llm_metrics_contract::{copy_fields, load_fields, totals_fields};

/// Parse a body, map it to an engine snapshot and convert it to WIT.
pub(crate) fn snapshot(
    body: &[u8],
    content_type: Option<&str>,
    engine: &str,
    instance_id: String,
    endpoint: String,
    include_raw: bool,
) -> Result<wit_c::Snapshot, wit_c::CollectError> {
    let collected_at_ms = now_ms();
    if let Some(why) = crate::body::not_an_exposition(body) {
        return Err(wit_c::CollectError::NotAnExposition(why));
    }
    let opts = text::ParseOptions {
        format: text::Format::Auto,
        strict: false,
        content_type,
    };
    let parse_err = |e| wit_c::CollectError::Parse(parse_error(e));
    // Raw families need every sample; otherwise one pass keeps only what
    // the engines read.
    let (mapped, raw) = if include_raw {
        let exposition = text::parse(body, &opts).map_err(parse_err)?;
        let mapped = engines::map(&exposition.families, engine);
        (
            mapped,
            Some(exposition.families.iter().map(family).collect()),
        )
    } else {
        (
            engines::map_text(body, &opts, engine).map_err(parse_err)?,
            None,
        )
    };
    let mapped = mapped.map_err(map_error)?;
    Ok(wit_c::Snapshot {
        instance_id,
        endpoint,
        content_type: content_type.map(str::to_string),
        engine: mapped.engine.to_string(),
        collected_at_ms,
        model_names: mapped.model_names,
        load: load_fields!(copy_fields!(wit_c::Load, mapped.load)),
        totals: totals_fields!(copy_fields!(wit_c::Totals, mapped.totals)),
        latency: latency(mapped.latency),
        engine_metrics: mapped.engine_metrics.into_iter().map(group).collect(),
        raw_metrics: raw,
        process_start_time_seconds: mapped.incarnation.process_start_time_seconds,
        created_seconds: mapped.incarnation.created_seconds,
    })
}

pub(crate) fn latency(l: engines::Latency) -> wit_c::Latency {
    wit_c::Latency {
        time_to_first_token_seconds: l.time_to_first_token_seconds.map(distribution),
        inter_token_latency_seconds: l.inter_token_latency_seconds.map(distribution),
        e2e_request_latency_seconds: l.e2e_request_latency_seconds.map(distribution),
        queue_time_seconds: l.queue_time_seconds.map(distribution),
    }
}

/// A WIT snapshot converted back to the native types a window reads.
pub(crate) struct Owned {
    instance_id: String,
    engine: String,
    collected_at_ms: u64,
    totals: engines::Totals,
    latency: engines::Latency,
    engine_metrics: Vec<engines::EngineGroup>,
    incarnation: engines::Incarnation,
}

impl From<wit_c::Snapshot> for Owned {
    fn from(s: wit_c::Snapshot) -> Self {
        let dist = |d: Option<wit_c::Distribution>| d.map(distribution_from_wit);
        Owned {
            instance_id: s.instance_id,
            engine: s.engine,
            collected_at_ms: s.collected_at_ms,
            totals: totals_fields!(copy_fields!(engines::Totals, s.totals)),
            latency: engines::Latency {
                time_to_first_token_seconds: dist(s.latency.time_to_first_token_seconds),
                inter_token_latency_seconds: dist(s.latency.inter_token_latency_seconds),
                e2e_request_latency_seconds: dist(s.latency.e2e_request_latency_seconds),
                queue_time_seconds: dist(s.latency.queue_time_seconds),
            },
            engine_metrics: s
                .engine_metrics
                .into_iter()
                .map(|g| engines::EngineGroup {
                    name: g.name,
                    fields: g
                        .fields
                        .into_iter()
                        .map(|f| engines::EngineField {
                            name: f.name,
                            metric: f.metric,
                            counter: f.counter,
                            value: match f.value {
                                wit_c::MetricValue::Number(n) => engines::MetricValue::Number(n),
                                wit_c::MetricValue::Distribution(d) => {
                                    engines::MetricValue::Distribution(distribution_from_wit(d))
                                }
                                wit_c::MetricValue::ByLabel((label, values)) => {
                                    engines::MetricValue::ByLabel(
                                        label,
                                        values
                                            .into_iter()
                                            .map(|v| engines::LabeledValue {
                                                key: v.key,
                                                value: v.value,
                                            })
                                            .collect(),
                                    )
                                }
                                wit_c::MetricValue::Names(n) => engines::MetricValue::Names(n),
                            },
                        })
                        .collect(),
                })
                .collect(),
            incarnation: engines::Incarnation {
                process_start_time_seconds: s.process_start_time_seconds,
                created_seconds: s.created_seconds,
            },
        }
    }
}

impl Owned {
    pub(crate) fn point(&self) -> window::Point<'_> {
        window::Point {
            instance_id: &self.instance_id,
            engine: &self.engine,
            collected_at_ms: self.collected_at_ms,
            totals: &self.totals,
            latency: &self.latency,
            engine_metrics: &self.engine_metrics,
            incarnation: self.incarnation,
        }
    }
}

fn distribution_from_wit(d: wit_c::Distribution) -> engines::Distribution {
    engines::Distribution {
        count: d.count,
        sum: d.sum,
        mean: d.mean,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
        p50_bucket: d.p50_bucket.map(bounds_from_wit),
        p90_bucket: d.p90_bucket.map(bounds_from_wit),
        p99_bucket: d.p99_bucket.map(bounds_from_wit),
        buckets: d
            .buckets
            .into_iter()
            .map(|b| engines::Bucket {
                le: b.le,
                count: b.count,
            })
            .collect(),
    }
}

fn now_ms() -> u64 {
    let now = wasip2::clocks::wall_clock::now();
    now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
}

fn bounds_from_wit(b: wit_c::Bounds) -> engines::Bounds {
    engines::Bounds {
        lower: b.lower,
        upper: b.upper,
    }
}

fn bounds(b: engines::Bounds) -> wit_c::Bounds {
    wit_c::Bounds {
        lower: b.lower,
        upper: b.upper,
    }
}

pub(crate) fn distribution(d: engines::Distribution) -> wit_c::Distribution {
    wit_c::Distribution {
        count: d.count,
        sum: d.sum,
        mean: d.mean,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
        p50_bucket: d.p50_bucket.map(bounds),
        p90_bucket: d.p90_bucket.map(bounds),
        p99_bucket: d.p99_bucket.map(bounds),
        buckets: d
            .buckets
            .into_iter()
            .map(|b| wit_c::Bucket {
                le: b.le,
                count: b.count,
            })
            .collect(),
    }
}

pub(crate) fn group(g: engines::EngineGroup) -> wit_c::EngineGroup {
    wit_c::EngineGroup {
        name: g.name,
        fields: g
            .fields
            .into_iter()
            .map(|f| wit_c::EngineField {
                name: f.name,
                metric: f.metric,
                counter: f.counter,
                value: match f.value {
                    engines::MetricValue::Number(n) => wit_c::MetricValue::Number(n),
                    engines::MetricValue::Distribution(d) => {
                        wit_c::MetricValue::Distribution(distribution(d))
                    }
                    engines::MetricValue::ByLabel(label, values) => wit_c::MetricValue::ByLabel((
                        label,
                        values
                            .into_iter()
                            .map(|v| wit_c::LabeledValue {
                                key: v.key,
                                value: v.value,
                            })
                            .collect(),
                    )),
                    engines::MetricValue::Names(names) => wit_c::MetricValue::Names(names),
                },
            })
            .collect(),
    }
}

#[cfg(feature = "service")]
pub(crate) fn fetch_error(e: crate::fetch::FetchError) -> wit_c::CollectError {
    use crate::fetch::FetchError as F;
    match e {
        F::InvalidUrl(m) => wit_c::CollectError::InvalidUrl(m),
        F::Denied(m) => wit_c::CollectError::Denied(m),
        F::Connect(m) => wit_c::CollectError::Connect(m),
        F::Timeout(m) => wit_c::CollectError::Timeout(m),
        F::Status(code) => wit_c::CollectError::HttpStatus(code),
        F::BodyTooLarge(cap) => wit_c::CollectError::BodyTooLarge(cap),
        F::NotAnExposition(m) => wit_c::CollectError::NotAnExposition(m),
        F::Transport(m) => wit_c::CollectError::Transport(m),
    }
}

/// The typed error for a mapping failure; messages carry no kind prefix
/// (the caller adds its own, e.g. `unrecognized engine: `).
pub(crate) fn map_error(e: engines::MapError) -> wit_c::CollectError {
    match e {
        engines::MapError::UnrecognizedEngine(m) => wit_c::CollectError::UnrecognizedEngine(m),
        engines::MapError::UnknownEngine(id) => {
            wit_c::CollectError::UnknownEngine(engines::unknown(&id))
        }
        engines::MapError::MixedEngines(ids) => {
            wit_c::CollectError::MixedEngines(ids.into_iter().map(str::to_string).collect())
        }
    }
}

pub(crate) fn format_from_wit(f: wit::Format) -> text::Format {
    match f {
        wit::Format::Auto => text::Format::Auto,
        wit::Format::Prometheus => text::Format::Prometheus,
        wit::Format::Openmetrics => text::Format::OpenMetrics,
    }
}

pub(crate) fn format_to_wit(f: text::Format) -> wit::Format {
    match f {
        text::Format::Auto => wit::Format::Auto,
        text::Format::Prometheus => wit::Format::Prometheus,
        text::Format::OpenMetrics => wit::Format::Openmetrics,
    }
}

pub(crate) fn parse_error(e: text::ParseError) -> wit::ParseError {
    wit::ParseError {
        line: e.line,
        column: e.column,
        message: e.message().to_string(),
    }
}

fn labels(l: &text::Labels<'_>) -> Vec<wit::Label> {
    l.iter()
        .map(|(name, value)| wit::Label {
            name: name.into_owned(),
            value: value.into_owned(),
        })
        .collect()
}

pub(crate) fn family(f: &text::Family<'_>) -> wit::Family {
    wit::Family {
        name: f.name.to_string(),
        type_: metric_type(f.metric_type),
        help: f.help.as_ref().map(|h| h.to_string()),
        unit: f.unit.as_ref().map(|u| u.to_string()),
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
    }
}

pub(crate) fn metric_type(t: text::MetricType) -> wit::MetricType {
    match t {
        text::MetricType::Counter => wit::MetricType::Counter,
        text::MetricType::Gauge => wit::MetricType::Gauge,
        text::MetricType::Histogram => wit::MetricType::Histogram,
        text::MetricType::GaugeHistogram => wit::MetricType::Gaugehistogram,
        text::MetricType::Summary => wit::MetricType::Summary,
        text::MetricType::Info => wit::MetricType::Info,
        text::MetricType::StateSet => wit::MetricType::Stateset,
        text::MetricType::Unknown => wit::MetricType::Unknown,
        text::MetricType::Untyped => wit::MetricType::Untyped,
    }
}
