//! Decoders of the builtin standard formats: the checks a shape regex cannot express, and the
//! embedded timestamp and parts. Each mirrors the reference codec of the same name exactly
//! (integer semantics included: Python's floor division, unbounded ints where they matter).

use crate::desc::CodecDesc;

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Str(String),
    Int(i128),
}

pub type Parts = Vec<(&'static str, Part)>;
pub type Decoded = (Option<i128>, Parts);

pub enum Codec {
    Uuid { strict: bool, lower: bool },
    Ulid,
    TypeId,
    Ksuid,
    Snowflake { epoch: i128, total_bits: u32, node_bits: u32, sequence_bits: u32 },
}

const GREGORIAN_OFFSET: i128 = 0x01B21DD213814000;
const NIL: &str = "00000000-0000-0000-0000-000000000000";
const MAX: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";
const KSUID_EPOCH_S: i128 = 1_400_000_000;
const KSUID_MAX: &[u8] = b"aWgEPTl1tmebfsQzFP4bxwgy80V";

impl Codec {
    pub fn from_desc(desc: &CodecDesc) -> Result<Codec, String> {
        Ok(match desc.kind.as_str() {
            "uuid" => Codec::Uuid { strict: desc.strict, lower: desc.case.as_deref() == Some("lower") },
            "ulid" => Codec::Ulid,
            "typeid" => Codec::TypeId,
            "ksuid" => Codec::Ksuid,
            "snowflake" => {
                let total = desc.timestamp_bits + desc.node_bits + desc.sequence_bits;
                if total > 64 {
                    return Err("snowflake layout wider than 64 bits".into());
                }
                Codec::Snowflake {
                    epoch: desc.epoch as i128,
                    total_bits: total,
                    node_bits: desc.node_bits,
                    sequence_bits: desc.sequence_bits,
                }
            }
            other => return Err(format!("unknown codec {other:?}")),
        })
    }

    /// `text` already matched this codec's regex (ASCII only).
    pub fn decode(&self, text: &str) -> Option<Decoded> {
        match self {
            Codec::Uuid { strict, lower } => decode_uuid(text, *strict, *lower),
            Codec::Ulid => Some((Some(base32(&text.as_bytes()[..10]) as i128), Vec::new())),
            Codec::TypeId => Some(decode_typeid(text)),
            Codec::Ksuid => decode_ksuid(text),
            Codec::Snowflake { epoch, total_bits, node_bits, sequence_bits } => {
                let n: u128 = text.parse().ok()?;
                if n >> total_bits != 0 {
                    return None;
                }
                let shift = node_bits + sequence_bits;
                let node = (n >> sequence_bits) & ((1u128 << node_bits) - 1);
                let sequence = n & ((1u128 << sequence_bits) - 1);
                let parts = vec![("node", Part::Int(node as i128)), ("sequence", Part::Int(sequence as i128))];
                Some((Some((n >> shift) as i128 + epoch), parts))
            }
        }
    }
}

fn hex_value(c: u8) -> u128 {
    match c {
        b'0'..=b'9' => (c - b'0') as u128,
        b'a'..=b'f' => (c - b'a' + 10) as u128,
        b'A'..=b'F' => (c - b'A' + 10) as u128,
        _ => 0,
    }
}

fn hex(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |acc, &c| (acc << 4) | hex_value(c))
}

/// Embedded time of a canonical (lower-case, hyphenated) UUID for v1, v6 and v7.
fn uuid_timestamp_ms(c: &[u8], version: u128) -> Option<i128> {
    let ticks: i128 = match version {
        7 => return Some(((hex(&c[0..8]) << 16) | hex(&c[9..13])) as i128),
        1 => ((hex(&c[15..18]) << 48) | (hex(&c[9..13]) << 32) | hex(&c[0..8])) as i128,
        6 => ((((hex(&c[0..8]) << 16) | hex(&c[9..13])) << 12) | hex(&c[15..18])) as i128,
        _ => return None,
    };
    Some((ticks - GREGORIAN_OFFSET).div_euclid(10_000))
}

fn decode_uuid(text: &str, strict: bool, lower: bool) -> Option<Decoded> {
    let canonical = if lower { text.to_string() } else { text.to_ascii_lowercase() };
    let c = canonical.as_bytes();
    let version = hex_value(c[14]);
    if (version == 0 || version == 15) && (canonical == NIL || canonical == MAX) {
        return Some((None, vec![("uuid", Part::Str(canonical)), ("version", Part::Int(version as i128))]));
    }
    if !matches!(c[19], b'8' | b'9' | b'a' | b'b') {
        if strict {
            return None;
        }
        let parts = vec![
            ("uuid", Part::Str(canonical)),
            ("version", Part::Int(version as i128)),
            ("variant", Part::Str("non_rfc".into())),
        ];
        return Some((None, parts));
    }
    let ts = uuid_timestamp_ms(c, version);
    Some((ts, vec![("uuid", Part::Str(canonical)), ("version", Part::Int(version as i128))]))
}

fn crockford(c: u8) -> u128 {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let lower = c.to_ascii_lowercase();
    ALPHABET.iter().position(|&a| a == lower).unwrap_or(0) as u128
}

fn base32(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |acc, &c| (acc << 5) | crockford(c))
}

pub fn uuid_text(n: u128) -> String {
    let h = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn decode_typeid(text: &str) -> Decoded {
    let cut = text.rfind('_');
    let suffix = match cut {
        Some(i) => &text[i + 1..],
        None => text,
    };
    let n = base32(suffix.as_bytes());
    let canonical = uuid_text(n);
    let version = (n >> 76) & 0xF;
    let prefix = match cut {
        Some(i) if i > 0 => text[..i].to_string(),
        _ => String::new(),
    };
    let ts = if version == 7 {
        Some((n >> 80) as i128)
    } else if version == 1 || version == 6 {
        uuid_timestamp_ms(canonical.as_bytes(), version)
    } else {
        None
    };
    let parts = vec![
        ("typeid_prefix", Part::Str(prefix)),
        ("uuid", Part::Str(canonical)),
        ("version", Part::Int(version as i128)),
    ];
    (ts, parts)
}

fn base62(c: u8) -> u128 {
    match c {
        b'0'..=b'9' => (c - b'0') as u128,
        b'A'..=b'Z' => (c - b'A' + 10) as u128,
        b'a'..=b'z' => (c - b'a' + 36) as u128,
        _ => 0,
    }
}

fn decode_ksuid(text: &str) -> Option<Decoded> {
    if text.as_bytes() > KSUID_MAX {
        return None;
    }
    // 160-bit value as (high, low 128 bits); only the top 32 bits (the timestamp) are needed.
    let (mut high, mut low) = (0u128, 0u128);
    const MASK: u128 = (1u128 << 64) - 1;
    for &c in text.as_bytes() {
        let t1 = (low & MASK) * 62 + base62(c);
        let t2 = (low >> 64) * 62 + (t1 >> 64);
        low = ((t2 & MASK) << 64) | (t1 & MASK);
        high = high * 62 + (t2 >> 64);
    }
    Some((Some((high as i128 + KSUID_EPOCH_S) * 1000), Vec::new()))
}
