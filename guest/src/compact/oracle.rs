//! The slow reference for [`super::parse`]: the compact form converted from a
//! whole parsed [`Exposition`], family after family, sample after sample.
//!
//! Invariant: this is the definition of the compact result; the direct path
//! must give exactly these records, strings and errors (checked by
//! `super::differential` and the fuzz targets in `fuzz/`).

use super::{Compact, Family, TooLarge, Writer};
use crate::text::{Exposition, Format};

/// The compact form of `exposition`, which [`crate::text::parse`] read from
/// `input`; also returns the format it used.
///
/// # Errors
/// [`TooLarge`] when an offset would not fit in a `u32`.
pub fn build(input: &[u8], exposition: &Exposition<'_>) -> Result<(Format, Compact), TooLarge> {
    let samples: usize = exposition.families.iter().map(|f| f.samples.len()).sum();
    // Most samples of LLM servers' expositions carry a few labels.
    let mut w = Writer::new(input, samples, samples.saturating_mul(4));
    w.out.families.reserve(exposition.families.len());
    for f in &exposition.families {
        let samples_start = w.index(w.out.samples.len())?;
        let (name, help, unit) = w.family_strings(f)?;
        for s in &f.samples {
            w.sample(s)?;
        }
        let samples_len = w.index(f.samples.len())?;
        w.out.families.push(Family {
            name,
            metric_type: f.metric_type,
            help,
            unit,
            samples_start,
            samples_len,
        });
    }
    Ok((exposition.format, w.out))
}
