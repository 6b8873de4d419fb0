//! The generated WIT bindings, and nothing else: the one module that invokes
//! `wit_bindgen::generate!`. Every other shell module names WIT types through
//! the aliases here (`wit`, `wit_c`, `wit_p`, `wit_col`); this module imports
//! none of them, so the shell's modules form no circle.

// The world's WASI imports are the `wasip2` crate's bindings (`with`), so
// there is one copy of them, shared with `fetch` and `service`. Every key
// must be an import of the world: both worlds import these, and `service`
// also `wasi:http`.
macro_rules! generate {
    ($world:literal, { $($http:tt)* }) => {
        wit_bindgen::generate!({
            path: "../wit",
            world: $world,
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
                $($http)*
            },
        });
    };
}

#[cfg(feature = "service")]
generate!("service", {
    "wasi:http/types@0.2.12": wasip2::http::types,
    "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
});
#[cfg(not(feature = "service"))]
generate!("mapping", {});

#[cfg(feature = "service")]
pub(crate) use exports::llm_metrics::plugin::collector as wit_col;
pub(crate) use exports::llm_metrics::plugin::mapper as wit_c;
pub(crate) use exports::llm_metrics::plugin::parser as wit_p;
pub(crate) use llm_metrics::plugin::types as wit;
