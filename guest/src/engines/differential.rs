//! The one-pass mapper against the oracle: [`super::map`], the streaming
//! [`super::map_text`] (parse errors included) and [`super::oracle::map`]
//! must give the same snapshot (or the same error) for
//! every engine id on every fixture, fuzz seed and generated exposition, and
//! on hand-made texts aimed at the index's shortcuts.

use super::list::{AUTO, ENGINES};
use super::oracle;
use crate::text::{self, Format, ParseOptions};

/// Both mappers' answers for every engine id, as Debug text (NaN == NaN),
/// and the streaming [`super::map_text`]'s against parsing then the oracle,
/// errors included, leniently and strictly.
#[track_caller]
fn same(text: &str, what: &str) -> usize {
    let mut checked = 0;
    for format in [Format::Auto, Format::Prometheus, Format::OpenMetrics] {
        for strict in [false, true] {
            let opts = ParseOptions {
                format,
                strict,
                content_type: None,
            };
            let parsed = text::parse(text.as_bytes(), &opts);
            for id in std::iter::once(AUTO)
                .chain(ENGINES.iter().map(|e| e.id))
                .chain(["nope"])
            {
                let slow = parsed
                    .as_ref()
                    .map(|x| oracle::map(&x.families, id))
                    .map_err(Clone::clone);
                let streamed = super::map_text(text.as_bytes(), &opts, id);
                assert_eq!(
                    format!("{streamed:?}"),
                    format!("{slow:?}"),
                    "{what} ({format:?}, strict {strict}) streamed as {id}"
                );
                if let Ok(x) = &parsed
                    && !strict
                {
                    let fast = format!("{:?}", super::map(&x.families, id));
                    let slow = format!("{:?}", oracle::map(&x.families, id));
                    assert_eq!(fast, slow, "{what} ({format:?}) as {id}");
                }
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn fixtures_and_seeds_map_as_the_oracle_does() {
    let paths = crate::testdata::fixtures_and_seeds();
    let mut checked = 0;
    let mut mapped = 0;
    for p in &paths {
        let Ok(text) = std::fs::read_to_string(p) else {
            continue;
        };
        checked += same(&text, &p.display().to_string());
        let escaped = crate::testdata::escape_colons(&text);
        checked += same(&escaped, &format!("{} (escaped)", p.display()));
        if p.extension().is_some_and(|e| e == "prom") {
            mapped += 1;
        }
    }
    // tests/fixtures holds one exposition per engine and the window series.
    assert!(
        mapped >= 13,
        "only {mapped} .prom files among the fixtures and seeds"
    );
    assert!(checked > 500, "{checked}");
}

#[test]
fn synthetic_expositions_map_as_the_oracle_does() {
    for bytes in [1, 20_000, 150_000, 1 << 20] {
        let text = text::synth::vllm_exposition(bytes);
        same(&text, &format!("synth {bytes}"));
    }
}

#[test]
fn shortcuts_map_as_the_oracle_does() {
    let cases = [
        // Buckets of one series split by another, bounds spelled two ways,
        // a layout that disagrees, NaN, unparsable and missing `le`.
        "# TYPE vllm:e2e_request_latency_seconds histogram\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1\"} 1\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"1.0\"} 2\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\"} 3\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"2\"} 3\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"+Inf\"} 4\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"NaN\"} 4\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"x\"} 4\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"1\"} 4\n\
         vllm:e2e_request_latency_seconds_count{engine=\"0\"} 3\n\
         vllm:e2e_request_latency_seconds_sum{engine=\"0\"} 1.5\n",
        // -0 and +0 bounds (summed as one by `sum_by_le`), -0 counts.
        "# TYPE vllm:e2e_request_latency_seconds histogram\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"0\"} 0.1\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"-0\"} 0.2\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"0.0\"} 0.3\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\"} -0\n\
         vllm:e2e_request_latency_seconds_bucket{engine=\"2\",le=\"+Inf\"} -0\n\
         vllm:e2e_request_latency_seconds_sum 1\n",
        // -0 counts: a sum starts at its first count, never at +0.
        "# TYPE vllm:e2e_request_latency_seconds histogram\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"1\"} -0\n\
         vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\"} -0\n\
         vllm:e2e_request_latency_seconds_sum -0\n",
        // Blanks, escapes, `le` first, label order and a trailing comma.
        "# TYPE vllm:time_to_first_token_seconds histogram\n\
         vllm:time_to_first_token_seconds_bucket{ le=\"1\" , model_name=\"a\\\"b\"} 1\n\
         vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"a\\\"b\",} 2\n\
         vllm:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\",le=\"1\"} 1\n\
         vllm:time_to_first_token_seconds_bucket{model_name=\"c\",le=\"+Inf\"} 2\n\
         vllm:time_to_first_token_seconds_bucket{model_name=\"c\",le=\"1\"} 1\n\
         vllm:time_to_first_token_seconds_count{model_name=\"c\"} 2\n\
         vllm:time_to_first_token_seconds_sum{model_name=\"c\"} 2\n\
         vllm:num_requests_running{model_name=\"c\",engine=\"0\"} 1\n\
         vllm:num_requests_running{engine=\"1\",model_name=\"c\"} 2\n\
         vllm:num_requests_running{model_name=\"c\" ,engine=\"2\"} 2\n\
         vllm:num_requests_running{model_name=\"d\\\\\",engine=\"3\"} 2\n",
        // The model pair last: label texts that end like the last one's
        // pair, with it quoted inside another value, escaped, after a
        // quoted name, after a blank, with a trailing comma, or alone.
        "# TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{engine=\"0\",model_name=\"a\"} 1\n\
         vllm:num_requests_running{engine=\"1\",model_name=\"a\"} 1\n\
         vllm:num_requests_running{x=\"q,model_name=\\\"a\\\"\",model_name=\"b\"} 2\n\
         vllm:num_requests_running{x=\",model_name=\\\"b\\\"\",model_name=\"c\"} 2\n\
         vllm:num_requests_running{model_name=\"c\"} 3\n\
         vllm:num_requests_running{engine=\"2\", model_name=\"c\"} 3\n\
         vllm:num_requests_running{engine=\"3\",model_name=\"c\",} 3\n\
         vllm:num_requests_running{engine=\"4\",model_name=\"a\\\\\"} 4\n\
         vllm:num_requests_running{engine=\"5\",model_name=\"d\"} 5\n\
         vllm:num_requests_running{model_name=\"e\",engine=\"6\"} 6\n\
         vllm:num_requests_running{engine=\"7\",model_name=\"e\"} 6\n\
         vllm:num_requests_running{engine=\"8\",xmodel_name=\"e\"} 7\n\
         vllm:num_requests_running{engine=\"9\",model_name=\"g\",x=\"model_name=\\\"e\\\"\"} 7\n",
        // The same after a quoted metric name inside the braces.
        "# TYPE vllm:num_requests_running gauge\n\
         {\"vllm:num_requests_running\",model_name=\"d\"} 5\n\
         {\"vllm:num_requests_running\",engine=\"1\",model_name=\"d\"} 5\n\
         vllm:num_requests_running{engine=\"5\",model_name=\"d\"} 5\n",
        // A family that comes back, `*_created` gauges, process start.
        "# TYPE vllm:prompt_tokens_total counter\n\
         vllm:prompt_tokens_total{model_name=\"m\"} 1e300\n\
         # TYPE vllm:prompt_tokens_created gauge\n\
         vllm:prompt_tokens_created{model_name=\"m\"} 5\n\
         # TYPE vllm:generation_tokens_total counter\n\
         vllm:generation_tokens_total 2\n\
         vllm:prompt_tokens_total{model_name=\"n\"} 1\n\
         vllm:prompt_tokens_total{model_name=\"o\"} -1e300\n\
         process_start_time_seconds 7\n\
         vllm:request_success_created -3\n",
        // Escaped names declared with the colon; a sample both ways.
        "# TYPE sglang:num_running_reqs gauge\n\
         sglang_num_running_reqs{model_name=\"m\"} 2\n\
         sglang:num_running_reqs{model_name=\"n\"} 3\n\
         # TYPE sglang:prompt_tokens counter\n\
         sglang_prompt_tokens_total 4\n\
         sglang_prompt_tokens_created 9\n\
         # TYPE sglang:e2e_request_latency_seconds histogram\n\
         sglang_e2e_request_latency_seconds_bucket{le=\"1\"} 1\n\
         sglang_e2e_request_latency_seconds_bucket{le=\"+Inf\"} 1\n\
         sglang_e2e_request_latency_seconds_count 1\n\
         sglang_e2e_request_latency_seconds_sum 0.5\n",
        // Quoted UTF-8 names, one of them a ratio field's metric text.
        "# TYPE \"vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total\" counter\n\
         {\"vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total\"} 1\n\
         vllm:prefix_cache_hits_total 1\n\
         vllm:prefix_cache_queries_total 4\n",
        // Summaries, mixed engines, nothing at all.
        "# TYPE tgi_request_skipped_tokens summary\n\
         tgi_request_skipped_tokens{quantile=\"0.5\"} 1\n\
         tgi_request_skipped_tokens_count 2\n\
         tgi_request_skipped_tokens_sum 3\n",
        "tgi_queue_size 1\nvllm:num_requests_running 2\n",
        "go_goroutines 3\n",
        "",
        // The model label after other pairs: values that share a prefix,
        // more pairs after it, an escaped pair before it, none at all.
        "vllm:num_requests_running{engine=\"0\",model_name=\"a\"} 1\n\
         vllm:num_requests_running{engine=\"0\",model_name=\"ab\"} 1\n\
         vllm:num_requests_running{engine=\"0\",model_name=\"a\",x=\"1\"} 1\n\
         vllm:num_requests_running{engine=\"0\",model_name=\"a\"} 1\n\
         vllm:num_requests_running{engine=\"0\\\"\",model_name=\"q\"} 1\n\
         vllm:num_requests_running{engine=\"0\\\"\",model_name=\"r\"} 1\n\
         vllm:num_requests_running{engine=\"0\"} 1\n\
         vllm:num_requests_running{engine=\"1\",model_name=\"s\"} 1\n",
        // A family that comes back after another one, in both formats.
        "# TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{model_name=\"a\"} 1\n\
         # TYPE vllm:num_requests_waiting gauge\n\
         vllm:num_requests_waiting 2\n\
         vllm:num_requests_running{model_name=\"b\"} 3\n",
        "# TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{model_name=\"a\"} 1\n\
         # TYPE vllm:num_requests_waiting gauge\n\
         vllm:num_requests_waiting 2\n\
         vllm:num_requests_running{model_name=\"b\"} 3\n\
         # EOF\n",
        // TYPE after the samples it types (the family's type is final only
        // at the end), in both formats.
        "vllm:prompt_tokens_total 4\n\
         # TYPE vllm:prompt_tokens_total counter\n\
         vllm:prompt_tokens_total{model_name=\"m\"} 5\n",
        "vllm:prompt_tokens 4\n\
         # TYPE vllm:prompt_tokens counter\n\
         vllm:prompt_tokens_total{model_name=\"m\"} 5\n\
         # EOF\n",
        // A family whose type changes: a second TYPE (the first wins), and
        // a reappearance that declares another type.
        "# TYPE vllm:generation_tokens_total gauge\n\
         vllm:generation_tokens_total 1\n\
         # TYPE vllm:generation_tokens_total counter\n\
         vllm:generation_tokens_total{model_name=\"x\"} 2\n\
         # TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running 1\n\
         # TYPE vllm:generation_tokens_total counter\n\
         vllm:generation_tokens_total{model_name=\"y\"} 3\n",
        "vllm:generation_tokens 1\n\
         # TYPE vllm:generation_tokens counter\n\
         vllm:generation_tokens_total 2\n\
         # TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running 1\n\
         # TYPE vllm:generation_tokens gauge\n\
         vllm:generation_tokens 3\n\
         # EOF\n",
        // An escaped sample before the colon family that declares it (the
        // pass runs again), and two colon families with one escape.
        "sglang_num_running_reqs{model_name=\"m\"} 2\n\
         sglang_prompt_tokens_total 4\n\
         # TYPE sglang:num_running_reqs gauge\n\
         sglang_num_running_reqs{model_name=\"n\"} 3\n\
         # TYPE sglang:prompt_tokens counter\n\
         sglang_prompt_tokens_total 5\n",
        "# TYPE sglang:num_running:reqs gauge\n\
         sglang_num_running_reqs 2\n\
         # TYPE sglang:num_running_reqs gauge\n\
         sglang_num_running_reqs 3\n\
         sglang:num_running_reqs 4\n",
        "# TYPE sglang:num_running_reqs gauge\n\
         sglang_num_running_reqs 2\n\
         # TYPE sglang:num_running:reqs gauge\n\
         sglang_num_running_reqs 3\n",
        // Errors: a syntax error after engine samples, metadata after
        // samples (strict), an interleaved family (strict OpenMetrics).
        "vllm:num_requests_running 1\nvllm:num_requests_running{ 2\n",
        "# TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running 1\n\
         # HELP vllm:num_requests_running late\n\
         # TYPE vllm:num_requests_running gauge\n",
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        same(text, &format!("case {i}"));
    }
}

#[test]
fn escapes_declared_late_are_caught_and_early_ones_are_not() {
    let late = "sglang_num_running_reqs 2\n# TYPE sglang:num_running_reqs gauge\n";
    let early = "# TYPE sglang:num_running_reqs gauge\nsglang_num_running_reqs 2\n\
                 # TYPE sglang:prompt_tokens counter\nsglang_prompt_tokens_total 4\n";
    for (text, want) in [(late, true), (early, false)] {
        let mut ix = super::kept::Kept::new(AUTO, None);
        let parser = text::Parser::new(text.as_bytes(), &ParseOptions::default());
        text::parse_into(parser, &mut ix).expect("parses");
        assert_eq!(ix.late(), want, "{text}");
    }
}
