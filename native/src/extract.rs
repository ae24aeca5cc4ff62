//! Field, owner and type paths compiled into one trie, walked once per message; the same walk
//! order, de-duplication (Python `==`), work budget and per-message cap as the reference.

use crate::HashMap;

use crate::json::{Object, Value};

struct Entry {
    fields: Vec<usize>,
    ranks: Vec<usize>,
    child: Option<Box<Node>>,
}

struct Node {
    keys: Vec<(String, Entry)>,
    map: HashMap<String, usize>,
    star: Option<Box<Entry>>,
}

#[derive(Default)]
struct Builder {
    fields: Vec<usize>,
    others: Vec<usize>,
    children: Vec<(String, Builder)>,
    star: Option<Box<Builder>>,
}

impl Builder {
    fn add(&mut self, segments: &[&str], field: Option<usize>, rank: Option<usize>) {
        let mut node = self;
        for segment in segments {
            if *segment == "*" {
                node = node.star.get_or_insert_with(Default::default);
            } else {
                let at = match node.children.iter().position(|(k, _)| k == segment) {
                    Some(i) => i,
                    None => {
                        node.children.push((segment.to_string(), Builder::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
        }
        if let Some(f) = field {
            if !node.fields.contains(&f) {
                node.fields.push(f);
            }
        }
        if let Some(r) = rank {
            if !node.others.contains(&r) {
                node.others.push(r);
            }
        }
    }

    fn entry(&self) -> Entry {
        let child = if !self.children.is_empty() || self.star.is_some() { Some(Box::new(self.freeze())) } else { None };
        Entry { fields: self.fields.clone(), ranks: self.others.clone(), child }
    }

    fn freeze(&self) -> Node {
        let keys: Vec<(String, Entry)> = self.children.iter().map(|(k, b)| (k.clone(), b.entry())).collect();
        let map = keys.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
        Node { keys, map, star: self.star.as_ref().map(|b| Box::new(b.entry())) }
    }
}

pub struct Extraction<'a> {
    /// (field index, values) in the order fields were first found
    pub values: Vec<(usize, Vec<&'a Value>)>,
    pub owner: Option<String>,
    pub message_type: Option<&'a str>,
    pub dropped: usize,
}

impl<'a> Extraction<'a> {
    pub fn get(&self, field: usize) -> Option<&Vec<&'a Value>> {
        self.values.iter().find(|(f, _)| *f == field).map(|(_, v)| v)
    }
}

pub struct Extractor {
    root: Node,
    type_start: usize,
    max_values: usize,
    may_overflow: bool,
}

struct Walk<'a> {
    values: Vec<(usize, Vec<&'a Value>)>,
    others: Vec<(usize, &'a Value)>,
    budget: i64,
}

impl<'a> Walk<'a> {
    fn add(&mut self, fields: &[usize], value: &'a Value) {
        for &f in fields {
            match self.values.iter_mut().find(|(g, _)| *g == f) {
                None => self.values.push((f, vec![value])),
                Some((_, bucket)) => {
                    if !bucket.iter().any(|v| v.py_eq(value)) {
                        bucket.push(value);
                    }
                }
            }
        }
    }

    fn visit(&mut self, entry: &Entry, value: &'a Value) {
        if !entry.fields.is_empty() {
            self.add(&entry.fields, value);
        }
        for &rank in &entry.ranks {
            self.others.push((rank, value));
        }
        if let Some(child) = &entry.child {
            if matches!(value, Value::Obj(_) | Value::Arr(_)) {
                self.walk(child, value);
            }
        }
    }

    fn walk(&mut self, node: &Node, obj: &'a Value) {
        match obj {
            Value::Obj(object) => self.walk_object(node, object),
            Value::Arr(items) => {
                let Some(star) = &node.star else { return };
                for item in items {
                    self.budget -= 1;
                    if self.budget < 0 {
                        return;
                    }
                    if matches!(item, Value::Null) {
                        continue;
                    }
                    self.visit(star, item);
                }
            }
            _ => {}
        }
    }

    fn walk_object(&mut self, node: &Node, object: &'a Object) {
        if object.len() < node.keys.len() {
            for (key, value) in &object.entries {
                let Some(&at) = node.map.get(key) else { continue };
                if matches!(value, Value::Null) {
                    continue;
                }
                self.visit(&node.keys[at].1, value);
            }
        } else {
            for (key, entry) in &node.keys {
                match object.get(key) {
                    None | Some(Value::Null) => continue,
                    Some(value) => self.visit(entry, value),
                }
            }
        }
    }
}

impl Extractor {
    pub fn new(fields: &[Vec<String>], owner_paths: &[String], type_paths: &[String], max_values: usize) -> Extractor {
        let mut builder = Builder::default();
        let mut paths = 0;
        let mut star = false;
        for (index, field_paths) in fields.iter().enumerate() {
            for path in field_paths {
                let segments: Vec<&str> = path.split('.').collect();
                star |= segments.contains(&"*");
                builder.add(&segments, Some(index), None);
                paths += 1;
            }
        }
        let mut rank = 0;
        for path in owner_paths {
            builder.add(&path.split('.').collect::<Vec<_>>(), None, Some(rank));
            rank += 1;
        }
        let type_start = rank;
        for path in type_paths {
            builder.add(&path.split('.').collect::<Vec<_>>(), None, Some(rank));
            rank += 1;
        }
        Extractor { root: builder.freeze(), type_start, max_values, may_overflow: star || paths > max_values }
    }

    pub fn extract<'a>(&self, message: &'a Object) -> Extraction<'a> {
        let mut walk = Walk { values: Vec::new(), others: Vec::new(), budget: (self.max_values * 4) as i64 };
        walk.walk_object(&self.root, message);
        let mut owner = None;
        let mut message_type = None;
        let (mut owner_rank, mut type_rank) = (usize::MAX, usize::MAX);
        for &(rank, value) in &walk.others {
            if rank < self.type_start {
                if rank < owner_rank {
                    match value {
                        Value::Str(s) => {
                            owner = Some(s.clone());
                            owner_rank = rank;
                        }
                        Value::Int(i) => {
                            owner = Some(i.to_string());
                            owner_rank = rank;
                        }
                        _ => {}
                    }
                }
            } else if rank < type_rank {
                if let Value::Str(s) = value {
                    message_type = Some(s.as_str());
                    type_rank = rank;
                }
            }
        }
        let mut values = walk.values;
        let mut dropped = 0;
        if self.may_overflow {
            dropped = usize::from(walk.budget < 0);
            let mut room = self.max_values;
            for (_, bucket) in values.iter_mut() {
                if bucket.len() > room {
                    dropped += bucket.len() - room;
                    bucket.truncate(room);
                }
                room -= bucket.len();
            }
            if dropped > 0 {
                values.retain(|(_, b)| !b.is_empty());
            }
        }
        Extraction { values, owner, message_type, dropped }
    }
}
