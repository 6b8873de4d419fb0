//! A plugin that opens its own TCP connection: its component imports
//! `wasi:sockets`, which the host refuses at load time.
#![cfg(target_family = "wasm")]

// The world's WASI imports are generated here too (unused: these guests
// call `wasip2` directly).
wit_bindgen::generate!({ path: "../../wit", world: "plugin", generate_all });

use exports::llm_metrics::plugin::collector::{self as c, Target};
use exports::llm_metrics::plugin::mapper::{
    self as m, CollectError, EngineInfo, Snapshot, WindowError, WindowStats,
};
use exports::llm_metrics::plugin::parser::{self as p, CompactParsed, Parsed};
use llm_metrics::plugin::types::{ParseError, ParseOptions};

struct Dialer;

export!(Dialer);

impl p::Guest for Dialer {
    fn parse(_text: Vec<u8>, _options: ParseOptions) -> Result<Parsed, ParseError> {
        Err(ParseError {
            line: 0,
            column: 0,
            message: "unused".into(),
        })
    }

    fn parse_compact(_text: Vec<u8>, _options: ParseOptions) -> Result<CompactParsed, ParseError> {
        Err(ParseError {
            line: 0,
            column: 0,
            message: "unused".into(),
        })
    }
}

impl c::Guest for Dialer {
    fn collect(target: Target) -> Result<Snapshot, CollectError> {
        use std::io::Write;
        let authority = target.url.trim_start_matches("http://");
        let authority = authority.split('/').next().unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(authority)
            .map_err(|e| CollectError::Connect(e.to_string()))?;
        let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
        Err(CollectError::Transport(
            "connected around the policy".into(),
        ))
    }
}

impl m::Guest for Dialer {
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
        Err(CollectError::Transport("unused".into()))
    }
}
