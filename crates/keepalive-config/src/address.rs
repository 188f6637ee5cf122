//! IPv4 and IPv6 address text, parsed without any path that can panic (core's own parser has
//! one, and this code runs inside other people's processes).

/// `a.b.c.d`, four decimal numbers up to 255, no leading zeros beyond a lone `0`.
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&byte| byte == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.first() == Some(&b'0')) {
            return None;
        }
        *octet = part
            .iter()
            .try_fold(0u16, |value, &byte| byte.is_ascii_digit().then(|| value * 10 + u16::from(byte - b'0')))
            .filter(|&value| value <= 255)? as u8;
    }
    parts.next().is_none().then_some(octets)
}

/// RFC 4291 text: eight groups of one to four hex digits, `::` once for a run of zero groups,
/// and an IPv4 address in place of the last two groups.
pub fn parse_ipv6(text: &[u8]) -> Option<[u8; 16]> {
    let (head, tail) = match find_pair(text, b':') {
        Some(at) => (text.get(..at)?, Some(text.get(at + 2..)?)),
        None => (text, None),
    };
    let mut head_groups = [0u16; 8];
    let mut tail_groups = [0u16; 8];
    let head_count = groups(head, &mut head_groups, tail.is_none())?;
    let tail_count = match tail {
        Some(tail) if find_pair(tail, b':').is_some() => return None,
        Some(tail) => groups(tail, &mut tail_groups, true)?,
        None => 0,
    };
    let complete = match tail {
        None => head_count == 8,
        Some(_) => head_count + tail_count <= 7,
    };
    if !complete {
        return None;
    }
    let mut all = [0u16; 8];
    for (slot, group) in all.iter_mut().zip(head_groups.iter().take(head_count)) {
        *slot = *group;
    }
    for (slot, group) in all.iter_mut().rev().zip(tail_groups.iter().take(tail_count).rev()) {
        *slot = *group;
    }
    let mut bytes = [0u8; 16];
    for (pair, group) in bytes.chunks_exact_mut(2).zip(all) {
        let [high, low] = group.to_be_bytes();
        if let [first, second] = pair {
            (*first, *second) = (high, low);
        }
    }
    Some(bytes)
}

/// Where `byte` first appears twice in a row.
fn find_pair(text: &[u8], byte: u8) -> Option<usize> {
    text.windows(2).position(|pair| pair == [byte, byte])
}

/// Colon-separated groups into `out`, returning how many; an empty `text` is none. The last
/// piece may be an IPv4 address (two groups) when `ipv4_last` allows it.
fn groups(text: &[u8], out: &mut [u16; 8], ipv4_last: bool) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    let mut pieces = text.split(|&byte| byte == b':').peekable();
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        if last && ipv4_last && piece.contains(&b'.') {
            let [a, b, c, d] = parse_ipv4(piece)?;
            for group in [u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])] {
                *out.get_mut(count)? = group;
                count += 1;
            }
        } else {
            if piece.is_empty() || piece.len() > 4 {
                return None;
            }
            let group = piece.iter().try_fold(0u16, |value, &byte| {
                let digit = (byte as char).to_digit(16)?;
                Some(value << 4 | digit as u16)
            })?;
            *out.get_mut(count)? = group;
            count += 1;
        }
    }
    Some(count)
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
