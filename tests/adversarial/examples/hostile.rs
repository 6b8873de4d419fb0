//! A plugin that does everything a plugin must not get away with. `parse`
//! reads a command from its text; `collect` probes the egress policy. The
//! host must stop each with a typed error within its budget.
#![cfg(target_family = "wasm")]

// The world's WASI imports are generated here too (unused: these guests
// call `wasip2` directly).
wit_bindgen::generate!({ path: "../../wit", world: "plugin", generate_all });

use exports::llm_metrics::plugin::collector::{self as c, Target};
use exports::llm_metrics::plugin::mapper::{
    self as m, CollectError, EngineInfo, Snapshot, WindowError, WindowStats,
};
use exports::llm_metrics::plugin::parser::{
    self as p, CompactFamily, CompactParsed, CompactSample, Parsed, Span,
};
use llm_metrics::plugin::types::{Family, Format, MetricType, ParseError, ParseOptions};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingRequest, RequestOptions, Scheme};

struct Hostile;

export!(Hostile);

fn fail(message: String) -> ParseError {
    ParseError {
        line: 0,
        column: 0,
        message,
    }
}

impl p::Guest for Hostile {
    fn parse(text: Vec<u8>, _options: ParseOptions) -> Result<Parsed, ParseError> {
        let command = String::from_utf8(text).map_err(|_| fail("not utf-8".into()))?;
        let mut words = command.split_whitespace();
        let verb = words.next().unwrap_or("");
        let args: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        match verb {
            "spin" => spin(),
            "compute-block" => compute_block(arg(0), arg(1)),
            "memory-bomb" => memory_bomb(),
            "recurse" => Err(fail(format!("returned {}", recurse(arg(0))))),
            "huge" => Ok(parsed(huge(arg(0) as usize))),
            "alias" => Ok(parsed(alias(arg(0) as usize, arg(1) as usize))),
            "ok" => Ok(parsed(Vec::new())),
            other => Err(fail(format!("unknown command {other:?}"))),
        }
    }

    /// Results that break the compact contract, named by the text: spans
    /// and ranges the host must refuse without reading them.
    fn parse_compact(text: Vec<u8>, _options: ParseOptions) -> Result<CompactParsed, ParseError> {
        let n = u32::try_from(text.len()).map_err(|_| fail("too long".into()))?;
        let command = String::from_utf8(text).map_err(|_| fail("not utf-8".into()))?;
        let span = |offset, len| Span { offset, len };
        let mut out = CompactParsed {
            format: Format::Prometheus,
            families: vec![CompactFamily {
                name: span(0, 1),
                type_: MetricType::Untyped,
                help: None,
                unit: None,
                samples_start: 0,
                samples_len: 1,
            }],
            samples: vec![CompactSample {
                name: span(0, 1),
                labels_start: 0,
                labels_len: 0,
                value: 1.0,
                timestamp_ms: None,
                exemplar: None,
            }],
            labels: Vec::new(),
            exemplars: Vec::new(),
            strings: "xy".into(),
        };
        match command.split_whitespace().next().unwrap_or("") {
            "ok" => {}
            "span-past-end" => out.samples[0].name = span(n + 1, 2),
            "span-straddles" => out.samples[0].name = span(n - 1, 2),
            // The command's last character is two bytes long: cut it.
            "span-cuts-char" => out.samples[0].name = span(n - 1, 1),
            "span-wraps" => out.families[0].help = Some(span(u32::MAX, u32::MAX)),
            "range-past-end" => out.families[0].samples_len = 2,
            "range-wraps" => out.samples[0].labels_start = u32::MAX,
            "exemplar-past-end" => out.samples[0].exemplar = Some(0),
            other => return Err(fail(format!("unknown command {other:?}"))),
        }
        Ok(out)
    }
}

/// Never yields, never calls the host.
fn spin() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Computes for `compute_ms`, then blocks on a clock for `block_ms`, forever.
/// The clock is read only every 30k steps (a few hundred µs), so nearly all of
/// the compute phase is guest code, not host calls.
fn compute_block(compute_ms: u64, block_ms: u64) -> ! {
    let mut x = 1u64;
    loop {
        let start = monotonic_clock::now();
        while monotonic_clock::now().saturating_sub(start) < compute_ms * 1_000_000 {
            for i in 0..30_000u64 {
                x = core::hint::black_box(
                    x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i),
                );
            }
        }
        monotonic_clock::subscribe_duration(block_ms * 1_000_000).block();
    }
}

/// Allocates and touches memory until something stops it.
fn memory_bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0x5a; 1 << 20]);
        core::hint::black_box(&hoard);
    }
}

/// Recurses without end; the indirect call keeps it from becoming a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let next: fn(u64) -> u64 = core::hint::black_box(recurse);
    next(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

fn parsed(families: Vec<Family>) -> Parsed {
    Parsed {
        format: Format::Prometheus,
        families,
    }
}

fn family(name: String) -> Family {
    Family {
        name,
        type_: MetricType::Untyped,
        help: None,
        unit: None,
        samples: Vec::new(),
    }
}

/// `count` distinct families: a result as large as guest memory allows.
fn huge(count: usize) -> Vec<Family> {
    (0..count)
        .map(|i| family(format!("family_{i:024}")))
        .collect()
}

/// `copies` family names that all point at one `bytes`-long buffer: the
/// result is small in guest memory and `copies * bytes` once lifted.
fn alias(copies: usize, bytes: usize) -> Vec<Family> {
    let buffer: &'static mut [u8] = Vec::leak(vec![b'a'; bytes]);
    let ptr = buffer.as_mut_ptr();
    (0..copies)
        // SAFETY: not sound, on purpose: a hostile guest may hand the host
        // aliased strings. Nothing in this guest reads them afterwards.
        .map(|_| family(unsafe { String::from_raw_parts(ptr, bytes, bytes) }))
        .collect()
}

impl c::Guest for Hostile {
    /// Try every `probe` header's URL in order (`follow:URL` fetches URL and
    /// then its `Location`) and report what the host let through. With an
    /// `echo-budget` header, report the `timeout-ms` it was given instead.
    fn collect(target: Target) -> Result<Snapshot, CollectError> {
        if target.headers.iter().any(|h| h.name == "echo-budget") {
            // Report the fetch budget the host handed over.
            return Err(CollectError::Timeout(format!("{} ms", target.timeout_ms)));
        }
        let mut report = Vec::new();
        let mut reached = false;
        for probe in target.headers.iter().filter(|h| h.name == "probe") {
            let (url, follow) = match probe.value.strip_prefix("follow:") {
                Some(url) => (url, true),
                None => (probe.value.as_str(), false),
            };
            let outcome = get(url);
            if follow && let Ok((status, Some(location))) = &outcome {
                report.push(format!("{url}: {status} to {location}"));
                let outcome = get(location);
                record(&mut report, &mut reached, location, outcome);
                continue;
            }
            record(&mut report, &mut reached, url, outcome);
        }
        let report = report.join("; ");
        Err(if reached {
            CollectError::Transport(report)
        } else {
            CollectError::Denied(report)
        })
    }
}

impl m::Guest for Hostile {
    fn window(_earlier: Snapshot, _later: Snapshot) -> Result<WindowStats, WindowError> {
        Err(WindowError::NotLater((0, 0)))
    }

    fn engines() -> Vec<EngineInfo> {
        Vec::new()
    }

    fn map_exposition(
        _text: Vec<u8>,
        _content_type: Option<String>,
        _engine: String,
        _instance_id: String,
    ) -> Result<Snapshot, CollectError> {
        Err(CollectError::Transport("hostile".into()))
    }
}

fn record(
    report: &mut Vec<String>,
    reached: &mut bool,
    url: &str,
    outcome: Result<(u16, Option<String>), ErrorCode>,
) {
    match outcome {
        Err(ErrorCode::HttpRequestDenied) => report.push(format!("{url}: denied")),
        Err(e) => {
            *reached = true;
            report.push(format!("{url}: {e:?}"));
        }
        Ok((status, _)) => {
            *reached = true;
            report.push(format!("{url}: status {status}"));
        }
    }
}

/// A bare GET: status and `Location`, or the host's error code.
fn get(url: &str) -> Result<(u16, Option<String>), ErrorCode> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ErrorCode::InternalError(Some("http only".into())))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_method(&Method::Get);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(if path.is_empty() { "/" } else { path }));
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(2_000_000_000));
    let _ = options.set_first_byte_timeout(Some(2_000_000_000));
    let response = outgoing_handler::handle(request, Some(options))?;
    response.subscribe().block();
    let response = match response.get() {
        Some(Ok(result)) => result?,
        _ => return Err(ErrorCode::InternalError(Some("no response".into()))),
    };
    let location = response
        .headers()
        .get("location")
        .first()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    Ok((response.status(), location))
}
