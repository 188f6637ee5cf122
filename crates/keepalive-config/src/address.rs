//! IPv4 and IPv6 address text, parsed without any path that can panic (core's own parser has
//! one, and this code runs inside other people's processes).

use crate::value::{number, split_first};

/// `a.b.c.d`, four decimal numbers up to 255, no leading zeros beyond a lone `0`.
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut rest = Some(text);
    for octet in &mut octets {
        let (part, after) = split_first(rest?, b'.');
        if let [b'0', _, ..] = part {
            return None;
        }
        *octet = u8::try_from(number(part, 10, 3)?).ok()?;
        rest = after;
    }
    rest.is_none().then_some(octets)
}

/// RFC 4291 text: eight groups of one to four hex digits, `::` once for a run of zero groups,
/// and an IPv4 address in place of the last two groups.
pub fn parse_ipv6(text: &[u8]) -> Option<[u8; 16]> {
    let mut bytes = [0u8; 16];
    let Some(at) = text.windows(2).position(|pair| pair == b"::") else {
        return (groups(text, &mut bytes, true)? == 16).then_some(bytes);
    };
    let head = groups(text.get(..at)?, &mut bytes, false)?;
    let mut tail_bytes = [0u8; 16];
    let tail = groups(text.get(at + 2..)?, &mut tail_bytes, true)?;
    if head + tail > 14 {
        return None;
    }
    for (slot, byte) in bytes.iter_mut().rev().zip(tail_bytes.get(..tail)?.iter().rev()) {
        *slot = *byte;
    }
    Some(bytes)
}

/// Colon-separated groups into `out` as big-endian bytes, returning how many; an empty `text`
/// is none, and so a second `::` fails as an empty group. The last piece may be an IPv4 address
/// (two groups) when `ipv4_last` allows it.
fn groups(text: &[u8], out: &mut [u8; 16], ipv4_last: bool) -> Option<usize> {
    let mut length = 0;
    let mut rest = (!text.is_empty()).then_some(text);
    while let Some(current) = rest {
        let (piece, after) = split_first(current, b':');
        let bytes: &[u8] = match (number(piece, 16, 4), after) {
            (Some(group), _) => &(group as u16).to_be_bytes(),
            (None, None) if ipv4_last => &parse_ipv4(piece)?,
            (None, _) => return None,
        };
        for &byte in bytes {
            *out.get_mut(length)? = byte;
            length += 1;
        }
        rest = after;
    }
    Some(length)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const CASES: &[&str] = &[
        "::",
        "::1",
        "1::",
        "1::2",
        "2001:db8::1",
        "2001:db8:0:0:0:0:0:1",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6::8",
        "::ffff:10.1.2.3",
        "::10.1.2.3",
        "64:ff9b::192.0.2.33",
        "1:2:3:4:5:6:1.2.3.4",
        "fe80::1",
        "FE80::ABCD",
        "0:0:0:0:0:0:0:0",
        // invalid
        "",
        ":",
        ":::",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1::2::3",
        ":1::",
        "::1:",
        "12345::",
        "g::",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3",
        "::1.2.3.256",
        "1.2.3.4::",
        "1::1.2.3.4:5",
        "::01.2.3.4",
        " ::1",
        "::1 ",
        "[::1]",
        "::1/64",
        "1:2:3:4:5:6:7::8",
        "::ffff:1.2.3.4.5",
        "1:2:3:4:5:6:7:8::",
        "::1.2.3.4.",
        "0x1::",
    ];

    #[test]
    fn ipv6_agrees_with_std() {
        for case in CASES {
            let ours = parse_ipv6(case.as_bytes());
            let std = case.parse::<Ipv6Addr>().ok().map(|address| address.octets());
            assert_eq!(ours, std, "{case:?}");
        }
    }

    #[test]
    fn ipv4_agrees_with_std() {
        for case in [
            "0.0.0.0",
            "10.1.2.3",
            "255.255.255.255",
            "192.0.2.1",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.-4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.0x4",
            "",
            "...",
            "1.2.3.4.",
            "999.1.1.1",
            "1.2.3.1000",
            "0.00.0.0",
        ] {
            let ours = parse_ipv4(case.as_bytes());
            let std = case.parse::<Ipv4Addr>().ok().map(|address| address.octets());
            assert_eq!(ours, std, "{case:?}");
        }
    }

    #[test]
    fn random_text_agrees_with_std() {
        // A small deterministic generator over the characters addresses are made of.
        let alphabet = b"0123456789abcdefABCDEF:.:";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 24) as usize;
            let text: std::string::String = (0..length)
                .map(|i| alphabet[((state >> (i % 8 * 8)) as usize + i * 7) % alphabet.len()] as char)
                .collect();
            assert_eq!(parse_ipv6(text.as_bytes()), text.parse::<Ipv6Addr>().ok().map(|a| a.octets()), "{text:?}");
            assert_eq!(parse_ipv4(text.as_bytes()), text.parse::<Ipv4Addr>().ok().map(|a| a.octets()), "{text:?}");
        }
    }
}
