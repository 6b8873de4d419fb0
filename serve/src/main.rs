//! `llm-metrics-serve`: the same service as `llm-metrics serve`, as its own
//! binary. See `llm-metrics-serve --help` and the README, section "Service".

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use llm_metrics_host::startup;
use llm_metrics_serve::cli::{self, PluginArgs};

/// Serve the llm-metrics collection API.
#[derive(Debug, Parser)]
#[command(name = "llm-metrics-serve", version)]
struct Cli {
    #[command(flatten)]
    service: cli::Args,
    /// Load another build of the plugin.
    #[arg(long)]
    component: Option<PathBuf>,
    /// Compile the component every start instead of using the cache.
    #[arg(long)]
    no_cache: bool,
    /// Per-collection memory budget of the plugin, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mib: usize,
    /// Per-collection CPU budget of the plugin.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    cpu_time: Duration,
}

fn main() -> ExitCode {
    // SAFETY: first thing in `main`: no other thread exists yet.
    unsafe { startup::hide_backtraces() };
    let args = Cli::parse();
    cli::init_tracing();
    let plugin = PluginArgs {
        component: args.component,
        no_cache: args.no_cache,
        memory_bytes: args.memory_mib.saturating_mul(1 << 20),
        cpu_time: args.cpu_time,
    };
    startup::block_on(async move {
        cli::run(args.service, plugin).await?;
        Ok(ExitCode::SUCCESS)
    })
}
