//! The SSRF allow-list for URLs the service fetches on a caller's behalf.
//!
//! Invariant: [`AllowList::check`] grants a URL only when its host matches a
//! pattern (name, `*.suffix` wildcard, IP or CIDR range, each optionally with
//! a port) **and** every address the host resolves to is acceptable: inside
//! an allowed range when the host was granted by address, and never
//! link-local or a cloud metadata address unless an address pattern lies
//! wholly inside that range (names and wider ranges never count). A name that
//! matches no pattern is refused before any DNS lookup. The grant is one exact
//! `host:port` for the host's [`EgressPolicy`](llm_metrics_host::EgressPolicy),
//! with the same address rules, which the host's egress hook applies again
//! to the addresses it resolves and connects to (so a DNS answer that
//! changes between this check and the connection is still caught).

use std::net::IpAddr;
use std::time::Duration;

use http::uri::{Scheme, Uri};
use ipnet::IpNet;
use llm_metrics_host::{AddressRules, AllowedHost};

/// How long name resolution for a check may take.
const RESOLVE_BUDGET: Duration = Duration::from_secs(5);

/// What a pattern matches on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// One host name, lower case.
    Name(String),
    /// Any name ending in this suffix (kept with its leading dot).
    Suffix(String),
    /// An address range (a single address is a full-length prefix).
    Net(IpNet),
}

/// One allow-list entry, e.g. `vllm-0.internal:8000`, `*.svc.cluster.local`,
/// `10.0.0.0/8`, `[fd00::/8]:9400`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    host: HostPattern,
    port: Option<u16>,
}

/// Why a pattern could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`{spec}` is not an allow pattern: {reason}")]
pub struct PatternError {
    spec: String,
    reason: &'static str,
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(spec: &str) -> Result<Self, PatternError> {
        let err = |reason| PatternError {
            spec: spec.to_string(),
            reason,
        };
        let s = spec.trim();
        // Split off the port: `[v6 or v6/len]:port`, `host:port`, or a bare
        // IPv6 address or range (two or more colons, no port).
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| err("unclosed `[`"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| err("junk after `]`"))?),
                ),
            }
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').expect("one colon");
            (h, Some(p))
        } else {
            (s, None)
        };
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| err("bad port"))?),
        };
        let host = if host.contains('/') {
            HostPattern::Net(host.parse::<IpNet>().map_err(|_| err("bad CIDR range"))?)
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            HostPattern::Net(IpNet::from(ip.to_canonical()))
        } else if let Some(suffix) = host.strip_prefix("*.") {
            valid_name(suffix).ok_or_else(|| err("bad wildcard suffix"))?;
            HostPattern::Suffix(format!(".{}", suffix.to_ascii_lowercase()))
        } else {
            valid_name(host).ok_or_else(|| err("bad host name"))?;
            HostPattern::Name(host.to_ascii_lowercase())
        };
        Ok(Pattern { host, port })
    }
}

/// A DNS name: labels of letters, digits, `-` and `_`, dot-separated.
fn valid_name(name: &str) -> Option<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(())
}

impl Pattern {
    /// Exactly the host and port of `url` (how configured targets are allowed).
    pub fn for_url(url: &str) -> Option<Self> {
        let dest = Destination::parse(url).ok()?;
        let host = match dest.host.parse::<IpAddr>() {
            Ok(ip) => HostPattern::Net(IpNet::from(ip.to_canonical())),
            Err(_) => HostPattern::Name(dest.host),
        };
        Some(Pattern {
            host,
            port: Some(dest.port),
        })
    }

    fn port_ok(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }

    fn matches_name(&self, name: &str, port: u16) -> bool {
        self.port_ok(port)
            && match &self.host {
                HostPattern::Name(n) => n == name,
                HostPattern::Suffix(s) => name.ends_with(s.as_str()),
                HostPattern::Net(_) => false,
            }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = match &self.host {
            HostPattern::Name(n) => n.clone(),
            HostPattern::Suffix(s) => format!("*{s}"),
            HostPattern::Net(n) if n.prefix_len() == n.max_prefix_len() => n.addr().to_string(),
            HostPattern::Net(n) => n.to_string(),
        };
        match (self.port, host.contains(':')) {
            (Some(p), true) => write!(f, "[{host}]:{p}"),
            (Some(p), false) => write!(f, "{host}:{p}"),
            (None, _) => f.write_str(&host),
        }
    }
}

/// A URL's scheme-checked host and effective port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Lower-case host, without IPv6 brackets.
    pub host: String,
    /// The explicit port, or 80/443 from the scheme.
    pub port: u16,
}

impl Destination {
    /// Parse an absolute `http` or `https` URL without credentials.
    pub fn parse(url: &str) -> Result<Self, Refusal> {
        let invalid = |m: &str| Refusal::InvalidUrl(format!("`{url}`: {m}"));
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let scheme = uri.scheme().ok_or_else(|| invalid("not an absolute URL"))?;
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(invalid("only http and https are supported"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not accepted"));
        }
        // The plugin's sender sends the path and query as the request
        // target (origin-form, RFC 9112 §3.2.1), which must start with `/`:
        // `http://h:1?x` could never be fetched.
        if uri
            .path_and_query()
            .is_some_and(|pq| !pq.as_str().starts_with('/'))
        {
            return Err(invalid("the path must start with `/`"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = uri
            .port_u16()
            .unwrap_or(if *scheme == Scheme::HTTPS { 443 } else { 80 });
        Ok(Destination { host, port })
    }
}

/// Why a URL may not be fetched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute http(s) URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The allow-list refuses it.
    #[error("denied: {0}")]
    Denied(String),
    /// The name could not be resolved (so its addresses cannot be checked).
    #[error("connect failed: {0}")]
    Resolve(String),
}

impl Refusal {
    /// The contract's kind of the refusal (`invalid-url`, `denied`, `connect`).
    pub fn kind(&self) -> llm_metrics_host::describe::CollectKind {
        use llm_metrics_host::describe::CollectKind;
        match self {
            Refusal::InvalidUrl(_) => CollectKind::InvalidUrl,
            Refusal::Denied(_) => CollectKind::Denied,
            Refusal::Resolve(_) => CollectKind::Connect,
        }
    }
}

/// What a check grants.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The one `host:port` the plugin may reach.
    pub host: AllowedHost,
    /// The addresses that host may resolve to when the host library's egress
    /// hook resolves it to connect.
    pub addresses: AddressRules,
}

/// The patterns ad-hoc requests are checked against.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    patterns: Vec<Pattern>,
}

impl AllowList {
    /// An allow-list of `patterns`.
    pub fn new(patterns: impl IntoIterator<Item = Pattern>) -> Self {
        let mut list = AllowList::default();
        for p in patterns {
            list.push(p);
        }
        list
    }

    /// Add a pattern (duplicates are ignored).
    pub fn push(&mut self, pattern: Pattern) {
        if !self.patterns.contains(&pattern) {
            self.patterns.push(pattern);
        }
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Check `url` (resolving its host if it is a name) and return the one
    /// destination the plugin may then reach, with its address rules.
    pub async fn check(&self, url: &str) -> Result<Grant, Refusal> {
        let dest = Destination::parse(url)?;
        let denied = |why: String| Refusal::Denied(format!("{}:{}: {why}", dest.host, dest.port));
        let (addrs, by_name) = match dest.host.parse::<IpAddr>() {
            Ok(ip) => (vec![ip.to_canonical()], false),
            Err(_) => {
                let by_name = self
                    .patterns
                    .iter()
                    .any(|p| p.matches_name(&dest.host, dest.port));
                let by_addr_possible = self
                    .patterns
                    .iter()
                    .any(|p| p.port_ok(dest.port) && matches!(p.host, HostPattern::Net(_)));
                if !by_name && !by_addr_possible {
                    return Err(denied("not on the allow-list".into()));
                }
                (resolve(&dest).await?, by_name)
            }
        };
        self.check_addresses(&addrs, dest.port, by_name)
            .map_err(denied)?;
        let spec = if dest.host.contains(':') {
            format!("[{}]:{}", dest.host, dest.port)
        } else {
            format!("{}:{}", dest.host, dest.port)
        };
        let host = AllowedHost::parse(&spec).map_err(|e| Refusal::InvalidUrl(format!("{e:#}")))?;
        Ok(Grant {
            host,
            addresses: self.address_rules(dest.port, by_name),
        })
    }

    /// The rules for addresses of a host on `port`: any address if the
    /// name itself matched a pattern (`by_name`), else only the address
    /// patterns' ranges; link-local and metadata addresses only where an
    /// address pattern inside those ranges names them.
    fn address_rules(&self, port: u16, by_name: bool) -> AddressRules {
        let base = if by_name {
            AddressRules::any_public()
        } else {
            AddressRules::only_listed()
        };
        self.patterns
            .iter()
            .filter(|p| p.port_ok(port))
            .fold(base, |rules, p| match p.host {
                HostPattern::Net(net) => rules.allow(net, p.port),
                _ => rules,
            })
    }

    /// Every address must be acceptable; `by_name` says the host name itself
    /// matched a pattern, so the addresses need not match one.
    fn check_addresses(&self, addrs: &[IpAddr], port: u16, by_name: bool) -> Result<(), String> {
        if addrs.is_empty() {
            return Err("the name resolves to no address".into());
        }
        let rules = self.address_rules(port, by_name);
        addrs.iter().try_for_each(|&ip| rules.check(ip, port))
    }
}

async fn resolve(dest: &Destination) -> Result<Vec<IpAddr>, Refusal> {
    let lookup = tokio::net::lookup_host((dest.host.as_str(), dest.port));
    match tokio::time::timeout(RESOLVE_BUDGET, lookup).await {
        Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip().to_canonical()).collect()),
        Ok(Err(e)) => Err(Refusal::Resolve(format!(
            "cannot resolve {}: {e}",
            dest.host
        ))),
        Err(_) => Err(Refusal::Resolve(format!(
            "resolving {} took over {RESOLVE_BUDGET:?}",
            dest.host
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(specs: &[&str]) -> AllowList {
        AllowList::new(specs.iter().map(|s| s.parse::<Pattern>().unwrap()))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_parse_and_print() {
        for (spec, shown) in [
            ("Host.Example:8000", "host.example:8000"),
            ("*.svc.cluster.local", "*.svc.cluster.local"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.0.0.0/8:9400", "10.0.0.0/8:9400"),
            ("[fd00::/8]:9400", "[fd00::/8]:9400"),
            ("fd00:ec2::254", "fd00:ec2::254"),
            ("127.0.0.1:80", "127.0.0.1:80"),
        ] {
            assert_eq!(
                spec.parse::<Pattern>().unwrap().to_string(),
                shown,
                "{spec}"
            );
        }
        for bad in [
            "",
            "a:b",
            "*.",
            "a..b",
            "10.0.0.0/33",
            "[::1",
            "[::1]x",
            "h st",
        ] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn wide_ranges_never_reach_metadata() {
        let l = list(&["0.0.0.0/0", "::/0"]);
        assert!(l.check_addresses(&[ip("10.1.2.3")], 80, false).is_ok());
        for bad in ["169.254.169.254", "fd00:ec2::254", "fe80::1"] {
            assert!(l.check_addresses(&[ip(bad)], 80, false).is_err(), "{bad}");
        }
        // A name on the list that resolves into the range (DNS rebinding).
        let l = list(&["*.example.com"]);
        let mixed = [ip("10.0.0.1"), ip("169.254.169.254")];
        assert!(l.check_addresses(&mixed, 80, true).is_err());
        assert!(l.check_addresses(&mixed[..1], 80, true).is_ok());
    }

    #[test]
    fn explicit_metadata_pattern_allows_it() {
        let l = list(&["169.254.169.254:80"]);
        assert!(
            l.check_addresses(&[ip("169.254.169.254")], 80, false)
                .is_ok()
        );
        assert!(
            l.check_addresses(&[ip("169.254.169.254")], 81, false)
                .is_err()
        );
        assert!(
            l.check_addresses(&[ip("169.254.169.253")], 80, false)
                .is_err()
        );
    }

    #[test]
    fn ports_and_addresses_must_match() {
        let l = list(&["127.0.0.1:8000"]);
        assert!(l.check_addresses(&[ip("127.0.0.1")], 8000, false).is_ok());
        assert!(l.check_addresses(&[ip("127.0.0.1")], 8001, false).is_err());
        assert!(l.check_addresses(&[ip("127.0.0.2")], 8000, false).is_err());
        // A mapped IPv6 address is its IPv4 address.
        let mapped = ip("::ffff:127.0.0.1").to_canonical();
        assert!(l.check_addresses(&[mapped], 8000, false).is_ok());
    }

    #[tokio::test]
    async fn urls_are_checked_before_anything_else() {
        let l = list(&["127.0.0.1"]);
        assert!(matches!(
            l.check("ftp://127.0.0.1/").await,
            Err(Refusal::InvalidUrl(_))
        ));
        assert!(matches!(
            l.check("http://u:p@127.0.0.1/").await,
            Err(Refusal::InvalidUrl(_))
        ));
        assert!(matches!(
            l.check("not a url").await,
            Err(Refusal::InvalidUrl(_))
        ));
        // A query right after the authority: no request target to send.
        assert!(matches!(
            l.check("http://127.0.0.1:9?@127.0.0.2:9/metrics").await,
            Err(Refusal::InvalidUrl(_))
        ));
        // A name on no list is refused without a lookup.
        assert!(matches!(
            list(&["a.example"]).check("http://b.example/").await,
            Err(Refusal::Denied(_))
        ));
        let granted = l.check("http://127.0.0.1:9/metrics").await.unwrap();
        assert_eq!(granted.host.to_string(), "127.0.0.1:9");
        // `localhost` resolves to loopback addresses, which the range covers.
        let l = list(&["127.0.0.0/8", "::1"]);
        assert!(l.check("http://localhost:9/").await.is_ok());
    }
}
