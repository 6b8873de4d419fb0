//! The recent failed scrapes of one target, for the server page: what
//! `GET /api/v1/targets/{id}/errors` lists ([`crate::failed::list`]), the
//! latest [`RECENT`] rows of the last [`SPAN_MS`], newest first.
//!
//! Invariant: the page reads failed scrapes only through the store's one
//! reader of them ([`crate::failed`]), never with SQL of its own. A row
//! stands for `count` consecutive failures of one kind, the latest at
//! `last_at`.

use serde_json::Value;

use crate::failed;
use crate::routes::errors;
use crate::store::{Store, StoreError};

/// The most failed-scrape rows a page shows.
pub const RECENT: usize = 20;
/// How far back the page looks: a week, the longest range it charts.
pub const SPAN_MS: i64 = 7 * 24 * 3600 * 1000;

/// `target`'s latest failed scrapes up to `now_ms`, as the errors route
/// lists them ([`errors::row`]), newest first (empty when the store never
/// saw it).
pub async fn recent(store: &Store, target: &str, now_ms: i64) -> Result<Vec<Value>, StoreError> {
    let page = failed::list(store, target, now_ms - SPAN_MS, now_ms, RECENT).await?;
    Ok(page
        .map(|p| p.rows)
        .unwrap_or_default()
        .iter()
        .map(errors::row)
        .collect())
}
