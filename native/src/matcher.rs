//! Schema matching: route by first token or length, then one anchored alternation per bucket
//! whose alternatives are the variants most-specific-first (leftmost-first semantics, like a
//! backtracking engine's alternation, but in linear time), then the variant's builder; a builder
//! that rejects (KSUID overflow, Snowflake width) falls through to the later alternatives.

use crate::HashMap;

use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use crate::codecs::{Codec, Part, Parts};
use crate::desc::{SchemaDesc, SegmentDesc};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Target,
    Legacy,
    Unknown,
}

/// What one string is: the native twin of IdInfo (format by index into the schema's formats).
#[derive(Clone, Debug)]
pub struct Info {
    pub status: Status,
    pub format: Option<usize>,
    pub id_type: Option<String>,
    pub owner: Option<String>,
    pub timestamp_ms: Option<i128>,
    pub counter: Option<i128>,
    pub reason: Option<&'static str>,
    pub parts: Parts,
}

impl Info {
    pub fn unknown(reason: &'static str) -> Info {
        Info {
            status: Status::Unknown,
            format: None,
            id_type: None,
            owner: None,
            timestamp_ms: None,
            counter: None,
            reason: Some(reason),
            parts: Vec::new(),
        }
    }

    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

enum Role {
    Owner,
    Timestamp { seconds: bool },
    Counter,
    Standard(Codec),
    Part(&'static str),
    Word(&'static str, usize),
}

struct Group {
    role: Role,
    group: usize, // capture group index relative to the variant's outer group
}

struct Variant {
    format: usize,
    status: Status,
    id_type: Option<String>,
    id_type_group: Option<usize>,
    groups: Vec<Group>,
    single: Regex,
}

struct Bucket {
    variants: Vec<usize>,
    regex: Option<Regex>,
    max_length: i64,
}

pub struct Matcher {
    pub format_names: Vec<String>,
    variants: Vec<Variant>,
    buckets: Vec<Bucket>,
    token_routes: HashMap<String, usize>,
    underscore_default: usize,
    length_routes: HashMap<usize, usize>,
    plain_default: usize,
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

/// A word token without look-ahead: [a-z0-9] with at least one letter, up to `chars - 1` either
/// side of its first letter; the builder then rejects a token longer than `chars` (see
/// `Role::Word`). Exact wherever the token's end is pinned by a non-alphanumeric character or the
/// end of the ID (describe.py refuses schemas where it is not): the token is then the whole run
/// of letters and digits, so a path the reference engine's look-ahead rejects is rejected here
/// too, and every shorter path was already rejected by the regex.
fn word_token(chars: usize) -> String {
    let n = chars.saturating_sub(1);
    format!("[0-9]{{0,{n}}}[a-z][a-z0-9]{{0,{n}}}")
}

fn segment_regex(seg: &SegmentDesc) -> String {
    match seg.kind.as_str() {
        "literal" => regex_syntax::escape(seg.literal.as_deref().unwrap_or("")),
        "word" => {
            let token = word_token(seg.word_token_chars);
            let more = seg.word_tokens.saturating_sub(1);
            format!("{token}(?:_{token}){{0,{more}}}?")
        }
        _ => seg.regex.clone(),
    }
}

fn build_many(patterns: &[String]) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(true).utf8(true))
        .configure(Regex::config().nfa_size_limit(Some(256 << 20)).hybrid_cache_capacity(16 << 20).which_captures(
            regex_automata::nfa::thompson::WhichCaptures::Implicit,
        ))
        .build_many(patterns)
        .map_err(|e| format!("cannot compile a bucket: {e}"))
}

fn build_regex(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(true).utf8(true))
        .configure(
            Regex::config()
                .nfa_size_limit(Some(256 << 20))
                .hybrid_cache_capacity(2 << 20),
        )
        .build(pattern)
        .map_err(|e| format!("cannot compile {pattern:.80}: {e}"))
}

impl Matcher {
    pub fn new(desc: &SchemaDesc) -> Result<Matcher, String> {
        let format_names: Vec<String> = desc.formats.iter().map(|f| f.name.clone()).collect();
        let format_status: Vec<Status> = desc
            .formats
            .iter()
            .map(|f| if f.status == "target" { Status::Target } else { Status::Legacy })
            .collect();
        let mut variants = Vec::new();
        let mut bodies = Vec::new();
        for v in &desc.variants {
            let fmt = &desc.formats[v.format];
            let mut body = String::new();
            let mut groups = Vec::new();
            let mut id_type_group = None;
            let mut count = 0;
            for seg in &v.segments {
                let re = segment_regex(seg);
                match &seg.name {
                    None => body.push_str(&format!("(?:{re})")),
                    Some(name) => {
                        count += 1;
                        body.push_str(&format!("({re})"));
                        let role = match seg.role.as_str() {
                            "owner" => Role::Owner,
                            "timestamp" => Role::Timestamp { seconds: seg.unit.as_deref() == Some("s") },
                            "counter" => Role::Counter,
                            "standard" => Role::Standard(Codec::from_desc(
                                seg.codec.as_ref().ok_or("standard segment without codec")?,
                            )?),
                            _ if seg.kind == "word" => Role::Word(leak(name), seg.word_token_chars),
                            _ => Role::Part(leak(name)),
                        };
                        if fmt.id_type_segment.as_deref() == Some(name.as_str()) {
                            id_type_group = Some(count);
                        }
                        groups.push(Group { role, group: count });
                    }
                }
            }
            let single = build_regex(&format!(r"\A(?:({body}))\z"))?;
            variants.push(Variant {
                format: v.format,
                status: format_status[v.format],
                id_type: fmt.id_type.clone(),
                id_type_group,
                groups,
                single,
            });
            bodies.push((body, count));
        }
        let mut buckets = Vec::new();
        for b in &desc.buckets {
            // One pattern per variant, most specific first: an anchored leftmost-first search
            // reports the first pattern that matches the whole ID (like the reference engine's
            // alternation) from the lazy DFA, without captures; captures then come from that
            // variant's own small regex.
            let patterns: Vec<String> = b.variants.iter().map(|&vi| format!(r"\A(?:{})\z", bodies[vi].0)).collect();
            let regex = if patterns.is_empty() { None } else { Some(build_many(&patterns)?) };
            buckets.push(Bucket { variants: b.variants.clone(), regex, max_length: b.max_length });
        }
        Ok(Matcher {
            format_names,
            variants,
            buckets,
            token_routes: desc.token_routes.iter().cloned().collect(),
            underscore_default: desc.underscore_default,
            length_routes: desc.length_routes.iter().cloned().collect(),
            plain_default: desc.plain_default,
        })
    }

    /// Classification of a non-empty string no longer than the caller's limit.
    pub fn matches(&self, text: &str) -> Info {
        let length = text.chars().count();
        let bucket = match text.find('_') {
            Some(cut) => self.token_routes.get(&text[..cut]).copied().unwrap_or(self.underscore_default),
            None => self.length_routes.get(&length).copied().unwrap_or(self.plain_default),
        };
        let bucket = &self.buckets[bucket];
        if length as i64 > bucket.max_length {
            return Info::unknown("no_match");
        }
        let Some(regex) = &bucket.regex else { return Info::unknown("no_match") };
        // With one variant the bucket's search and the variant's own regex match the same IDs:
        // go straight to the captures.
        let first = if bucket.variants.len() == 1 {
            0
        } else {
            match regex.search(&Input::new(text).anchored(Anchored::Yes)) {
                Some(found) => found.pattern().as_usize(),
                None => return Info::unknown("no_match"),
            }
        };
        for &vi in &bucket.variants[first..] {
            let single = &self.variants[vi].single;
            let mut caps = single.create_captures();
            single.search_captures(&Input::new(text).anchored(Anchored::Yes), &mut caps);
            if caps.is_match() {
                if let Some(info) = self.build(vi, text, &caps, 1) {
                    return info;
                }
            }
        }
        Info::unknown("no_match")
    }

    fn build(&self, vi: usize, text: &str, caps: &Captures, outer: usize) -> Option<Info> {
        let v = &self.variants[vi];
        let group = |g: usize| -> &str {
            caps.get_group(outer + g).map(|span| &text[span.start..span.end]).unwrap_or("")
        };
        let mut owner = None;
        let mut timestamp: Option<i128> = None;
        let mut timestamp_set = false;
        let mut counter = None;
        let mut parts: Parts = Vec::new();
        let put = |parts: &mut Parts, key: &'static str, value: Part| {
            if let Some(slot) = parts.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else {
                parts.push((key, value));
            }
        };
        for g in &v.groups {
            let text = group(g.group);
            match &g.role {
                Role::Owner => owner = Some(text.to_string()),
                Role::Timestamp { seconds } => {
                    let n: i128 = text.parse().ok()?;
                    timestamp = Some(if *seconds { n * 1000 } else { n });
                    timestamp_set = true;
                }
                Role::Counter => counter = Some(text.parse::<i128>().ok()?),
                Role::Standard(codec) => {
                    let (ts, decoded) = codec.decode(text)?;
                    if !timestamp_set {
                        timestamp = ts;
                        timestamp_set = true;
                    }
                    for (k, value) in decoded {
                        put(&mut parts, k, value);
                    }
                }
                Role::Part(name) => put(&mut parts, name, Part::Str(text.to_string())),
                Role::Word(name, chars) => {
                    if text.split('_').any(|token| token.len() > *chars) {
                        return None;
                    }
                    put(&mut parts, name, Part::Str(text.to_string()));
                }
            }
        }
        let id_type = match v.id_type_group {
            Some(g) => Some(group(g).to_string()),
            None => v.id_type.clone(),
        };
        Some(Info {
            status: v.status,
            format: Some(v.format),
            id_type,
            owner,
            timestamp_ms: timestamp,
            counter,
            reason: None,
            parts,
        })
    }
}
