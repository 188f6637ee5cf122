//! Peer rules for `KEEPALIVE_ONLY` and `KEEPALIVE_SKIP`: addresses, CIDR prefixes and ports.
//!
//! Entries, comma-separated: `10.0.0.0/8`, `192.168.1.5`, `192.168.1.5:5432`, `::1`,
//! `2001:db8::/32`, `[2001:db8::/32]:443`, `[::1]`, `:6379` (a port on any address). Rules live
//! in a fixed table, so that matching never allocates.

use crate::address::{parse_ipv4, parse_ipv6};
use crate::value::{number, split_first};

/// Rules one variable may hold.
pub const MAX_RULES: usize = 16;

/// What an entry describes, as 16 bytes: IPv4 addresses are kept IPv4-mapped (`::ffff:a.b.c.d`),
/// so that an IPv4 rule also matches a peer that reaches an IPv6 socket as a mapped address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    address: [u8; 16],
    /// Leading bits of `address` that must match; 0 matches every address.
    prefix: u8,
    port: Option<u16>,
}

/// A peer, as the hooks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub address: [u8; 16],
    pub port: u16,
}

impl Peer {
    pub fn v4(address: [u8; 4], port: u16) -> Peer {
        Peer { address: mapped(address), port }
    }

    pub fn v6(address: [u8; 16], port: u16) -> Peer {
        Peer { address, port }
    }
}

/// `::ffff:a.b.c.d`, the IPv6 form of an IPv4 address.
fn mapped([a, b, c, d]: [u8; 4]) -> [u8; 16] {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]
}

impl Rule {
    /// The address, IPv4 as `::ffff:a.b.c.d`.
    pub fn address(&self) -> [u8; 16] {
        self.address
    }

    /// How many leading bits of `address` must match.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn matches(&self, peer: &Peer) -> bool {
        self.port.is_none_or(|port| port == peer.port) && same_prefix(&self.address, &peer.address, self.prefix)
    }
}

/// Whether the first `bits` bits (at most 128) are the same, byte by byte with the bits each
/// byte holds of the prefix, rather than with a 128-bit mask, whose shift the library would take
/// from a compiler helper.
fn same_prefix(left: &[u8; 16], right: &[u8; 16], bits: u8) -> bool {
    left.iter().zip(right).enumerate().all(|(index, (left, right))| {
        let prefix_bits = usize::from(bits).saturating_sub(index * 8).min(8);
        (left ^ right) & (0xff00_u16 >> prefix_bits) as u8 == 0
    })
}

/// A variable's rules. `configured` says whether the variable was set at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub configured: bool,
    length: usize,
    rules: [Rule; MAX_RULES],
}

impl Rules {
    pub const NONE: Rules =
        Rules { configured: false, length: 0, rules: [Rule { address: [0; 16], prefix: 0, port: None }; MAX_RULES] };

    pub fn rules(&self) -> &[Rule] {
        self.rules.get(..self.length).unwrap_or_default()
    }

    pub fn matches(&self, peer: &Peer) -> bool {
        self.rules().iter().any(|rule| rule.matches(peer))
    }
}

/// What was wrong with a list of rules, reported once each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError<'a> {
    /// The entry is not an address, prefix or port; it is ignored.
    Entry(&'a [u8]),
    /// More than `MAX_RULES` entries; these (the first one past the limit) are ignored.
    TooMany(&'a [u8]),
}

/// Parses a comma-separated list, calling `report` for each entry it has to ignore.
pub fn parse_rules<'a>(text: &'a [u8], mut report: impl FnMut(RuleError<'a>)) -> Rules {
    let mut rules = Rules { configured: true, ..Rules::NONE };
    let mut rest = text;
    while let Some(error) = rules.add_until_error(&mut rest) {
        report(error);
    }
    rules
}

impl Rules {
    /// Adds the entries of `text` up to the first one to ignore, which it returns, leaving `text`
    /// at what follows. The loop lives here, compiled once, rather than in each caller of
    /// `parse_rules` with its own closure.
    #[inline(never)]
    fn add_until_error<'a>(&mut self, text: &mut &'a [u8]) -> Option<RuleError<'a>> {
        while !text.is_empty() {
            let (entry, rest) = split_first(text, b',');
            *text = rest.unwrap_or_default();
            let entry = entry.trim_ascii();
            if entry.is_empty() {
                continue;
            }
            let Some(rule) = parse_rule(entry) else {
                return Some(RuleError::Entry(entry));
            };
            let Some(slot) = self.rules.get_mut(self.length) else {
                *text = &[];
                return Some(RuleError::TooMany(entry));
            };
            *slot = rule;
            self.length += 1;
        }
        None
    }
}

fn parse_rule(entry: &[u8]) -> Option<Rule> {
    let colons = entry.iter().filter(|&&byte| byte == b':').count();
    if let [b':', port @ ..] = entry {
        if colons == 1 {
            return Some(Rule { address: [0; 16], prefix: 0, port: Some(parse_port(port)?) });
        }
    }
    let (network, port, ipv6) = if let [b'[', rest @ ..] = entry {
        let (inside, after) = split_first(rest, b']');
        match after? {
            [] => (inside, None, true),
            [b':', port @ ..] => (inside, Some(port), true),
            _ => return None,
        }
    } else if colons >= 2 {
        (entry, None, true)
    } else {
        let (network, port) = split_first(entry, b':');
        (network, port, false)
    };
    let (address, prefix) = parse_network(network, ipv6)?;
    let port = match port {
        Some(port) => Some(parse_port(port)?),
        None => None,
    };
    Some(Rule { address, prefix, port })
}

/// An address with an optional `/prefix`, as 16 bytes and a prefix length out of 128.
fn parse_network(text: &[u8], ipv6: bool) -> Option<([u8; 16], u8)> {
    let (address, prefix) = split_first(text, b'/');
    let prefix = match prefix {
        Some(prefix) => Some(number(prefix, 10, 5).filter(|&prefix| prefix <= 128)? as u8),
        None => None,
    };
    if ipv6 {
        Some((parse_ipv6(address)?, prefix.unwrap_or(128)))
    } else {
        let prefix = prefix.unwrap_or(32);
        (prefix <= 32).then_some((mapped(parse_ipv4(address)?), 96 + prefix))
    }
}

/// 1 to 65535, in at most five digits.
fn parse_port(text: &[u8]) -> Option<u16> {
    number(text, 10, 5).and_then(|port| u16::try_from(port).ok()).filter(|&port| port > 0)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn parse(text: &str) -> (Rules, Vec<RuleError<'_>>) {
        let mut errors = Vec::new();
        let rules = parse_rules(text.as_bytes(), |error| errors.push(error));
        (rules, errors)
    }

    use std::net::{Ipv4Addr, Ipv6Addr};

    fn peer(text: &str) -> Peer {
        let (address, port) = text.rsplit_once(':').unwrap();
        let address = address.trim_start_matches('[').trim_end_matches(']');
        match address.parse::<Ipv4Addr>() {
            Ok(v4) => Peer::v4(v4.octets(), port.parse().unwrap()),
            Err(_) => Peer::v6(address.parse::<Ipv6Addr>().unwrap().octets(), port.parse().unwrap()),
        }
    }

    fn matches(rules: &str, peer_text: &str) -> bool {
        let (rules, errors) = parse(rules);
        assert!(errors.is_empty(), "{errors:?}");
        rules.matches(&peer(peer_text))
    }

    #[test]
    fn every_form() {
        assert!(matches("10.0.0.0/8", "10.200.3.4:80"));
        assert!(!matches("10.0.0.0/8", "11.0.0.1:80"));
        assert!(matches("192.168.1.5", "192.168.1.5:1"));
        assert!(!matches("192.168.1.5", "192.168.1.6:1"));
        assert!(matches("192.168.1.5:5432", "192.168.1.5:5432"));
        assert!(!matches("192.168.1.5:5432", "192.168.1.5:5433"));
        assert!(matches("[2001:db8::/32]:443", "[2001:db8:1::7]:443"));
        assert!(!matches("[2001:db8::/32]:443", "[2001:db8:1::7]:80"));
        assert!(!matches("[2001:db8::/32]:443", "[2001:db9::1]:443"));
        assert!(matches("2001:db8::/32", "[2001:db8::1]:9"));
        assert!(matches("[::1]", "[::1]:5"));
        assert!(matches("::1", "[::1]:5"));
        assert!(!matches("::1", "127.0.0.1:5"));
        assert!(matches(":6379", "10.1.1.1:6379"));
        assert!(matches(":6379", "[fe80::1]:6379"));
        assert!(!matches(":6379", "10.1.1.1:6380"));
        assert!(matches("0.0.0.0/0", "8.8.8.8:53"));
        assert!(!matches("0.0.0.0/0", "[2001:db8::1]:53"), "an IPv4 rule is not an IPv6 one");
        assert!(matches("::/0", "[2001:db8::1]:53"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_rules() {
        assert!(matches("10.0.0.0/8", "[::ffff:10.1.2.3]:80"));
        assert!(matches("10.1.2.3:80", "[::ffff:10.1.2.3]:80"));
        assert!(!matches("10.0.0.0/8", "[::ffff:11.1.2.3]:80"));
    }

    #[test]
    fn lists_and_spaces() {
        assert!(matches(" 10.0.0.0/8 , :22,[::1] ", "[::1]:1"));
        assert!(matches("10.0.0.0/8,:22", "1.2.3.4:22"));
        let (rules, errors) = parse(",, ,");
        assert!(errors.is_empty() && rules.configured && rules.rules().is_empty());
    }

    #[test]
    fn prefix_boundaries() {
        assert!(matches("10.1.2.3/32", "10.1.2.3:1"));
        assert!(!matches("10.1.2.3/32", "10.1.2.2:1"));
        assert!(matches("10.1.2.3/31", "10.1.2.2:1"));
        assert!(matches("::1/128", "[::1]:1"));
        assert!(matches("8000::/1", "[ffff::]:1"));
        assert!(!matches("8000::/1", "[7fff::]:1"));
    }

    #[test]
    fn bad_entries_are_reported_and_the_rest_applies() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.256",
            "10.0.0",
            "10.0.0.1:0",
            "10.0.0.1:65536",
            ":0",
            ":",
            ":x",
            "::1/129",
            "[::1",
            "[::1]443",
            "[::1]:",
            "host.example",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "[10.0.0.1]",
            "[]",
            "[]:22",
            "1.2.3.4/8/8",
            "2001:db8::/",
            "\u{ff}",
        ] {
            let text = std::format!("{bad},:22");
            let (rules, errors) = parse(&text);
            assert_eq!(errors, [RuleError::Entry(bad.as_bytes())], "{bad:?}");
            assert_eq!(rules.rules().len(), 1, "{bad:?}: the valid entry applies");
        }
        let (_, errors) = parse_rules_bytes(b"10.0.0.1,\xff\xfe");
        assert_eq!(errors, [RuleError::Entry(b"\xff\xfe")]);
    }

    #[test]
    fn a_prefix_covers_exactly_its_bits() {
        for prefix in 0..=128u32 {
            let text = std::format!("::/{prefix}");
            let (rules, errors) = parse(&text);
            assert!(errors.is_empty());
            for bit in 0..128u32 {
                let address = (1u128 << (127 - bit)).to_be_bytes();
                assert_eq!(rules.matches(&Peer::v6(address, 1)), bit >= prefix, "::/{prefix}, bit {bit}");
            }
        }
    }

    #[test]
    fn ports_and_prefixes_take_at_most_five_digits() {
        assert!(matches("10.0.0.1:00080", "10.0.0.1:80"));
        assert!(matches("10.0.0.0/00008", "10.9.9.9:1"));
        assert!(matches("[::1/00128]:00443", "[::1]:443"));
        for bad in
            ["10.0.0.1:000080", "10.0.0.0/000008", "[::1/000128]", "[::1]:000443", ":000022", ":1f", "10.0.0.0/0x8"]
        {
            let (rules, errors) = parse(bad);
            assert_eq!(errors, [RuleError::Entry(bad.as_bytes())], "{bad:?}");
            assert!(rules.rules().is_empty(), "{bad:?}");
        }
    }

    fn parse_rules_bytes(text: &[u8]) -> (Rules, Vec<RuleError<'_>>) {
        let mut errors = Vec::new();
        let rules = parse_rules(text, |error| errors.push(error));
        (rules, errors)
    }

    #[test]
    fn the_table_limit_is_reported_not_silent() {
        let full: Vec<std::string::String> = (1..=MAX_RULES).map(|port| std::format!(":{port}")).collect();
        let joined = full.join(",");
        let (rules, errors) = parse(&joined);
        assert!(errors.is_empty());
        assert_eq!(rules.rules().len(), MAX_RULES);
        let over = std::format!("{},:999,:1000", full.join(","));
        let (rules, errors) = parse(&over);
        assert_eq!(rules.rules().len(), MAX_RULES);
        assert_eq!(errors, [RuleError::TooMany(b":999")]);
    }
}
