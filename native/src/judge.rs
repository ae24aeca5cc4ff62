//! The judge natively: every rule of the reference `_judge`, with the same guards, severities,
//! details and order of findings. Owner-collision tracking is not here: it looks across
//! messages and stays in Python, fed by each message's owner.

use crate::codecs::Part;
use crate::desc::{JudgeDesc, TypesDesc};
use crate::extract::{Extraction, Extractor};
use crate::json::Value;
use std::sync::Arc;

use crate::matcher::{Info, Status};

pub type Severity = Option<&'static str>;

fn severity(name: Option<&str>) -> Severity {
    match name {
        Some("violation") => Some("violation"),
        Some("warning") => Some("warning"),
        _ => None,
    }
}

pub struct Types {
    exact: Vec<String>,
    prefixes: Vec<String>,
    pub text: String,
}

impl Types {
    fn new(desc: &TypesDesc) -> Types {
        Types { exact: desc.exact.clone(), prefixes: desc.prefixes.clone(), text: desc.text.clone() }
    }

    fn accepts(&self, id_type: &str) -> bool {
        self.exact.iter().any(|e| e == id_type) || self.prefixes.iter().any(|p| id_type.starts_with(p.as_str()))
    }
}

struct Plan {
    accepts: Option<Types>,
    legacy: Severity,
}

/// Where a finding belongs: a configured field (by index) or the message as a whole.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FieldRef {
    Field(usize),
    Message,
}

pub struct Finding {
    pub rule: &'static str,
    pub field: FieldRef,
    pub severity: Severity,
    pub value: Option<String>,
    pub format: Option<usize>,
    pub id_type: Option<String>,
    pub detail: Option<String>,
}

pub struct Report {
    pub ids: Vec<(usize, Arc<Info>)>,
    pub findings: Vec<Finding>,
    pub isolation: Vec<(usize, &'static str)>,
    pub owner: Option<String>,
}

pub struct Judge {
    pub field_names: Vec<String>,
    plans: Vec<Plan>,
    pub extractor: Extractor,
    owner_width: usize,
    sev_unknown: Severity,
    sev_type: Severity,
    sev_iso: Severity,
    sev_skew: Severity,
    sev_ref: Severity,
    sev_missing: Severity,
    sev_not_str: Severity,
    pub sev_malformed: Severity,
    max_future: i128,
    max_age: i128,
    references: Vec<(String, usize)>,
    reference_formats: Option<Vec<bool>>,
    shape_only: Vec<String>,
    always_required: Vec<usize>,
    required_by_type: Vec<(usize, Types)>,
}

impl Judge {
    pub fn new(desc: &JudgeDesc, format_names: &[String], max_values: usize) -> Result<Judge, String> {
        let sev = |rule: &str| -> Severity {
            desc.severity.iter().find(|(r, _)| r == rule).and_then(|(_, s)| severity(s.as_deref()))
        };
        let field_names: Vec<String> = desc.fields.iter().map(|f| f.name.clone()).collect();
        let plans = desc
            .fields
            .iter()
            .map(|f| Plan { accepts: f.accepts.as_ref().map(Types::new), legacy: severity(f.legacy.as_deref()) })
            .collect();
        let paths: Vec<Vec<String>> = desc.fields.iter().map(|f| f.paths.clone()).collect();
        let mut references = Vec::new();
        for (part, target) in &desc.references {
            let at = field_names.iter().position(|n| n == target).ok_or(format!("reference to unknown field {target:?}"))?;
            references.push((part.clone(), at));
        }
        let reference_formats = desc
            .reference_formats
            .as_ref()
            .map(|names| format_names.iter().map(|n| names.contains(n)).collect());
        Ok(Judge {
            plans,
            extractor: Extractor::new(&paths, &desc.owner_paths, &desc.type_paths, max_values),
            owner_width: desc.owner_width,
            sev_unknown: sev("unknown_format"),
            sev_type: sev("unexpected_type"),
            sev_iso: sev("isolation_breach"),
            sev_skew: sev("timestamp_skew"),
            sev_ref: sev("mismatched_reference"),
            sev_missing: sev("missing_id"),
            sev_not_str: sev("not_a_string"),
            sev_malformed: sev("malformed"),
            max_future: desc.max_future_ms as i128,
            max_age: desc.max_age_ms as i128,
            references,
            reference_formats,
            shape_only: desc.shape_only.clone(),
            always_required: desc.fields.iter().enumerate().filter(|(_, f)| f.required).map(|(i, _)| i).collect(),
            required_by_type: desc
                .fields
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.required_types.as_ref().map(|t| (i, Types::new(t))))
                .collect(),
            field_names,
        })
    }

    pub fn malformed(&self, reason: &str) -> Option<Finding> {
        self.sev_malformed.map(|s| Finding {
            rule: "malformed",
            field: FieldRef::Message,
            severity: Some(s),
            value: None,
            format: None,
            id_type: None,
            detail: Some(reason.to_string()),
        })
    }

    pub fn judge(&self, ex: &Extraction, observed_ms: i128, classify: &mut dyn FnMut(&str) -> Arc<Info>) -> Report {
        let mut ids = Vec::new();
        let mut findings = Vec::new();
        let mut isolation = Vec::new();
        let owner_prefix: Option<String> = match &ex.owner {
            Some(o) if !o.is_empty() => Some(o.chars().take(self.owner_width).collect()),
            _ => None,
        };
        let (earliest, latest) = if self.sev_skew.is_some() {
            (observed_ms - self.max_age, observed_ms + self.max_future)
        } else {
            (-(1i128 << 62), 1i128 << 62)
        };
        let finding = |rule, field, severity, value: &str, info: &Info, detail: Option<String>| Finding {
            rule,
            field: FieldRef::Field(field),
            severity,
            value: Some(value.to_string()),
            format: info.format,
            id_type: info.id_type.clone(),
            detail,
        };
        for (field, found) in &ex.values {
            let field = *field;
            let plan = &self.plans[field];
            let accepts = if self.sev_type.is_some() { plan.accepts.as_ref() } else { None };
            for value in found {
                let Value::Str(text) = value else {
                    if let Some(sev) = self.sev_not_str {
                        findings.push(Finding {
                            rule: "not_a_string",
                            field: FieldRef::Field(field),
                            severity: Some(sev),
                            value: Some(format!("<{}>", value.json_type())),
                            format: None,
                            id_type: None,
                            detail: None,
                        });
                    }
                    continue;
                };
                let info = classify(text);
                if info.status != Status::Target {
                    if info.status == Status::Unknown {
                        if let Some(sev) = self.sev_unknown {
                            let detail = info.reason.map(str::to_string);
                            findings.push(finding("unknown_format", field, Some(sev), text, &info, detail));
                        }
                        ids.push((field, info));
                        continue;
                    }
                    if plan.legacy.is_some() {
                        findings.push(finding("legacy_id", field, plan.legacy, text, &info, None));
                    }
                }
                if let (Some(accepts), Some(id_type)) = (accepts, info.id_type.as_deref()) {
                    if !self.shape_only.iter().any(|s| s == id_type) && !accepts.accepts(id_type) {
                        let detail = Some(format!("expected {}", accepts.text));
                        findings.push(finding("unexpected_type", field, self.sev_type, text, &info, detail));
                    }
                }
                if let (Some(id_owner), Some(_)) = (info.owner.as_deref(), self.sev_iso) {
                    match owner_prefix.as_deref() {
                        Some(prefix) if prefix == id_owner => isolation.push((field, "match")),
                        None => isolation.push((field, "no_owner")),
                        Some(_) => {
                            isolation.push((field, "breach"));
                            let detail = Some("owner differs from message user".to_string());
                            findings.push(finding("isolation_breach", field, self.sev_iso, text, &info, detail));
                        }
                    }
                }
                if let Some(ts) = info.timestamp_ms {
                    if !(earliest <= ts && ts <= latest) {
                        let detail = if ts - observed_ms > self.max_future {
                            Some("future")
                        } else if observed_ms - ts > self.max_age {
                            Some("too_old")
                        } else {
                            None
                        };
                        if let Some(d) = detail {
                            findings.push(finding("timestamp_skew", field, self.sev_skew, text, &info, Some(d.into())));
                        }
                    }
                }
                if self.sev_ref.is_some() && !self.references.is_empty() {
                    let eligible = match (&self.reference_formats, info.format) {
                        (None, _) => true,
                        (Some(ok), Some(f)) => ok[f],
                        (Some(_), None) => false,
                    };
                    if eligible {
                        for (part, target) in &self.references {
                            let Some(reference) = info.part(part) else { continue };
                            let Some(referenced) = ex.get(*target) else { continue };
                            if referenced.is_empty() {
                                continue;
                            }
                            // The whole referenced value, its last `_` segment, or that segment's
                            // first 8 characters (as the generators cut it).
                            let texts: Vec<&str> = referenced
                                .iter()
                                .filter_map(|v| match v {
                                    Value::Str(s) => Some(s.as_str()),
                                    _ => None,
                                })
                                .collect();
                            if texts.is_empty() {
                                continue;
                            }
                            let matched = match reference {
                                Part::Str(r) => texts.iter().any(|v| {
                                    let tail = v.rsplit('_').next().unwrap_or("");
                                    let head8 = match tail.char_indices().nth(8) {
                                        Some((at, _)) => &tail[..at],
                                        None => tail,
                                    };
                                    *v == r.as_str() || tail == r.as_str() || head8 == r.as_str()
                                }),
                                Part::Int(_) => false,
                            };
                            if !matched {
                                let detail = Some(format!("{part} does not match {}", self.field_names[*target]));
                                findings.push(finding("mismatched_reference", field, self.sev_ref, text, &info, detail));
                            }
                        }
                    }
                }
                ids.push((field, info));
            }
        }
        if let Some(sev) = self.sev_missing {
            let missing = |field: usize| Finding {
                rule: "missing_id",
                field: FieldRef::Field(field),
                severity: Some(sev),
                value: None,
                format: None,
                id_type: None,
                detail: None,
            };
            for &field in &self.always_required {
                if ex.get(field).is_none() {
                    findings.push(missing(field));
                }
            }
            if let Some(message_type) = ex.message_type {
                for (field, types) in &self.required_by_type {
                    if types.accepts(message_type) && ex.get(*field).is_none() {
                        findings.push(missing(*field));
                    }
                }
            }
        }
        Report { ids, findings, isolation, owner: ex.owner.clone() }
    }
}
