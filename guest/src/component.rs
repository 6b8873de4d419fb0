//! The component shell: WIT bindings in, plain-Rust parser and mappers out.
//!
//! This is the only module that sees generated bindings. It converts the
//! borrowed parse results into owned WIT records, which is the one place the
//! guest copies text.

use crate::compact;
use crate::engines;
use crate::text;
use crate::window;

// The world's WASI imports are the `wasip2` crate's bindings (`with`), so
// there is one copy of them, shared with `fetch` and `service`. Every key
// must be an import of the world, so the two worlds list their own.
#[cfg(feature = "service")]
wit_bindgen::generate!({
    path: "../wit",
    world: "service",
    with: {
        "wasi:cli/environment@0.2.12": wasip2::cli::environment,
        "wasi:cli/exit@0.2.12": wasip2::cli::exit,
        "wasi:cli/stdin@0.2.12": wasip2::cli::stdin,
        "wasi:cli/stdout@0.2.12": wasip2::cli::stdout,
        "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
        "wasi:cli/terminal-input@0.2.12": wasip2::cli::terminal_input,
        "wasi:cli/terminal-output@0.2.12": wasip2::cli::terminal_output,
        "wasi:cli/terminal-stdin@0.2.12": wasip2::cli::terminal_stdin,
        "wasi:cli/terminal-stdout@0.2.12": wasip2::cli::terminal_stdout,
        "wasi:cli/terminal-stderr@0.2.12": wasip2::cli::terminal_stderr,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:random/insecure-seed@0.2.12": wasip2::random::insecure_seed,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
    },
});
#[cfg(not(feature = "service"))]
wit_bindgen::generate!({
    path: "../wit",
    world: "mapping",
    with: {
        "wasi:cli/environment@0.2.12": wasip2::cli::environment,
        "wasi:cli/exit@0.2.12": wasip2::cli::exit,
        "wasi:cli/stdin@0.2.12": wasip2::cli::stdin,
        "wasi:cli/stdout@0.2.12": wasip2::cli::stdout,
        "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
        "wasi:cli/terminal-input@0.2.12": wasip2::cli::terminal_input,
        "wasi:cli/terminal-output@0.2.12": wasip2::cli::terminal_output,
        "wasi:cli/terminal-stdin@0.2.12": wasip2::cli::terminal_stdin,
        "wasi:cli/terminal-stdout@0.2.12": wasip2::cli::terminal_stdout,
        "wasi:cli/terminal-stderr@0.2.12": wasip2::cli::terminal_stderr,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:random/insecure-seed@0.2.12": wasip2::random::insecure_seed,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
    },
});

#[cfg(feature = "service")]
pub(crate) use exports::llm_metrics::plugin::collector as wit_col;
pub(crate) use exports::llm_metrics::plugin::mapper as wit_c;
pub(crate) use exports::llm_metrics::plugin::parser as wit_p;
pub(crate) use llm_metrics::plugin::types as wit;

pub(crate) struct Component;

export!(Component);

#[cfg(feature = "service")]
impl exports::wasi::http::incoming_handler::Guest for Component {
    fn handle(
        request: wasip2::http::types::IncomingRequest,
        response_out: wasip2::http::types::ResponseOutparam,
    ) {
        crate::service::handle(request, response_out);
    }
}

impl wit_p::Guest for Component {
    fn parse(text: Vec<u8>, options: wit::ParseOptions) -> Result<wit_p::Parsed, wit::ParseError> {
        let opts = text::ParseOptions {
            format: format_from_wit(options.format),
            strict: options.strict,
            content_type: options.content_type.as_deref(),
        };
        let exposition = text::parse(&text, &opts).map_err(parse_error)?;
        Ok(wit_p::Parsed {
            format: format_to_wit(exposition.format),
            families: exposition.families.iter().map(family).collect(),
        })
    }

    fn parse_compact(
        text: Vec<u8>,
        options: wit::ParseOptions,
    ) -> Result<wit_p::CompactParsed, wit::ParseError> {
        let opts = text::ParseOptions {
            format: format_from_wit(options.format),
            strict: options.strict,
            content_type: options.content_type.as_deref(),
        };
        let (format, c) = compact::parse(&text, &opts).map_err(|e| match e {
            compact::CompactError::Parse(e) => parse_error(e),
            compact::CompactError::TooLarge(e) => wit::ParseError {
                line: 1,
                column: 1,
                message: e.to_string(),
            },
        })?;
        Ok(crate::compact_wit::compact_to_wit(format, c))
    }
}

#[cfg(feature = "service")]
impl wit_col::Guest for Component {
    fn collect(target: wit_col::Target) -> Result<wit_c::Snapshot, wit_c::CollectError> {
        let request = crate::fetch::Request {
            url: &target.url,
            timeout: std::time::Duration::from_millis(u64::from(target.timeout_ms)),
            max_body_bytes: target.max_body_bytes,
            headers: target
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_str()))
                .collect(),
        };
        let response = crate::fetch::get(&request).map_err(fetch_error)?;
        let instance_id = match target.instance_id {
            Some(id) => id,
            None => response.authority.clone(),
        };
        snapshot(
            &response.body,
            response.content_type.as_deref(),
            &target.engine,
            instance_id,
            target.url,
            target.include_raw,
        )
    }
}

impl wit_c::Guest for Component {
    fn map_exposition(
        text: Vec<u8>,
        content_type: Option<String>,
        engine: String,
        instance_id: String,
    ) -> Result<wit_c::Snapshot, wit_c::CollectError> {
        snapshot(
            &text,
            content_type.as_deref(),
            &engine,
            instance_id,
            String::new(),
            false,
        )
    }

    fn window(
        earlier: wit_c::Snapshot,
        later: wit_c::Snapshot,
    ) -> Result<wit_c::WindowStats, wit_c::WindowError> {
        let (a, b) = (Owned::from(earlier), Owned::from(later));
        let w = window::window(&a.point(), &b.point()).map_err(|e| match e {
            window::WindowError::DifferentEngines(x, y) => {
                wit_c::WindowError::DifferentEngines((x, y))
            }
            window::WindowError::DifferentInstances(x, y) => {
                wit_c::WindowError::DifferentInstances((x, y))
            }
            window::WindowError::BucketLayoutChanged(n) => {
                wit_c::WindowError::BucketLayoutChanged(n)
            }
            window::WindowError::NotLater(x, y) => wit_c::WindowError::NotLater((x, y)),
        })?;
        Ok(wit_c::WindowStats {
            instance_id: w.instance_id,
            engine: w.engine,
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            seconds: w.seconds,
            restarted: w.restarted,
            resets: w.resets,
            rates: wit_c::Rates {
                requests_succeeded: w.rates.requests_succeeded,
                requests_failed: w.rates.requests_failed,
                prompt_tokens: w.rates.prompt_tokens,
                generation_tokens: w.rates.generation_tokens,
                preemptions: w.rates.preemptions,
            },
            latency: latency(w.latency),
            engine_metrics: w.engine_metrics.into_iter().map(group).collect(),
        })
    }

    fn engines() -> Vec<wit_c::EngineInfo> {
        engines::ENGINES
            .iter()
            .map(|e| wit_c::EngineInfo {
                id: e.id.to_string(),
                name: e.name.to_string(),
                versions: e.versions.to_string(),
                prefixes: e.prefixes.iter().map(|p| p.to_string()).collect(),
                aliases: e.aliases(),
            })
            .collect()
    }
}

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
        load: wit_c::Load {
            requests_running: mapped.load.requests_running,
            requests_waiting: mapped.load.requests_waiting,
            kv_cache_usage: mapped.load.kv_cache_usage,
            kv_cache_capacity_tokens: mapped.load.kv_cache_capacity_tokens,
            running_lora_adapters: mapped.load.running_lora_adapters,
            waiting_lora_adapters: mapped.load.waiting_lora_adapters,
            max_lora: mapped.load.max_lora,
            data_parallel_ranks: mapped.load.data_parallel_ranks,
        },
        totals: wit_c::Totals {
            requests_succeeded: mapped.totals.requests_succeeded,
            requests_failed: mapped.totals.requests_failed,
            prompt_tokens: mapped.totals.prompt_tokens,
            generation_tokens: mapped.totals.generation_tokens,
            preemptions: mapped.totals.preemptions,
        },
        latency: latency(mapped.latency),
        engine_metrics: mapped.engine_metrics.into_iter().map(group).collect(),
        raw_metrics: raw,
        process_start_time_seconds: mapped.incarnation.process_start_time_seconds,
        created_seconds: mapped.incarnation.created_seconds,
    })
}

fn latency(l: engines::Latency) -> wit_c::Latency {
    wit_c::Latency {
        time_to_first_token_seconds: l.time_to_first_token_seconds.map(distribution),
        inter_token_latency_seconds: l.inter_token_latency_seconds.map(distribution),
        e2e_request_latency_seconds: l.e2e_request_latency_seconds.map(distribution),
        queue_time_seconds: l.queue_time_seconds.map(distribution),
    }
}

/// A WIT snapshot converted back to the native types a window reads.
struct Owned {
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
            totals: engines::Totals {
                requests_succeeded: s.totals.requests_succeeded,
                requests_failed: s.totals.requests_failed,
                prompt_tokens: s.totals.prompt_tokens,
                generation_tokens: s.totals.generation_tokens,
                preemptions: s.totals.preemptions,
            },
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
    fn point(&self) -> window::Point<'_> {
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

fn distribution(d: engines::Distribution) -> wit_c::Distribution {
    wit_c::Distribution {
        count: d.count,
        sum: d.sum,
        mean: d.mean,
        p50: d.p50,
        p90: d.p90,
        p99: d.p99,
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

fn group(g: engines::EngineGroup) -> wit_c::EngineGroup {
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
fn fetch_error(e: crate::fetch::FetchError) -> wit_c::CollectError {
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
fn map_error(e: engines::MapError) -> wit_c::CollectError {
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

fn format_from_wit(f: wit::Format) -> text::Format {
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

fn parse_error(e: text::ParseError) -> wit::ParseError {
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

fn family(f: &text::Family<'_>) -> wit::Family {
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
