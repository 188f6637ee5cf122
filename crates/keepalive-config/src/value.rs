//! Parsers for single values: switches, durations and counts.
//!
//! Every parser takes raw bytes (an environment value need not be UTF-8), never panics, and
//! accepts surrounding ASCII whitespace, which shells and YAML files leave behind easily.

/// `on`/`1`/`yes`/`true` or `off`/`0`/`no`/`false`, in any case.
pub fn parse_switch(text: &[u8]) -> Option<bool> {
    // Matched as code, not looked up in a table of words: a table of slices costs the preloaded
    // library a relocation for each word at every load.
    match lowercase(text.trim_ascii(), &mut [0; 5])? {
        b"on" | b"1" | b"yes" | b"true" => Some(true),
        b"off" | b"0" | b"no" | b"false" => Some(false),
        _ => None,
    }
}

/// `text` in lower case, in `buffer`; `None` if it does not fit.
pub(crate) fn lowercase<'a>(text: &[u8], buffer: &'a mut [u8]) -> Option<&'a [u8]> {
    let lower = buffer.get_mut(..text.len())?;
    for (into, byte) in lower.iter_mut().zip(text) {
        *into = byte.to_ascii_lowercase();
    }
    Some(lower)
}

/// A duration in milliseconds: a bare whole number of seconds (`20`), or one or more terms of a
/// whole number and a unit, `ms`, `s`, `m` or `h` (`500ms`, `1m30s`, `1h 5m`). `None` for
/// anything else, including fractions, signs and values that overflow.
pub fn parse_duration_ms(text: &[u8]) -> Option<u64> {
    let text = text.trim_ascii();
    let mut rest = text;
    let mut total: u64 = 0;
    loop {
        let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        let (digits, after) = rest.split_at_checked(digits)?;
        let letters = after.iter().take_while(|byte| byte.is_ascii_alphabetic()).count();
        let (unit, after) = after.split_at_checked(letters)?;
        // Only a number that is the whole text may go without a unit: then it counts seconds.
        let unit_ms = if digits.len() == text.len() { 1000 } else { unit_ms(unit)? };
        total = total.checked_add(number(digits, 10, usize::MAX)?.checked_mul(unit_ms)?)?;
        rest = after.trim_ascii_start();
        if rest.is_empty() {
            return Some(total);
        }
    }
}

/// A plain whole number, as `KEEPALIVE_CNT` takes it.
pub fn parse_count(text: &[u8]) -> Option<u64> {
    number(text.trim_ascii(), 10, usize::MAX)
}

/// Digits in `radix` as a number: `None` if `text` is empty, longer than `max_digits`, holds
/// anything else (a sign, a space) or overflows. The one digit parser for counts, durations,
/// ports, prefix lengths, IPv4 octets and IPv6 groups.
pub(crate) fn number(text: &[u8], radix: u32, max_digits: usize) -> Option<u64> {
    if text.is_empty() || text.len() > max_digits {
        return None;
    }
    text.iter().try_fold(0u64, |value, &byte| {
        let digit = char::from(byte).to_digit(radix)?;
        value.checked_mul(radix.into())?.checked_add(digit.into())
    })
}

/// The text before the first `byte`, and what follows that `byte` if there is one.
pub(crate) fn split_first(text: &[u8], byte: u8) -> (&[u8], Option<&[u8]>) {
    match text.iter().position(|&other| other == byte) {
        Some(at) => (text.get(..at).unwrap_or_default(), text.get(at + 1..)),
        None => (text, None),
    }
}

fn unit_ms(unit: &[u8]) -> Option<u64> {
    match lowercase(unit, &mut [0; 2])? {
        b"ms" => Some(1),
        b"s" => Some(1000),
        b"m" => Some(60_000),
        b"h" => Some(3_600_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_in_every_spelling() {
        for on in ["on", "1", "yes", "true", "ON", "Yes", "TRUE", " on ", "on\n"] {
            assert_eq!(parse_switch(on.as_bytes()), Some(true), "{on:?}");
        }
        for off in ["off", "0", "no", "false", "OFF", "No", "False", "\toff"] {
            assert_eq!(parse_switch(off.as_bytes()), Some(false), "{off:?}");
        }
        for bad in ["", " ", "2", "onn", "enable", "y", "n", "o n", "-1", "1.0", "\u{fe}on"] {
            assert_eq!(parse_switch(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn bare_numbers_are_seconds() {
        assert_eq!(parse_duration_ms(b"20"), Some(20_000));
        assert_eq!(parse_duration_ms(b"0"), Some(0));
        assert_eq!(parse_duration_ms(b"007"), Some(7_000));
        assert_eq!(parse_duration_ms(b" 20 "), Some(20_000));
    }

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration_ms(b"500ms"), Some(500));
        assert_eq!(parse_duration_ms(b"20s"), Some(20_000));
        assert_eq!(parse_duration_ms(b"5m"), Some(300_000));
        assert_eq!(parse_duration_ms(b"1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms(b"1m30s"), Some(90_000));
        assert_eq!(parse_duration_ms(b"1h 1m 1s 1ms"), Some(3_661_001));
        assert_eq!(parse_duration_ms(b"2S"), Some(2_000));
        assert_eq!(parse_duration_ms(b"1M5MS"), Some(60_005));
    }

    #[test]
    fn malformed_durations() {
        for bad in [
            "", "   ", "s", "abc", "-1", "+1", "1.5s", "1,5s", "20x", "20 s x", "1m30", "20sec", "1d", "ms", "1 m30",
            "0x10", "20s-", "٣", "2\u{0}0",
        ] {
            assert_eq!(parse_duration_ms(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_duration_ms(b"\xff20"), None);
        assert_eq!(parse_duration_ms(b"20\xffs"), None);
    }

    #[test]
    fn durations_that_overflow() {
        assert_eq!(parse_duration_ms(b"123456789012345678901234567890"), None);
        assert_eq!(parse_duration_ms(b"18446744073709551615"), None, "seconds overflow in ms");
        assert_eq!(parse_duration_ms(b"18446744073709551615ms"), Some(u64::MAX));
        assert_eq!(parse_duration_ms(b"18446744073709551615ms 1ms"), None);
        assert_eq!(parse_duration_ms(b"5124095576030432h"), None);
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(b"3"), Some(3));
        assert_eq!(parse_count(b" 127 "), Some(127));
        for bad in ["", "3s", "-3", "+3", "3.0", "three", "0x3"] {
            assert_eq!(parse_count(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_count(b"999999999999999999999999999999"), None);
    }

    #[test]
    fn a_hundred_thousand_characters() {
        let digits = [b'9'; 100_000];
        assert_eq!(parse_duration_ms(&digits), None);
        assert_eq!(parse_count(&digits), None);
        let mut sum = [b'1'; 100_000];
        for pair in sum.chunks_mut(2) {
            pair[1] = b's';
        }
        assert_eq!(parse_duration_ms(&sum), Some(50_000_000));
    }
}
