//! Process start-up for the binaries built on this library (`llm-metrics`
//! and `llm-metrics-serve`): the environment the host needs, an async
//! runtime, and the one error line.
//!
//! Invariant: a binary whose `main` is [`hide_backtraces`] then
//! [`block_on`] hands the plugin no backtrace (host error values reach the
//! guest as text, and a captured backtrace would carry this machine's
//! paths), and ends with exit status 1 and exactly one `error: …` line on
//! stderr when its command fails or the runtime cannot start.

use std::future::Future;
use std::process::ExitCode;

/// Set `RUST_LIB_BACKTRACE=0` unless the user set it, so no backtrace is
/// captured into the error values the guest may see.
///
/// # Safety
///
/// It writes the process environment: call it before any other thread
/// exists (first thing in `main`).
pub unsafe fn hide_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the caller promises that no other thread exists yet to
        // read or write the environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
}

/// Run `command` to completion on a multi-threaded tokio runtime and return
/// its exit status; an error, or a runtime that cannot start, is printed as
/// `error: …` (with its causes) and exits 1.
pub fn block_on(command: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
