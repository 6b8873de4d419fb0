//! Owned snapshot types, mirroring the `mapper` records of `wit/plugin.wit`
//! field for field (WIT kebab-case → Rust snake_case).
//!
//! Guarantees: every optional figure is `None` when the engine does not expose
//! the metric behind it; nothing is ever defaulted to 0. The binding layer
//! converts these one-to-one into WIT records and adds what only it knows
//! (instance id, endpoint, collection time, raw families).

/// One cumulative histogram bucket: `count` observations were ≤ `le`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The upper bound (`le` label); `f64::INFINITY` for `+Inf`.
    pub le: f64,
    /// Cumulative count of observations ≤ `le`.
    pub count: f64,
}

/// The bucket a quantile lies in: `lower < value ≤ upper` (`upper` may be
/// `+Inf`; `lower` is 0 below a positive first bound, `-Inf` below one ≤ 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The previous bucket's `le`, or 0 (see above).
    pub lower: f64,
    /// The bucket's `le`.
    pub upper: f64,
}

/// A histogram (or summary) reduced to the figures dashboards use.
/// Quantiles are interpolated linearly inside the bucket, as Prometheus'
/// `histogram_quantile` does; `None` when there are no observations.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// Number of observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// `sum / count`; `None` when `count` is 0.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// The bucket `p50` was interpolated in; `None` for a summary.
    pub p50_bucket: Option<Bounds>,
    /// The bucket `p90` was interpolated in; `None` for a summary.
    pub p90_bucket: Option<Bounds>,
    /// The bucket `p99` was interpolated in; `None` for a summary.
    pub p99_bucket: Option<Bounds>,
    /// Cumulative buckets sorted by `le` with `+Inf` last, summed per `le`
    /// over every other label; empty for a summary, or when the series'
    /// bucket layouts disagree.
    pub buckets: Vec<Bucket>,
}

/// A flat record of the contract's field lists (`load_fields!`,
/// `totals_fields!`): the fields are named there, once, with their docs.
macro_rules! flat_record {
    (($(#[$meta:meta])* $name:ident) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $( $(#[$doc])* pub $field: $t, )*
        }
    };
}

llm_metrics_contract::load_fields!(flat_record!(
    /// Current load, summed over data-parallel engines: what load-aware
    /// routers (the Gateway API Inference Extension's metrics contract) read.
    Load
));

llm_metrics_contract::totals_fields!(flat_record!(
    /// Cumulative counters since the server started.
    Totals
));

/// Latency distributions, in seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    /// Time to first token.
    pub time_to_first_token_seconds: Option<Distribution>,
    /// Time between output tokens.
    pub inter_token_latency_seconds: Option<Distribution>,
    /// Whole-request latency.
    pub e2e_request_latency_seconds: Option<Distribution>,
    /// Time spent queued.
    pub queue_time_seconds: Option<Distribution>,
}

/// One value per label value, e.g. finished requests by reason.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledValue {
    /// The label value.
    pub key: String,
    /// The value, summed over every other label.
    pub value: f64,
}

/// An engine-specific figure.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A single number.
    Number(f64),
    /// A histogram or summary.
    Distribution(Distribution),
    /// Values broken down by one label; the string names the label. Keys are
    /// sorted.
    ByLabel(String, Vec<LabeledValue>),
    /// A list of names (e.g. LoRA adapters).
    Names(Vec<String>),
}

/// One engine-specific field and the real metric behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineField {
    /// Field name, e.g. `prefix_cache_hits`.
    pub name: String,
    /// The exposed metric it was read from, e.g. `vllm:prefix_cache_hits_total`.
    pub metric: String,
    /// The value.
    pub value: MetricValue,
    /// The metric is declared a counter: a window reports its rate.
    pub counter: bool,
}

/// A named group of engine-specific fields, e.g. `request` or `cache`.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineGroup {
    /// Group name.
    pub name: String,
    /// Fields the server exposed; absent metrics are left out.
    pub fields: Vec<EngineField>,
}

impl EngineGroup {
    /// The field called `name`, if the server exposed it.
    pub fn field(&self, name: &str) -> Option<&EngineField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What a mapper reads from one exposition: the WIT `snapshot` record minus
/// the fields only the component knows (`instance-id`, `endpoint`,
/// `collected-at-ms`, `raw-metrics`). Field names and order follow the WIT.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSnapshot {
    /// The id of the engine detected or requested (never `auto`).
    pub engine: &'static str,
    /// Served model names from `model_name` (Triton: `model`) labels, sorted
    /// and deduplicated (TGI and llama.cpp expose none, so empty).
    pub model_names: Vec<String>,
    /// Current load.
    pub load: Load,
    /// Cumulative totals.
    pub totals: Totals,
    /// Latency distributions.
    pub latency: Latency,
    /// Engine-specific detail; groups without any exposed field are omitted.
    pub engine_metrics: Vec<EngineGroup>,
    /// What identifies the server's incarnation (filled in by
    /// [`crate::engines::map`] for every engine).
    pub incarnation: Incarnation,
}

/// What identifies one run of a server, where the exposition shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Incarnation {
    /// `process_start_time_seconds`, unix seconds.
    pub process_start_time_seconds: Option<f64>,
    /// The earliest `*_created` timestamp of the engine's own series.
    pub created_seconds: Option<f64>,
}

impl EngineSnapshot {
    /// The engine-specific group called `name`, if present.
    pub fn group(&self, name: &str) -> Option<&EngineGroup> {
        self.engine_metrics.iter().find(|g| g.name == name)
    }

    /// The field `field` of group `group`, if present.
    pub fn field(&self, group: &str, field: &str) -> Option<&EngineField> {
        self.group(group)?.field(field)
    }
}
