//! Reading `tcpdump -n -tt -x` text: each TCP segment with its time, sender, flags and sequence
//! number, and finding the keepalive probes among them.

/// The tcpdump arguments whose output `segments` reads.
pub const TCPDUMP_ARGS: [&str; 5] = ["-n", "-l", "-tt", "-x", "tcp"];

#[derive(Debug, Clone)]
pub struct Segment {
    /// Seconds since the epoch.
    pub time: f64,
    /// `address.port` of the sender and of the receiver.
    pub from: String,
    pub to: String,
    pub flags: String,
    pub seq: u32,
    pub length: u32,
}

/// The segments in tcpdump's output, in order.
pub fn segments(lines: &[String]) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    for line in lines {
        if let Some(hex) = line.trim_start().strip_prefix("0x").and_then(|rest| rest.split_once(':')) {
            bytes.extend(hex.1.split_whitespace().flat_map(|word| {
                (0..word.len()).step_by(2).map(move |at| u8::from_str_radix(&word[at..at + 2], 16).unwrap())
            }));
            continue;
        }
        finish_sequence(segments.last_mut(), &bytes);
        bytes.clear();
        if let Some(segment) = header(line) {
            segments.push(segment);
        }
    }
    finish_sequence(segments.last_mut(), &bytes);
    segments
}

/// `1795396817.407965 IP 10.0.0.1.50478 > 10.0.0.2.7000: Flags [.], ack 1, win 63, ..., length 0`
fn header(line: &str) -> Option<Segment> {
    let mut words = line.split_whitespace();
    let time = words.next()?.parse().ok()?;
    (words.next()? == "IP").then_some(())?;
    let from = words.next()?.to_string();
    (words.next()? == ">").then_some(())?;
    let to = words.next()?.trim_end_matches(':').to_string();
    let flags = line.split_once("Flags [")?.1.split_once(']')?.0.to_string();
    let length = line.rsplit_once("length ")?.1.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some(Segment { time, from, to, flags, seq: 0, length })
}

/// The sequence number, from the IPv4 packet's bytes.
fn finish_sequence(segment: Option<&mut Segment>, bytes: &[u8]) {
    if let Some(segment) = segment {
        let at = usize::from(bytes.first().map_or(0, |first| first & 0x0f)) * 4 + 4;
        if let Some(seq) = bytes.get(at..at + 4) {
            segment.seq = u32::from_be_bytes(seq.try_into().unwrap());
        }
    }
}

/// The first SYN to `server` (`address.port`): the client's address and when it connected.
pub fn first_syn<'a>(segments: &'a [Segment], server: &str) -> Option<&'a Segment> {
    segments.iter().find(|segment| segment.to == server && segment.flags == "S")
}

/// Keepalive probes sent by `from`: segments of at most one byte whose sequence number is one
/// below the next one the sender would use.
pub fn probes<'a>(segments: &'a [Segment], from: &str) -> Vec<&'a Segment> {
    let mut next: Option<u32> = None;
    let mut probes = Vec::new();
    for segment in segments.iter().filter(|segment| segment.from == from) {
        let syn_fin = u32::from(segment.flags.contains('S')) + u32::from(segment.flags.contains('F'));
        let end = segment.seq.wrapping_add(segment.length + syn_fin);
        match next {
            Some(next) if segment.length <= 1 && syn_fin == 0 && segment.seq == next.wrapping_sub(1) => {
                probes.push(segment)
            }
            Some(current) if (end.wrapping_sub(current) as i32) <= 0 => {}
            _ => next = Some(end),
        }
    }
    probes
}

/// Whether `to` sent anything within `limit` seconds after `probe`.
pub fn answered(segments: &[Segment], probe: &Segment, to: &str, limit: f64) -> bool {
    segments.iter().any(|segment| segment.from == to && (probe.time..=probe.time + limit).contains(&segment.time))
}
