//! Shared test set-up: the real `llm-metrics-serve` process, fixture servers
//! and a real HTTP client, all on 127.0.0.1.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// Generous containment bound for anything that should be quick.
pub const BUDGET: Duration = Duration::from_secs(60);

/// A fixture file from the workspace's `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A database path of its own under the temporary directory.
/// `text` written to a config file of its own (named by its hash) under the
/// temporary directory.
pub fn write_config(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-metrics-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "{:x}.toml",
        std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), text)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn fresh_db() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("llm-metrics-serve-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.sqlite3", N.fetch_add(1, Ordering::SeqCst)))
}

/// A running `llm-metrics-serve`, killed on drop.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stderr (logs) so far, read continuously so it never blocks.
    pub log: Arc<std::sync::Mutex<String>>,
}

impl Serve {
    /// Start it with `args` (plus `--listen 127.0.0.1:0`) and wait for its
    /// address on stdout.
    pub async fn start(args: &[&str]) -> Serve {
        Serve::spawn(Command::new(env!("CARGO_BIN_EXE_llm-metrics-serve")), args).await
    }

    /// As [`Serve::start`], under a soft limit of `nofile` open files (as
    /// `ulimit -n` in a shell).
    pub async fn start_with_fd_limit(nofile: u32, args: &[&str]) -> Serve {
        Serve::start_under_ulimit(&format!("-n {nofile}"), args).await
    }

    /// As [`Serve::start`], under a soft limit of `kib` KiB of address space
    /// (as `ulimit -v` in a shell).
    pub async fn start_with_address_space_limit(kib: u64, args: &[&str]) -> Serve {
        Serve::start_under_ulimit(&format!("-v {kib}"), args).await
    }

    /// As [`Serve::start`], in a shell that set `ulimit {limit}` first.
    async fn start_under_ulimit(limit: &str, args: &[&str]) -> Serve {
        let mut sh = Command::new("sh");
        sh.args([
            "-c",
            &format!("ulimit {limit} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_llm-metrics-serve"),
        ]);
        Serve::spawn(sh, args).await
    }

    async fn spawn(mut command: Command, args: &[&str]) -> Serve {
        // Each process gets its own history database unless the test names
        // one (never the user's data directory).
        let own_db = (!args.contains(&"--db")).then(fresh_db);
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(
                own_db
                    .iter()
                    .flat_map(|p| [std::ffi::OsStr::new("--db"), p.as_os_str()]),
            )
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn llm-metrics-serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(BUDGET, BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("serve printed its address in time")
            .expect("read serve's stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let sink = log.clone();
        tokio::spawn(async move {
            let mut line = String::new();
            while stderr.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Serve { child, addr, log }
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &str) -> Reply {
        request(
            self.addr,
            "PUT",
            path,
            Some(body.to_string()),
            &[("content-type", "application/json")],
        )
        .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        request(self.addr, "DELETE", path, None, &[]).await
    }

    /// Poll `GET path` until `done` holds for its JSON, within [`BUDGET`].
    pub async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + BUDGET;
        loop {
            let r = self.get(path).await;
            if r.status == 200 {
                let v = r.json();
                if done(&v) {
                    return v;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never reached the expected state: {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Send SIGTERM and collect the exit status and the log (stderr).
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(BUDGET, self.child.wait())
            .await
            .expect("serve exited in time")
            .unwrap();
        // The reader sees end-of-file once the process is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = self.log.lock().unwrap().clone();
        (exit, log)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, None, &[]).await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post(&self, path: &str, body: &str) -> Reply {
        request(
            self.addr,
            "POST",
            path,
            Some(body.to_string()),
            &[("content-type", "application/json")],
        )
        .await
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body text.
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }
}

/// One HTTP/1.1 request over a fresh connection (hyper's client).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Reply {
    let run = async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string());
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = sender.send_request(req).await.expect("send request");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    };
    tokio::time::timeout(BUDGET, run)
        .await
        .expect("request finished in time")
}

/// A fixture inference server: `/metrics` serves `body`; `/slow` serves it
/// after a second; `/missing` is 404; `/html` is a web page; `/hang` never
/// answers. Counts requests.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests seen on `/metrics`.
    pub hits: Arc<AtomicUsize>,
    /// The last `Authorization` header `/metrics` saw.
    pub last_auth: Arc<std::sync::Mutex<Option<String>>>,
    /// Responses `/slow` finished.
    pub slow_done: Arc<AtomicUsize>,
}

impl Upstream {
    /// Serve `body` as 0.0.4 text.
    pub async fn start(body: Vec<u8>) -> Upstream {
        let hits = Arc::new(AtomicUsize::new(0));
        let last_auth = Arc::new(std::sync::Mutex::new(None));
        let slow_done = Arc::new(AtomicUsize::new(0));
        let (counter, auth, done) = (hits.clone(), last_auth.clone(), slow_done.clone());
        let body = Bytes::from(body);
        let slow_body = body.clone();
        let app = Router::new()
            .route(
                "/metrics",
                get(move |headers: axum::http::HeaderMap| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    *auth.lock().unwrap() = headers
                        .get(header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_string());
                    let body = body.clone();
                    async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
                }),
            )
            .route(
                "/missing",
                get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
            )
            .route(
                "/html",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<!doctype html><html><body>login</body></html>",
                    )
                }),
            )
            .route(
                "/slow",
                get(move || {
                    let (body, done) = (slow_body.clone(), done.clone());
                    async move {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        done.fetch_add(1, Ordering::SeqCst);
                        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
                    }
                }),
            )
            .route(
                "/hang",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "late"
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Upstream {
            addr,
            hits,
            last_auth,
            slow_done,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A listener that only counts the connections it accepts.
pub struct Tripwire {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Connections accepted.
    pub accepted: Arc<AtomicUsize>,
}

impl Tripwire {
    /// Listen on a fresh loopback port.
    pub async fn start() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Tripwire { addr, accepted }
    }

    /// Connections seen so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Percent-encode a URL for a query string.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Debian's `prometheus` package tool `name` (`prometheus`, `promtool`) on
/// `PATH`; without it the caller skips loudly, unless
/// `LLM_METRICS_REQUIRE_PROMETHEUS=1` (set by `.ci/run`) makes that a failure.
pub fn prometheus_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("LLM_METRICS_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "LLM_METRICS_REQUIRE_PROMETHEUS=1 but `{name}` is not on PATH"
        );
        eprintln!("SKIPPED: `{name}` not found; apt-get install prometheus");
    }
    found
}

/// A real Prometheus server scraping one `serve` every second, with its web
/// API on a free loopback port; killed when dropped.
pub struct Prometheus {
    /// Its web API's address.
    pub web: SocketAddr,
    /// Its configuration and data.
    pub dir: PathBuf,
    _child: Child,
}

impl Prometheus {
    /// `binary` scraping `target`'s `/metrics`, its data in a fresh
    /// directory named after `name`; `honor_labels` keeps the scraped
    /// `instance` label (else Prometheus renames it `exported_instance`).
    pub fn start(
        binary: &std::path::Path,
        target: SocketAddr,
        name: &str,
        honor_labels: bool,
    ) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("llm-metrics-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        let honor = if honor_labels {
            "    honor_labels: true\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: llm-metrics\n\
                 {honor}    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        // A free loopback port for Prometheus' own web API.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let web: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Prometheus {
            web,
            dir,
            _child: child,
        }
    }
}
