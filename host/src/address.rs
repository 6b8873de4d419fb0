//! Address rules: which IP addresses a request may connect to, checked by the
//! egress hook after it resolves the host and before it connects.
//!
//! Invariant: an address inside a link-local or cloud metadata range
//! ([`SENSITIVE`]) is refused unless the embedder named it, by an allowed
//! range lying wholly inside that sensitive range (`0.0.0.0/0` does not
//! count) or by putting that very address literal on the allow-list. IPv4
//! addresses mapped into IPv6 are judged as IPv4.

use std::net::IpAddr;

use ipnet::IpNet;

/// Ranges refused unless named explicitly: IPv4 and IPv6 link-local (cloud
/// metadata at 169.254.169.254 included) and AWS's IPv6 metadata address.
pub const SENSITIVE: [&str; 3] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

/// Which resolved addresses a request may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRules {
    /// Any address outside [`SENSITIVE`] is fine (the name itself was
    /// allowed); otherwise only addresses in `ranges`.
    any: bool,
    /// Allowed ranges, each optionally for one port only.
    ranges: Vec<(IpNet, Option<u16>)>,
}

impl Default for AddressRules {
    /// [`AddressRules::any_public`].
    fn default() -> Self {
        AddressRules::any_public()
    }
}

impl AddressRules {
    /// Any address except link-local and metadata ones.
    pub fn any_public() -> Self {
        AddressRules {
            any: true,
            ranges: Vec::new(),
        }
    }

    /// Only addresses in ranges added with [`AddressRules::allow`].
    pub fn only_listed() -> Self {
        AddressRules {
            any: false,
            ranges: Vec::new(),
        }
    }

    /// Also allow `net` (on `port` only, if given). A range wholly inside a
    /// sensitive range names it, and so allows that part of it.
    pub fn allow(mut self, net: IpNet, port: Option<u16>) -> Self {
        let entry = (canonical_net(net), port);
        if !self.ranges.contains(&entry) {
            self.ranges.push(entry);
        }
        self
    }

    /// Whether `ip:port` may be reached; the refusal says why.
    pub fn check(&self, ip: IpAddr, port: u16) -> Result<(), String> {
        let ip = ip.to_canonical();
        let listed = |inside: Option<&IpNet>| {
            self.ranges.iter().any(|(net, p)| {
                p.is_none_or(|p| p == port)
                    && net.contains(&ip)
                    && inside.is_none_or(|s| s.contains(net))
            })
        };
        if !self.any && !listed(None) {
            return Err(format!("address {ip} is not on the allow-list"));
        }
        for range in SENSITIVE {
            let range: IpNet = range.parse().expect("constant range");
            if range.contains(&ip) && !listed(Some(&range)) {
                return Err(format!(
                    "address {ip} is link-local or a metadata address ({range}); \
                     allow it by address to reach it"
                ));
            }
        }
        Ok(())
    }
}

/// An IPv4-mapped IPv6 range as its IPv4 range.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net)
            }
            _ => net,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn wide_ranges_never_reach_metadata() {
        let r = AddressRules::only_listed()
            .allow(net("0.0.0.0/0"), None)
            .allow(net("::/0"), None);
        assert!(r.check(ip("10.1.2.3"), 80).is_ok());
        for bad in ["169.254.169.254", "fd00:ec2::254", "fe80::1"] {
            assert!(r.check(ip(bad), 80).is_err(), "{bad}");
        }
        let any = AddressRules::any_public();
        assert!(any.check(ip("10.0.0.1"), 80).is_ok());
        assert!(any.check(ip("169.254.169.254"), 80).is_err());
        assert!(any.check(ip("::ffff:169.254.169.254"), 80).is_err());
    }

    #[test]
    fn a_named_metadata_address_is_allowed_on_its_port() {
        let r = AddressRules::only_listed().allow(net("169.254.169.254/32"), Some(80));
        assert!(r.check(ip("169.254.169.254"), 80).is_ok());
        assert!(r.check(ip("169.254.169.254"), 81).is_err());
        assert!(r.check(ip("169.254.169.253"), 80).is_err());
        let r = AddressRules::any_public().allow(net("169.254.169.254/32"), None);
        assert!(r.check(ip("169.254.169.254"), 9).is_ok());
        assert!(r.check(ip("169.254.1.1"), 9).is_err());
    }

    #[test]
    fn ports_and_mapped_addresses() {
        let r = AddressRules::only_listed().allow(net("127.0.0.1/32"), Some(8000));
        assert!(r.check(ip("127.0.0.1"), 8000).is_ok());
        assert!(r.check(ip("127.0.0.1"), 8001).is_err());
        assert!(r.check(ip("127.0.0.2"), 8000).is_err());
        assert!(r.check(ip("::ffff:127.0.0.1"), 8000).is_ok());
    }
}
