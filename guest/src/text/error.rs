//! Parse errors: a `Copy` kind plus a 1-based position, no heap data.
//!
//! Invariant: every [`ErrorKind`] has exactly one static message saying what
//! was expected or what is wrong; `Display` never allocates beyond the writer.

use std::fmt;

/// What went wrong. One variant per problem, so tests can compare kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not valid UTF-8 at this byte.
    InvalidUtf8,
    /// A line starts with something that is not a metric name.
    ExpectedMetricName,
    /// After the metric name came something other than `{` or a space.
    ExpectedSpaceAfterName,
    /// A metric name was given both before and inside the braces, or twice inside.
    DuplicateMetricName,
    /// Quoted (UTF-8) names are not part of OpenMetrics 1.0.
    QuotedNameNotAllowed,
    /// Inside `{...}` something other than a label name.
    ExpectedLabelName,
    /// A label name not followed by `=`.
    ExpectedEquals,
    /// `=` not followed by a `"`-quoted value.
    ExpectedLabelValue,
    /// A quoted string runs to the end of the line.
    UnterminatedString,
    /// A label value not followed by `,` or `}`.
    ExpectedCommaOrBrace,
    /// A quoted metric or label name that is empty (`""`).
    EmptyName,
    /// A `__name__` label (strict 0.0.4: the name is the sample's own).
    ReservedLabelName,
    /// A backslash escape other than `\\`, `\"` or `\n` (strict 0.0.4).
    InvalidEscape,
    /// `,` directly before `}` (allowed in 0.0.4, not in OpenMetrics).
    TrailingComma,
    /// The same label name twice in one label set.
    DuplicateLabelName,
    /// The sample has no value.
    MissingValue,
    /// The value is not one of the formats' number spellings.
    InvalidValue,
    /// The timestamp is not a number the format allows.
    InvalidTimestamp,
    /// The timestamp does not fit the range of the format.
    TimestampOutOfRange,
    /// Whitespace where the format allows none or only a single space.
    UnexpectedWhitespace,
    /// Text after the sample's value and timestamp.
    UnexpectedText,
    /// An exemplar that does not read `# {labels} value [timestamp]`.
    InvalidExemplar,
    /// An exemplar's label names and values exceed 128 characters.
    ExemplarTooLong,
    /// An exemplar on a sample type that may not have one.
    ExemplarNotAllowed,
    /// An empty line (not allowed in OpenMetrics).
    BlankLine,
    /// A carriage return (only tolerated before a line feed, in lenient mode).
    CarriageReturn,
    /// A `#` line that is not HELP, TYPE, UNIT or EOF (OpenMetrics).
    InvalidComment,
    /// `# HELP name` without a space and text.
    ExpectedHelpText,
    /// `# TYPE name` without a type.
    ExpectedType,
    /// A metric type the format does not define.
    InvalidType,
    /// `# UNIT name` without a space and unit.
    ExpectedUnit,
    /// The unit is not a suffix (`_unit`) of the family name.
    UnitMismatch,
    /// Info and stateset families may not have a unit.
    UnitNotAllowed,
    /// A second HELP, TYPE or UNIT for the same family.
    DuplicateMetadata,
    /// HELP, TYPE or UNIT after the family's samples.
    MetadataAfterSamples,
    /// A family appears again after another family (interleaved or repeated).
    InterleavedFamily,
    /// A family's name collides with a sample name of another family.
    NameClash,
    /// Samples of one label group are split by another group.
    InterleavedGroup,
    /// Some samples of a group have timestamps and others do not.
    MixedTimestamps,
    /// A timestamp smaller than the previous one in the same group.
    TimestampBackwards,
    /// OpenMetrics text without the final `# EOF` line.
    MissingEof,
    /// Anything after `# EOF`.
    TextAfterEof,
    /// The last line lacks its line feed (strict 0.0.4).
    MissingFinalNewline,
    /// A counter-like value (counter, bucket, count, sum) is negative or NaN.
    InvalidCounterValue,
    /// A summary quantile value is negative.
    NegativeQuantileValue,
    /// A histogram bucket without an `le` label.
    MissingLe,
    /// An `le` label that is not a number (or a non-canonical infinity).
    InvalidLe,
    /// A summary quantile sample without a `quantile` label.
    MissingQuantile,
    /// A `quantile` label that is not a number between 0 and 1.
    InvalidQuantile,
    /// Bucket `le` values do not increase.
    BucketsOutOfOrder,
    /// Bucket counts decrease as `le` increases.
    BucketsNotCumulative,
    /// A histogram without its `le="+Inf"` bucket.
    MissingInfBucket,
    /// `_count` differs from the `+Inf` bucket.
    CountMismatch,
    /// `_sum`/`_gsum` without `_count`/`_gcount`.
    SumWithoutCount,
    /// `_count`/`_gcount` without `_sum`/`_gsum`.
    CountWithoutSum,
    /// A histogram with negative buckets must not have `_sum`.
    SumWithNegativeBuckets,
    /// A gauge histogram with a negative `_gsum` but no negative bucket.
    NegativeGsum,
    /// An info sample whose value is not 1.
    InvalidInfoValue,
    /// A stateset sample whose value is not 0 or 1.
    InvalidStateSetValue,
    /// A stateset sample without the label named after the family.
    MissingStateLabel,
}

impl ErrorKind {
    /// A static message: what was expected, or what is wrong.
    pub fn message(self) -> &'static str {
        use ErrorKind::*;
        match self {
            InvalidUtf8 => "invalid UTF-8",
            ExpectedMetricName => "expected a metric name",
            ExpectedSpaceAfterName => "expected '{' or a space after the metric name",
            DuplicateMetricName => "metric name given twice",
            QuotedNameNotAllowed => "quoted names are not allowed in OpenMetrics 1.0",
            ExpectedLabelName => "expected a label name",
            ExpectedEquals => "expected '=' after label name",
            ExpectedLabelValue => "expected '\"' to open the label value",
            UnterminatedString => "expected '\"' to close the quoted string",
            ExpectedCommaOrBrace => "expected ',' or '}' after label value",
            EmptyName => "a metric or label name may not be empty",
            ReservedLabelName => "the label name __name__ is reserved for the metric name",
            InvalidEscape => "invalid escape: only \\\\, \\\" and \\n may follow a backslash",
            TrailingComma => "expected a label name after ',' (no trailing comma in OpenMetrics)",
            DuplicateLabelName => "label name repeated in one label set",
            MissingValue => "expected a space and a sample value",
            InvalidValue => "invalid number (expected decimal, exponent, NaN, +Inf or -Inf)",
            InvalidTimestamp => "invalid timestamp",
            TimestampOutOfRange => "timestamp out of range",
            UnexpectedWhitespace => "unexpected whitespace (expected exactly one space)",
            UnexpectedText => "unexpected text after the sample value and timestamp",
            InvalidExemplar => "malformed exemplar (expected ' # {labels} value [timestamp]')",
            ExemplarTooLong => "exemplar label names and values exceed 128 characters",
            ExemplarNotAllowed => {
                "exemplars are only allowed on counter _total and histogram _bucket samples"
            }
            BlankLine => "blank lines are not allowed in OpenMetrics",
            CarriageReturn => "unexpected carriage return",
            InvalidComment => "expected HELP, TYPE, UNIT or EOF after '# '",
            ExpectedHelpText => "expected a space and help text after the metric name",
            ExpectedType => "expected a space and a metric type after the metric name",
            InvalidType => "unknown metric type",
            ExpectedUnit => "expected a space and a unit after the metric name",
            UnitMismatch => "the family name must end with '_' and the unit",
            UnitNotAllowed => "info and stateset families must not have a unit",
            DuplicateMetadata => "HELP, TYPE or UNIT repeated for one family",
            MetadataAfterSamples => "HELP, TYPE or UNIT after the family's samples",
            InterleavedFamily => "metric family appears again after another family",
            NameClash => "family name clashes with a sample name of another family",
            InterleavedGroup => "samples of one label set are interleaved with another",
            MixedTimestamps => "some samples of one label set have timestamps and some do not",
            TimestampBackwards => "timestamp goes backwards within a label set",
            MissingEof => "expected '# EOF' at the end of OpenMetrics text",
            TextAfterEof => "unexpected text after '# EOF'",
            MissingFinalNewline => "expected a line feed at the end of the last line",
            InvalidCounterValue => {
                "counter, bucket, _count and _sum values must not be negative or NaN"
            }
            NegativeQuantileValue => "summary quantile values must not be negative",
            MissingLe => "histogram bucket without an 'le' label",
            InvalidLe => "invalid 'le' value (expected a number or +Inf)",
            MissingQuantile => "summary sample without a 'quantile' label",
            InvalidQuantile => "invalid 'quantile' value (expected a number from 0 to 1)",
            BucketsOutOfOrder => "histogram buckets are not in increasing order of le",
            BucketsNotCumulative => "histogram bucket counts decrease as le increases",
            MissingInfBucket => "histogram without an le=\"+Inf\" bucket",
            CountMismatch => "histogram _count does not equal the +Inf bucket",
            SumWithoutCount => "histogram has _sum without _count",
            CountWithoutSum => "histogram has _count without _sum",
            SumWithNegativeBuckets => "histogram with negative buckets must not have _sum",
            NegativeGsum => "negative _gsum in a gauge histogram without negative buckets",
            InvalidInfoValue => "info samples must have the value 1",
            InvalidStateSetValue => "stateset samples must have the value 0 or 1",
            MissingStateLabel => "stateset sample without the label named after the family",
        }
    }
}

/// A parse failure: what and where. `Copy`, no heap data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in bytes.
    pub column: u32,
}

impl ParseError {
    /// The static message for this error's kind.
    pub fn message(&self) -> &'static str {
        self.kind.message()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line,
            self.column,
            self.message()
        )
    }
}

impl std::error::Error for ParseError {}
