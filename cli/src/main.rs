//! `llm-metrics`: see `llm-metrics --help` and the README.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod output;
mod table;
mod window;

use cli::{Cli, run};

fn main() -> ExitCode {
    // Host error values reach the guest as text; a captured backtrace would
    // hand the plugin this machine's paths. Still single-threaded here.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet to read or write the environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
