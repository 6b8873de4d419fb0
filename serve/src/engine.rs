//! Engine names on the API: the one place that maps a path segment or config
//! value to the plugin's engine and back.
//!
//! Invariant: every name [`parse`] accepts is listed in [`NAMES`], and
//! [`name`] of a parsed engine gives the same name back. When the WIT engine
//! becomes a string id, this file is the only one to change.

use llm_metrics_host::wit::collector::Engine;

/// Every engine name the API accepts, `auto` first.
pub const NAMES: &[&str] = &["auto", "vllm", "tgi"];

/// The engine a name stands for, or `None` for an unknown name.
pub fn parse(name: &str) -> Option<Engine> {
    match name {
        "auto" => Some(Engine::Auto),
        "vllm" => Some(Engine::Vllm),
        "tgi" => Some(Engine::Tgi),
        _ => None,
    }
}

/// The API's name of an engine.
pub fn name(engine: Engine) -> &'static str {
    llm_metrics_host::json::engine(engine)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip() {
        for n in super::NAMES {
            assert_eq!(super::name(super::parse(n).unwrap()), *n);
        }
        assert!(super::parse("VLLM").is_none());
        assert!(super::parse("").is_none());
    }
}
