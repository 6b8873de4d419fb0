//! The plugin's WIT records ⇄ the guest crate's native types, so the
//! service can run the component's window arithmetic natively
//! ([`llm_metrics_guest::window`]) on trusted stored data.
//!
//! Invariant: every conversion is field for field (the flat records through
//! the contract's `copy_fields!`, as the guest's own `convert` does); nothing
//! here computes a metric, so a window computed natively is the same record
//! the plugin's `window` export returns.

use llm_metrics_contract::{copy_fields, load_fields, totals_fields};
use llm_metrics_guest::snapshot as native;
use llm_metrics_guest::window::{self, Point, Window};
use llm_metrics_host::wit::mapper;

/// A snapshot's part a window reads, owned, in native types.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The instance id the snapshot reports.
    pub instance_id: String,
    /// The engine id.
    pub engine: String,
    /// When it was collected (ms since the epoch).
    pub collected_at_ms: u64,
    /// Cumulative totals.
    pub totals: native::Totals,
    /// Cumulative latency distributions.
    pub latency: native::Latency,
    /// Engine-specific detail.
    pub engine_metrics: Vec<native::EngineGroup>,
    /// The incarnation markers.
    pub incarnation: native::Incarnation,
}

impl Sample {
    /// The snapshot's native view.
    pub fn of(s: &mapper::Snapshot) -> Sample {
        let dist = |d: &Option<mapper::Distribution>| d.as_ref().map(distribution);
        let t = &s.totals;
        Sample {
            instance_id: s.instance_id.clone(),
            engine: s.engine.clone(),
            collected_at_ms: s.collected_at_ms,
            totals: totals_fields!(copy_fields!(native::Totals, t)),
            latency: native::Latency {
                time_to_first_token_seconds: dist(&s.latency.time_to_first_token_seconds),
                inter_token_latency_seconds: dist(&s.latency.inter_token_latency_seconds),
                e2e_request_latency_seconds: dist(&s.latency.e2e_request_latency_seconds),
                queue_time_seconds: dist(&s.latency.queue_time_seconds),
            },
            engine_metrics: s.engine_metrics.iter().map(group_of).collect(),
            incarnation: native::Incarnation {
                process_start_time_seconds: s.process_start_time_seconds,
                created_seconds: s.created_seconds,
            },
        }
    }

    /// One side of a window.
    pub fn point(&self) -> Point<'_> {
        Point {
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

/// The native load of a snapshot.
pub fn load(s: &mapper::Snapshot) -> native::Load {
    let l = s.load.clone();
    load_fields!(copy_fields!(native::Load, l))
}

/// The native totals of a snapshot.
pub fn totals(s: &mapper::Snapshot) -> native::Totals {
    let t = &s.totals;
    totals_fields!(copy_fields!(native::Totals, t))
}

/// A snapshot holding only what a stored scrape keeps besides its
/// increments: instance, engine, time, models, load and totals (no
/// distributions, engine detail, markers or raw families).
pub fn lean_snapshot(
    instance_id: &str,
    engine: &str,
    collected_at_ms: u64,
    model_names: &[String],
    load: &native::Load,
    totals: &native::Totals,
) -> mapper::Snapshot {
    let (l, t) = (load.clone(), totals);
    mapper::Snapshot {
        instance_id: instance_id.to_string(),
        endpoint: String::new(),
        content_type: None,
        engine: engine.to_string(),
        collected_at_ms,
        model_names: model_names.to_vec(),
        load: load_fields!(copy_fields!(mapper::Load, l)),
        totals: totals_fields!(copy_fields!(mapper::Totals, t)),
        latency: mapper::Latency {
            time_to_first_token_seconds: None,
            inter_token_latency_seconds: None,
            e2e_request_latency_seconds: None,
            queue_time_seconds: None,
        },
        engine_metrics: Vec::new(),
        raw_metrics: None,
        process_start_time_seconds: None,
        created_seconds: None,
    }
}

/// A native window as the WIT record the plugin's `window` returns.
pub fn window_stats(w: &Window) -> mapper::WindowStats {
    let r = &w.rates;
    mapper::WindowStats {
        instance_id: w.instance_id.clone(),
        engine: w.engine.clone(),
        start_ms: w.start_ms,
        end_ms: w.end_ms,
        seconds: w.seconds,
        restarted: w.restarted,
        resets: w.resets.clone(),
        rates: totals_fields!(copy_fields!(mapper::Rates, r)),
        latency: mapper::Latency {
            time_to_first_token_seconds: w
                .latency
                .time_to_first_token_seconds
                .as_ref()
                .map(wit_distribution),
            inter_token_latency_seconds: w
                .latency
                .inter_token_latency_seconds
                .as_ref()
                .map(wit_distribution),
            e2e_request_latency_seconds: w
                .latency
                .e2e_request_latency_seconds
                .as_ref()
                .map(wit_distribution),
            queue_time_seconds: w.latency.queue_time_seconds.as_ref().map(wit_distribution),
        },
        engine_metrics: w.engine_metrics.iter().map(wit_group).collect(),
    }
}

/// A native window error as the plugin's.
pub fn window_error(e: &window::WindowError) -> mapper::WindowError {
    use window::WindowError as E;
    match e.clone() {
        E::DifferentEngines(a, b) => mapper::WindowError::DifferentEngines((a, b)),
        E::DifferentInstances(a, b) => mapper::WindowError::DifferentInstances((a, b)),
        E::BucketLayoutChanged(n) => mapper::WindowError::BucketLayoutChanged(n),
        E::NotLater(a, b) => mapper::WindowError::NotLater((a, b)),
    }
}

/// A distribution's buckets as the guest's.
pub fn buckets(b: &[mapper::Bucket]) -> Vec<native::Bucket> {
    b.iter()
        .map(|b| native::Bucket {
            le: b.le,
            count: b.count,
        })
        .collect()
}

/// A distribution of the plugin's as the guest's.
pub fn distribution(d: &mapper::Distribution) -> native::Distribution {
    let bounds = |b: &Option<mapper::Bounds>| {
        b.as_ref().map(|b| native::Bounds {
            lower: b.lower,
            upper: b.upper,
        })
    };
    native::Distribution {
        count: d.count,
        sum: d.sum,
        mean: d.mean,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
        p50_bucket: bounds(&d.p50_bucket),
        p90_bucket: bounds(&d.p90_bucket),
        p99_bucket: bounds(&d.p99_bucket),
        buckets: buckets(&d.buckets),
    }
}

/// A distribution of the guest's as the plugin's (for the contract's JSON
/// writer).
pub fn wit_distribution(d: &native::Distribution) -> mapper::Distribution {
    let bounds = |b: &Option<native::Bounds>| {
        b.as_ref().map(|b| mapper::Bounds {
            lower: b.lower,
            upper: b.upper,
        })
    };
    mapper::Distribution {
        count: d.count,
        sum: d.sum,
        mean: d.mean,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
        p50_bucket: bounds(&d.p50_bucket),
        p90_bucket: bounds(&d.p90_bucket),
        p99_bucket: bounds(&d.p99_bucket),
        buckets: d
            .buckets
            .iter()
            .map(|b| mapper::Bucket {
                le: b.le,
                count: b.count,
            })
            .collect(),
    }
}

fn group_of(g: &mapper::EngineGroup) -> native::EngineGroup {
    native::EngineGroup {
        name: g.name.clone(),
        fields: g
            .fields
            .iter()
            .map(|f| native::EngineField {
                name: f.name.clone(),
                metric: f.metric.clone(),
                counter: f.counter,
                value: match &f.value {
                    mapper::MetricValue::Number(n) => native::MetricValue::Number(*n),
                    mapper::MetricValue::Distribution(d) => {
                        native::MetricValue::Distribution(distribution(d))
                    }
                    mapper::MetricValue::ByLabel((label, values)) => native::MetricValue::ByLabel(
                        label.clone(),
                        values
                            .iter()
                            .map(|v| native::LabeledValue {
                                key: v.key.clone(),
                                value: v.value,
                            })
                            .collect(),
                    ),
                    mapper::MetricValue::Names(n) => native::MetricValue::Names(n.clone()),
                },
            })
            .collect(),
    }
}

fn wit_group(g: &native::EngineGroup) -> mapper::EngineGroup {
    mapper::EngineGroup {
        name: g.name.clone(),
        fields: g
            .fields
            .iter()
            .map(|f| mapper::EngineField {
                name: f.name.clone(),
                metric: f.metric.clone(),
                counter: f.counter,
                value: match &f.value {
                    native::MetricValue::Number(n) => mapper::MetricValue::Number(*n),
                    native::MetricValue::Distribution(d) => {
                        mapper::MetricValue::Distribution(wit_distribution(d))
                    }
                    native::MetricValue::ByLabel(label, values) => mapper::MetricValue::ByLabel((
                        label.clone(),
                        values
                            .iter()
                            .map(|v| mapper::LabeledValue {
                                key: v.key.clone(),
                                value: v.value,
                            })
                            .collect(),
                    )),
                    native::MetricValue::Names(n) => mapper::MetricValue::Names(n.clone()),
                },
            })
            .collect(),
    }
}
