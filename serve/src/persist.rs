//! Targets added through the API, kept in the history database so they
//! are scraped again after a restart.
//!
//! Invariants: a stored definition is written only after the registry's
//! rules admitted it, and read back through the same validation as a `PUT`
//! ([`TargetSpec::new`], the plugin's engines) before it is registered;
//! one that no longer passes, or whose id the config file now uses (the
//! config wins), is logged and left out, never fatal. Header values are
//! stored (a restored target must authenticate as it did), but never
//! logged: only ids, URLs and header names are.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Secret, TargetSpec};
use crate::scheduler;
use crate::state::Service;

/// A definition as stored (JSON in `api_targets.spec`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    url: String,
    engine: String,
    interval_ms: u64,
    timeout_ms: u64,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `spec` as stored.
pub fn encode(spec: &TargetSpec) -> String {
    let stored = Stored {
        url: spec.url.clone(),
        engine: spec.engine.clone(),
        interval_ms: u64::try_from(spec.interval.as_millis()).unwrap_or(u64::MAX),
        timeout_ms: u64::try_from(spec.timeout.as_millis()).unwrap_or(u64::MAX),
        headers: spec
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.0.clone()))
            .collect(),
        labels: spec.labels.clone(),
    };
    // A struct of strings, numbers and string maps always serializes.
    serde_json::to_string(&stored).unwrap_or_default()
}

/// The target `id` stored as `text`, validated as a `PUT` is (engines
/// apart: [`TargetSpec::check_engine`]).
pub fn decode(id: &str, text: &str) -> anyhow::Result<TargetSpec> {
    let stored: Stored = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("target `{id}`: unreadable stored definition: {e}"))?;
    let headers = stored
        .headers
        .into_iter()
        .map(|(n, v)| {
            if http::HeaderValue::from_str(&v).is_err() {
                anyhow::bail!("target `{id}`: header `{n}`: not a valid header value");
            }
            Ok((n, Secret(v)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut spec = TargetSpec::new(
        id.to_string(),
        stored.url,
        Some(&stored.engine),
        Some(Duration::from_millis(stored.interval_ms)),
        Some(Duration::from_millis(stored.timeout_ms)),
        headers,
        stored.labels,
    )?;
    spec.from_api = true;
    Ok(spec)
}

/// Register and start every stored API target the service can take (after
/// the config file's): how many were restored. Each one left out is logged
/// with why.
pub async fn restore(service: &Arc<Service>) -> usize {
    let Some(store) = &service.history else {
        return 0;
    };
    let stored = match store.api_targets().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the targets added through the API");
            return 0;
        }
    };
    let mut restored = 0;
    for (id, text) in stored {
        if service.targets.get(&id).is_some() {
            tracing::warn!(
                target_id = ?id,
                "a target added through the API has the id of one in the config file; \
                 the config file's is used (DELETE the API one, or rename it)"
            );
            continue;
        }
        let spec = match decode(&id, &text).and_then(|s| {
            s.check_engine(&service.engines)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(target_id = ?id, error = ?format!("{e:#}"), "stored API target left out");
                continue;
            }
        };
        let url = spec.url.clone();
        match scheduler::start(service, spec) {
            Ok(_) => {
                restored += 1;
                tracing::info!(target_id = ?id, url = ?url, "target added through the API restored");
            }
            Err(e) => {
                tracing::warn!(target_id = ?id, error = ?e.to_string(), "stored API target left out");
            }
        }
    }
    restored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_reads_back_as_it_was_put() {
        let mut spec = TargetSpec::new(
            "a".into(),
            "http://127.0.0.1:8000/metrics".into(),
            Some("vllm"),
            Some(Duration::from_millis(1500)),
            Some(Duration::from_millis(700)),
            vec![("authorization".into(), Secret("Bearer t".into()))],
            BTreeMap::from([("pool".into(), "x".into())]),
        )
        .unwrap();
        spec.from_api = true;
        let back = decode("a", &encode(&spec)).unwrap();
        assert_eq!(back.url, spec.url);
        assert_eq!(back.engine, "vllm");
        assert_eq!(back.interval, spec.interval);
        assert_eq!(back.timeout, spec.timeout);
        assert_eq!(back.headers, spec.headers);
        assert_eq!(back.labels, spec.labels);
        assert!(back.from_api);
        // Damaged or no longer valid definitions are refused, not trusted.
        assert!(decode("a", "{").is_err());
        assert!(
            decode(
                "a",
                r#"{"url":"ftp://h/","engine":"auto","interval_ms":1000,"timeout_ms":1000}"#
            )
            .is_err()
        );
    }
}
