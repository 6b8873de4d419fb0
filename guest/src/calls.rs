//! The world's functions as plain Rust over WIT records: what each export
//! does. `component.rs` wires them to the exports and `service.rs` calls them
//! over HTTP, so both paths run the same code.

#[cfg(feature = "service")]
use crate::bindings::wit_col;
use crate::bindings::{wit, wit_c, wit_p};
use crate::compact;
#[cfg(feature = "service")]
use crate::convert::fetch_error;
use crate::convert::{
    Owned, family, format_from_wit, format_to_wit, group, latency, parse_error, snapshot,
};
use crate::engines;
use crate::text;
use crate::window;
use llm_metrics_contract::{copy_fields, totals_fields};

/// `parser.parse`: every family, owned.
pub(crate) fn parse(
    text: Vec<u8>,
    options: wit::ParseOptions,
) -> Result<wit_p::Parsed, wit::ParseError> {
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

/// `parser.parse-compact`: the compact records.
pub(crate) fn parse_compact(
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

/// `collector.collect`: fetch through `wasi:http`, then map.
#[cfg(feature = "service")]
pub(crate) fn collect(target: wit_col::Target) -> Result<wit_c::Snapshot, wit_c::CollectError> {
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

/// `mapper.map-exposition`: map a body the host fetched.
pub(crate) fn map_exposition(
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

/// `mapper.window`: rates and latency between two snapshots.
pub(crate) fn window(
    earlier: wit_c::Snapshot,
    later: wit_c::Snapshot,
) -> Result<wit_c::WindowStats, wit_c::WindowError> {
    let (a, b) = (Owned::from(earlier), Owned::from(later));
    let w = window::window(&a.point(), &b.point()).map_err(|e| match e {
        window::WindowError::DifferentEngines(x, y) => wit_c::WindowError::DifferentEngines((x, y)),
        window::WindowError::DifferentInstances(x, y) => {
            wit_c::WindowError::DifferentInstances((x, y))
        }
        window::WindowError::BucketLayoutChanged(n) => wit_c::WindowError::BucketLayoutChanged(n),
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
        rates: totals_fields!(copy_fields!(wit_c::Rates, w.rates)),
        latency: latency(w.latency),
        engine_metrics: w.engine_metrics.into_iter().map(group).collect(),
    })
}

/// `mapper.engines`: the engine table.
pub(crate) fn engines() -> Vec<wit_c::EngineInfo> {
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
