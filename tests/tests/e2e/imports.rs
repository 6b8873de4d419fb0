//! The component's declared capabilities: only what parsing and fetching need.

use llm_metrics_host::audit::{ALLOWED_IMPORTS, imports};
use llm_metrics_host::plugin::shared_engine;

use crate::common::component;

#[test]
fn imports_only_io_clocks_cli_basics_random_and_http() {
    let engine = shared_engine().unwrap();
    let names = imports(&engine, component());
    assert!(!names.is_empty());
    for name in &names {
        let unversioned = name.split('@').next().unwrap();
        assert!(
            ALLOWED_IMPORTS.contains(&unversioned),
            "unexpected import {name}"
        );
        assert!(
            !name.starts_with("wasi:filesystem") && !name.starts_with("wasi:sockets"),
            "{name}"
        );
    }
    // collect needs the outgoing handler; it must be there, and nothing more of http.
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("wasi:http/outgoing-handler@")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("wasi:http/incoming-handler")),
        "{names:?}"
    );
}
