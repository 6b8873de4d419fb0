//! The TOML configuration file and the target definitions shared with the
//! targets API.
//!
//! Invariant: a [`TargetSpec`] that exists has been validated (id, URL,
//! engine, interval, timeout) and its header values resolved; secret values
//! live only in [`Secret`], whose `Debug` never shows them, and only header
//! *names* are ever serialized back out. Values from environment variables
//! or files come only from the operator's config file, never from the API
//! (a caller could otherwise send the service's secrets to a URL of theirs).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::allow::{Destination, Pattern};
use crate::engine;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Extra allow-list patterns for ad-hoc requests.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Targets to scrape.
    #[serde(default)]
    pub targets: Vec<TargetEntry>,
    /// Where and how long scrapes are kept.
    #[serde(default)]
    pub history: HistoryConfig,
    /// Request-side limits (command-line flags override them).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The listener's limits.
    #[serde(default)]
    pub listen: ListenConfig,
}

/// The `[limits]` table (command-line flags override it; see
/// [`crate::limits`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// `--max-targets`.
    pub max_targets: Option<usize>,
    /// `--history-max-points`.
    pub history_max_points: Option<usize>,
    /// `--history-max-bytes`, e.g. `"8MiB"`.
    pub history_max_bytes: Option<String>,
    /// `--window-concurrency`.
    pub window_concurrency: Option<usize>,
    /// `--api-edits-configured`.
    pub api_edits_configured: Option<bool>,
}

/// The `[listen]` table (command-line flags override it; see
/// [`crate::listen`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// Connections open at once.
    pub max_connections: Option<usize>,
    /// Time for a request's headers to arrive.
    pub header_timeout: Option<Seconds>,
    /// Time a request body or a response may make no progress.
    pub idle_timeout: Option<Seconds>,
}

/// The `[history]` table (command-line flags override it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// The SQLite database file.
    pub db: Option<std::path::PathBuf>,
    /// Delete scrapes older than this (`0s` keeps everything).
    pub retention: Option<Seconds>,
    /// Delete the oldest scrapes while the data is larger than this, e.g.
    /// `"10GiB"`.
    pub retention_size: Option<String>,
    /// Hard cap on the database's size: writes beyond it fail, as on a full
    /// disk.
    pub max_size: Option<String>,
}

/// One `[[targets]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntry {
    /// Unique id.
    pub id: String,
    /// The `/metrics` URL.
    pub url: String,
    /// Engine name (default `auto`).
    #[serde(default)]
    pub engine: Option<String>,
    /// Scrape interval, seconds or a duration like `"15s"` (default 15 s).
    #[serde(default)]
    pub interval: Option<Seconds>,
    /// Fetch budget, seconds or a duration (default 10 s, at most the interval).
    #[serde(default)]
    pub timeout: Option<Seconds>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderSource>,
    /// Free-form labels, e.g. `pool`, `zone`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A duration as a number of seconds or a humantime string.
#[derive(Clone, Copy, Debug)]
pub struct Seconds(pub Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        let err = |m: String| serde::de::Error::custom(m);
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Seconds(Duration::from_secs(n))),
            Raw::Float(f) => Duration::try_from_secs_f64(f)
                .map(Seconds)
                .map_err(|_| err(format!("{f} is not a duration in seconds"))),
            Raw::Text(s) => humantime::parse_duration(&s)
                .map(Seconds)
                .map_err(|e| err(format!("`{s}`: {e}"))),
        }
    }
}

/// Where a header's value comes from.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HeaderSource {
    /// A literal value.
    Literal(String),
    /// `{ env = "NAME", prefix = "Bearer " }` or `{ file = "/path", prefix = … }`.
    From {
        /// An environment variable holding the value.
        env: Option<String>,
        /// A file holding the value (trailing newline removed).
        file: Option<String>,
        /// Put in front of the value, e.g. `"Bearer "`.
        #[serde(default)]
        prefix: String,
    },
}

/// A header value that is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A validated target.
#[derive(Clone, Debug)]
pub struct TargetSpec {
    /// Unique id.
    pub id: String,
    /// The `/metrics` URL.
    pub url: String,
    /// The engine id, or `auto` (checked against the plugin's list by the
    /// caller: [`TargetSpec::check_engine`]).
    pub engine: String,
    /// Scrape interval.
    pub interval: Duration,
    /// Fetch budget.
    pub timeout: Duration,
    /// Request headers (values secret).
    pub headers: Vec<(String, Secret)>,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
    /// Added through the API (checked against the allow-list on every
    /// scrape) rather than by the operator's config file.
    pub from_api: bool,
}

/// Default scrape interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Default fetch budget.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest interval accepted (a day): every duration from input is bounded,
/// so no arithmetic on it can overflow.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Most labels one target may carry (each is repeated on every series of
/// the `/metrics` export).
pub const MAX_LABELS: usize = 32;
/// Longest label name, in bytes.
pub const MAX_LABEL_NAME: usize = 128;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE: usize = 1024;
/// Most bytes of label names and values one target may carry in all.
pub const MAX_LABEL_BYTES: usize = 2048;

impl TargetSpec {
    /// Validate the parts of a target. `headers` are already resolved.
    pub fn new(
        id: String,
        url: String,
        engine_name: Option<&str>,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        headers: Vec<(String, Secret)>,
        labels: BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        if !valid_id(&id) {
            bail!(
                "target id `{id}` must be 1-128 characters of letters, digits, `.`, `_`, `-`, `:`"
            );
        }
        Destination::parse(&url).map_err(|e| anyhow::anyhow!("target `{id}`: {e}"))?;
        let engine_name = engine_name.unwrap_or("auto");
        if !engine::plausible(engine_name) {
            bail!("target `{id}`: `{engine_name}` is not an engine id");
        }
        let engine = engine_name.to_string();
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            bail!(
                "target `{id}`: interval must be at least {} and at most {}",
                humantime::format_duration(MIN_INTERVAL),
                humantime::format_duration(MAX_INTERVAL)
            );
        }
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT.min(interval));
        let max = llm_metrics_host::plugin::MAX_FETCH_BUDGET;
        if timeout.is_zero() || timeout > max {
            bail!("target `{id}`: timeout must be over 0 and at most {max:?}");
        }
        for (name, _) in &headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                bail!("target `{id}`: `{name}` is not a header name");
            }
        }
        check_labels(&id, &labels)?;
        Ok(TargetSpec {
            id,
            url,
            engine,
            interval,
            timeout,
            headers,
            labels,
            from_api: false,
        })
    }

    /// Refuse an engine the plugin does not map.
    pub fn check_engine(&self, known: &[String]) -> anyhow::Result<()> {
        if engine::parse(&self.engine, known).is_none() {
            bail!(
                "target `{}`: unknown engine `{}` (known: auto, {})",
                self.id,
                self.engine,
                known.join(", ")
            );
        }
        Ok(())
    }

    /// The allow-list pattern for exactly this target's host and port.
    pub fn pattern(&self) -> Option<Pattern> {
        Pattern::for_url(&self.url)
    }
}

/// Refuse labels beyond [`MAX_LABELS`], [`MAX_LABEL_NAME`],
/// [`MAX_LABEL_VALUE`] or [`MAX_LABEL_BYTES`], or with a name Prometheus
/// (or the export) does not allow.
fn check_labels(id: &str, labels: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if labels.len() > MAX_LABELS {
        bail!(
            "target `{id}`: {} labels; at most {MAX_LABELS}",
            labels.len()
        );
    }
    let mut total = 0usize;
    for (name, value) in labels {
        if name.len() > MAX_LABEL_NAME {
            bail!("target `{id}`: a label name is over {MAX_LABEL_NAME} bytes");
        }
        if !valid_label_name(name) {
            bail!("target `{id}`: `{name}` is not a Prometheus label name");
        }
        if value.len() > MAX_LABEL_VALUE {
            bail!("target `{id}`: label `{name}` is over {MAX_LABEL_VALUE} bytes");
        }
        total = total.saturating_add(name.len() + value.len());
    }
    if total > MAX_LABEL_BYTES {
        bail!("target `{id}`: labels of {total} bytes in all; at most {MAX_LABEL_BYTES}");
    }
    Ok(())
}

/// Target ids appear in URLs and as the `instance` label.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`__…`), and not one the
/// re-export sets itself.
pub fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
        && !matches!(
            name,
            "instance" | "engine" | "model" | "job" | "le" | "kind" | "quantile"
        )
}

fn resolve_header(id: &str, name: &str, source: &HeaderSource) -> anyhow::Result<Secret> {
    let value = match source {
        HeaderSource::Literal(v) => v.clone(),
        HeaderSource::From { env, file, prefix } => {
            let raw = match (env, file) {
                (Some(var), None) => std::env::var(var).with_context(|| {
                    format!("target `{id}`, header `{name}`: environment variable `{var}`")
                })?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("target `{id}`, header `{name}`: reading {path}"))?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
                _ => bail!("target `{id}`, header `{name}`: give exactly one of `env` or `file`"),
            };
            format!("{prefix}{raw}")
        }
    };
    if http::HeaderValue::from_str(&value).is_err() {
        // Never echo the value: it may be a secret.
        bail!("target `{id}`, header `{name}`: the value is not a valid header value");
    }
    Ok(Secret(value))
}

/// Read and validate a config file.
pub fn load(path: &Path) -> anyhow::Result<(Vec<Pattern>, Vec<TargetSpec>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// The `[history]` table of a config file.
pub fn load_history(path: &Path) -> anyhow::Result<HistoryConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ConfigFile =
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    Ok(file.history)
}

/// The `[limits]` table of a config file.
pub fn load_limits(path: &Path) -> anyhow::Result<LimitsConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ConfigFile =
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    Ok(file.limits)
}

/// The `[listen]` table of a config file.
pub fn load_listen(path: &Path) -> anyhow::Result<ListenConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ConfigFile =
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    Ok(file.listen)
}

/// Validate config text: the extra allow patterns and the targets.
pub fn parse(text: &str) -> anyhow::Result<(Vec<Pattern>, Vec<TargetSpec>)> {
    let file: ConfigFile = toml::from_str(text)?;
    let allow = file
        .allow
        .iter()
        .map(|s| s.parse::<Pattern>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut targets = Vec::new();
    for t in file.targets {
        let headers = t
            .headers
            .iter()
            .map(|(name, src)| Ok((name.to_ascii_lowercase(), resolve_header(&t.id, name, src)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let spec = TargetSpec::new(
            t.id,
            t.url,
            t.engine.as_deref(),
            t.interval.map(|s| s.0),
            t.timeout.map(|s| s.0),
            headers,
            t.labels,
        )?;
        if targets.iter().any(|o: &TargetSpec| o.id == spec.id) {
            bail!("target id `{}` appears twice", spec.id);
        }
        targets.push(spec);
    }
    Ok((allow, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        // SAFETY: test-only variable, set before anything reads it.
        unsafe { std::env::set_var("LLM_METRICS_TEST_TOKEN", "s3cret") };
        let (allow, targets) = parse(
            r#"
            allow = ["*.svc.cluster.local", "10.0.0.0/8:8000"]
            [[targets]]
            id = "vllm-0"
            url = "http://127.0.0.1:8000/metrics"
            engine = "vllm"
            interval = "5s"
            timeout = 2
            labels = { pool = "a", zone = "z1" }
            headers = { Authorization = { env = "LLM_METRICS_TEST_TOKEN", prefix = "Bearer " }, x-static = "v" }
            [[targets]]
            id = "tgi-0"
            url = "http://127.0.0.1:8001/metrics"
            interval = 0.5
            "#,
        )
        .unwrap();
        assert_eq!(allow.len(), 2);
        let t = &targets[0];
        assert_eq!(t.interval, Duration::from_secs(5));
        assert_eq!(t.timeout, Duration::from_secs(2));
        assert_eq!(
            t.headers[0],
            ("authorization".into(), Secret("Bearer s3cret".into()))
        );
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(targets[1].engine, "auto");
        assert!(targets[0].check_engine(&["vllm".into()]).is_ok());
        assert!(targets[0].check_engine(&["tgi".into()]).is_err());
        assert_eq!(targets[1].timeout, Duration::from_millis(500));
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            "[[targets]]\nid = \"a b\"\nurl = \"http://h/\"",
            "[[targets]]\nid = \"a\"\nurl = \"ftp://h/\"",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\nengine = \"X Y\"",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\ninterval = 0.01",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\ninterval = 1e19",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\ninterval = \"500000000000y\"",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\ninterval = \"25h\"",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\nlabels = { instance = \"x\" }",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\nheaders = { x = { env = \"LLM_METRICS_NO_SUCH_VAR\" } }",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\n[[targets]]\nid = \"a\"\nurl = \"http://h/\"",
            "[[targets]]\nid = \"a\"\nurl = \"http://h/\"\nbogus = 1",
            "allow = [\"a:b\"]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
