//! Budgets: a guest that runs out of memory or CPU is an error for the caller,
//! and the same plugin keeps serving.

use std::time::Duration;

use llm_metrics_host::wit::types::Format;
use llm_metrics_host::{CallError, Limits, Plugin};

use crate::common::{opts, plugin_with};

/// A large, valid exposition: many families, many samples.
fn big_exposition(samples: usize) -> Vec<u8> {
    let mut text = String::new();
    for i in 0..samples {
        text.push_str(&format!(
            "family_{} {{model_name=\"m\",engine=\"{}\"}} {}\n",
            i % 1000,
            i % 7,
            i
        ));
    }
    text.into_bytes()
}

/// After a failed call, the same plugin answers the next one.
async fn still_serves(plugin: &Plugin) {
    let ok = plugin
        .parse(b"a 1\n", &opts(Format::Auto, false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.families[0].samples[0].value, 1.0);
}

#[tokio::test]
async fn memory_cap_is_a_memory_error_and_the_plugin_survives() {
    let plugin = plugin_with(Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    });
    let text = big_exposition(400_000); // ~20 MB: cannot even be copied into 8 MiB
    match plugin.parse(&text, &opts(Format::Auto, false)).await {
        Err(CallError::Memory(limit)) => assert_eq!(limit, 8 << 20),
        other => panic!(
            "expected a memory error, got {:?}",
            other.map(|r| r.map(|p| p.families.len()))
        ),
    }
    still_serves(&plugin).await;
}

#[tokio::test]
async fn cpu_budget_is_a_cpu_error_and_the_plugin_survives() {
    let plugin = plugin_with(Limits {
        cpu_time: Duration::from_millis(10),
        ..Limits::default()
    });
    let text = big_exposition(2_000_000); // far more than 10 ms of work
    match plugin.parse(&text, &opts(Format::Auto, false)).await {
        Err(CallError::CpuBudget { budget, used }) => {
            assert_eq!(budget, Duration::from_millis(10));
            assert!(used > budget, "stopped before the budget ran out: {used:?}");
        }
        other => panic!(
            "expected a CPU budget error, got {:?}",
            other.map(|r| r.map(|p| p.families.len()))
        ),
    }
    still_serves(&plugin).await;
}

#[tokio::test]
async fn wall_clock_budget_is_a_timeout_error() {
    // A wall budget far below what the call needs, with a generous CPU budget.
    let plugin = plugin_with(Limits {
        wall_time: Duration::from_millis(1),
        ..Limits::default()
    });
    let text = big_exposition(2_000_000);
    match plugin.parse(&text, &opts(Format::Auto, false)).await {
        Err(CallError::WallClock(_)) => {}
        other => panic!(
            "expected a wall-clock error, got {:?}",
            other.map(|r| r.map(|p| p.families.len()))
        ),
    }
}
