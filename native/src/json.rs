//! `decode_message` natively: size bound before parsing, UTF-8, the JSON parser's own nesting
//! limit (1024, as the reference parser has), then the configured depth; the same malformed
//! reasons in the same order. Objects keep the first position and the last value of a repeated
//! key, as a Python dict built from JSON does.

use std::cell::{Cell, RefCell};
use crate::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};

/// Nesting the reference JSON parser accepts before failing with its depth error.
pub const PARSER_DEPTH_LIMIT: usize = 1024;
const INDEX_FROM: usize = 16;

pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Object),
}

pub struct Object {
    pub entries: Vec<(String, Value)>,
    index: Option<HashMap<String, usize>>,
}

impl Object {
    fn new() -> Object {
        Object { entries: Vec::new(), index: None }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match &self.index {
            Some(index) => index.get(key).map(|&i| &self.entries[i].1),
            None => self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        }
    }

    fn insert(&mut self, key: String, value: Value) {
        let found = match &self.index {
            Some(index) => index.get(&key).copied(),
            None => self.entries.iter().position(|(k, _)| *k == key),
        };
        if let Some(i) = found {
            self.entries[i].1 = value;
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() >= INDEX_FROM {
            let index = self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
            self.index = Some(index);
        }
    }
}

impl Value {
    /// Python's `==` between the decoded values (1 == 1.0 == True, dicts by content).
    pub fn py_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::Arr(a), Value::Arr(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y)),
            (Value::Obj(a), Value::Obj(b)) => {
                a.len() == b.len() && a.entries.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.py_eq(w)))
            }
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => a.eq(&b),
                _ => false,
            },
        }
    }

    fn number(&self) -> Option<Number> {
        match self {
            Value::Bool(b) => Some(Number::Int(*b as i128)),
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }

    /// The type name `rules.json_type` gives.
    pub fn json_type(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Arr(_) => "array",
            Value::Obj(_) => "object",
            Value::Null => "null",
            Value::Str(_) => "str",
        }
    }
}

enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38 && (*f as i128) == *i
            }
        }
    }
}

struct Seed<'a> {
    depth: usize,
    deepest: &'a Cell<usize>,
    zeros: &'a RefCell<(usize, Option<Vec<bool>>)>,
    raw: &'a [u8],
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v as i128))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v as i128))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        if v == 0.0 && v.is_sign_negative() {
            let mut zeros = self.zeros.borrow_mut();
            let (seen, tokens) = &mut *zeros;
            let integer = tokens.get_or_insert_with(|| negative_zero_tokens(self.raw)).get(*seen) == Some(&true);
            *seen += 1;
            if integer {
                return Ok(Value::Int(0));
            }
        }
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > PARSER_DEPTH_LIMIT {
            return Err(A::Error::custom(DEPTH_ERROR));
        }
        if depth > self.deepest.get() {
            self.deepest.set(depth);
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed { depth, deepest: self.deepest, zeros: self.zeros, raw: self.raw })? {
            items.push(item);
        }
        Ok(Value::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > PARSER_DEPTH_LIMIT {
            return Err(A::Error::custom(DEPTH_ERROR));
        }
        if depth > self.deepest.get() {
            self.deepest.set(depth);
        }
        let mut object = Object::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed { depth, deepest: self.deepest, zeros: self.zeros, raw: self.raw })?;
            object.insert(key, value);
        }
        Ok(Value::Obj(object))
    }
}

const DEPTH_ERROR: &str = "depth limit exceeded";

/// One JSON object, or the malformed reason of `decode_message`.
pub fn decode_message(raw: &[u8], max_bytes: usize, max_depth: usize) -> Result<Object, &'static str> {
    if raw.len() > max_bytes {
        return Err("too_large");
    }
    if std::str::from_utf8(raw).is_err() {
        return Err("not_utf8");
    }
    let deepest = Cell::new(0);
    let zeros = RefCell::new((0, None));
    let mut de = serde_json::Deserializer::from_slice(raw);
    de.disable_recursion_limit();
    let parsed = Seed { depth: 0, deepest: &deepest, zeros: &zeros, raw }.deserialize(&mut de).and_then(|v| de.end().map(|_| v));
    let value = match parsed {
        Ok(v) => v,
        Err(e) => {
            return Err(if e.to_string().starts_with(DEPTH_ERROR) { "too_deep" } else { "not_json" });
        }
    };
    let Value::Obj(object) = value else { return Err("not_object") };
    if deepest.get() > max_depth {
        return Err("too_deep");
    }
    Ok(object)
}

/// The reference parser reads `-0` as the integer 0 and `-0.0` / `-0e0` / `-1e-400` as the float
/// -0.0; serde_json gives -0.0 for all. For each number token of the document (in order) that is
/// a negative zero: true when it is an integer token.
fn negative_zero_tokens(raw: &[u8]) -> Vec<bool> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'"' => {
                i += 1;
                while i < raw.len() && raw[i] != b'"' {
                    i += if raw[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' => {
                let start = i;
                i += 1;
                while i < raw.len() && matches!(raw[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let token = std::str::from_utf8(&raw[start..i]).unwrap_or("");
                if token.parse::<f64>().is_ok_and(|v| v == 0.0) {
                    out.push(!token.contains(['.', 'e', 'E']));
                }
            }
            _ => i += 1,
        }
    }
    out
}

