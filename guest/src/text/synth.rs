//! Synthetic vLLM V1 expositions, for tests and throughput measurements.
//!
//! Invariant: output is deterministic for a given size, well-formed Prometheus
//! 0.0.4 text as `prometheus_client` writes it for vLLM (HELP/TYPE per family,
//! labels in declaration order, `repr`-style floats, `*_created` gauge families).

use std::fmt::Write;

/// Served model names; `model_name` label values.
const MODELS: &[&str] = &[
    "meta-llama/Llama-3.1-8B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
];

/// vLLM's latency buckets (seconds).
const TTFT: &[&str] = &[
    "0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0",
    "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0",
];
const TPOT: &[&str] = &[
    "0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5", "0.75", "1.0",
    "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0",
];
const REQUEST: &[&str] = &[
    "0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0", "20.0", "30.0", "40.0",
    "50.0", "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0", "7680.0",
];
const TOKENS_125: &[&str] = &[
    "1.0", "2.0", "5.0", "10.0", "20.0", "50.0", "100.0", "200.0", "500.0", "1000.0", "2000.0",
    "5000.0",
];
const ITERATION: &[&str] = &[
    "1.0", "8.0", "16.0", "32.0", "64.0", "128.0", "256.0", "512.0", "1024.0", "2048.0", "4096.0",
    "8192.0", "16384.0",
];
const PARAMS_N: &[&str] = &["1.0", "2.0", "5.0", "10.0", "20.0"];

/// The 14 histograms vLLM V1 exports: name, help, buckets.
const HISTOGRAMS: &[(&str, &str, &[&str])] = &[
    (
        "vllm:iteration_tokens_total",
        "Histogram of number of tokens per engine_step.",
        ITERATION,
    ),
    (
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        TTFT,
    ),
    (
        "vllm:time_per_output_token_seconds",
        "Histogram of time per output token in seconds.",
        TPOT,
    ),
    (
        "vllm:inter_token_latency_seconds",
        "Histogram of inter-token latency in seconds.",
        TPOT,
    ),
    (
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        REQUEST,
    ),
    (
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        REQUEST,
    ),
    (
        "vllm:request_inference_time_seconds",
        "Histogram of time spent in RUNNING phase for request.",
        REQUEST,
    ),
    (
        "vllm:request_prefill_time_seconds",
        "Histogram of time spent in PREFILL phase for request.",
        REQUEST,
    ),
    (
        "vllm:request_decode_time_seconds",
        "Histogram of time spent in DECODE phase for request.",
        REQUEST,
    ),
    (
        "vllm:request_prompt_tokens",
        "Number of prefill tokens processed.",
        TOKENS_125,
    ),
    (
        "vllm:request_generation_tokens",
        "Number of generation tokens processed.",
        TOKENS_125,
    ),
    (
        "vllm:request_max_num_generation_tokens",
        "Histogram of maximum number of requested generation tokens.",
        TOKENS_125,
    ),
    (
        "vllm:request_params_n",
        "Histogram of the n request parameter.",
        PARAMS_N,
    ),
    (
        "vllm:request_params_max_tokens",
        "Histogram of the max_tokens request parameter.",
        TOKENS_125,
    ),
];

const GAUGES: &[(&str, &str)] = &[
    (
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
    ),
    (
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
    ),
    (
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
    ),
];

const COUNTERS: &[(&str, &str)] = &[
    (
        "vllm:num_preemptions_total",
        "Cumulative number of preemption from the engine.",
    ),
    (
        "vllm:prefix_cache_queries_total",
        "Prefix cache queries, in terms of number of queried tokens.",
    ),
    (
        "vllm:prefix_cache_hits_total",
        "Prefix cache hits, in terms of number of cached tokens.",
    ),
    (
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
    ),
    (
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
    ),
];

const FINISHED: &[&str] = &["stop", "length", "abort"];

/// A deterministic xorshift generator for sample values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Writes `{model_name="...",engine="N"` (unclosed, so callers can append labels).
fn open_labels(out: &mut String, model: usize, engine: usize) {
    let m = MODELS[model % MODELS.len()];
    let _ = write!(out, "{{model_name=\"{m}\",engine=\"{engine}\"");
}

/// Renders the whole exposition for `engines` DP engines per model.
fn render(engines: usize) -> String {
    let series: Vec<(usize, usize)> = (0..MODELS.len())
        .flat_map(|m| (0..engines).map(move |e| (m, e)))
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::new();
    let created = |out: &mut String, name: &str, help: &str, rng: &mut Rng| {
        let _ = writeln!(
            out,
            "# HELP {name}_created {help}\n# TYPE {name}_created gauge"
        );
        for &(m, e) in &series {
            out.push_str(name);
            out.push_str("_created");
            open_labels(out, m, e);
            let _ = writeln!(out, "}} 1.7{:09}e+09", rng.next() % 1_000_000_000);
        }
    };
    // vLLM's info gauges: label values with commas, many labels.
    let _ = writeln!(
        out,
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge"
    );
    for &(m, e) in &series {
        out.push_str("vllm:cache_config_info");
        open_labels(&mut out, m, e);
        out.push_str(",block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\",gpu_memory_utilization=\"0.9\",num_gpu_blocks=\"27153\"} 1.0\n");
    }
    let _ = writeln!(
        out,
        "# HELP vllm:lora_requests_info Running stats on lora requests.\n# TYPE vllm:lora_requests_info gauge"
    );
    for &(m, e) in &series {
        out.push_str("vllm:lora_requests_info");
        open_labels(&mut out, m, e);
        let _ = writeln!(
            out,
            ",max_lora=\"4\",running_lora_adapters=\"sql-lora,chat-lora\",waiting_lora_adapters=\"summarize-lora,qa-lora\"}} 1.7{:09}e+09",
            rng.next() % 1_000_000_000
        );
    }
    for &(name, help) in GAUGES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for &(m, e) in &series {
            out.push_str(name);
            open_labels(&mut out, m, e);
            let _ = writeln!(out, "}} {}.0", rng.next() % 64);
        }
    }
    for &(name, help) in COUNTERS {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for &(m, e) in &series {
            out.push_str(name);
            open_labels(&mut out, m, e);
            let _ = writeln!(out, "}} {}.0", rng.next() % 100_000_000);
        }
        created(&mut out, name.trim_end_matches("_total"), help, &mut rng);
    }
    let name = "vllm:request_success_total";
    let help = "Count of successfully processed requests.";
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for &(m, e) in &series {
        for reason in FINISHED {
            out.push_str(name);
            open_labels(&mut out, m, e);
            let _ = writeln!(
                out,
                ",finished_reason=\"{reason}\"}} {}.0",
                rng.next() % 1_000_000
            );
        }
    }
    created(&mut out, "vllm:request_success", help, &mut rng);
    for &(name, help, buckets) in HISTOGRAMS {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for &(m, e) in &series {
            let mut count = 0u64;
            for le in buckets.iter().copied().chain(["+Inf"]) {
                count += rng.next() % 50;
                out.push_str(name);
                out.push_str("_bucket");
                open_labels(&mut out, m, e);
                let _ = writeln!(out, ",le=\"{le}\"}} {count}.0");
            }
            for (suffix, v) in [
                ("_count", format!("{count}.0")),
                ("_sum", sum(&mut rng, count)),
            ] {
                out.push_str(name);
                out.push_str(suffix);
                open_labels(&mut out, m, e);
                let _ = writeln!(out, "}} {v}");
            }
        }
        created(&mut out, name, help, &mut rng);
    }
    out
}

/// A plausible `_sum`: a decimal with up to 17 significant digits.
fn sum(rng: &mut Rng, count: u64) -> String {
    format!("{}.{:06}", count * (rng.next() % 7), rng.next() % 1_000_000)
}

/// A vLLM V1 exposition of about `target_bytes` bytes (at least one engine
/// per model): four models × N data-parallel engines (`engine="0"`…), the 14
/// vLLM histograms (6–23 buckets), counters with `*_created` gauge families,
/// gauges, and info gauges whose label values contain commas and escapes.
pub fn vllm_exposition(target_bytes: usize) -> String {
    let one = render(1).len();
    let mut engines = (target_bytes / one.max(1)).max(1);
    let mut out = render(engines);
    // One correction step for the fixed HELP/TYPE overhead.
    if out.len() < target_bytes && target_bytes > one {
        let per_engine = (out.len() / engines).max(1);
        engines += (target_bytes - out.len()).div_ceil(per_engine);
        out = render(engines);
    }
    out
}
