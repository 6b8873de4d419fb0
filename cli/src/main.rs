//! `llm-metrics`: see `llm-metrics --help` and the README.

use std::process::ExitCode;

use clap::Parser;
use llm_metrics_host::startup;

mod cli;
mod output;
mod table;
mod window;

use cli::{Cli, run};

fn main() -> ExitCode {
    // SAFETY: first thing in `main`: no other thread exists yet.
    unsafe { startup::hide_backtraces() };
    let cli = Cli::parse();
    startup::block_on(run(cli))
}
