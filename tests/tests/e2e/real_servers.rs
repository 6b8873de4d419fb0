//! Real servers, captured: llama.cpp's `llama-server` and vLLM's CPU build ran
//! a recorded workload (`tests/fixtures/real/README.md` says how), and every
//! `/metrics` capture is mapped by the component through the real host and
//! checked against the ground truth the workload kept: each response's
//! `usage`, which requests had finished, were in flight or streaming at each
//! capture, and the aborted ones. Expected figures are always computed from
//! `ground_truth.json`, never written here.

use llm_metrics_host::wit::mapper::{MetricValue, Snapshot, WindowStats};
use serde_json::Value;

use crate::common::{close, fixture, plugin};

/// One recorded run: the ground truth and its captures.
struct Run {
    dir: &'static str,
    truth: Value,
}

/// One request of the workload, as the ground truth recorded it.
struct Request<'a>(&'a Value);

impl Request<'_> {
    fn aborted(&self) -> bool {
        self.0["aborted"].as_bool().unwrap_or(false)
    }
    /// Every prompt token: `usage.prompt_tokens`, or for an aborted request
    /// (no usage) the server's own `/tokenize` count.
    fn prompt(&self) -> f64 {
        if self.aborted() {
            num(&self.0["prompt_tokens_tokenized"])
        } else {
            num(&self.0["usage"]["prompt_tokens"])
        }
    }
    /// Prompt tokens served from the prefix cache (`usage.prompt_tokens_details`).
    fn cached(&self) -> f64 {
        self.0["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_f64()
            .unwrap_or(0.0)
    }
    fn completion(&self) -> f64 {
        num(&self.0["usage"]["completion_tokens"])
    }
}

/// What the ground truth says about one capture, summed from its requests.
#[derive(Debug, Default)]
struct Expect {
    /// Completed requests (a `usage` came back) before the capture.
    finished: f64,
    prompt: f64,
    cached: f64,
    completion: f64,
    /// Requests the client aborted (disconnected) before the capture.
    aborted: f64,
    aborted_prompt: f64,
    /// Tokens the aborted requests had streamed before the disconnect: a
    /// lower bound of what the server generated for them.
    aborted_chunks: f64,
    /// Their `max_tokens`: the upper bound.
    aborted_max: f64,
    /// Open requests at the capture, and those that had streamed a token
    /// (prefilled, so running).
    in_flight: f64,
    /// Their `max_tokens`.
    in_flight_max: f64,
    streaming: f64,
    streaming_prompt: f64,
    streaming_cached: f64,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

impl Run {
    fn load(dir: &'static str) -> Run {
        let text = fixture(&format!("real/{dir}/ground_truth.json"));
        Run {
            dir,
            truth: serde_json::from_slice(&text).expect("ground truth is JSON"),
        }
    }

    fn captures(&self) -> impl Iterator<Item = &Value> {
        self.truth["captures"].as_array().unwrap().iter()
    }

    fn capture(&self, name: &str) -> &Value {
        self.captures().find(|c| c["name"] == name).unwrap()
    }

    fn request(&self, id: &Value) -> Request<'_> {
        let id = id.as_u64().unwrap() as usize;
        let r = &self.truth["requests"][id];
        assert_eq!(r["id"].as_u64(), Some(id as u64));
        Request(r)
    }

    fn slots(&self) -> f64 {
        num(&self.truth["slots"])
    }

    fn expect(&self, capture: &Value) -> Expect {
        let mut e = Expect::default();
        for id in capture["finished"].as_array().unwrap() {
            let r = self.request(id);
            if r.aborted() {
                e.aborted += 1.0;
                e.aborted_prompt += r.prompt();
                e.aborted_chunks += num(&r.0["chunks_received"]);
                e.aborted_max += num(&r.0["max_tokens"]);
            } else {
                e.finished += 1.0;
                e.prompt += r.prompt();
                e.cached += r.cached();
                e.completion += r.completion();
            }
        }
        for id in capture["in_flight"].as_array().unwrap() {
            e.in_flight += 1.0;
            let r = self.request(id);
            e.in_flight_max += num(&r.0["max_tokens"]);
            if capture["in_flight_streaming"]
                .as_array()
                .unwrap()
                .contains(id)
            {
                e.streaming += 1.0;
                e.streaming_prompt += r.prompt();
                e.streaming_cached += r.cached();
            }
        }
        e
    }

    /// The capture mapped by the component, stamped with its recorded time.
    async fn snapshot(&self, capture: &Value) -> Snapshot {
        let file = capture["file"].as_str().unwrap();
        let text = fixture(&format!("real/{}/{file}", self.dir));
        let mut s = plugin()
            .map(&text, capture["content_type"].as_str(), "auto", self.dir)
            .await
            .expect("no trap")
            .unwrap_or_else(|e| panic!("{}/{file} maps: {e:?}", self.dir));
        s.collected_at_ms = capture["at_ms"].as_u64().unwrap();
        s
    }

    async fn window(&self, from: &str, to: &str) -> WindowStats {
        let a = self.snapshot(self.capture(from)).await;
        let b = self.snapshot(self.capture(to)).await;
        let w = plugin()
            .window(&a, &b)
            .await
            .expect("no trap")
            .unwrap_or_else(|e| panic!("{from} -> {to}: {e:?}"));
        // One incarnation throughout: no restart may be seen.
        assert!(!w.restarted, "{from} -> {to}: {:?}", w.resets);
        w
    }
}

#[track_caller]
fn within(actual: Option<f64>, lo: f64, hi: f64, what: &str) {
    let a = actual.unwrap_or_else(|| panic!("{what}: null, expected {lo}..={hi}"));
    assert!(lo <= a && a <= hi, "{what}: {a} not in {lo}..={hi}");
}

/// A window's increase of one total: its rate times its length.
fn increase(w: &WindowStats, rate: Option<f64>) -> Option<f64> {
    rate.map(|r| r * w.seconds)
}

/// One engine-specific number, by group and field name.
fn engine_number(s: &Snapshot, group: &str, field: &str) -> Option<f64> {
    let g = s.engine_metrics.iter().find(|g| g.name == group)?;
    match &g.fields.iter().find(|f| f.name == field)?.value {
        MetricValue::Number(n) => Some(*n),
        _ => None,
    }
}

/// Running and waiting at every capture: the busy one had `slots` requests
/// running (each had streamed a token) and the rest queued.
async fn load_matches(run: &Run) {
    for c in run.captures() {
        let e = run.expect(c);
        let s = run.snapshot(c).await;
        let what = format!("{}/{}", run.dir, c["name"].as_str().unwrap());
        let running = e.in_flight.min(run.slots());
        assert_eq!(running, e.streaming, "{what}: the recorded streams");
        close(s.load.requests_running, running, &format!("{what} running"));
        close(
            s.load.requests_waiting,
            e.in_flight - running,
            &format!("{what} waiting"),
        );
    }
}

#[tokio::test]
async fn llamacpp_load_and_tokens_match_the_ground_truth() {
    let run = Run::load("llamacpp");
    load_matches(&run).await;
    for c in run.captures() {
        let e = run.expect(c);
        let s = run.snapshot(c).await;
        let what = format!("llamacpp/{}", c["name"].as_str().unwrap());
        assert_eq!(s.engine, "llamacpp", "{what}");
        // No request counters, no model name, no KV capacity in this build.
        assert_eq!(s.totals.requests_succeeded, None, "{what}");
        assert_eq!(s.totals.requests_failed, None, "{what}");
        assert_eq!(s.load.kv_cache_capacity_tokens, None, "{what}");
        // llama.cpp counts a prompt's tokens as it processes them, cached
        // ones apart (`prompt_tokens_cached_total`), so in-flight requests
        // that streamed a token are in both. `totals.prompt_tokens` is every
        // prompt token (the two counters added), `prompt_tokens_cached` the
        // cache hits.
        let cached = s.totals.prompt_tokens_cached;
        close(
            cached,
            engine_number(&s, "cache", "prompt_tokens_cached").unwrap(),
            &format!("{what} cached = the exposed counter"),
        );
        if e.aborted == 0.0 {
            close(
                cached,
                e.cached + e.streaming_cached,
                &format!("{what} cached"),
            );
        } else {
            // Aborted requests' cache hits are not reported to the client.
            within(
                cached,
                e.cached + e.streaming_cached,
                e.cached + e.streaming_cached + e.aborted_prompt,
                &format!("{what} cached"),
            );
        }
        // Every prompt token, aborted requests' included.
        close(
            s.totals.prompt_tokens,
            e.prompt + e.aborted_prompt + e.streaming_prompt,
            &format!("{what} prompt tokens"),
        );
        assert_eq!(s.totals.requests_rejected, None, "{what}");
        // Generated tokens are counted when a slot is released: completed and
        // aborted requests, never running ones.
        within(
            s.totals.generation_tokens,
            e.completion + e.aborted_chunks,
            e.completion + e.aborted_max,
            &format!("{what} generation tokens"),
        );
        if e.aborted == 0.0 {
            close(s.totals.generation_tokens, e.completion, &what);
        }
    }
}

/// The windows idle->done and done->after, checked for what both engines
/// agree on: the first generated every completion token and saw every prompt
/// token (and the cached ones), the second generated between the tokens the
/// aborted requests streamed and their `max_tokens`.
async fn windows(run: &Run) -> [(WindowStats, Expect); 2] {
    let done = run.expect(run.capture("done"));
    let w = run.window("idle", "done").await;
    close(
        increase(&w, w.rates.generation_tokens),
        done.completion,
        &format!("{} idle->done generation tokens", run.dir),
    );
    // Every prompt token, and the cached ones apart: the window's
    // prefix-cache hit ratio is cached / prompt on both engines.
    close(
        increase(&w, w.rates.prompt_tokens),
        done.prompt,
        &format!("{} idle->done prompt tokens", run.dir),
    );
    close(
        increase(&w, w.rates.prompt_tokens_cached),
        done.cached,
        &format!("{} idle->done cached prompt tokens", run.dir),
    );
    let after = run.expect(run.capture("after"));
    let w2 = run.window("done", "after").await;
    within(
        increase(&w2, w2.rates.generation_tokens),
        after.aborted_chunks,
        after.aborted_max,
        &format!("{} done->after generation tokens", run.dir),
    );
    [(w, done), (w2, after)]
}

#[tokio::test]
async fn llamacpp_windows_match_the_ground_truth() {
    let run = Run::load("llamacpp");
    let [(w, _), (w2, after)] = windows(&run).await;
    assert_eq!(w.rates.requests_succeeded, None);
    within(
        increase(&w2, w2.rates.prompt_tokens),
        0.0,
        after.aborted_prompt,
        "done->after prompt tokens of the aborted requests",
    );
}

#[tokio::test]
async fn vllm_load_totals_and_latency_match_the_ground_truth() {
    let run = Run::load("vllm");
    load_matches(&run).await;
    let kv = num(&run.truth["server_log"]["kv_cache_size_tokens"]);
    for c in run.captures() {
        let e = run.expect(c);
        let s = run.snapshot(c).await;
        let what = format!("vllm/{}", c["name"].as_str().unwrap());
        assert_eq!(s.engine, "vllm", "{what}");
        assert_eq!(s.model_names, ["tiny-llama"], "{what}");
        assert_eq!(s.load.data_parallel_ranks, Some(1), "{what}");
        // `kv_cache_size_tokens` from `cache_config_info` is the KV size the
        // server logged at start-up (here equal to blocks x block size).
        close(s.load.kv_cache_capacity_tokens, kv, &format!("{what} KV"));
        // Admission rejections: pre-created at 0, not among the failures.
        close(s.totals.requests_rejected, 0.0, &format!("{what} rejected"));
        // Completed requests only: vLLM counts no client disconnect, neither
        // as `abort` nor anywhere else, so requests_failed stays 0.
        close(
            s.totals.requests_succeeded,
            e.finished,
            &format!("{what} succeeded"),
        );
        close(s.totals.requests_failed, 0.0, &format!("{what} failed"));
        let e2e = s.latency.e2e_request_latency_seconds.as_ref().unwrap();
        close(Some(e2e.count), e.finished, &format!("{what} e2e count"));
        // Prompt tokens are counted at prefill, every token (cached ones
        // included): the running requests are in, the waiting ones are not;
        // aborted requests had been prefilled.
        close(
            s.totals.prompt_tokens,
            e.prompt + e.streaming_prompt + e.aborted_prompt,
            &format!("{what} prompt tokens"),
        );
        // Cache hits, in tokens: `prompt_tokens_cached_total` (counted at
        // prefill), which the engine-specific `prefix_cache_hits` (counted at
        // scheduling) agrees with on these captures.
        close(
            s.totals.prompt_tokens_cached,
            e.cached + e.streaming_cached,
            &format!("{what} cached prompt tokens"),
        );
        close(
            engine_number(&s, "cache", "prefix_cache_hits"),
            e.cached + e.streaming_cached,
            &format!("{what} prefix cache hits"),
        );
        // Each quantile lies in the bucket it reports. At `busy` the six
        // finished requests had waited microseconds: all three quantiles lie
        // in the first bucket, (0, 0.3], and say so (p50 0.15 is invented).
        let queue = s.latency.queue_time_seconds.as_ref().unwrap();
        for (q, b) in [
            (queue.p50, queue.p50_bucket),
            (queue.p90, queue.p90_bucket),
            (queue.p99, queue.p99_bucket),
        ] {
            if let (Some(q), Some(b)) = (q, b) {
                assert!(b.lower <= q && q <= b.upper, "{what}: {q} outside {b:?}");
            }
            assert_eq!(q.is_some(), b.is_some(), "{what}");
        }
        if c["name"] == "busy" {
            for b in [queue.p50_bucket, queue.p90_bucket, queue.p99_bucket] {
                let b = b.unwrap_or_else(|| panic!("{what}: no quantile bucket"));
                assert_eq!((b.lower, b.upper), (0.0, 0.3), "{what}");
            }
            assert!(queue.sum / queue.count < 0.001, "{what}");
        }
        // Generation tokens are counted per step: running requests add to
        // them before they finish.
        let lo = e.completion + e.aborted_chunks;
        let hi = e.completion + e.aborted_max;
        if e.in_flight == 0.0 {
            within(s.totals.generation_tokens, lo, hi, &what);
        } else {
            within(
                s.totals.generation_tokens,
                lo + e.streaming,
                hi + e.in_flight_max,
                &what,
            );
        }
        if e.aborted == 0.0 && e.in_flight == 0.0 {
            close(s.totals.generation_tokens, e.completion, &what);
        }
    }
}

#[tokio::test]
async fn vllm_windows_match_the_ground_truth() {
    let run = Run::load("vllm");
    let [(w, done), (w2, after)] = windows(&run).await;
    close(
        increase(&w, w.rates.requests_succeeded),
        done.finished,
        "idle->done succeeded",
    );
    close(
        increase(&w, w.rates.requests_failed),
        0.0,
        "idle->done failed",
    );
    close(
        increase(&w, w.rates.requests_rejected),
        0.0,
        "idle->done rejected",
    );
    let e2e = w.latency.e2e_request_latency_seconds.as_ref().unwrap();
    close(Some(e2e.count), done.finished, "idle->done e2e count");
    // The aborted requests: their tokens are counted, the requests are not.
    close(
        increase(&w2, w2.rates.requests_succeeded),
        0.0,
        "aborts succeeded",
    );
    close(
        increase(&w2, w2.rates.requests_failed),
        0.0,
        "aborts failed",
    );
    close(
        w2.latency
            .e2e_request_latency_seconds
            .as_ref()
            .map(|d| d.count),
        0.0,
        "aborts in the e2e histogram",
    );
    close(
        increase(&w2, w2.rates.prompt_tokens),
        after.aborted_prompt,
        "done->after prompt tokens",
    );
}
