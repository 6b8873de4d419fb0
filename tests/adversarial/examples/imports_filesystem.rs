//! A plugin that reads a file: its component imports `wasi:filesystem`,
//! which the host refuses at load time.
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

struct Reader;

export!(Reader);

impl p::Guest for Reader {
    fn parse(text: Vec<u8>, _options: ParseOptions) -> Result<Parsed, ParseError> {
        let path = String::from_utf8_lossy(&text).into_owned();
        let stolen = std::fs::read(&path).unwrap_or_default();
        Err(ParseError {
            line: 0,
            column: 0,
            message: String::from_utf8_lossy(&stolen).into_owned(),
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

impl c::Guest for Reader {
    fn collect(_target: Target) -> Result<Snapshot, CollectError> {
        Err(CollectError::Transport("unused".into()))
    }
}

impl m::Guest for Reader {
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
