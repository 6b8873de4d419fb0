//! Bodies that are not exposition text at all, recognized before parsing.
//!
//! Guarantee: a body this module flags could never be valid exposition text
//! (no line of the 0.0.4 or OpenMetrics format starts with `"`), so flagging
//! it loses nothing; it turns a parse error at line 1 into a
//! `not-an-exposition` that says what the body is.

/// Why `body` is not an exposition, or `None` when it may be one.
///
/// A body whose first non-blank byte is `"` is a JSON string: some llama.cpp
/// builds (around b7010–b7100, issue #17384) returned their `/metrics` text
/// JSON-quoted, with `\n` escapes instead of line breaks.
pub fn not_an_exposition(body: &[u8]) -> Option<String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    (*first == b'"').then(|| {
        "the body is a JSON-quoted string, not exposition text (a known llama.cpp \
         regression, issue #17384)"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::not_an_exposition;

    #[test]
    fn json_quoted_body_is_flagged() {
        let body = br##""# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 12\n""##;
        let why = not_an_exposition(body).expect("flagged");
        assert!(why.contains("JSON-quoted"), "{why}");
        assert!(not_an_exposition(b"  \n\"x\"").is_some());
    }

    #[test]
    fn exposition_text_is_not_flagged() {
        assert_eq!(not_an_exposition(b""), None);
        assert_eq!(not_an_exposition(b"\n"), None);
        assert_eq!(not_an_exposition(b"# HELP x y\nx 1\n"), None);
        assert_eq!(not_an_exposition(b"x{a=\"\\\"\"} 1\n"), None);
    }
}
