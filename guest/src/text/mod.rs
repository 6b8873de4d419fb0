//! Prometheus 0.0.4 / OpenMetrics 1.0 text parsing.
//!
//! Layers, each borrowing the input: `lexer` (a cursor over one line),
//! `value` (the one number parser), `labels` (validated label spans),
//! `parser` (the [`Parser`] pull iterator of [`Entry`]s, both dialects),
//! `families` (grouping into [`Family`]s), `strict` (semantic checks).
//! [`parse`] runs them all; the families layer is the only allocator on the
//! lenient path.

mod error;
mod families;
mod labels;
mod lexer;
mod model;
mod parser;
mod strict;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod value;

pub use error::{ErrorKind, ParseError};
pub(crate) use families::{Sink, run as parse_into};
pub use labels::{LabelIter, Labels};
pub(crate) use lexer::{common_prefix, same_bytes};
pub use model::*;
pub use parser::{Entry, Parser};
pub(crate) use value::parse_value;

/// Parses a whole exposition into families.
///
/// `Format::Auto` resolves to OpenMetrics when `content_type` contains
/// `application/openmetrics-text` or the text ends with a `# EOF` line, and to
/// Prometheus 0.0.4 otherwise; `Exposition::format` tells which.
///
/// # Errors
/// The first syntax error, or in strict mode the first violated rule, with its
/// 1-based line and byte column.
pub fn parse<'a>(
    input: &'a [u8],
    options: &ParseOptions<'_>,
) -> Result<Exposition<'a>, ParseError> {
    families::collect(Parser::new(input, options))
}

#[cfg(any(test, feature = "oracle"))]
pub mod oracle;
