//! A request's destination as the egress policy and the sender both compare
//! it: the host lower-cased and without IPv6 brackets, the port defaulted
//! from the scheme.
//!
//! Invariant: the policy's allow-list check and the sender's connection use
//! these same two functions, so `[::1]` and `::1`, `Example.COM` and
//! `example.com`, and `https://h` and `https://h:443` are one destination
//! to both.

use http::uri::{Scheme, Uri};

/// Lower-case, without IPv6 brackets, so `[::1]` and `::1` compare equal.
pub(crate) fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// The URI's port, or its scheme's default.
pub(crate) fn effective_port(uri: &Uri) -> u16 {
    uri.port_u16()
        .unwrap_or(if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        })
}
