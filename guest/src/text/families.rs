//! Grouping entries into metric families, with their metadata.
//!
//! Invariant: every sample lands in exactly one family, in input order; family
//! names are kept exactly as written. A sample joins the current family `N` if
//! its name is `N` or `N` plus a suffix the family's type allows; otherwise
//! (lenient) the first earlier family it fits, or (both modes) a new family
//! named after the sample. A reappearing family is merged into its first
//! occurrence, except in strict OpenMetrics, which rejects it (0.0.4 allows
//! it: both of Prometheus' Go parsers merge it). Allocation is per family, not
//! per sample, except for the strict checks. Where a sample goes is the
//! [`Sink`]'s business: [`collect`] keeps every sample in its family, a
//! mapper keeps only the ones it reads; the grouping and its errors are the
//! same for every sink.

use std::borrow::Cow;
use std::collections::HashMap;

use super::error::{ErrorKind, ParseError};
use super::lexer::same_bytes;
use super::model::{Exposition, Family, Format, MetricType, Sample};
use super::parser::{Entry, Parser};
use super::strict::{FamilyCheck, Names};

/// Whether strict OpenMetrics lets a family of type `ty` own a sample with its bare name.
fn bare_name_allowed(ty: MetricType) -> bool {
    matches!(
        ty,
        MetricType::Gauge | MetricType::Summary | MetricType::StateSet | MetricType::Unknown
    )
}

/// The suffix by which `sample` belongs to family `family` of type `ty`, if it does.
#[inline]
pub(crate) fn suffix_in<'s>(
    family: &str,
    ty: MetricType,
    sample: &'s str,
    bare: bool,
) -> Option<&'s str> {
    // Compared inline: `==` and `strip_prefix` call `memcmp`, a byte loop
    // on wasm32, for every sample.
    let head = sample.as_bytes().get(..family.len())?;
    if !same_bytes(head, family.as_bytes()) {
        return None;
    }
    let rest = sample.as_bytes().get(family.len()..)?;
    if rest.is_empty() {
        return bare.then_some("");
    }
    ty.suffixes()
        .iter()
        .find(|s| same_bytes(s.as_bytes(), rest))
        .copied()
}

/// Which metadata a family has seen.
#[derive(Clone, Copy, Default)]
struct Seen {
    help: bool,
    typ: bool,
    unit: bool,
    typ_applied: bool,
    /// A sample was handed to the sink for the family.
    sampled: bool,
}

/// Where the samples of a parse go, once the builder knows their family.
///
/// `families` holds every family so far (metadata, and whatever samples the
/// sink put there); a family's type is final only at the end of the parse.
pub(crate) trait Sink<'a> {
    /// Family `i` was just created (`families[i]`: its name, no type yet).
    fn family(&mut self, families: &[Family<'a>], i: usize);
    /// Sample `s` belongs to family `i`, in input order.
    fn sample(&mut self, families: &mut [Family<'a>], i: usize, s: Sample<'a>);
}

/// The sink that keeps every sample in its family.
struct All;

impl<'a> Sink<'a> for All {
    #[inline]
    fn family(&mut self, _: &[Family<'a>], _: usize) {}

    #[inline]
    fn sample(&mut self, families: &mut [Family<'a>], i: usize, s: Sample<'a>) {
        families[i].samples.push(s);
    }
}

/// Which metadata line.
#[derive(Clone, Copy)]
enum Meta {
    Help,
    Type,
    Unit,
}

/// Folds parser entries into families.
struct Builder<'a, 's, S> {
    sink: &'s mut S,
    om: bool,
    strict: bool,
    families: Vec<Family<'a>>,
    seen: Vec<Seen>,
    cur: Option<usize>,
    /// Family name → index (first occurrence).
    index: HashMap<Cow<'a, str>, usize>,
    /// Strict only: per-family checks of the current family, and all names so far.
    check: FamilyCheck<'a>,
    names: Names,
    line: u32,
}

/// Parses everything `parser` yields into an [`Exposition`].
pub(crate) fn collect<'a>(parser: Parser<'a>) -> Result<Exposition<'a>, ParseError> {
    run(parser, &mut All)
}

/// Parses everything `parser` yields, handing each sample to `sink`; the
/// families come back with whatever samples the sink put in them.
pub(crate) fn run<'a, S: Sink<'a>>(
    mut parser: Parser<'a>,
    sink: &mut S,
) -> Result<Exposition<'a>, ParseError> {
    let format = parser.format();
    let mut b = Builder {
        sink,
        om: format == Format::OpenMetrics,
        strict: parser.is_strict(),
        families: Vec::new(),
        seen: Vec::new(),
        cur: None,
        index: HashMap::new(),
        check: FamilyCheck::default(),
        names: Names::default(),
        line: 0,
    };
    while let Some(entry) = parser.next() {
        let entry = entry?;
        b.line = parser.line();
        b.entry(entry).map_err(|kind| ParseError {
            kind,
            line: b.line,
            column: 1,
        })?;
    }
    b.line = parser.next_line();
    b.finish().map_err(|kind| ParseError {
        kind,
        line: b.line,
        column: 1,
    })?;
    Ok(Exposition {
        format,
        families: b.families,
    })
}

impl<'a, S: Sink<'a>> Builder<'a, '_, S> {
    fn entry(&mut self, entry: Entry<'a>) -> Result<(), ErrorKind> {
        match entry {
            Entry::Sample(s) => self.sample(s),
            Entry::Help { name, help } => {
                let i = self.meta_family(name, Meta::Help)?;
                let f = &mut self.families[i];
                f.help.get_or_insert(help);
                Ok(())
            }
            Entry::Type { name, metric_type } => {
                let i = self.meta_family(name, Meta::Type)?;
                // The first TYPE wins (strict mode already rejected a second).
                if !self.seen[i].typ_applied {
                    self.seen[i].typ_applied = true;
                    self.families[i].metric_type = metric_type;
                }
                self.check_unit(i)
            }
            Entry::Unit { name, unit } => {
                let i = self.meta_family(name, Meta::Unit)?;
                let f = &mut self.families[i];
                if self.strict && !unit.is_empty() {
                    let ok = f
                        .name
                        .strip_suffix(&*unit)
                        .is_some_and(|h| h.ends_with('_'));
                    if !ok {
                        return Err(ErrorKind::UnitMismatch);
                    }
                }
                f.unit.get_or_insert(unit);
                self.check_unit(i)
            }
            Entry::Comment(_) => Ok(()),
            Entry::Eof => self.finish(),
        }
    }

    /// Strict: info and stateset families may not have a (non-empty) unit.
    fn check_unit(&self, i: usize) -> Result<(), ErrorKind> {
        let f = &self.families[i];
        let has_unit = f.unit.as_deref().is_some_and(|u| !u.is_empty());
        if self.strict
            && has_unit
            && matches!(f.metric_type, MetricType::Info | MetricType::StateSet)
        {
            return Err(ErrorKind::UnitNotAllowed);
        }
        Ok(())
    }

    /// The family a metadata line refers to, creating or switching as needed;
    /// `flag` marks which metadata this is (strict: repeated → error).
    fn meta_family(&mut self, name: Cow<'a, str>, meta: Meta) -> Result<usize, ErrorKind> {
        let i = match self.cur {
            Some(i) if self.families[i].name == name => i,
            _ => match (self.strict && self.om, self.index.get(&name)) {
                (false, Some(&i)) => {
                    self.finish()?;
                    self.cur = Some(i);
                    i
                }
                (true, Some(_)) => return Err(ErrorKind::InterleavedFamily),
                _ => self.new_family(name)?,
            },
        };
        if self.strict {
            let seen = &mut self.seen[i];
            let flag = match meta {
                Meta::Help => &mut seen.help,
                Meta::Type => &mut seen.typ,
                Meta::Unit => &mut seen.unit,
            };
            if std::mem::replace(flag, true) {
                return Err(ErrorKind::DuplicateMetadata);
            }
            // 0.0.4 lets HELP stand anywhere; TYPE (and UNIT) must come first.
            let late_ok = !self.om && matches!(meta, Meta::Help);
            if !late_ok && self.seen[i].sampled {
                return Err(ErrorKind::MetadataAfterSamples);
            }
        }
        Ok(i)
    }

    /// Starts a new family (finishing the current one) and makes it current.
    fn new_family(&mut self, name: Cow<'a, str>) -> Result<usize, ErrorKind> {
        self.finish()?;
        let i = self.families.len();
        let metric_type = if self.om {
            MetricType::Unknown
        } else {
            MetricType::Untyped
        };
        self.index.insert(name.clone(), i);
        self.families.push(Family {
            name,
            metric_type,
            help: None,
            unit: None,
            samples: Vec::new(),
        });
        self.seen.push(Seen::default());
        self.sink.family(&self.families, i);
        self.cur = Some(i);
        Ok(i)
    }

    /// Strict: runs the end-of-family checks and records the family's names.
    fn finish(&mut self) -> Result<(), ErrorKind> {
        let Some(i) = self.cur.take() else {
            return Ok(());
        };
        if self.strict {
            let f = &self.families[i];
            self.check.finish()?;
            if self.om {
                self.names.register(&f.name, f.metric_type)?;
            }
            self.check = FamilyCheck::default();
        }
        Ok(())
    }

    #[inline]
    fn sample(&mut self, s: Sample<'a>) -> Result<(), ErrorKind> {
        let bare = !(self.strict && self.om);
        if let Some(i) = self.cur
            && let Some(f) = self.families.get(i)
        {
            let ok = bare || bare_name_allowed(f.metric_type);
            if let Some(suffix) = suffix_in(&f.name, f.metric_type, &s.name, ok) {
                if self.strict {
                    self.check
                        .sample(self.om, &f.name, f.metric_type, suffix, &s)?;
                }
                self.give(i, s);
                return Ok(());
            }
        }
        self.sample_slow(s)
    }

    /// A sample that does not fit the current family.
    #[cold]
    fn sample_slow(&mut self, s: Sample<'a>) -> Result<(), ErrorKind> {
        if !(self.strict && self.om)
            && let Some(i) = self.earlier_family(&s.name)
        {
            self.finish()?;
            self.cur = Some(i);
            let f = &self.families[i];
            if self.strict {
                let suffix = suffix_in(&f.name, f.metric_type, &s.name, true).unwrap_or("");
                self.check
                    .sample(self.om, &f.name, f.metric_type, suffix, &s)?;
            }
            self.give(i, s);
            return Ok(());
        }
        if self.index.contains_key(&s.name) {
            return Err(ErrorKind::InterleavedFamily);
        }
        let i = self.new_family(s.name.clone())?;
        let f = &self.families[i];
        if self.strict {
            self.check.sample(self.om, &f.name, f.metric_type, "", &s)?;
        }
        self.give(i, s);
        Ok(())
    }

    /// Hands `s`, a sample of family `i`, to the sink.
    #[inline]
    fn give(&mut self, i: usize, s: Sample<'a>) {
        self.seen[i].sampled = true;
        self.sink.sample(&mut self.families, i, s);
    }

    /// Lenient: the earlier family that owns `name` (exactly or by suffix).
    fn earlier_family(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        let cut = name.rfind('_')?;
        let (head, suffix) = name.split_at(cut);
        let &i = self.index.get(head)?;
        self.families[i]
            .metric_type
            .suffixes()
            .contains(&suffix)
            .then_some(i)
    }
}
