//! Windows as sums of increments: `window(a, b)` is `finish(increase(a,
//! b))`, and the increments of consecutive spans add up to the window over
//! the whole span, with or without a restart inside it.
//!
//! Fixtures as in `window.rs`: one vLLM server at 0 s, 10 s, a restart at
//! 30 s, and 50 s.

use llm_metrics_guest::engines::EngineSnapshot;
use llm_metrics_guest::window::{Increment, Point, Window, WindowError, finish, increase, window};

mod common;
use common::snapshot;

const T0: &str = fixture!("window/vllm_t0.prom");
const T1: &str = fixture!("window/vllm_t1.prom");
const T2: &str = fixture!("window/vllm_t2_restarted.prom");
const T3: &str = fixture!("window/vllm_t3.prom");

const S: u64 = 1_763_900_000_000;

fn inc(a: &EngineSnapshot, ta: u64, b: &EngineSnapshot, tb: u64) -> Increment {
    increase(&Point::of(a, "vllm-0", ta), &Point::of(b, "vllm-0", tb)).expect("an increment")
}

fn win(a: &EngineSnapshot, ta: u64, b: &EngineSnapshot, tb: u64) -> Window {
    window(&Point::of(a, "vllm-0", ta), &Point::of(b, "vllm-0", tb)).expect("a window")
}

/// The numbers of `v`'s debug text, and the text between them.
fn tokens(v: &impl std::fmt::Debug) -> (Vec<f64>, String) {
    let text = format!("{v:?}");
    let mut numbers = Vec::new();
    let mut rest = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, numbers: &mut Vec<f64>, rest: &mut String| {
        match word.parse::<f64>() {
            Ok(n) if !word.is_empty() => numbers.push(n),
            _ => rest.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut numbers, &mut rest);
            rest.push(c);
        }
    }
    flush(&mut word, &mut numbers, &mut rest);
    (numbers, rest)
}

/// `a` and `b` are the same window, every number to a relative 1e-9 (a
/// sum of increases may round differently from one difference).
#[track_caller]
fn same(a: &Window, b: &Window) {
    let ((na, ra), (nb, rb)) = (tokens(a), tokens(b));
    assert_eq!(ra, rb, "\n{a:?}\n{b:?}");
    assert_eq!(na.len(), nb.len());
    for (x, y) in na.iter().zip(&nb) {
        if x == y {
            continue;
        }
        let tolerance = 1e-9 * x.abs().max(1.0);
        assert!((x - y).abs() <= tolerance, "{x} vs {y}");
    }
}

#[test]
fn a_window_is_its_finished_increase() {
    let snaps = [T0, T1, T2, T3].map(snapshot);
    let ms = [S, S + 10_000, S + 30_000, S + 50_000];
    for (i, j) in [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)] {
        let (a, b) = (&snaps[i], &snaps[j]);
        assert_eq!(
            finish(&inc(a, ms[i], b, ms[j])),
            win(a, ms[i], b, ms[j]),
            "{i} -> {j}"
        );
    }
}

#[test]
fn increments_without_resets_sum_to_the_window() {
    let (t0, t1) = (snapshot(T0), snapshot(T1));
    // 0 s → 10 s, then nothing more until 20 s: the window over 20 s.
    let sum = inc(&t0, S, &t1, S + 10_000)
        .add(&inc(&t1, S + 10_000, &t1, S + 20_000))
        .unwrap();
    assert_eq!((sum.start_ms, sum.end_ms), (S, S + 20_000));
    assert_eq!(finish(&sum), win(&t0, S, &t1, S + 20_000));
    // Nothing from 0 s to 5 s, then 5 s → 15 s.
    let sum = inc(&t0, S, &t0, S + 5_000)
        .add(&inc(&t0, S + 5_000, &t1, S + 15_000))
        .unwrap();
    assert_eq!(finish(&sum), win(&t0, S, &t1, S + 15_000));
    assert!(!finish(&sum).restarted);
    // After the restart: 30 s → 50 s in two legs through an idle 40 s.
    let (t2, t3) = (snapshot(T2), snapshot(T3));
    let sum = inc(&t2, S + 30_000, &t2, S + 40_000)
        .add(&inc(&t2, S + 40_000, &t3, S + 50_000))
        .unwrap();
    same(&finish(&sum), &win(&t2, S + 30_000, &t3, S + 50_000));
}

#[test]
fn a_restart_inside_the_span_is_kept_when_summing() {
    let (t1, t2, t3) = (snapshot(T1), snapshot(T2), snapshot(T3));
    let ms = [S + 10_000, S + 30_000, S + 50_000];
    // The restart restarts every counter, so 10 s → 50 s counts the new
    // process's totals at 50 s: what the two legs add up to.
    let sum = inc(&t1, ms[0], &t2, ms[1])
        .add(&inc(&t2, ms[1], &t3, ms[2]))
        .unwrap();
    let summed = finish(&sum);
    same(&summed, &win(&t1, ms[0], &t3, ms[2]));
    assert!(summed.restarted);
    assert!(
        summed
            .resets
            .iter()
            .any(|r| r.starts_with("process_start_time_seconds")),
        "{:?}",
        summed.resets
    );
    // A reset only the middle sample shows (no markers: Prometheus' rule)
    // is seen by the sum, though not by the two edges.
    let bare = |mut s: EngineSnapshot| {
        s.incarnation = Default::default();
        s
    };
    let (a, mid, b) = (bare(t1.clone()), bare(t2.clone()), bare(t1.clone()));
    let sum = inc(&a, ms[0], &mid, ms[1])
        .add(&inc(&mid, ms[1], &b, ms[2]))
        .unwrap();
    assert!(finish(&sum).restarted);
    assert!(!win(&a, ms[0], &b, ms[2]).restarted);
}

#[test]
fn increments_of_other_instances_do_not_add() {
    let (t0, t1) = (snapshot(T0), snapshot(T1));
    let a = inc(&t0, S, &t1, S + 10_000);
    let mut b = inc(&t1, S + 10_000, &t1, S + 20_000);
    b.instance_id = "vllm-1".into();
    assert_eq!(
        a.add(&b),
        Err(WindowError::DifferentInstances(
            "vllm-0".into(),
            "vllm-1".into()
        ))
    );
}

#[test]
fn adding_in_place_is_adding() {
    let (t0, t1, t2, t3) = (snapshot(T0), snapshot(T1), snapshot(T2), snapshot(T3));
    let a = inc(&t0, S, &t1, S + 10_000);
    let b = inc(&t1, S + 10_000, &t2, S + 30_000);
    let c = inc(&t2, S + 30_000, &t3, S + 50_000);
    let mut acc = a.clone();
    acc.add_assign(&b).unwrap();
    acc.add_assign(&c).unwrap();
    assert_eq!(acc, a.add(&b).unwrap().add(&c).unwrap());
    // Another shape (a field gone): the general path.
    let mut fewer = c.clone();
    fewer.engine_metrics.pop();
    fewer.totals.preemptions = None;
    let mut acc = a.clone();
    acc.add_assign(&fewer).unwrap();
    assert_eq!(acc, a.add(&fewer).unwrap());
    let mut other = c.clone();
    other.instance_id = "vllm-1".into();
    assert!(a.clone().add_assign(&other).is_err());
}
