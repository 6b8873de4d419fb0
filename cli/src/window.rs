//! `llm-metrics window` and `llm-metrics collect --interval`: windows between
//! two snapshots of one server, computed by the plugin (`Plugin::window`), so
//! the CLI has the same semantics as every other embedder.
//!
//! A window's length is the difference of the snapshots' collection times:
//! for saved files their modification times (or `--elapsed`), for live
//! collections the times the plugin received each body. Failures follow the
//! CLI's contract: one `error: …` line on stderr, exit status 1.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use llm_metrics_host::describe::collect_error;
use llm_metrics_host::json;
use llm_metrics_host::plugin::Plugin;
use llm_metrics_host::policy::EgressPolicy;
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::wit::mapper::{Snapshot, WindowError, WindowStats};

use crate::output::{OutputArg, write_json};

/// The window between two saved scrapes.
pub async fn files(
    plugin: &Plugin,
    engine: &str,
    instance_id: Option<String>,
    elapsed: Option<Duration>,
    output: OutputArg,
    earlier: &Path,
    later: &Path,
) -> anyhow::Result<ExitCode> {
    // Both snapshots must name one instance; by default, the later file.
    let instance_id = instance_id.unwrap_or_else(|| later.display().to_string());
    let mut snapshots = Vec::with_capacity(2);
    for path in [earlier, later] {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        match plugin.map(&text, None, engine, &instance_id).await? {
            Ok(s) => snapshots.push(s),
            Err(e) => {
                eprintln!("error: {}: {}", path.display(), collect_error(&e));
                return Ok(ExitCode::from(1));
            }
        }
    }
    let (mut a, mut b) = (snapshots.remove(0), snapshots.remove(0));
    a.collected_at_ms = modified_ms(earlier)?;
    b.collected_at_ms = match elapsed {
        Some(d) => a
            .collected_at_ms
            .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => modified_ms(later)?,
    };
    match plugin.window(&a, &b).await? {
        Ok(w) => print(&w, output, false),
        Err(e) => {
            let hint = match (&e, elapsed) {
                (WindowError::NotLater(_), None) => {
                    " (from the files' modification times; pass --elapsed DURATION)"
                }
                _ => "",
            };
            eprintln!("error: {}{hint}", describe(&e));
            Ok(ExitCode::from(1))
        }
    }
}

/// Collect every `interval` and print the window since the previous
/// successful collection; `count` windows (or intervals that failed), or
/// until interrupted. A failed collection or window is an `error:` line on
/// stderr and the loop goes on; the exit status is then 1.
pub async fn every(
    plugin: &Plugin,
    target: &Target,
    egress: EgressPolicy,
    interval: Duration,
    count: Option<u64>,
    output: OutputArg,
) -> anyhow::Result<ExitCode> {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let redraw = matches!(output, OutputArg::Table) && io::stdout().is_terminal();
    let mut previous: Option<Snapshot> = None;
    let mut failed = false;
    let mut done = 0u64;
    // The first tick is immediate: the baseline, which prints nothing.
    ticker.tick().await;
    match plugin.collect(target, egress.clone()).await? {
        Ok(s) => previous = Some(s),
        Err(e) => {
            eprintln!("error: {}", collect_error(&e));
            failed = true;
        }
    }
    while count.is_none_or(|n| done < n) {
        ticker.tick().await;
        done += 1;
        let current = match plugin.collect(target, egress.clone()).await? {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", collect_error(&e));
                failed = true;
                continue;
            }
        };
        if let Some(earlier) = &previous {
            match plugin.window(earlier, &current).await? {
                Ok(w) => {
                    if let Some(code) = print_or_stop(&w, Some(&current), output, redraw)? {
                        return Ok(code);
                    }
                }
                Err(e) => {
                    eprintln!("error: {}", describe(&e));
                    failed = true;
                }
            }
        }
        previous = Some(current);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Print a window (in a table, under the `latest` snapshot's load when
/// given; JSON lines are the window alone); `Some(exit code)` when stdout
/// is closed (`| head`).
fn print_or_stop(
    w: &WindowStats,
    latest: Option<&Snapshot>,
    output: OutputArg,
    redraw: bool,
) -> anyhow::Result<Option<ExitCode>> {
    match output {
        OutputArg::Json => {
            if write_json(&json::window(w))? {
                return Ok(Some(ExitCode::SUCCESS));
            }
        }
        OutputArg::Table => {
            // Like `top`: clear the terminal and draw from the top-left corner;
            // into a file or pipe, tables follow each other.
            let mut text = crate::table::window(w);
            if let Some(s) = latest {
                let now = std::time::SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                text = format!("{}\n{text}", crate::table::load(s, now));
            }
            let frame = if redraw {
                format!("\x1b[2J\x1b[H{text}")
            } else {
                format!("{text}\n")
            };
            let mut out = io::stdout().lock();
            match out.write_all(frame.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Ok(Some(ExitCode::SUCCESS));
                }
                other => other?,
            }
        }
    }
    Ok(None)
}

fn print(w: &WindowStats, output: OutputArg, redraw: bool) -> anyhow::Result<ExitCode> {
    print_or_stop(w, None, output, redraw).map(|code| code.unwrap_or(ExitCode::SUCCESS))
}

/// `kind: message`, e.g. `not later: the later snapshot (…) was not collected after …`.
fn describe(e: &WindowError) -> String {
    let (kind, message) = json::window_error(e);
    format!("{}: {message}", kind.replace('-', " "))
}

/// A file's modification time in ms since the epoch.
fn modified_ms(path: &Path) -> anyhow::Result<u64> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the modification time of {}", path.display()))?;
    let since = modified
        .duration_since(UNIX_EPOCH)
        .with_context(|| format!("{} was modified before 1970", path.display()))?;
    Ok(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}
