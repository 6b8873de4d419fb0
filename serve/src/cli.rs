//! The service's command line and start-up, shared by `llm-metrics serve`
//! (the CLI's subcommand) and the `llm-metrics-serve` binary (an alias).
//!
//! Invariant: the configuration is read and checked before the listener is
//! bound; the first line on stdout is the address, once it is bound. A
//! configuration whose worst-case plugin memory (scrape plus ad-hoc
//! concurrency, times the per-call memory budget) exceeds
//! `--memory-total-mib` is refused before anything is loaded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use llm_metrics_host::plugin::default_cache_dir;
use llm_metrics_host::{ComponentSource, EngineChoice, Limits, Plugin, PluginOptions};

use crate::allow::{AllowList, Pattern};
use crate::config;
use crate::scheduler;
use crate::state::{Service, Settings};

/// The service's own options (the plugin's are in [`PluginArgs`]).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML file with `allow` patterns and `[[targets]]` (see the README).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9400")]
    pub listen: SocketAddr,
    /// Allow ad-hoc collection from a host name (`host`, `host:port`), a
    /// wildcard (`*.svc.cluster.local`), an address or a CIDR range
    /// (`10.0.0.0/8`, `[fd00::/8]:9400`). Repeatable.
    #[arg(long = "allow", value_name = "PATTERN")]
    pub allow: Vec<Pattern>,
    /// Target scrapes that may run at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Ad-hoc collections that may run at once (more wait).
    #[arg(long, default_value_t = 16)]
    pub adhoc_concurrency: usize,
    /// Require `Authorization: Bearer TOKEN` on every route.
    #[arg(long, env = "LLM_METRICS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// On SIGINT/SIGTERM, how long scrapes in flight may take to finish.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Where scrapes are kept (see the README, "History").
    #[command(flatten)]
    pub history: crate::history::HistoryArgs,
    /// Request-side limits.
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
    /// Connection limits (see the README, "Service").
    #[command(flatten)]
    pub connections: crate::listen::ListenArgs,
    /// The most memory the plugin's calls may hold at once, in MiB:
    /// (concurrency + adhoc-concurrency + window-concurrency) × the per-call
    /// memory budget must fit, or the service refuses to start.
    #[arg(long, default_value_t = 9216)]
    pub memory_total_mib: usize,
    /// Allocate plugin instances on demand (a fresh mapping per call)
    /// instead of from wasmtime's pooling allocator, the default: one slot
    /// per call that may run at once, reserved at start-up, each keeping
    /// 1 MiB of its memory resident between calls.
    #[arg(long)]
    pub on_demand: bool,
    /// Pooling is the default; kept so that older command lines still start.
    #[arg(long, hide = true, conflicts_with = "on_demand")]
    pub pooling: bool,
}

/// Refuse settings under which the plugin could need more than
/// `total_mib` MiB: every call that may run at once holding its whole
/// memory budget.
pub fn check_memory_bound(
    concurrency: usize,
    adhoc_concurrency: usize,
    window_concurrency: usize,
    memory_bytes: usize,
    total_mib: usize,
) -> anyhow::Result<()> {
    let calls = concurrency
        .saturating_add(adhoc_concurrency)
        .saturating_add(window_concurrency);
    let worst = calls.saturating_mul(memory_bytes);
    let total = total_mib.saturating_mul(1 << 20);
    if worst > total {
        bail!(
            "{concurrency} scrapes (--concurrency) + {adhoc_concurrency} ad-hoc collections \
             (--adhoc-concurrency) + {window_concurrency} window computations \
             (--window-concurrency) at {} MiB each (the per-call memory budget) may hold {} MiB, \
             over --memory-total-mib {total_mib}; lower one of them or raise the total",
            memory_bytes >> 20,
            worst >> 20
        );
    }
    Ok(())
}

/// How the plugin is loaded and what each call may use.
#[derive(Clone, Debug)]
pub struct PluginArgs {
    /// Another build of the plugin instead of the embedded one.
    pub component: Option<PathBuf>,
    /// Compile the component every start instead of using the cache.
    pub no_cache: bool,
    /// Per-collection memory budget of the plugin, in bytes.
    pub memory_bytes: usize,
    /// Per-collection CPU budget of the plugin.
    pub cpu_time: Duration,
}

impl Default for PluginArgs {
    fn default() -> Self {
        PluginArgs {
            component: None,
            no_cache: false,
            memory_bytes: 256 << 20,
            cpu_time: Duration::from_secs(5),
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Load the plugin and the configuration, serve until SIGINT/SIGTERM, then
/// drain. The first line on stdout is `listening on http://ADDR`.
pub async fn run(args: Args, plugin_args: PluginArgs) -> anyhow::Result<()> {
    let concurrency = args.concurrency.max(1);
    let adhoc_concurrency = args.adhoc_concurrency.max(1);
    let api_token = args.api_token.filter(|t| !t.is_empty());
    let limits_file = match &args.config {
        Some(path) => config::load_limits(path)?,
        None => config::LimitsConfig::default(),
    };
    let limits = args.limits.resolve(limits_file, api_token.as_deref())?;
    let window_concurrency = limits.window_concurrency;
    check_memory_bound(
        concurrency,
        adhoc_concurrency,
        window_concurrency,
        plugin_args.memory_bytes,
        args.memory_total_mib,
    )?;
    let source = plugin_args
        .component
        .map_or(ComponentSource::Embedded, ComponentSource::File);
    let options = PluginOptions {
        limits: Limits {
            memory_bytes: plugin_args.memory_bytes,
            cpu_time: plugin_args.cpu_time,
            ..Limits::default()
        },
        cache_dir: if plugin_args.no_cache {
            None
        } else {
            default_cache_dir()
        },
        engine: if !args.on_demand {
            // One slot per call the permits allow, plus start-up's `engines`.
            let slots = concurrency
                .saturating_add(adhoc_concurrency)
                .saturating_add(window_concurrency)
                .saturating_add(1);
            EngineChoice::Pooled {
                slots: u32::try_from(slots).unwrap_or(u32::MAX),
            }
        } else {
            EngineChoice::OnDemand
        },
    };
    let (config_allow, targets, history_file, listen_file) = match &args.config {
        Some(path) => {
            let (allow, targets) = config::load(path)?;
            let history = config::load_history(path)?;
            (allow, targets, history, config::load_listen(path)?)
        }
        None => Default::default(),
    };
    let connections = crate::listen::Limits::resolve(&args.connections, &listen_file)?;
    // Before the plugin is compiled: a database that cannot be used stops
    // start-up at once, with its path in the message.
    let store = crate::history::open(args.history, history_file, 4 * args.concurrency.max(64))?;
    let plugin = match Plugin::new(&source, &options) {
        // The pool reserves its address space up front; where that is
        // refused (e.g. under `ulimit -v`), allocate on demand instead. Any
        // other failure fails again below, with its own error.
        Err(e) if matches!(options.engine, EngineChoice::Pooled { .. }) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "loading the plugin on the pooling allocator failed; trying on-demand allocation (as --on-demand)"
            );
            let options = PluginOptions {
                engine: EngineChoice::OnDemand,
                ..options
            };
            Plugin::new(&source, &options).context("loading the plugin")?
        }
        other => other.context("loading the plugin")?,
    };
    let engines: Vec<String> = plugin
        .engines()
        .await
        .context("asking the plugin for its engines")?
        .into_iter()
        .map(|e| e.id)
        .collect();
    for t in &targets {
        t.check_engine(&engines)?;
    }
    if targets.len() > limits.max_targets {
        bail!(
            "the config file lists {} targets, over --max-targets {}",
            targets.len(),
            limits.max_targets
        );
    }
    // Default: the hosts of configured targets; then the config's and the
    // command line's patterns.
    let allow = AllowList::new(
        targets
            .iter()
            .filter_map(|t| t.pattern())
            .chain(config_allow)
            .chain(args.allow),
    );
    let patterns: Vec<String> = allow.patterns().iter().map(|p| p.to_string()).collect();
    tracing::info!(allow = ?patterns, targets = targets.len(), "allow-list for ad-hoc requests");
    let settings = Settings {
        concurrency,
        adhoc_concurrency,
        window_concurrency,
        api_token,
        read_token: limits.read_token,
        max_targets: limits.max_targets,
        api_edits_configured: limits.api_edits_configured,
        history_max_points: limits.history_max_points,
        history_max_bytes: limits.history_max_bytes,
        ..Settings::default()
    };
    if settings.api_token.is_none() && !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback without --api-token");
    }
    let service = Service::with_history(plugin, allow, settings, engines, Some(store));
    for spec in targets {
        scheduler::start(&service, spec)?;
    }
    // Then the targets added through the API before a restart (an id the
    // config file uses stays the config file's).
    let restored = crate::persist::restore(&service).await;
    if restored > 0 {
        tracing::info!(restored, "targets added through the API restored");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first line on stdout, for scripts and tests (port 0 picks one).
    println!("listening on http://{addr}");
    tracing::info!(%addr, ?connections, "serving");
    crate::listen::serve(
        listener,
        crate::app::router(service.clone()),
        connections,
        shutdown_signal(),
    )
    .await;
    if scheduler::drain(&service, args.shutdown_grace).await {
        tracing::info!("stopped; every scrape in flight finished");
    } else {
        tracing::warn!(grace = ?args.shutdown_grace, "stopped; scrapes still in flight were abandoned");
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
