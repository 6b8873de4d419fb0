//! The toolbox the engine files build with, below all of them: an engine's
//! description ([`EngineSpec`]), the fold every engine shares
//! ([`EngineSpec::fold`]) and the group builder.
//!
//! Invariant: nothing here names an engine or reads the engine list; engine
//! files import this floor (and `series`), never `engines/mod.rs`.

use std::fmt;

use super::series::{Alias, Found, Index};
use crate::snapshot::{EngineField, EngineGroup, EngineSnapshot, Incarnation};

/// One supported engine: how it is recognized and how it is mapped.
pub struct EngineSpec {
    /// The id callers pass and snapshots report, e.g. `sglang`.
    pub id: &'static str,
    /// A display name, e.g. `SGLang`.
    pub name: &'static str,
    /// The versions the mapper was written against.
    pub versions: &'static str,
    /// Family-name prefixes that identify the engine.
    pub prefixes: &'static [&'static str],
    /// Family names older releases exposed with no engine prefix: too
    /// generic to detect, so they count as the engine's own only when it is
    /// requested by id (each entry is a name prefix, so a histogram's
    /// `_bucket`/`_count`/`_sum` and a counter's `_created` follow it).
    pub requested_only: &'static [&'static str],
    /// The alias table: every exposed name the mapper reads.
    pub(crate) table: &'static [&'static Alias],
    /// The label that names the served model, read over every series of
    /// the engine's own families (`None`: the engine exposes none).
    pub model_label: Option<&'static str>,
    /// The fold from the kept series to a snapshot.
    pub(crate) map: fn(&Index<'_, '_>) -> EngineSnapshot,
}

impl EngineSpec {
    /// Whether `name` is one of this engine's [`EngineSpec::requested_only`]
    /// names (which count only when the engine was requested by id).
    pub(crate) fn owns_requested_only(&self, name: &str) -> bool {
        self.requested_only.iter().any(|p| name.starts_with(p))
    }

    /// Renamed metrics read as one field, as `old -> new` (one entry per
    /// older name, newest name on the right).
    pub fn aliases(&self) -> Vec<String> {
        let mut out = Vec::new();
        for alias in self.table {
            if let Some((newest, older)) = alias.names.split_first() {
                out.extend(older.iter().map(|old| format!("{old} -> {newest}")));
            }
        }
        out
    }

    /// The engine's fold over `ix`, plus what every engine reports the same
    /// way: each field's `counter` flag and the incarnation.
    pub(crate) fn fold(&self, ix: &Index<'_, '_>) -> EngineSnapshot {
        let mut snapshot = (self.map)(ix);
        for field in snapshot
            .engine_metrics
            .iter_mut()
            .flat_map(|g| g.fields.iter_mut())
        {
            field.counter = ix.is_counter(&field.metric);
        }
        snapshot.incarnation = Incarnation {
            process_start_time_seconds: ix.max(PROCESS_START),
            created_seconds: ix.earliest_created(),
        };
        snapshot
    }
}

impl fmt::Debug for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSpec")
            .field("id", &self.id)
            .field("prefixes", &self.prefixes)
            .finish_non_exhaustive()
    }
}

/// The process collector's start time (prometheus_client, client_golang).
pub(crate) const PROCESS_START: &str = "process_start_time_seconds";

/// Builds one [`EngineGroup`], leaving out every field that was not found.
pub(crate) struct GroupBuilder {
    group: EngineGroup,
}

impl GroupBuilder {
    /// An empty group called `name`.
    #[inline(never)]
    pub(crate) fn new(name: &str) -> Self {
        GroupBuilder {
            group: EngineGroup {
                name: name.to_string(),
                fields: Vec::new(),
            },
        }
    }

    /// Add field `name` when `found` (the metric it came from and its value).
    #[inline(never)]
    pub(crate) fn add(&mut self, name: &str, found: Option<Found>) -> &mut Self {
        if let Some((metric, value)) = found {
            self.group.fields.push(EngineField {
                name: name.to_string(),
                metric,
                value,
                // Set by `map` from the family's declared type.
                counter: false,
            });
        }
        self
    }

    /// Append the group to `out` unless it has no field.
    #[inline(never)]
    pub(crate) fn finish(self, out: &mut Vec<EngineGroup>) {
        if !self.group.fields.is_empty() {
            out.push(self.group);
        }
    }
}
