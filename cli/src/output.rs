//! How the CLI prints results: `--output json|table`, one JSON document a
//! line, and a closed stdout.
//!
//! Invariant: a closed pipe (`| head`) is never an error: writers report it
//! so the command can stop and exit 0; any other write error is one.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::bail;
use clap::ValueEnum;

/// `--output`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputArg {
    /// The snapshot as JSON.
    Json,
    /// A readable table.
    Table,
}

/// Print one JSON document and a line feed; `Ok(true)` when stdout was
/// closed (`| head`), which is not an error.
pub fn write_json(value: &serde_json::Value) -> anyhow::Result<bool> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = serde_json::to_writer(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => bail!(e),
        Err(_) => Ok(true),
        Ok(()) => Ok(false),
    }
}

/// A closed pipe (`| head`) is not an error.
pub fn broken_pipe_or(e: io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(e.into())
    }
}
