//! A successful scrape written as increments: its values against its
//! target's previous successful scrape, packed in the target's layout.
//!
//! Invariants: the increments are computed once, here, by the component's
//! own arithmetic ([`llm_metrics_guest::window::increase`]) against the
//! previous successful scrape of the same target in commit order; that
//! scrape is remembered by the writer and, across restarts, kept whole in
//! `latest` (one row per target, rewritten in the same transaction as the
//! scrape, so it is always the last committed one). A scrape that cannot
//! be compared with it (other engine or instance, changed buckets, not
//! later) stores no increment but the reason (`gap`). A layout is written
//! once per target and distinct layout (`UNIQUE (target, body)`).

use std::collections::HashMap;
use std::sync::Arc;

use llm_metrics_guest::window::increase;
use rusqlite::{OptionalExtension, Transaction, params};

use super::pack::{self, Record};
use crate::native::Sample;

/// A successful scrape as the writer takes it (built off the writer
/// thread: conversion and compression are done by the scraping task).
#[derive(Clone, Debug)]
pub struct Success {
    /// Its native view (what increments are computed from).
    pub sample: Arc<Sample>,
    /// Served model names.
    pub model_names: Vec<String>,
    /// Current load.
    pub load: llm_metrics_guest::snapshot::Load,
    /// The whole snapshot, encoded ([`super::encode`]): the target's
    /// latest, kept for the next scrape's increments after a restart.
    pub encoded: Vec<u8>,
}

/// What the writer remembers per target between batches.
#[derive(Debug, Default)]
pub struct Known {
    /// Target id → its previous successful scrape.
    previous: HashMap<i64, Arc<Sample>>,
    /// Target id → its current layout and that layout's id.
    layouts: HashMap<i64, (Vec<u8>, i64)>,
}

impl Known {
    /// Forget everything (a rolled-back batch).
    pub fn clear(&mut self) {
        self.previous.clear();
        self.layouts.clear();
    }
}

/// The previous successful scrape of `target`: remembered, or the one
/// `latest` holds.
fn previous(
    tx: &Transaction<'_>,
    known: &mut Known,
    target: i64,
) -> rusqlite::Result<Option<Arc<Sample>>> {
    if let Some(s) = known.previous.get(&target) {
        return Ok(Some(s.clone()));
    }
    let blob: Option<Vec<u8>> = tx
        .prepare_cached("SELECT snapshot FROM latest WHERE target = ?1")?
        .query_row([target], |r| r.get(0))
        .optional()?;
    let Some(blob) = blob else { return Ok(None) };
    // An undecodable latest (damaged) only costs this scrape its increment.
    Ok(super::decode(&blob).ok().map(|s| Arc::new(Sample::of(&s))))
}

/// The record of `sample` against `previous`.
pub fn record(
    previous: Option<&Sample>,
    sample: &Sample,
    model_names: &[String],
    load: &llm_metrics_guest::snapshot::Load,
) -> Record {
    let (increment, gap) = match previous.map(|p| increase(&p.point(), &sample.point())) {
        Some(Ok(i)) => (Some(i), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    Record {
        instance_id: sample.instance_id.clone(),
        engine: sample.engine.clone(),
        model_names: model_names.to_vec(),
        load: load.clone(),
        totals: sample.totals.clone(),
        increment,
        gap,
    }
}

/// The id of `layout` for `target`, written on first sight.
fn layout_id(
    tx: &Transaction<'_>,
    known: &mut Known,
    target: i64,
    layout: Vec<u8>,
) -> rusqlite::Result<i64> {
    if let Some((body, id)) = known.layouts.get(&target)
        && *body == layout
    {
        return Ok(*id);
    }
    tx.prepare_cached("INSERT INTO layouts (target, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?
        .execute(params![target, layout])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM layouts WHERE target = ?1 AND body = ?2")?
        .query_row(params![target, layout], |r| r.get(0))?;
    known.layouts.insert(target, (layout, id));
    Ok(id)
}

/// The layout id and packed values of a successful scrape of `target`,
/// which becomes its previous one.
pub fn pack_next(
    tx: &Transaction<'_>,
    known: &mut Known,
    target: i64,
    sample: &Arc<Sample>,
    model_names: &[String],
    load: &llm_metrics_guest::snapshot::Load,
) -> rusqlite::Result<(i64, Vec<u8>)> {
    let prev = previous(tx, known, target)?;
    let rec = record(prev.as_deref(), sample, model_names, load);
    let (layout, values) = pack::pack(&rec);
    let id = layout_id(tx, known, target, layout)?;
    known.previous.insert(target, sample.clone());
    Ok((id, values))
}

/// Write the successful scrape `s` of `target` at `at_ms`.
pub fn insert(
    tx: &Transaction<'_>,
    known: &mut Known,
    target: i64,
    at_ms: i64,
    duration_ms: Option<i64>,
    s: &Success,
) -> rusqlite::Result<()> {
    let (layout, values) = pack_next(tx, known, target, &s.sample, &s.model_names, &s.load)?;
    tx.prepare_cached(
        "INSERT INTO scrapes (target, at_ms, ok, duration_ms, layout, record)
         VALUES (?1, ?2, 1, ?3, ?4, ?5)",
    )?
    .execute(params![target, at_ms, duration_ms, layout, values])?;
    set_latest(tx, target, at_ms, &s.encoded)
}

/// `target`'s latest successful scrape is now `encoded`.
pub fn set_latest(
    tx: &Transaction<'_>,
    target: i64,
    at_ms: i64,
    encoded: &[u8],
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO latest (target, at_ms, snapshot) VALUES (?1, ?2, ?3)
         ON CONFLICT (target) DO UPDATE SET at_ms = excluded.at_ms, snapshot = excluded.snapshot",
    )?
    .execute(params![target, at_ms, encoded])?;
    Ok(())
}
