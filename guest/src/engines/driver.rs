//! The one driver from samples to a snapshot: the index keeps the series,
//! detection picks the engine, the engine's fold reads the index.
//!
//! Invariant: the only path from text or families to an [`EngineSnapshot`];
//! the index ([`Kept`]) never calls back into detection or the fold.

use super::detect::{MapError, detect_bits};
use super::kept::{Kept, escapes};
use crate::snapshot::EngineSnapshot;
use crate::text::{self, Family, ParseError, ParseOptions, Parser};

/// Map parsed families to a snapshot of the requested (or detected) engine.
///
/// One pass over the samples keeps the series the engine's alias table names
/// ([`Kept`]); the engine's fold reads only those. [`map_text`] does
/// the same without building the families first.
///
/// # Errors
/// As [`detect`] describes.
pub fn map(families: &[Family<'_>], engine: &str) -> Result<EngineSnapshot, MapError> {
    let mut ix = Kept::new(engine, Some(escapes(families)));
    for (i, family) in families.iter().enumerate() {
        for sample in &family.samples {
            ix.add(i, sample.clone());
        }
    }
    read(ix, families, engine)
}

/// Parse `input` and map it to a snapshot of the requested (or detected)
/// engine in one pass: the parser hands each sample to the index, which
/// keeps only the series the engines' alias tables name; no family holds
/// its samples. Answers exactly what [`text::parse`] then [`map`] answer.
///
/// # Errors
/// The outer error is the parse's, as [`text::parse`] describes (it comes
/// first, whatever the engine id); the inner one is the mapping's, as
/// [`detect`] describes.
pub fn map_text(
    input: &[u8],
    options: &ParseOptions<'_>,
    engine: &str,
) -> Result<Result<EngineSnapshot, MapError>, ParseError> {
    let mut ix = Kept::new(engine, None);
    let x = text::parse_into(Parser::new(input, options), &mut ix)?;
    if ix.late() {
        // A colon family came after a sample its escape renames: read it
        // again knowing every escape (rare: prometheus_client declares a
        // family before its samples).
        ix = Kept::new(engine, Some(escapes(&x.families)));
        let again = text::parse_into(Parser::new(input, options), &mut ix)?;
        return Ok(read(ix, &again.families, engine));
    }
    Ok(read(ix, &x.families, engine))
}

/// Detect (or check) the engine over what `ix` saw and `families`, then fold.
fn read(ix: Kept<'_>, families: &[Family<'_>], engine: &str) -> Result<EngineSnapshot, MapError> {
    let spec = detect_bits(ix.present(families), families, engine)?;
    Ok(spec.fold(&ix.select(spec, families)))
}
