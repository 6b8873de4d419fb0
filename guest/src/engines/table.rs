//! Every series name an engine reads, for every engine at once: the union of
//! the alias tables, sorted, each name with the engines that read it and
//! what it is to a distribution.
//!
//! Guarantees: a name's slot is its position in [`NAMES`], which is sorted
//! and holds each name once. [`NAMES`] is derived from the engines' own
//! alias tables at compile time (a `const` evaluation over [`SPECS`]): each
//! alias-table name, a distribution's base name plus its `_count`, `_sum`
//! and `_bucket` series, and `process_start_time_seconds` for every engine.
//! Nothing is pasted, and nothing is built at run time (every call of the
//! component is a fresh instance).

use std::cmp::Ordering;

use super::kit::PROCESS_START;
use super::list::{ALL, EngineBits, SPECS};
use super::series::{DIST_SUFFIXES, Kind};
use crate::text::common_prefix;

/// What a table name is to a distribution alias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Role {
    /// A distribution's base name.
    pub(crate) base: bool,
    /// A distribution's `_bucket` series.
    pub(crate) bucket: bool,
}

/// One name of the table: `base` followed by `suffix` (a distribution's
/// series are its base name plus a suffix; a `const` cannot join strings).
#[derive(Clone, Copy, Debug)]
struct Entry {
    base: &'static str,
    suffix: &'static str,
    role: Role,
    engines: EngineBits,
}

/// The union table.
pub(crate) struct Table {
    names: &'static [Entry],
}

impl Table {
    /// The table.
    pub(crate) fn get() -> &'static Table {
        static TABLE: Table = Table { names: &NAMES };
        &TABLE
    }

    /// How many names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The engines (bit `i`: `ENGINES[i]`) reading slot `i`.
    #[inline]
    pub(crate) fn engines(&self, i: usize) -> EngineBits {
        self.names[i].engines
    }

    /// What slot `i` is to a distribution.
    #[inline]
    pub(crate) fn role(&self, i: usize) -> Role {
        self.names[i].role
    }

    /// The slot of `name`.
    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.slot_suffixed(name, "")
    }

    /// The slot of `base` followed by `suffix`, without building the name.
    pub(crate) fn slot_suffixed(&self, base: &str, suffix: &str) -> Option<usize> {
        let (base, suffix) = (base.as_bytes(), suffix.as_bytes());
        self.names
            .binary_search_by(|e| cmp_split(e.base.as_bytes(), e.suffix.as_bytes(), base, suffix))
            .ok()
    }
}

/// `name` compared with the concatenation `base` + `suffix`.
fn cmp_concat(name: &[u8], base: &[u8], suffix: &[u8]) -> Ordering {
    let k = name.len().min(base.len());
    match cmp_bytes(&name[..k], &base[..k]) {
        Ordering::Equal if name.len() < base.len() => Ordering::Less,
        Ordering::Equal => cmp_bytes(&name[base.len()..], suffix),
        other => other,
    }
}

/// `a` + `a_suffix` compared with `b` + `b_suffix`, without joining either
/// (eight bytes at a time through [`cmp_bytes`]).
fn cmp_split(a: &[u8], a_suffix: &[u8], b: &[u8], b_suffix: &[u8]) -> Ordering {
    let k = a.len().min(b.len());
    match cmp_bytes(&a[..k], &b[..k]) {
        Ordering::Equal if a.len() <= b.len() => cmp_concat(a_suffix, &b[k..], b_suffix),
        Ordering::Equal => cmp_concat(b_suffix, &a[k..], a_suffix).reverse(),
        other => other,
    }
}

/// `a` compared with `b`, inline, eight bytes at a time ([`common_prefix`]):
/// the guest's `memcmp` is a byte loop behind a call.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let k = common_prefix(a, b);
    match (a.get(k), b.get(k)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

// ---- The compile-time derivation -------------------------------------------

/// An unused entry (arrays need a filler).
const BLANK: Entry = Entry {
    base: "",
    suffix: "",
    role: Role {
        base: false,
        bucket: false,
    },
    engines: 0,
};

/// How many names the alias tables list, repeats included.
const RAW: usize = raw_len();

/// Every name in order, repeats next to each other.
const SORTED: [Entry; RAW] = sorted(raw());

/// Every name the engines read, once each, sorted.
static NAMES: [Entry; unique_len(&SORTED)] = merged(&SORTED);

const fn raw_len() -> usize {
    let mut n = 1; // process_start_time_seconds
    let mut e = 0;
    while e < SPECS.len() {
        let table = SPECS[e].table;
        let mut a = 0;
        while a < table.len() {
            let per_name = match table[a].kind {
                Kind::Distribution => 1 + DIST_SUFFIXES.len(),
                Kind::Series => 1,
            };
            n += table[a].names.len() * per_name;
            a += 1;
        }
        e += 1;
    }
    n
}

/// Every alias-table name (and a distribution's series), unsorted.
const fn raw() -> [Entry; RAW] {
    let mut out = [BLANK; RAW];
    out[0] = Entry {
        base: PROCESS_START,
        engines: ALL,
        ..BLANK
    };
    let mut n = 1;
    let mut e = 0;
    while e < SPECS.len() {
        let engines = 1 << e;
        let table = SPECS[e].table;
        let mut a = 0;
        while a < table.len() {
            let dist = matches!(table[a].kind, Kind::Distribution);
            let names = table[a].names;
            let mut k = 0;
            while k < names.len() {
                let role = Role {
                    base: dist,
                    bucket: false,
                };
                out[n] = Entry {
                    base: names[k],
                    role,
                    engines,
                    ..BLANK
                };
                n += 1;
                let mut s = 0;
                while dist && s < DIST_SUFFIXES.len() {
                    let suffix = DIST_SUFFIXES[s];
                    let bucket = same(suffix, "_bucket");
                    let role = Role {
                        base: false,
                        bucket,
                    };
                    out[n] = Entry {
                        base: names[k],
                        suffix,
                        role,
                        engines,
                    };
                    n += 1;
                    s += 1;
                }
                k += 1;
            }
            a += 1;
        }
        e += 1;
    }
    out
}

/// `entries` sorted by name (an insertion sort: stable, and `const`).
const fn sorted(mut entries: [Entry; RAW]) -> [Entry; RAW] {
    let mut i = 1;
    while i < RAW {
        let mut j = i;
        while j > 0 && cmp_names(&entries[j - 1], &entries[j]) > 0 {
            let t = entries[j];
            entries[j] = entries[j - 1];
            entries[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    entries
}

/// How many distinct names `sorted` holds.
const fn unique_len(sorted: &[Entry]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < sorted.len() {
        if i == 0 || cmp_names(&sorted[i - 1], &sorted[i]) != 0 {
            n += 1;
        }
        i += 1;
    }
    n
}

/// `sorted` with each name once, holding every role and engine it had.
const fn merged<const N: usize>(sorted: &[Entry]) -> [Entry; N] {
    let mut out = [BLANK; N];
    let mut n = 0;
    let mut i = 0;
    while i < sorted.len() {
        let e = sorted[i];
        if i > 0 && cmp_names(&sorted[i - 1], &e) == 0 {
            let last = &mut out[n - 1];
            last.engines |= e.engines;
            last.role.base |= e.role.base;
            last.role.bucket |= e.role.bucket;
        } else {
            out[n] = e;
            n += 1;
        }
        i += 1;
    }
    out
}

/// The `i`th byte of `e`'s name.
const fn byte(e: &Entry, i: usize) -> u8 {
    let base = e.base.as_bytes();
    if i < base.len() {
        base[i]
    } else {
        e.suffix.as_bytes()[i - base.len()]
    }
}

/// `a`'s name compared with `b`'s, byte by byte: -1, 0 or 1.
const fn cmp_names(a: &Entry, b: &Entry) -> i8 {
    let la = a.base.len() + a.suffix.len();
    let lb = b.base.len() + b.suffix.len();
    let mut i = 0;
    while i < la && i < lb {
        let (x, y) = (byte(a, i), byte(b, i));
        if x != y {
            return if x < y { -1 } else { 1 };
        }
        i += 1;
    }
    if la < lb {
        -1
    } else if la > lb {
        1
    } else {
        0
    }
}

/// Whether two strings are equal (`==` is not `const` on `str`).
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engines::ENGINES;

    /// The table the slow, obvious way: strings joined and a sorted map.
    fn oracle() -> Vec<(String, Role, EngineBits)> {
        let mut names: BTreeMap<String, (Role, EngineBits)> = BTreeMap::new();
        let mut add = |name: String, role: Role, engine: EngineBits| {
            let e = names.entry(name).or_default();
            e.0.base |= role.base;
            e.0.bucket |= role.bucket;
            e.1 |= engine;
        };
        add(PROCESS_START.to_string(), Role::default(), ALL);
        for (i, spec) in ENGINES.iter().enumerate() {
            for alias in spec.table {
                let dist = alias.kind == Kind::Distribution;
                for name in alias.names {
                    let base = Role {
                        base: dist,
                        bucket: false,
                    };
                    add(name.to_string(), base, 1 << i);
                    for s in DIST_SUFFIXES.iter().filter(|_| dist) {
                        let bucket = Role {
                            base: false,
                            bucket: *s == "_bucket",
                        };
                        add(format!("{name}{s}"), bucket, 1 << i);
                    }
                }
            }
        }
        names.into_iter().map(|(n, (r, e))| (n, r, e)).collect()
    }

    #[test]
    fn names_are_the_alias_tables_sorted() {
        let got: Vec<(String, Role, EngineBits)> = NAMES
            .iter()
            .map(|e| (format!("{}{}", e.base, e.suffix), e.role, e.engines))
            .collect();
        assert_eq!(got, oracle());
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn split_comparison_is_the_joined_one() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "b",
            "vllm:x",
            "vllm:x_bucket",
            "_count",
            "x_",
        ];
        for a in words {
            for a2 in words {
                for b in words {
                    for b2 in words {
                        let joined = format!("{a}{a2}").cmp(&format!("{b}{b2}"));
                        let split =
                            cmp_split(a.as_bytes(), a2.as_bytes(), b.as_bytes(), b2.as_bytes());
                        assert_eq!(split, joined, "{a}+{a2} vs {b}+{b2}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_name_finds_its_slot() {
        let t = Table::get();
        for (i, e) in NAMES.iter().enumerate() {
            let name = format!("{}{}", e.base, e.suffix);
            assert_eq!(t.slot(&name), Some(i), "{name}");
            assert_eq!(t.slot_suffixed(e.base, e.suffix), Some(i), "{name}");
            if let Some(base) = name.strip_suffix("_bucket") {
                assert_eq!(t.slot_suffixed(base, "_bucket"), Some(i), "{name}");
            }
        }
        assert_eq!(t.slot("vllm:"), None);
        assert_eq!(t.slot_suffixed("vllm:num_requests_running", "_x"), None);
        assert_eq!(t.slot("zzz"), None);
        assert_eq!(t.slot(""), None);
    }
}
