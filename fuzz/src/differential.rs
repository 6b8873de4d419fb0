//! The differential check: a generated valid exposition, parsed by the fast
//! parser and by the slow oracle (`text::oracle`), must agree entry for entry
//! and label for label, and the families must be exactly the generated ones.
//!
//! Invariant kept: a failure here is a disagreement about *valid* text (the
//! generator only writes what the dialect allows), so it is a parser bug or a
//! generator bug, never an accepted difference.

use llm_metrics_guest::text::oracle::{self, Owned};
use llm_metrics_guest::text::{self, Format, ParseOptions, Parser};

use crate::checks;
use crate::expo::{Doc, ExpFamily, ExpSample, Rendered};

/// Every entry of `text`, owned, or the first error.
fn entries(text: &str, format: Format, strict: bool) -> Vec<Owned> {
    let opts = ParseOptions {
        format,
        strict,
        content_type: None,
    };
    Parser::new(text.as_bytes(), &opts)
        .map(|e| e.map(oracle::own))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("valid text rejected (strict: {strict}): {e}\n{text:?}"))
}

/// What `parse` made of the text, in the generator's terms.
fn families(text: &str, format: Format) -> Vec<ExpFamily> {
    let opts = ParseOptions {
        format,
        strict: false,
        content_type: None,
    };
    let x = text::parse(text.as_bytes(), &opts)
        .unwrap_or_else(|e| panic!("valid text rejected by parse: {e}\n{text:?}"));
    assert_eq!(x.format, format);
    let bits = |v: f64| {
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    };
    x.families
        .iter()
        .map(|f| ExpFamily {
            name: f.name.to_string(),
            ty: f.metric_type,
            help: f.help.as_deref().map(str::to_string),
            unit: f.unit.as_deref().map(str::to_string),
            samples: f
                .samples
                .iter()
                .map(|s| ExpSample {
                    name: s.name.to_string(),
                    labels: checks::labels(&s.labels),
                    value: bits(s.value),
                    ts: s.timestamp_ms,
                    exemplar: s
                        .exemplar
                        .as_ref()
                        .map(|x| (checks::labels(&x.labels), bits(x.value), x.timestamp_ms)),
                })
                .collect(),
        })
        .collect()
}

/// Renders `doc` and checks both parsers and the families layer on it.
pub fn check(doc: &Doc) {
    let r: Rendered = doc.render();
    let om = r.format == Format::OpenMetrics;
    let want = oracle::oracle(&r.canonical, om);
    let got = entries(&r.canonical, r.format, false);
    assert_eq!(got, want, "fast parser vs oracle on\n{:?}", r.canonical);
    let got = entries(&r.loose, r.format, false);
    assert_eq!(
        got, want,
        "loose text vs oracle on canonical\n{:?}\n{:?}",
        r.loose, r.canonical
    );
    if r.strict_syntax {
        let got = entries(&r.canonical, r.format, true);
        assert_eq!(got, want, "strict syntax on\n{:?}", r.canonical);
    }
    let fams = families(&r.loose, r.format);
    assert_eq!(fams, r.families, "families of\n{:?}", r.loose);
    let auto = text::parse(r.canonical.as_bytes(), &ParseOptions::default())
        .expect("auto rejects valid text");
    assert_eq!(auto.format, r.format, "auto picked the wrong dialect");
}
