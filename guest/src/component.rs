//! The component's exports: each WIT function of the world, wired to its
//! plain-Rust body in [`crate::calls`]. No logic lives here.

use crate::bindings::{self, wit, wit_c, wit_p};
#[cfg(feature = "service")]
use crate::bindings::{exports, wit_col};
use crate::calls;

pub(crate) struct Component;

bindings::export!(Component with_types_in bindings);

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
        calls::parse(text, options)
    }

    fn parse_compact(
        text: Vec<u8>,
        options: wit::ParseOptions,
    ) -> Result<wit_p::CompactParsed, wit::ParseError> {
        calls::parse_compact(text, options)
    }
}

#[cfg(feature = "service")]
impl wit_col::Guest for Component {
    fn collect(target: wit_col::Target) -> Result<wit_c::Snapshot, wit_c::CollectError> {
        calls::collect(target)
    }
}

impl wit_c::Guest for Component {
    fn map_exposition(
        text: Vec<u8>,
        content_type: Option<String>,
        engine: String,
        instance_id: String,
    ) -> Result<wit_c::Snapshot, wit_c::CollectError> {
        calls::map_exposition(text, content_type, engine, instance_id)
    }

    fn window(
        earlier: wit_c::Snapshot,
        later: wit_c::Snapshot,
    ) -> Result<wit_c::WindowStats, wit_c::WindowError> {
        calls::window(earlier, later)
    }

    fn engines() -> Vec<wit_c::EngineInfo> {
        calls::engines()
    }
}
