//! The kinds of collection errors (WIT `collect-error`), each with its stable
//! name, the words its one-line description starts with, and the HTTP status
//! a collection answers with.
//!
//! Invariant: the names are the WIT case names, and no embedder spells a
//! kind, a description prefix or a collect status anywhere else.

/// One case of WIT `collect-error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectKind {
    /// The URL cannot be fetched (`invalid-url`).
    InvalidUrl,
    /// The host's egress policy refused the address (`denied`).
    Denied,
    /// No connection (`connect`).
    Connect,
    /// The fetch ran past its time budget (`timeout`).
    Timeout,
    /// The upstream answered a non-2xx status (`http-status`).
    HttpStatus,
    /// The body passed the size cap (`body-too-large`).
    BodyTooLarge,
    /// The body is not exposition text at all (`not-an-exposition`).
    NotAnExposition,
    /// The exposition does not parse (`parse`).
    Parse,
    /// No supported engine's families (`unrecognized-engine`).
    UnrecognizedEngine,
    /// The requested engine id is not supported (`unknown-engine`).
    UnknownEngine,
    /// Families of several engines (`mixed-engines`).
    MixedEngines,
    /// Any other transport failure (`transport`).
    Transport,
}

impl CollectKind {
    /// Every kind, in WIT order.
    pub const ALL: [CollectKind; 12] = [
        CollectKind::InvalidUrl,
        CollectKind::Denied,
        CollectKind::Connect,
        CollectKind::Timeout,
        CollectKind::HttpStatus,
        CollectKind::BodyTooLarge,
        CollectKind::NotAnExposition,
        CollectKind::Parse,
        CollectKind::UnrecognizedEngine,
        CollectKind::UnknownEngine,
        CollectKind::MixedEngines,
        CollectKind::Transport,
    ];

    /// The stable, machine-readable name (the WIT case name), e.g. `denied`.
    pub const fn name(self) -> &'static str {
        match self {
            CollectKind::InvalidUrl => "invalid-url",
            CollectKind::Denied => "denied",
            CollectKind::Connect => "connect",
            CollectKind::Timeout => "timeout",
            CollectKind::HttpStatus => "http-status",
            CollectKind::BodyTooLarge => "body-too-large",
            CollectKind::NotAnExposition => "not-an-exposition",
            CollectKind::Parse => "parse",
            CollectKind::UnrecognizedEngine => "unrecognized-engine",
            CollectKind::UnknownEngine => "unknown-engine",
            CollectKind::MixedEngines => "mixed-engines",
            CollectKind::Transport => "transport",
        }
    }

    /// The words a description of this kind starts with, e.g. `connect failed`.
    pub const fn title(self) -> &'static str {
        match self {
            CollectKind::InvalidUrl => "invalid URL",
            CollectKind::Denied => "denied",
            CollectKind::Connect => "connect failed",
            CollectKind::Timeout => "timeout",
            CollectKind::HttpStatus => "HTTP status",
            CollectKind::BodyTooLarge => "body too large",
            CollectKind::NotAnExposition => "not an exposition",
            CollectKind::Parse => "invalid exposition",
            CollectKind::UnrecognizedEngine => "unrecognized engine",
            CollectKind::UnknownEngine => "unknown engine",
            CollectKind::MixedEngines => "mixed engines",
            CollectKind::Transport => "transport error",
        }
    }

    /// The HTTP status a collection that failed so answers with: 403
    /// denied, 422 an invalid URL, 404 an unknown engine id, 504 a timeout,
    /// 502 anything the upstream did wrong.
    pub const fn collect_status(self) -> u16 {
        match self {
            CollectKind::Denied => 403,
            CollectKind::InvalidUrl => 422,
            CollectKind::UnknownEngine => 404,
            CollectKind::Timeout => 504,
            _ => 502,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CollectKind;

    #[test]
    fn names_and_titles_are_distinct() {
        let mut names: Vec<_> = CollectKind::ALL.iter().map(|k| k.name()).collect();
        let mut titles: Vec<_> = CollectKind::ALL.iter().map(|k| k.title()).collect();
        names.sort_unstable();
        names.dedup();
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(names.len(), CollectKind::ALL.len());
        assert_eq!(titles.len(), CollectKind::ALL.len());
    }
}
