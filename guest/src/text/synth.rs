//! Synthetic vLLM expositions for tests and benchmarks. (Being written.)

/// A vLLM-shaped Prometheus 0.0.4 exposition of about `target_bytes` bytes.
pub fn vllm_exposition(target_bytes: usize) -> String {
    let _ = target_bytes;
    String::new()
}
