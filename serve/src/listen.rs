//! The listener: accepting connections and serving HTTP/1.1 on them within
//! limits, so that idle or slow clients cannot hold the service.
//!
//! Invariants: at most [`Limits::max_connections`] accepted connections are
//! open at once; at the cap the service stops accepting (the kernel's
//! backlog holds newcomers) until one closes, so file descriptors stay for
//! SQLite and scrapes. A request's head must arrive within
//! [`Limits::header_timeout`] of the moment hyper starts waiting for it (a
//! fresh connection, or a kept-alive one after its last response), so a
//! partial or absent request closes the connection. A request body that
//! stops arriving, or a response the client stops reading, for
//! [`Limits::idle_timeout`] closes it too. A failing `accept` (such as
//! `EMFILE`) is retried after a pause, never fatal. On shutdown the
//! listener closes first, then every connection finishes its request in
//! flight.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tower_http::timeout::RequestBodyTimeout;

use crate::config::{ListenConfig, Seconds};

/// Default for [`Limits::max_connections`]: half a common 1,024 file
/// descriptor limit, leaving the rest for the database and scrapes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default for [`Limits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The listener's limits from the command line (each overrides the config
/// file's `[listen]` table).
#[derive(Debug, Default, clap::Args)]
pub struct ListenArgs {
    /// Connections open at once; beyond it the service stops accepting
    /// until one closes (config `[listen] max_connections`; default 512).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// A request's headers must arrive within this, counted from the
    /// connection's start or its previous response, so it also bounds an
    /// idle kept-alive connection (config `[listen] header_timeout`;
    /// default 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub header_timeout: Option<Duration>,
    /// Close a connection whose request body stops arriving, or whose
    /// client stops reading the response, for this long (config `[listen]
    /// idle_timeout`; default 60s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
}

/// What the listener allows, resolved and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Accepted connections open at once.
    pub max_connections: usize,
    /// Time for a request's head to arrive.
    pub header_timeout: Duration,
    /// Time a request body or a response may make no progress.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl Limits {
    /// Flags first, then the config file, then the defaults; zero is
    /// refused (it would accept nothing or close everything at once).
    pub fn resolve(args: &ListenArgs, file: &ListenConfig) -> anyhow::Result<Limits> {
        let seconds = |s: Option<Seconds>| s.map(|s| s.0);
        let limits = Limits {
            max_connections: args
                .max_connections
                .or(file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            header_timeout: args
                .header_timeout
                .or(seconds(file.header_timeout))
                .unwrap_or(DEFAULT_HEADER_TIMEOUT),
            idle_timeout: args
                .idle_timeout
                .or(seconds(file.idle_timeout))
                .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        };
        if limits.max_connections == 0 {
            anyhow::bail!("--max-connections (`[listen] max_connections`) must be at least 1");
        }
        if limits.header_timeout.is_zero() || limits.idle_timeout.is_zero() {
            anyhow::bail!("--header-timeout and --idle-timeout must be over 0");
        }
        Ok(limits)
    }
}

/// Serve `app` on `listener` within `limits` until `shutdown` completes,
/// then let every open connection finish its request in flight.
pub async fn serve(
    mut listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let service = TowerToHyperService::new(RequestBodyTimeout::new(app, limits.idle_timeout));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, permit) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&mut listener, &permits, limits.max_connections) => accepted,
        };
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.idle_timeout));
        let conn = http.serve_connection(TokioIo::new(Box::pin(io)), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection, once one may be open. Errors from `accept` are
/// handled by axum's listener: connection errors are skipped, others (the
/// process out of file descriptors) logged and retried a second later.
async fn accept(
    listener: &mut TcpListener,
    permits: &Arc<Semaphore>,
    cap: usize,
) -> (TcpStream, OwnedSemaphorePermit) {
    let permit = match permits.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            tracing::debug!(
                cap,
                "connection cap reached; not accepting until one closes"
            );
            permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed")
        }
    };
    let (stream, _) = axum::serve::Listener::accept(listener).await;
    (stream, permit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_in() {
        let file = ListenConfig {
            max_connections: Some(100),
            header_timeout: Some(Seconds(Duration::from_secs(3))),
            idle_timeout: None,
        };
        let args = ListenArgs {
            max_connections: Some(7),
            ..ListenArgs::default()
        };
        let limits = Limits::resolve(&args, &file).unwrap();
        assert_eq!(
            limits,
            Limits {
                max_connections: 7,
                header_timeout: Duration::from_secs(3),
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
            }
        );
        assert_eq!(
            Limits::resolve(&ListenArgs::default(), &ListenConfig::default()).unwrap(),
            Limits::default()
        );
    }

    #[test]
    fn zero_is_refused() {
        let zero = ListenArgs {
            max_connections: Some(0),
            ..ListenArgs::default()
        };
        assert!(Limits::resolve(&zero, &ListenConfig::default()).is_err());
        let zero = ListenArgs {
            header_timeout: Some(Duration::ZERO),
            ..ListenArgs::default()
        };
        assert!(Limits::resolve(&zero, &ListenConfig::default()).is_err());
    }
}
