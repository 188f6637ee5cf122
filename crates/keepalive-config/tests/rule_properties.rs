//! Property tests for peer rules (`KEEPALIVE_ONLY`, `KEEPALIVE_SKIP`) and the address parser
//! under them: entries agree with a reference built on std's address parsers, every accepted
//! rule reads back the same when written out again, and lists keep at most `MAX_RULES`.

mod fuzzing;

use fuzzing::{input, property};
use keepalive_config::rules::{Rule, RuleError, parse_rules};
use keepalive_config::{MAX_RULES, Peer};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What a rule holds: the address (IPv4 as IPv4-mapped IPv6), the prefix out of 128, the port.
type Fields = ([u8; 16], u8, Option<u16>);

/// A rule's fields, read from its `Debug` form (the crate keeps them private).
fn fields(rule: &Rule) -> Fields {
    let text = format!("{rule:?}");
    let inside = |open: &str, close: char| {
        let start = text.find(open).unwrap_or_else(|| panic!("{open} in {text}")) + open.len();
        text[start..].split(close).next().unwrap().to_string()
    };
    let address: Vec<u8> = inside("address: [", ']').split(", ").map(|byte| byte.parse().unwrap()).collect();
    let prefix = inside("prefix: ", ',').parse().unwrap();
    let port = text.contains("port: Some(").then(|| inside("port: Some(", ')').parse().unwrap());
    (address.try_into().unwrap(), prefix, port)
}

/// The one rule `entry` parses to, or `None` if it is reported as invalid.
fn parse_entry(entry: &[u8]) -> Option<Fields> {
    let mut errors = Vec::new();
    let rules = parse_rules(entry, |error| errors.push(error));
    match (rules.rules(), &errors[..]) {
        ([rule], []) => Some(fields(rule)),
        ([], [RuleError::Entry(reported)]) if *reported == entry.trim_ascii() => None,
        (rules, errors) => panic!("{:?}: {rules:?} {errors:?}", entry.escape_ascii().to_string()),
    }
}

/// Rules as libkeepalive(7) and docs/configuration.md describe them, built on std's address parsers.
fn reference_entry(entry: &str) -> Option<Fields> {
    if let Some(port) = entry.strip_prefix(':').filter(|port| !port.contains(':')) {
        return Some(([0; 16], 0, Some(port_number(port)?)));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (network, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(port_number(after.strip_prefix(':')?)?),
        };
        let (address, prefix) = ipv6_network(network)?;
        return Some((address, prefix, port));
    }
    if entry.matches(':').count() >= 2 {
        let (address, prefix) = ipv6_network(entry)?;
        return Some((address, prefix, None));
    }
    let (network, port) = match entry.split_once(':') {
        Some((network, port)) => (network, Some(port_number(port)?)),
        None => (entry, None),
    };
    let (address, prefix) = match network.split_once('/') {
        Some((address, prefix)) => (address, number(prefix, 32)?),
        None => (network, 32),
    };
    let address = address.parse::<Ipv4Addr>().ok()?.to_ipv6_mapped().octets();
    Some((address, 96 + prefix as u8, port))
}

fn ipv6_network(text: &str) -> Option<([u8; 16], u8)> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, number(prefix, 128)?),
        None => (text, 128),
    };
    Some((address.parse::<Ipv6Addr>().ok()?.octets(), prefix as u8))
}

fn port_number(text: &str) -> Option<u16> {
    number(text, 65535).filter(|&port| port > 0).map(|port| port as u16)
}

/// Up to five decimal digits, nothing else, at most `max`.
fn number(text: &str, max: u32) -> Option<u32> {
    let digits = (1..=5).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten().filter(|&value| value <= max)
}

/// The canonical text of a rule: an IPv6 network in brackets, or a bare port.
fn canonical(&(address, prefix, port): &Fields) -> String {
    let port = port.map(|port| format!(":{port}")).unwrap_or_default();
    if address == [0; 16] && prefix == 0 && !port.is_empty() {
        return port;
    }
    format!("[{}/{prefix}]{port}", Ipv6Addr::from(address))
}

/// Entry text over the characters rules are written with: random pieces, and real addresses
/// with a prefix and a port, each piece possibly dropped or doubled.
fn entry_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        select(
            &["[", "]", ":", "::", ".", "/", "0", "1", "255", "256", "65535", "65536", "f", "ffff", "12345", "g"][..]
        )
        .prop_map(String::from),
        any::<[u8; 4]>().prop_map(|address| Ipv4Addr::from(address).to_string()),
        address_bytes().prop_map(|address| Ipv6Addr::from(address).to_string()),
        (0..140u32).prop_map(|prefix| format!("/{prefix}")),
        any::<u16>().prop_map(|port| format!(":{port}")),
    ];
    vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

/// IPv6 addresses with runs of zero groups, IPv4-mapped ones, and arbitrary ones.
fn address_bytes() -> impl Strategy<Value = [u8; 16]> {
    let groups = vec(prop_oneof![Just(0u16), any::<u16>()], 8).prop_map(|groups| {
        let mut bytes = [0u8; 16];
        for (pair, group) in bytes.chunks_exact_mut(2).zip(groups) {
            pair.copy_from_slice(&group.to_be_bytes());
        }
        bytes
    });
    prop_oneof![
        groups,
        any::<[u8; 4]>().prop_map(|address| Ipv4Addr::from(address).to_ipv6_mapped().octets()),
        any::<[u8; 16]>()
    ]
}

#[test]
fn entries_agree_with_the_std_reference() {
    property("entries agree with the std reference", file!(), entry_text(), |entry| {
        prop_assert_eq!(parse_entry(entry.as_bytes()), reference_entry(&entry), "{:?}", entry);
        Ok(())
    });
}

/// Every rule of any accepted list, written out canonically, parses back to itself.
#[test]
fn accepted_rules_read_back_the_same() {
    let list = prop_oneof![entry_text().prop_map(String::into_bytes), input()];
    property("accepted rules read back the same", file!(), list, |list| {
        for rule in parse_rules(&list, |_| ()).rules().iter().map(fields) {
            prop_assert!(rule.1 <= 128 && rule.2 != Some(0), "{:?}: {:?}", list.escape_ascii().to_string(), rule);
            let text = canonical(&rule);
            prop_assert_eq!(
                parse_entry(text.as_bytes()),
                Some(rule),
                "{:?} written as {:?}",
                list.escape_ascii().to_string(),
                text
            );
        }
        Ok(())
    });
}

/// A network and port written every way libkeepalive(7) allows: all forms give the same rule, which
/// matches exactly the peers it should.
#[test]
fn rules_written_every_way() {
    let strategy =
        (any::<bool>(), address_bytes(), any::<[u8; 4]>(), 0..=128u8, prop::option::of(1..=65535u16), any::<u128>());
    property("rules written every way", file!(), strategy, |(ipv4, v6, v4, prefix, port, flip)| {
        let port_text = port.map(|port| format!(":{port}")).unwrap_or_default();
        let (expected, forms) = if ipv4 {
            let prefix = prefix % 33;
            let text = Ipv4Addr::from(v4).to_string();
            let mapped = Ipv4Addr::from(v4).to_ipv6_mapped();
            let forms = vec![
                format!("{text}/{prefix}{port_text}"),
                format!("{text}/{prefix:03}{port_text}"),
                format!("[::ffff:{text}/{}]{port_text}", prefix + 96),
                format!("[{mapped}/{}]{port_text}", prefix + 96),
            ];
            ((mapped.octets(), prefix + 96, port), forms)
        } else {
            let address = Ipv6Addr::from(v6);
            let full = address.segments().map(|group| format!("{group:04X}")).join(":");
            let bracketed = [format!("[{address}/{prefix}]{port_text}"), format!("[{full}/{prefix}]{port_text}")];
            let bare =
                port.is_none().then(|| [format!("{address}/{prefix}"), format!("{}/{prefix}", full.to_lowercase())]);
            ((v6, prefix, port), bracketed.into_iter().chain(bare.into_iter().flatten()).collect())
        };
        for form in &forms {
            prop_assert_eq!(parse_entry(form.as_bytes()), Some(expected), "{:?}", form);
        }
        let (address, prefix, _) = expected;
        let peer_port = port.unwrap_or(1);
        let peer = |address: u128, port| Peer::v6(address.to_be_bytes(), port);
        let rules = parse_rules(forms[0].as_bytes(), |error| panic!("{error:?}"));
        let base = u128::from_be_bytes(address);
        prop_assert!(rules.matches(&peer(base, peer_port)));
        let inside = flip & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        let outside = flip & !u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        prop_assert_eq!(rules.matches(&peer(base ^ inside, peer_port)), inside == 0);
        prop_assert!(rules.matches(&peer(base ^ outside, peer_port)));
        if let Some(port) = port {
            prop_assert!(!rules.matches(&peer(base, port.wrapping_add(1).max(1))) || port == 65535);
        }
        Ok(())
    });
}

/// Lists of valid and invalid entries with spaces and empty entries: the valid ones are kept in
/// order up to `MAX_RULES`, each invalid one before that is reported, and the first one past the
/// limit is reported as too many.
#[test]
fn lists_keep_at_most_the_limit() {
    let entry = prop_oneof![entry_text(), Just(String::new()), Just(" ".into())];
    property("lists keep at most the limit", file!(), vec(entry, 0..24), |entries| {
        let text = entries.iter().map(|entry| entry.replace(',', "")).collect::<Vec<_>>().join(" ,");
        let mut errors = Vec::new();
        let rules = parse_rules(text.as_bytes(), |error| errors.push(error));
        let (mut kept, mut expected_errors) = (Vec::new(), Vec::new());
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            match reference_entry(entry) {
                None => expected_errors.push(RuleError::Entry(entry.as_bytes())),
                Some(_) if kept.len() == MAX_RULES => {
                    expected_errors.push(RuleError::TooMany(entry.as_bytes()));
                    break;
                }
                Some(rule) => kept.push(rule),
            }
        }
        prop_assert_eq!(rules.rules().iter().map(fields).collect::<Vec<_>>(), kept);
        prop_assert_eq!(errors, expected_errors);
        prop_assert!(rules.configured);
        Ok(())
    });
}
