//! Network addresses as the platform's access rules name them: a block of
//! addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address),
//! an application's allow-list of blocks, and which address a request really
//! came from when it passed through proxies the platform trusts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most blocks one allow-list may hold: an application is a handful of
/// servers, not a routing table.
pub const MAX_ALLOW_LIST: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpBlockError {
    #[error("\"{0}\" is not an IP address or a CIDR block (e.g. 10.1.0.0/16, 2001:db8::/32)")]
    NotAnAddress(String),
    #[error("\"{raw}\": the prefix length must be a number from 0 to {max}")]
    BadPrefix { raw: String, max: u8 },
    #[error(
        "\"{raw}\" has bits set past its prefix: write the block's first address, {suggestion}"
    )]
    HostBitsSet { raw: String, suggestion: String },
    #[error("an allow-list has at most {MAX_ALLOW_LIST} entries")]
    TooMany,
}

/// A block of addresses: every address whose first `prefix` bits are the
/// network's. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are taken as
/// the IPv4 addresses they are, so a dual-stack listener matches IPv4 rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

fn v4_mask(prefix: u8) -> u32 {
    // A shift by the full width would overflow: /0 is the empty mask.
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn v6_mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl IpBlock {
    /// `10.1.0.0/16`, `2001:db8::/32`, or one address (`10.1.2.3`, `::1`).
    /// A block with bits set past its prefix (`10.1.2.3/16`) is refused rather
    /// than silently widened: it is nearly always a typo for `/32`.
    pub fn parse(raw: &str) -> Result<Self, IpBlockError> {
        let text = raw.trim();
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a.trim(), Some(p.trim())),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| IpBlockError::NotAnAddress(text.to_owned()))?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| IpBlockError::BadPrefix {
                    raw: text.to_owned(),
                    max,
                })?,
        };
        let (addr, prefix) = canonical_block(addr, prefix);
        let block = Self::new_masked(addr, prefix);
        if block.network != addr {
            return Err(IpBlockError::HostBitsSet {
                raw: text.to_owned(),
                suggestion: block.to_string(),
            });
        }
        Ok(block)
    }

    fn new_masked(addr: IpAddr, prefix: u8) -> Self {
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & v4_mask(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & v6_mask(prefix))),
        };
        Self { network, prefix }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = v4_mask(self.prefix);
                u32::from(a) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = v6_mask(self.prefix);
                u128::from(a) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) as the IPv4 block it is.
fn canonical_block(addr: IpAddr, prefix: u8) -> (IpAddr, u8) {
    match addr {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), prefix - 96),
            None => (addr, prefix),
        },
        _ => (addr, prefix),
    }
}

impl fmt::Display for IpBlock {
    /// One address is written alone; a wider block with its prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let single = match self.network {
            IpAddr::V4(_) => self.prefix == 32,
            IpAddr::V6(_) => self.prefix == 128,
        };
        if single {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

/// The addresses an application may call from. Empty means any address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpBlock>);

impl AllowList {
    /// Parse every entry (blank ones are skipped, duplicates kept once); the
    /// first bad entry is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, IpBlockError> {
        let mut blocks: Vec<IpBlock> = Vec::new();
        for entry in entries {
            let text = entry.as_ref().trim();
            if text.is_empty() {
                continue;
            }
            let block = IpBlock::parse(text)?;
            if !blocks.contains(&block) {
                blocks.push(block);
            }
        }
        if blocks.len() > MAX_ALLOW_LIST {
            return Err(IpBlockError::TooMany);
        }
        Ok(Self(blocks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn blocks(&self) -> &[IpBlock] {
        &self.0
    }

    /// Whether a call from `ip` is allowed; an unknown address passes only an
    /// empty list (fail closed).
    pub fn permits(&self, ip: Option<IpAddr>) -> bool {
        match ip {
            _ if self.0.is_empty() => true,
            Some(ip) => self.0.iter().any(|b| b.contains(ip)),
            None => false,
        }
    }

    /// The entries in their canonical spelling, as they are stored.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// The address a request came from. `peer` is the socket's other end; when it
/// is one of the `trusted` proxies, the `X-Forwarded-For` hops (leftmost
/// first, as the header lists them) are read from the right, each trusted
/// proxy vouching for the hop before it, and the first address that is not a
/// trusted proxy is the client. An entry that is not an address ends the walk
/// at the proxy that sent it: nothing it claims can be checked.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpBlock]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|b| b.contains(ip));
    let mut current = peer.to_canonical();
    if !is_trusted(current) {
        return current;
    }
    for hop in forwarded_for.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return current;
        };
        current = ip.to_canonical();
        if !is_trusted(current) {
            return current;
        }
    }
    current
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match_ipv4_and_ipv6() {
        let b = IpBlock::parse("10.1.0.0/16").unwrap();
        assert!(b.contains(ip("10.1.200.3")));
        assert!(!b.contains(ip("10.2.0.1")));
        assert!(b.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped counts");
        assert!(!b.contains(ip("2001:db8::1")));
        assert_eq!(b.to_string(), "10.1.0.0/16");

        let one = IpBlock::parse(" 192.168.1.7 ").unwrap();
        assert_eq!(one.to_string(), "192.168.1.7");
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));

        let v6 = IpBlock::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert_eq!(IpBlock::parse("::1").unwrap().to_string(), "::1");

        let all = IpBlock::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        assert!(IpBlock::parse("::/0").unwrap().contains(ip("2001:db8::1")));

        // A mapped block is the IPv4 block.
        assert_eq!(
            IpBlock::parse("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn mistakes_are_refused_with_what_to_write() {
        assert!(matches!(
            IpBlock::parse("10.1.2.3/16"),
            Err(IpBlockError::HostBitsSet { suggestion, .. }) if suggestion == "10.1.0.0/16"
        ));
        for bad in [
            "",
            "10.1.2",
            "example.org",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "::/129",
            "10.0.0.0/",
        ] {
            assert!(IpBlock::parse(bad).is_err(), "{bad}");
        }
        let too_many: Vec<String> = (0..=MAX_ALLOW_LIST)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        assert_eq!(AllowList::parse(&too_many), Err(IpBlockError::TooMany));
    }

    #[test]
    fn an_empty_list_allows_any_address_and_an_unknown_address_only_then() {
        let any = AllowList::parse::<&str>(&[]).unwrap();
        assert!(any.permits(Some(ip("8.8.8.8"))) && any.permits(None));
        let some = AllowList::parse(&["10.0.0.0/8", "", "10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert_eq!(some.to_strings(), ["10.0.0.0/8", "2001:db8::/32"]);
        assert!(some.permits(Some(ip("10.9.9.9"))));
        assert!(some.permits(Some(ip("2001:db8::5"))));
        assert!(!some.permits(Some(ip("11.0.0.1"))));
        assert!(!some.permits(None));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let proxies = [IpBlock::parse("10.0.0.0/8").unwrap()];
        // A caller that is not a trusted proxy cannot claim another address.
        assert_eq!(
            client_address(ip("203.0.113.9"), &["198.51.100.1"], &proxies),
            ip("203.0.113.9")
        );
        // Behind two trusted hops, the first untrusted address from the right.
        assert_eq!(
            client_address(
                ip("10.0.0.2"),
                &["6.6.6.6", "198.51.100.1", "10.0.0.1"],
                &proxies
            ),
            ip("198.51.100.1")
        );
        // Ports and brackets are tolerated.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["[2001:db8::7]:443"], &proxies),
            ip("2001:db8::7")
        );
        // Garbage stops the walk at the proxy that passed it on.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["198.51.100.1", "unknown"], &proxies),
            ip("10.0.0.2")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.2"), &[], &proxies),
            ip("10.0.0.2")
        );
        // Nobody trusted: the header is ignored.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["1.1.1.1"], &[]),
            ip("10.0.0.2")
        );
    }

    proptest! {
        #[test]
        fn a_v4_block_contains_exactly_the_addresses_sharing_its_prefix(
            net in any::<u32>(), prefix in 0u8..=32, probe in any::<u32>(),
        ) {
            let block = IpBlock::new_masked(IpAddr::V4(Ipv4Addr::from(net)), prefix);
            // Round trip through its text.
            prop_assert_eq!(IpBlock::parse(&block.to_string()).unwrap(), block);
            let mask = v4_mask(prefix);
            let expected = probe & mask == net & mask;
            prop_assert_eq!(block.contains(IpAddr::V4(Ipv4Addr::from(probe))), expected);
            // The same address mapped into IPv6 answers the same.
            let mapped = IpAddr::V6(Ipv4Addr::from(probe).to_ipv6_mapped());
            prop_assert_eq!(block.contains(mapped), expected);
        }

        #[test]
        fn a_v6_block_contains_exactly_the_addresses_sharing_its_prefix(
            net in any::<u128>(), prefix in 0u8..=128, probe in any::<u128>(),
        ) {
            let block = IpBlock::new_masked(IpAddr::V6(Ipv6Addr::from(net)), prefix);
            let mask = v6_mask(prefix);
            let probe_ip = IpAddr::V6(Ipv6Addr::from(probe));
            // Round trip through its text (a block inside the IPv4-mapped
            // range comes back as the IPv4 block it is; see canonical_block).
            if prefix < 96 || Ipv6Addr::from(net & mask).to_ipv4_mapped().is_none() {
                prop_assert_eq!(IpBlock::parse(&block.to_string()).unwrap(), block);
            }
            if Ipv6Addr::from(probe).to_ipv4_mapped().is_none() {
                prop_assert_eq!(block.contains(probe_ip), probe & mask == net & mask);
            }
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = IpBlock::parse(&s);
        }
    }
}
