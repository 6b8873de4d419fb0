//! The data model a parse produces: families of samples that borrow the input.
//!
//! Nothing here owns text unless the text had escapes (then a `Cow::Owned`);
//! label sets stay as validated raw spans and are decoded only when asked.

use std::borrow::Cow;

use super::labels::Labels;

/// Which text format to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// OpenMetrics when the content type says so or the text ends with `# EOF`,
    /// Prometheus 0.0.4 otherwise.
    #[default]
    Auto,
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text format.
    OpenMetrics,
}

/// How to parse.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions<'c> {
    /// The format, or `Auto` to detect it.
    pub format: Format,
    /// Reject everything the format forbids, including OpenMetrics' semantic
    /// rules; otherwise accept what Prometheus' scrape parser accepts.
    pub strict: bool,
    /// The HTTP `Content-Type` the text came with, used by `Format::Auto`.
    pub content_type: Option<&'c str>,
}

/// A metric family's type, spelled as its format spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics)
    Info,
    /// `stateset` (OpenMetrics)
    StateSet,
    /// `unknown`: OpenMetrics' name for a family without a known type.
    Unknown,
    /// `untyped`: Prometheus 0.0.4's name for a family without a known type.
    Untyped,
}

impl MetricType {
    /// The sample-name suffixes a family of this type owns (besides its bare name).
    pub(crate) fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            MetricType::Summary => &["_sum", "_count", "_created"],
            MetricType::Info => &["_info"],
            _ => &[],
        }
    }

    /// The lower-case name the formats use.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
            MetricType::Untyped => "untyped",
        }
    }
}

/// A parsed exposition.
#[derive(Clone, Debug)]
pub struct Exposition<'a> {
    /// The format actually used (never `Auto`).
    pub format: Format,
    /// Families in order of first appearance.
    pub families: Vec<Family<'a>>,
}

/// One metric family: metadata plus every sample that belongs to it.
#[derive(Clone, Debug)]
pub struct Family<'a> {
    /// The family name from `# TYPE`/`# HELP`, or the sample name when there is
    /// no metadata. Kept exactly as written (never gains or loses `_total`).
    pub name: Cow<'a, str>,
    /// The declared type, or `Unknown`/`Untyped` without one.
    pub metric_type: MetricType,
    /// `# HELP` text with escapes decoded.
    pub help: Option<Cow<'a, str>>,
    /// `# UNIT` (OpenMetrics).
    pub unit: Option<Cow<'a, str>>,
    /// Samples in input order (histogram `_bucket`/`_sum`/`_count`, etc. included).
    pub samples: Vec<Sample<'a>>,
}

/// One sample line.
#[derive(Clone, Debug)]
pub struct Sample<'a> {
    /// The full series name as written, e.g. `vllm:e2e_request_latency_seconds_bucket`.
    pub name: Cow<'a, str>,
    /// The label set (validated; decoded lazily).
    pub labels: Labels<'a>,
    /// The value; `NaN` and infinities included.
    pub value: f64,
    /// Timestamp in milliseconds since the epoch (OpenMetrics seconds are converted).
    pub timestamp_ms: Option<i64>,
    /// OpenMetrics exemplar.
    pub exemplar: Option<Exemplar<'a>>,
}

/// An OpenMetrics exemplar: `# {labels} value [timestamp]` after a sample.
#[derive(Clone, Debug)]
pub struct Exemplar<'a> {
    /// The exemplar's label set.
    pub labels: Labels<'a>,
    /// The exemplar's value.
    pub value: f64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}
