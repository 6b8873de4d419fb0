//! Differential test against `prometheus_client`, the Python library vLLM
//! exposes its metrics with.
//!
//! `tests/differential/render.py` builds registries with a fixed seed (vLLM's
//! metrics with hostile model names; every client type; custom collectors with
//! timestamps, exemplars, gauge histograms, state sets, units; UTF-8 names),
//! writes each as Prometheus 0.0.4 text (`generate_latest`, what vLLM serves)
//! and as OpenMetrics, and dumps `registry.collect()` as the ground truth. We
//! parse both texts with our parser through the component, lenient and strict,
//! and compare family by family and sample by sample: names exact, labels
//! exact after unescaping and in order, values bit for bit (NaN equal to NaN),
//! timestamps, exemplars, types, HELP and UNIT.
//!
//! The reverse direction feeds our fixtures to `prometheus_client`'s own 0.0.4
//! parser and compares its samples with ours.
//!
//! Without `python3` or `prometheus_client` every test prints
//! `skipped: prometheus_client not installed` and passes, unless
//! `LLM_METRICS_REQUIRE_PYTHON=1` (set by `.ci/run`), which makes that a failure.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use llm_metrics_host::plugin::shared_engine;
use llm_metrics_host::wit::parser::Parsed;
use llm_metrics_host::wit::types::{self as wit, Format, MetricType, ParseOptions};
use llm_metrics_host::{EMBEDDED_COMPONENT, Limits, Plugin};
use serde_json::Value;
use wasmtime::component::Component;

/// The version `.ci/run` installs; another one still runs, with a note.
const PINNED: &str = "0.26.0";

/// Fixtures for the reverse direction, relative to the repository root.
const REVERSE_FIXTURES: &[&str] = &[
    "tests/fixtures/vllm_v1.prom",
    "tests/fixtures/vllm_v0.prom",
    "tests/fixtures/tgi.prom",
    "tests/differential/tricky.prom",
    // Blanks and tabs at every position of a label set (issue 6's data loss).
    "tests/differential/whitespace.prom",
];

// ---------------------------------------------------------------------------
// Set-up: one Python run and one compiled component per test binary.

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn plugin() -> &'static Plugin {
    static P: OnceLock<Plugin> = OnceLock::new();
    P.get_or_init(|| {
        let engine = shared_engine().expect("engine");
        let component = Component::from_binary(&engine, EMBEDDED_COMPONENT)
            .expect("the embedded component compiles");
        Plugin::from_component(&engine, &component, Limits::default()).expect("plugin links")
    })
}

/// What `render.py` wrote: its output directory and `truth.json`.
struct Rendered {
    dir: PathBuf,
    truth: Value,
}

/// Runs `render.py` once; `None` (after saying so) when Python or
/// `prometheus_client` is missing and not required.
fn rendered() -> Option<&'static Rendered> {
    static R: OnceLock<Option<Rendered>> = OnceLock::new();
    R.get_or_init(render).as_ref()
}

fn render() -> Option<Rendered> {
    let root = repo_root();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("differential-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = Command::new("python3")
        .arg(root.join("tests/differential/render.py"))
        .arg(&dir)
        .args(REVERSE_FIXTURES.iter().map(|f| root.join(f)))
        .output();
    let missing = match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "python3 is not on PATH".to_string(),
        Err(e) => panic!("running python3: {e}"),
        // render.py exits 3 when the import fails.
        Ok(out) if out.status.code() == Some(3) => {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        }
        Ok(out) if !out.status.success() => panic!(
            "render.py failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {
            let truth = std::fs::read(dir.join("truth.json")).expect("render.py wrote truth.json");
            let truth: Value = serde_json::from_slice(&truth).expect("truth.json is JSON");
            let version = truth["version"].as_str().unwrap_or("?");
            if version != PINNED {
                say(&format!(
                    "note: prometheus_client {version}, not the pinned {PINNED}"
                ));
            }
            return Some(Rendered { dir, truth });
        }
    };
    if std::env::var("LLM_METRICS_REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!(
            "LLM_METRICS_REQUIRE_PYTHON=1 but {missing}; \
             install it with `python3 -m pip install prometheus-client=={PINNED}`"
        );
    }
    say(&format!(
        "skipped: prometheus_client not installed ({missing})"
    ));
    None
}

/// Writes past the test harness's output capture, so a skip is visible.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

async fn parse(text: &[u8], format: Format, strict: bool) -> Result<Parsed, wit::ParseError> {
    let options = ParseOptions {
        format,
        strict,
        content_type: None,
    };
    plugin().parse(text, &options).await.expect("no trap")
}

// ---------------------------------------------------------------------------
// One normal form for both sides.

/// A value compared bit for bit, with every NaN equal to every NaN.
#[derive(Clone, Copy)]
struct Num(f64);

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits() || (self.0.is_nan() && other.0.is_nan())
    }
}

impl fmt::Debug for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

type Labels = Vec<(String, String)>;

#[derive(Debug, PartialEq)]
struct Ex {
    labels: Labels,
    value: Num,
    ts_ms: Option<i64>,
}

#[derive(Debug, PartialEq)]
struct Smp {
    name: String,
    labels: Labels,
    value: Num,
    ts_ms: Option<i64>,
    exemplar: Option<Ex>,
}

#[derive(Debug, PartialEq)]
struct Fam {
    name: String,
    ty: &'static str,
    help: Option<String>,
    unit: Option<String>,
    samples: Vec<Smp>,
}

fn wit_labels(labels: &[wit::Label]) -> Labels {
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

fn ours(parsed: &Parsed) -> Vec<Fam> {
    parsed
        .families
        .iter()
        .map(|f| Fam {
            name: f.name.clone(),
            ty: llm_metrics_host::json::metric_type(f.type_),
            help: f.help.clone(),
            unit: f.unit.clone(),
            samples: f
                .samples
                .iter()
                .map(|s| Smp {
                    name: s.name.clone(),
                    labels: wit_labels(&s.labels),
                    value: Num(s.value),
                    ts_ms: s.timestamp_ms,
                    exemplar: s.exemplar.as_ref().map(|e| Ex {
                        labels: wit_labels(&e.labels),
                        value: Num(e.value),
                        ts_ms: e.timestamp_ms,
                    }),
                })
                .collect(),
        })
        .collect()
}

/// A Python `repr(float)`: `nan`, `inf`, `-inf` or a round-tripping decimal.
fn py_float(v: &Value) -> Num {
    let s = v.as_str().expect("value is a repr string");
    Num(s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")))
}

fn py_labels(v: &Value) -> Labels {
    v.as_array()
        .expect("labels")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn py_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn static_type(t: &str) -> &'static str {
    [
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "summary",
        "info",
        "stateset",
        "unknown",
        "untyped",
    ]
    .into_iter()
    .find(|k| *k == t)
    .unwrap_or_else(|| panic!("unknown type {t:?}"))
}

/// Which timestamp field of the truth a format carries.
#[derive(Clone, Copy, PartialEq)]
enum Wire {
    Prom,
    OpenMetrics,
}

fn py_sample(s: &Value, wire: Wire) -> Smp {
    let (ts, exemplar) = match wire {
        // 0.0.4 has no exemplars; the writer prints int(float(ts) * 1000).
        Wire::Prom => (s["ts_prom_ms"].as_i64(), None),
        Wire::OpenMetrics => (
            s["ts_om_ms"].as_i64(),
            s["exemplar"].as_object().map(|e| Ex {
                labels: py_labels(&e["labels"]),
                value: py_float(&e["value"]),
                ts_ms: e["ts_om_ms"].as_i64(),
            }),
        ),
    };
    Smp {
        name: s["name"].as_str().unwrap().to_string(),
        labels: py_labels(&s["labels"]),
        value: py_float(&s["value"]),
        ts_ms: ts,
        exemplar,
    }
}

/// The truth as the OpenMetrics writer lays it out: one family per collected
/// metric, named and typed as collected, every sample in place.
fn expected_openmetrics(families: &Value) -> Vec<Fam> {
    families
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Fam {
            name: f["name"].as_str().unwrap().to_string(),
            ty: static_type(f["type"].as_str().unwrap()),
            help: py_str(&f["help"]),
            unit: py_str(&f["unit"]),
            samples: f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| py_sample(s, Wire::OpenMetrics))
                .collect(),
        })
        .collect()
}

/// The truth as `generate_latest` lays it out in 0.0.4 (exposition.py):
/// counters' family names gain `_total` and infos' `_info`; info and stateset
/// become gauges, gaugehistogram a histogram, unknown `untyped`; samples named
/// `<family>_created`, `_gcount` or `_gsum` move to gauge families of those
/// names after the family (in that sorted order); no UNIT, no exemplars.
fn expected_prometheus(families: &Value) -> Vec<Fam> {
    const MOVED: [&str; 3] = ["_created", "_gcount", "_gsum"];
    let mut out = Vec::new();
    for f in families.as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let ty = f["type"].as_str().unwrap();
        let help = py_str(&f["help"]);
        let (exposed, ty) = match ty {
            "counter" => (format!("{name}_total"), "counter"),
            "info" => (format!("{name}_info"), "gauge"),
            "stateset" => (name.to_string(), "gauge"),
            "gaugehistogram" => (name.to_string(), "histogram"),
            "unknown" => (name.to_string(), "untyped"),
            other => (name.to_string(), static_type(other)),
        };
        let mut main = Vec::new();
        let mut moved: [Vec<Smp>; 3] = Default::default();
        for s in f["samples"].as_array().unwrap() {
            let sample = py_sample(s, Wire::Prom);
            match MOVED
                .iter()
                .position(|m| sample.name == format!("{name}{m}"))
            {
                Some(i) => moved[i].push(sample),
                None => main.push(sample),
            }
        }
        out.push(Fam {
            name: exposed,
            ty,
            help: help.clone(),
            unit: None,
            samples: main,
        });
        for (suffix, samples) in MOVED.iter().zip(moved) {
            if !samples.is_empty() {
                out.push(Fam {
                    name: format!("{name}{suffix}"),
                    ty: "gauge",
                    help: help.clone(),
                    unit: None,
                    samples,
                });
            }
        }
    }
    out
}

/// Every difference between `got` and `want`, one line each, with context;
/// returns how many sample pairs were compared.
fn diff(context: &str, got: &[Fam], want: &[Fam], out: &mut Vec<String>) -> usize {
    let mut compared = 0;
    if got.len() != want.len() {
        let g: Vec<&str> = got.iter().map(|f| f.name.as_str()).collect();
        let w: Vec<&str> = want.iter().map(|f| f.name.as_str()).collect();
        out.push(format!("{context}: families {g:?}, want {w:?}"));
    }
    for (g, w) in got.iter().zip(want) {
        let at = format!("{context} family {:?}", w.name);
        if (&g.name, g.ty, &g.help, &g.unit) != (&w.name, w.ty, &w.help, &w.unit) {
            out.push(format!(
                "{at}: got (name, type, help, unit) = ({:?}, {}, {:?}, {:?}), want ({:?}, {}, {:?}, {:?})",
                g.name, g.ty, g.help, g.unit, w.name, w.ty, w.help, w.unit
            ));
        }
        if g.samples.len() != w.samples.len() {
            out.push(format!(
                "{at}: {} samples, want {}",
                g.samples.len(),
                w.samples.len()
            ));
        }
        for (i, (gs, ws)) in g.samples.iter().zip(&w.samples).enumerate() {
            compared += 1;
            if gs != ws {
                out.push(format!("{at} sample {i}:\n   got  {gs:?}\n   want {ws:?}"));
            }
        }
    }
    compared
}

/// Fails with every problem, or says how much was compared.
fn report(what: &str, compared: usize, problems: &[String]) {
    assert!(compared > 0, "{what}: nothing was compared");
    say(&format!(
        "{what}: {compared} samples agree with prometheus_client"
    ));
    assert!(
        problems.is_empty(),
        "{what}: {} disagreement(s) with prometheus_client:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// prometheus_client writes, we parse.

/// Renderings strict mode must reject, because prometheus_client writes
/// something the format forbids; lenient mode still matches the truth.
const MUST_REJECT_STRICT: &[(&str, &str)] = &[
    // OpenMetrics 1.0, Histogram: "If and only if a Sum Value is present in a
    // MetricPoint, then the MetricPoint's +Inf Bucket value MUST also appear
    // in a Sample with a MetricName with the suffix _count". With a negative
    // bucket bound prometheus_client drops `_sum` but keeps `_count`.
    ("negative.om", "_count without _sum"),
    // Quoted names (`{"http.server.active_requests"}`) are not OpenMetrics
    // 1.0; prometheus_client writes them when asked for allow-utf-8.
    ("utf8.om", "quoted names"),
];

/// Parses every registry's rendering in one format, lenient and strict, and
/// compares with the truth laid out for that format.
async fn forward(
    format: Format,
    ext: &str,
    expected: fn(&Value) -> Vec<Fam>,
) -> Option<(usize, Vec<String>)> {
    let r = rendered()?;
    let mut problems = Vec::new();
    let mut compared = 0;
    for reg in r.truth["registries"].as_array().unwrap() {
        let name = reg["name"].as_str().unwrap();
        let path = r.dir.join(format!("{name}.{ext}"));
        let text = std::fs::read(&path).unwrap();
        let want = expected(&reg["families"]);
        for strict in [false, true] {
            let context = format!("{name}.{ext} (strict: {strict})");
            match parse(&text, format, strict).await {
                Ok(parsed) => {
                    assert_eq!(parsed.format, format);
                    compared += diff(&context, &ours(&parsed), &want, &mut problems);
                }
                Err(e) => {
                    let file = format!("{name}.{ext}");
                    let listed = |list: &[(&str, &str)]| {
                        list.iter()
                            .any(|(f, msg)| *f == file && e.message.contains(msg))
                    };
                    if strict && listed(MUST_REJECT_STRICT) {
                        continue;
                    }
                    let line = text
                        .split(|&b| b == b'\n')
                        .nth(e.line.saturating_sub(1) as usize)
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    problems.push(format!(
                        "{context}: rejected at {}:{}: {}\n   line: {line:?}",
                        e.line, e.column, e.message
                    ));
                    continue;
                }
            }
            if strict
                && MUST_REJECT_STRICT
                    .iter()
                    .any(|(f, _)| *f == format!("{name}.{ext}"))
            {
                problems.push(format!("{context}: accepted, but the format forbids it"));
            }
        }
    }
    Some((compared, problems))
}

#[tokio::test]
async fn prometheus_004_from_generate_latest_matches_collect() {
    if let Some((compared, problems)) =
        forward(Format::Prometheus, "prom", expected_prometheus).await
    {
        report("0.0.4", compared, &problems);
    }
}

#[tokio::test]
async fn openmetrics_from_generate_latest_matches_collect() {
    if let Some((compared, problems)) =
        forward(Format::Openmetrics, "om", expected_openmetrics).await
    {
        report("OpenMetrics", compared, &problems);
    }
}

/// prometheus_client 0.26.0's OpenMetrics writer, with its default escaping
/// (what vLLM answers to `Accept: application/openmetrics-text` without
/// `escaping=allow-utf-8`), writes `# TYPE vllm:x gauge` followed by samples
/// named `vllm_x`: sample names are escaped with the label-name alphabet, which
/// lacks `:`. The text then holds families of those other names (and, for
/// vLLM's counters, interleaved ones, which strict mode rightly rejects). We
/// read it as written: every sample, with `:` turned into `_` only where the
/// writer turned it, labels and values intact.
#[tokio::test]
async fn openmetrics_default_escaping_sample_names_are_read_as_written() {
    let Some(r) = rendered() else {
        return;
    };
    let reg = &r.truth["registries"][0];
    assert_eq!(reg["name"], "vllm");
    let text = std::fs::read(r.dir.join("vllm.default.om")).unwrap();
    let got = parse(&text, Format::Openmetrics, false)
        .await
        .expect("lenient mode reads it");
    // Lenient mode merges a family that appears again into its first
    // appearance, so compare in (name, labels) order, not text order.
    let key = |a: &Smp, b: &Smp| (&a.name, &a.labels).cmp(&(&b.name, &b.labels));
    let mut got: Vec<Smp> = ours(&got).into_iter().flat_map(|f| f.samples).collect();
    got.sort_by(key);
    let mut want: Vec<Smp> = expected_openmetrics(&reg["families"])
        .into_iter()
        .flat_map(|f| f.samples)
        .map(|s| Smp {
            name: s.name.replace(':', "_"),
            ..s
        })
        .collect();
    want.sort_by(key);
    let mut problems = Vec::new();
    if got.len() != want.len() {
        problems.push(format!("{} samples, want {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            problems.push(format!("sample {i}:\n   got  {g:?}\n   want {w:?}"));
        }
    }
    report("vllm.default.om", got.len().min(want.len()), &problems);
}

// ---------------------------------------------------------------------------
// We and prometheus_client both parse our fixtures.

/// A flat sample as the reverse comparison sees it: labels sorted (Python's
/// dump sorts them), timestamp in float seconds as Python's parser keeps it.
#[derive(Debug, PartialEq)]
struct Flat {
    name: String,
    labels: Labels,
    value: Num,
    ts_s: Option<Num>,
}

#[tokio::test]
async fn prometheus_client_parser_agrees_on_our_fixtures() {
    let Some(r) = rendered() else {
        return;
    };
    let parsed = r.truth["parsed"].as_array().unwrap();
    assert_eq!(parsed.len(), REVERSE_FIXTURES.len());
    let mut problems = Vec::new();
    let mut compared = 0;
    for (rel, py) in REVERSE_FIXTURES.iter().zip(parsed) {
        let text = std::fs::read(repo_root().join(rel)).unwrap();
        let got = parse(&text, Format::Prometheus, false)
            .await
            .unwrap_or_else(|e| panic!("{rel}: we reject it: {e:?}"));
        let mut ours = Vec::new();
        for f in &got.families {
            // prometheus_client's parser (parser.py, build_metric) renames the
            // samples of a counter family whose TYPE name lacks `_total` to
            // `<sample>_total` ("munge counters into OpenMetrics
            // representation"); TGI's counters are all like that. Our names
            // stay as written, so apply the same rename before comparing.
            let munged = f.type_ == MetricType::Counter && !f.name.ends_with("_total");
            for s in &f.samples {
                let mut labels = wit_labels(&s.labels);
                labels.sort();
                ours.push(Flat {
                    name: if munged {
                        format!("{}_total", s.name)
                    } else {
                        s.name.clone()
                    },
                    labels,
                    value: Num(s.value),
                    // Python divides the integer milliseconds by 1000.
                    ts_s: s.timestamp_ms.map(|ms| Num(ms as f64 / 1000.0)),
                });
            }
        }
        let theirs: Vec<Flat> = py["families"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| f["samples"].as_array().unwrap())
            .map(|s| Flat {
                name: s["name"].as_str().unwrap().to_string(),
                labels: py_labels(&s["labels"]),
                value: py_float(&s["value"]),
                ts_s: s["ts_s"].as_str().map(|_| py_float(&s["ts_s"])),
            })
            .collect();
        if ours.len() != theirs.len() {
            problems.push(format!(
                "{rel}: we see {} samples, prometheus_client {}",
                ours.len(),
                theirs.len()
            ));
        }
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            compared += 1;
            if o != t {
                problems.push(format!(
                    "{rel} sample {i}:\n   ours   {o:?}\n   theirs {t:?}"
                ));
            }
        }
    }
    report("reverse", compared, &problems);
}
