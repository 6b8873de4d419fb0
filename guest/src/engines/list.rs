//! The engine list: every supported engine, in the order `engines` lists
//! them, above the engine files and below the driver.
//!
//! Invariant: an engine is one line here plus its own file; engine sets are
//! [`EngineBits`] (bit `i`: `ENGINES[i]`), so at most 64 engines (a
//! compile-time check).

use super::kit::EngineSpec;
use super::{llamacpp, sglang, tgi, triton, trtllm_serve, vllm};

/// The id that asks for detection instead of naming an engine.
pub const AUTO: &str = "auto";

/// Every supported engine, in the order `engines` lists them.
pub static ENGINES: &[EngineSpec] = SPECS;

/// [`ENGINES`] as a constant, for what is derived from it at compile time
/// (the union table).
pub(crate) const SPECS: &[EngineSpec] = &[
    vllm::SPEC,
    tgi::SPEC,
    sglang::SPEC,
    llamacpp::SPEC,
    triton::SPEC,
    trtllm_serve::SPEC,
];

/// The engine with id `id`, if supported.
pub fn find(id: &str) -> Option<&'static EngineSpec> {
    ENGINES.iter().find(|e| e.id == id)
}

/// A set of engines: bit `i` stands for `ENGINES[i]`.
pub(crate) type EngineBits = u64;

const _: () = assert!(
    SPECS.len() <= EngineBits::BITS as usize,
    "engine sets are a u64"
);

/// Every engine in [`ENGINES`].
pub(crate) const ALL: EngineBits = if SPECS.len() == EngineBits::BITS as usize {
    EngineBits::MAX
} else {
    (1 << SPECS.len()) - 1
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_prefixes_are_unique_and_disjoint() {
        let mut ids = std::collections::BTreeSet::new();
        for e in ENGINES {
            assert!(ids.insert(e.id), "duplicate id {}", e.id);
            assert_ne!(e.id, AUTO);
            for other in ENGINES.iter().filter(|o| o.id != e.id) {
                for p in e.prefixes {
                    for q in other.prefixes {
                        assert!(!p.starts_with(q) && !q.starts_with(p), "{p} / {q}");
                    }
                }
            }
            // Every name in the table carries one of the engine's prefixes,
            // so detection and mapping agree on what belongs to the engine.
            for alias in e.table {
                assert!(!alias.names.is_empty(), "{}", alias.field);
                for name in alias.names {
                    assert!(
                        e.prefixes.iter().any(|p| name.starts_with(p))
                            || e.owns_requested_only(name)
                            || *name == "http_requests_total",
                        "{name} has none of {:?}",
                        e.prefixes
                    );
                    assert!(!name.ends_with("_created"), "{name}");
                }
            }
        }
    }
}
