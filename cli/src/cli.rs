//! The `llm-metrics` command line: arguments (clap) and the commands.
//!
//! Exit status is a contract: 0 success; 1 the input or target gave no usable
//! result (invalid text, HTTP error, timeout, denied host, plugin failure);
//! 2 usage error. Results go to stdout, diagnostics to stderr.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use llm_metrics_host::describe::{collect_error, parse_error};
use llm_metrics_host::plugin::{ComponentSource, Limits, Plugin, PluginOptions, default_cache_dir};
use llm_metrics_host::policy::{AllowedHost, EgressPolicy};
use llm_metrics_host::wit::collector::{Header, Target};
use llm_metrics_host::wit::mapper::{CollectError, Snapshot};
use llm_metrics_host::wit::types::{Format, ParseOptions};
use llm_metrics_serve::cli::PluginArgs;

use crate::output::{OutputArg, broken_pipe_or, write_json};

const EXIT_NOTES: &str =
    "Exit status: 0 success; 1 invalid input or failed collection; 2 usage error.";

/// Read LLM inference servers' Prometheus /metrics correctly.
#[derive(Debug, Parser)]
#[command(name = "llm-metrics", version, about, after_help = EXIT_NOTES)]
pub struct Cli {
    /// Load this build of the plugin instead of the embedded one.
    #[arg(long, global = true, value_name = "PATH")]
    pub component: Option<PathBuf>,
    /// Compile the component on every run instead of caching it.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Memory the plugin may use per call (e.g. 512MiB; default 512MiB,
    /// 256MiB for `serve`).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// CPU time the plugin may use per call (e.g. 10s; default 10s, 5s for
    /// `serve`).
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub cpu_time: Option<Duration>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse exposition text and print its families as JSON.
    #[command(after_help = EXIT_NOTES)]
    Parse {
        /// Text format.
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// Reject everything the format forbids (OpenMetrics semantics included).
        #[arg(long)]
        strict: bool,
        /// The file to read; `-` or nothing for standard input.
        file: Option<PathBuf>,
    },
    /// Check files like `promtool check metrics`: one line per file.
    #[command(after_help = EXIT_NOTES)]
    Check {
        /// Text format.
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// Judge by the strict rules (otherwise strict problems are reported as warnings).
        #[arg(long)]
        strict: bool,
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the snapshot of an exposition saved to a file (no network).
    #[command(after_help = EXIT_NOTES)]
    Map {
        /// Which engine produced the text: `auto` or an id `llm-metrics engines` lists.
        #[arg(long, default_value = "auto")]
        engine: String,
        /// Name for this server in the snapshot (default: the file name).
        #[arg(long)]
        instance_id: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputArg::Json)]
        output: OutputArg,
        /// The file to read; `-` or nothing for standard input.
        file: Option<PathBuf>,
    },
    /// Fetch a server's /metrics and print a snapshot of its state.
    #[command(after_help = EXIT_NOTES)]
    Collect {
        /// Which engine the server runs: `auto` or an id `llm-metrics engines` lists.
        #[arg(long, default_value = "auto")]
        engine: String,
        /// Name for this server in the snapshot (default: the URL's host:port).
        #[arg(long)]
        instance_id: Option<String>,
        /// Budget for the whole fetch (e.g. 2s, 500ms).
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Largest body accepted (e.g. 1MB, 512KiB, 1048576).
        #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_size)]
        max_body: u64,
        /// Extra request header, `Name: value` (repeatable).
        #[arg(long = "header", value_name = "'K: V'", value_parser = parse_header)]
        headers: Vec<(String, String)>,
        /// Also allow the plugin to reach HOST or HOST:PORT (the URL's host:port always is).
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// Include the parsed families in the output.
        #[arg(long, conflicts_with = "interval")]
        raw: bool,
        /// Collect every DURATION (e.g. 5s) and print the window since the
        /// previous collection: JSON lines, or with `--output table` a table
        /// redrawn in place like `top`, the latest load (models, running,
        /// waiting, KV cache use, the scrape's age) above the window.
        #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
        interval: Option<Duration>,
        /// With --interval: stop after N windows (default: until interrupted).
        #[arg(long, value_name = "N", requires = "interval")]
        count: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputArg::Json)]
        output: OutputArg,
        /// The /metrics URL.
        url: String,
    },
    /// Print the window between two saved scrapes of one server: rates per
    /// second and latency over the window.
    #[command(after_help = EXIT_NOTES)]
    Window {
        /// Which engine produced the text: `auto` or an id `llm-metrics engines` lists.
        #[arg(long, default_value = "auto")]
        engine: String,
        /// Name for this server (default: the later file's name).
        #[arg(long)]
        instance_id: Option<String>,
        /// The window's length (e.g. 15s); default: the difference of the
        /// files' modification times.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        elapsed: Option<Duration>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputArg::Json)]
        output: OutputArg,
        /// The earlier scrape.
        earlier: PathBuf,
        /// The later scrape.
        later: PathBuf,
    },
    /// List the engines the plugin maps (ids for --engine, prefixes, aliases).
    #[command(after_help = EXIT_NOTES)]
    Engines {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputArg::Json)]
        output: OutputArg,
    },
    /// Run the collection service (API, target scraper, fleet view, /metrics).
    Serve(llm_metrics_serve::cli::Args),
}

/// `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// OpenMetrics if the text ends with `# EOF`, else Prometheus.
    Auto,
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.
    Openmetrics,
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.trim().parse::<bytesize::ByteSize>().map(|b| b.as_u64())
}

/// `--interval`: a duration of at least 100 ms.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_millis(100) {
        return Err("the interval must be at least 100ms".into());
    }
    Ok(d)
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once(':').ok_or("expected `Name: value`")?;
    let k = k.trim();
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
    {
        return Err(format!("`{k}` is not a header name"));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

/// Run a parsed command line; errors are printed by the caller as `error: …`.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let source = cli
        .component
        .clone()
        .map_or(ComponentSource::Embedded, ComponentSource::File);
    let memory_bytes = cli.memory.map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    let defaults = Limits::default();
    let limits = Limits {
        memory_bytes: memory_bytes.unwrap_or(defaults.memory_bytes),
        cpu_time: cli.cpu_time.unwrap_or(defaults.cpu_time),
        ..defaults
    };
    let options = PluginOptions {
        limits,
        cache_dir: if cli.no_cache {
            None
        } else {
            default_cache_dir()
        },
        ..PluginOptions::default()
    };
    // `serve` loads its own plugin, with its own defaults.
    let load = || Plugin::new(&source, &options).context("loading the plugin");
    match cli.command {
        Command::Serve(args) => {
            let defaults = PluginArgs::default();
            let plugin = PluginArgs {
                component: cli.component,
                no_cache: cli.no_cache,
                memory_bytes: memory_bytes.unwrap_or(defaults.memory_bytes),
                cpu_time: cli.cpu_time.unwrap_or(defaults.cpu_time),
            };
            llm_metrics_serve::cli::init_tracing();
            llm_metrics_serve::cli::run(args, plugin).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse {
            format,
            strict,
            file,
        } => parse(&load()?, format, strict, file).await,
        Command::Check {
            format,
            strict,
            files,
        } => check(&load()?, format, strict, &files).await,
        Command::Map {
            engine,
            instance_id,
            output,
            file,
        } => {
            let plugin = load()?;
            if let Some(code) = check_engine(&plugin, &engine).await? {
                return Ok(code);
            }
            let text = read_input(file.as_ref())?;
            let instance_id = instance_id.unwrap_or_else(|| match &file {
                Some(p) if p.as_os_str() != "-" => p.display().to_string(),
                _ => "-".to_string(),
            });
            let result = plugin.map(&text, None, &engine, &instance_id).await?;
            print_snapshot(result, output)
        }
        Command::Collect {
            engine,
            instance_id,
            timeout,
            max_body,
            headers,
            allow_hosts,
            raw,
            interval,
            count,
            output,
            url,
        } => {
            let plugin = load()?;
            if let Some(code) = check_engine(&plugin, &engine).await? {
                return Ok(code);
            }
            let mut egress = EgressPolicy::deny_all()
                .with_max_body_bytes(max_body)
                .allow(AllowedHost::from_url(&url).context("the URL")?);
            for h in &allow_hosts {
                egress = egress.allow(AllowedHost::parse(h)?);
            }
            let target = Target {
                url,
                instance_id,
                engine,
                timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
                max_body_bytes: max_body,
                headers: headers
                    .into_iter()
                    .map(|(name, value)| Header { name, value })
                    .collect(),
                include_raw: raw,
            };
            match interval {
                Some(every) => {
                    crate::window::every(&plugin, &target, egress, every, count, output).await
                }
                None => collect(&plugin, &target, egress, output).await,
            }
        }
        Command::Window {
            engine,
            instance_id,
            elapsed,
            output,
            earlier,
            later,
        } => {
            let plugin = load()?;
            if let Some(code) = check_engine(&plugin, &engine).await? {
                return Ok(code);
            }
            crate::window::files(
                &plugin,
                &engine,
                instance_id,
                elapsed,
                output,
                &earlier,
                &later,
            )
            .await
        }
        Command::Engines { output } => {
            let engines = load()?.engines().await?;
            match output {
                OutputArg::Json => {
                    write_json(&llm_metrics_host::json::engines(&engines))?;
                }
                OutputArg::Table => {
                    if let Err(e) = io::stdout()
                        .lock()
                        .write_all(crate::table::engines(&engines).as_bytes())
                    {
                        return broken_pipe_or(e);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--engine` must be `auto` or an id the plugin lists (not a list compiled
/// into the CLI, so a newer plugin's engines work). A usage error otherwise.
async fn check_engine(plugin: &Plugin, engine: &str) -> anyhow::Result<Option<ExitCode>> {
    if engine == "auto" {
        return Ok(None);
    }
    let engines = plugin.engines().await?;
    if engines.iter().any(|e| e.id == engine) {
        return Ok(None);
    }
    let known: Vec<&str> = std::iter::once("auto")
        .chain(engines.iter().map(|e| e.id.as_str()))
        .collect();
    eprintln!(
        "error: unknown engine `{engine}` for --engine; known: {}",
        known.join(", ")
    );
    Ok(Some(ExitCode::from(2)))
}

fn parse_options(format: FormatArg, strict: bool) -> ParseOptions {
    ParseOptions {
        format: match format {
            FormatArg::Auto => Format::Auto,
            FormatArg::Prometheus => Format::Prometheus,
            FormatArg::Openmetrics => Format::Openmetrics,
        },
        strict,
        content_type: None,
    }
}

fn read_input(file: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            io::stdin()
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            Ok(buf)
        }
    }
}

async fn parse(
    plugin: &Plugin,
    format: FormatArg,
    strict: bool,
    file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let text = read_input(file.as_ref())?;
    match plugin.parse(&text, &parse_options(format, strict)).await? {
        Ok(parsed) => {
            write_json(&llm_metrics_host::json::families(&parsed.families))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}", parse_error(&e));
            Ok(ExitCode::from(1))
        }
    }
}

async fn check(
    plugin: &Plugin,
    format: FormatArg,
    strict: bool,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut out = io::stdout().lock();
    for path in files {
        let line = match std::fs::read(path) {
            Err(e) => {
                failed = true;
                format!("{}: FAILED: cannot read: {e}", path.display())
            }
            Ok(text) => {
                let start = Instant::now();
                let result = plugin.parse(&text, &parse_options(format, strict)).await?;
                let elapsed = start.elapsed();
                match result {
                    Err(e) => {
                        failed = true;
                        format!("{}: FAILED: {}", path.display(), parse_error(&e))
                    }
                    Ok(parsed) => {
                        let samples: usize = parsed.families.iter().map(|f| f.samples.len()).sum();
                        let mut line = format!(
                            "{}: OK: {} families, {} samples, {} bytes, parsed in {:.2?}",
                            path.display(),
                            parsed.families.len(),
                            samples,
                            text.len(),
                            elapsed
                        );
                        // In lenient mode, say what the strict rules would reject.
                        if !strict
                            && let Err(e) =
                                plugin.parse(&text, &parse_options(format, true)).await?
                        {
                            line.push_str(&format!(
                                "; warning: strict mode rejects {}",
                                parse_error(&e)
                            ));
                        }
                        line
                    }
                }
            }
        };
        if let Err(e) = writeln!(out, "{line}") {
            return broken_pipe_or(e);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn collect(
    plugin: &Plugin,
    target: &Target,
    egress: EgressPolicy,
    output: OutputArg,
) -> anyhow::Result<ExitCode> {
    print_snapshot(plugin.collect(target, egress).await?, output)
}

/// Print a snapshot (stdout) or the typed error (stderr, exit 1).
fn print_snapshot(
    result: Result<Snapshot, CollectError>,
    output: OutputArg,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(snapshot) => {
            match output {
                OutputArg::Json => {
                    write_json(&llm_metrics_host::json::snapshot(&snapshot))?;
                }
                OutputArg::Table => {
                    if let Err(e) = io::stdout()
                        .lock()
                        .write_all(crate::table::snapshot(&snapshot).as_bytes())
                    {
                        return broken_pipe_or(e);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}", collect_error(&e));
            Ok(ExitCode::from(1))
        }
    }
}
