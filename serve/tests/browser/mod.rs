//! The browser side of the pages' tests: chromedriver and a headless
//! chromium session through it (`fantoccini`), a free loopback port, and a
//! plain HTTP exchange that keeps the response headers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::http::header;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::common::BUDGET;

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, and a headless chromium session through it; both end on
/// drop (the session is closed explicitly by [`Browser::close`]).
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: Child,
}

impl Browser {
    /// `None` (after saying so) when chromedriver is not installed and CI
    /// does not require it.
    pub async fn start() -> Option<Browser> {
        let driver = std::env::var_os("LLM_METRICS_CHROMEDRIVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
        if !driver.exists() {
            assert!(
                std::env::var_os("LLM_METRICS_REQUIRE_CHROMIUM").is_none(),
                "LLM_METRICS_REQUIRE_CHROMIUM is set but {} is missing \
                 (apt-get install chromium chromium-driver)",
                driver.display()
            );
            eprintln!(
                "SKIPPED: the browser tests need chromium and chromedriver \
                 (apt-get install chromium chromium-driver); {} is missing",
                driver.display()
            );
            return None;
        }
        let port = closed_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1300,1800",
        ];
        args.push("--lang=en-US");
        let mut options = json!({"args": args});
        let real = PathBuf::from("/usr/lib/chromium/chromium");
        if real.exists() {
            options["binary"] = json!(real);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let deadline = tokio::time::Instant::now() + BUDGET;
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        };
        Some(Browser {
            client,
            _driver: child,
        })
    }

    /// The text of the first element matching `css`, waiting (a page that
    /// is still loading after a click or a form post) up to 30 s for it.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn all_texts(&self, css: &str) -> Vec<String> {
        let mut out = vec![];
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// Wait (within [`BUDGET`]) until the browser is at `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + BUDGET;
        while self.path().await != path {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {path}: at {}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Save the page as `DIR/name.png` when `LLM_METRICS_SCREENSHOTS=DIR`,
    /// the window first made as tall as the page.
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("LLM_METRICS_SCREENSHOTS") else {
            return;
        };
        self.client.set_window_size(1300, 600).await.unwrap();
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_f64()
            .unwrap_or(1800.0);
        self.client
            .set_window_size(1300, (height as u32).clamp(600, 6000) + 140)
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
        self.client.set_window_size(1300, 1800).await.unwrap();
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// One request with its response headers (the common helper keeps none).
pub async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body.to_string()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, headers, text)
}
