//! Engine names on the API: the one place that checks a path segment or
//! config value against the engines the plugin maps.
//!
//! Invariant: an id is accepted only if it is `auto` or one of the ids the
//! loaded plugin lists (`collector.engines`), read once at start-up.

/// Whether `id` could be an engine id at all (before the plugin is asked).
pub fn plausible(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The engine `name` stands for among `known` (plus `auto`), or `None`.
pub fn parse(name: &str, known: &[String]) -> Option<String> {
    (name == "auto" || known.iter().any(|k| k == name)).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        let known = vec!["vllm".to_string(), "tgi".to_string()];
        assert_eq!(super::parse("auto", &known).as_deref(), Some("auto"));
        assert_eq!(super::parse("tgi", &known).as_deref(), Some("tgi"));
        assert!(super::parse("VLLM", &known).is_none());
        assert!(super::parse("", &known).is_none());
        assert!(super::plausible("sglang") && !super::plausible("a b"));
    }
}
