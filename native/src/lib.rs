//! id_monitor_native: the native engine of id-monitor.
//!
//! `Engine(description_json)` compiles the plain description made by
//! `id_monitor.native.describe` once; `classify(str)` returns one classification as a tuple and
//! `check_batch(values, observed_ms)` decodes, extracts, classifies and judges a whole batch with
//! the GIL released, returning the counts the metrics need, the findings to emit, each message's
//! owner and the unknown IDs, as plain tuples and lists.

mod codecs;
mod desc;
mod extract;
mod json;
mod judge;
mod matcher;

/// The core's hash map: aHash (keyed per process, so hostile keys in messages cannot force
/// collisions) is several times cheaper than the standard SipHash on short keys.
pub type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

use std::sync::Arc;

use pyo3::pybacked::{PyBackedBytes, PyBackedStr};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use codecs::Part;
use desc::{Description, LimitsDesc};
use judge::{FieldRef, Finding, Judge, Severity};
use matcher::{Info, Matcher, Status};

const RESULT_OK: u8 = 0;
const RESULT_MALFORMED: u8 = 1;
const RESULT_SKIPPED: u8 = 2;
const RESULT_NAMES: [&str; 3] = ["ok", "malformed", "skipped"];

#[pyclass(frozen, module = "id_monitor_native")]
struct Engine {
    /// format names and statuses as Python strings made once (returned by reference)
    format_objects: Vec<Py<PyString>>,
    status_objects: [Py<PyString>; 3],
    matcher: Matcher,
    limits: LimitsDesc,
    judge: Option<Judge>,
    age_bounds: Vec<f64>,
}

/// One message as the caller gave it, borrowed from its Python object (no copy).
enum Raw {
    Skip,
    Bytes(PyBackedBytes),
    Text(PyBackedStr),
    Malformed(&'static str),
}

#[derive(Default)]
struct Batch {
    results: Vec<u8>,
    ids: HashMap<(usize, Option<usize>), u64>,
    finding_counts: HashMap<(FieldRef, &'static str, Severity), u64>,
    ages: Vec<(Vec<u64>, f64, bool)>,
    isolation: HashMap<(usize, &'static str), u64>,
    findings: Vec<(usize, Finding)>,
    owners: Vec<Option<String>>,
    unknown: Vec<(usize, String)>,
    per_message_ids: Vec<(usize, usize, Arc<Info>)>,
}

impl Engine {
    fn classify_text(&self, text: &str) -> Info {
        if text.chars().count() > self.limits.max_id_length {
            return Info::unknown("too_long");
        }
        if text.is_empty() {
            return Info::unknown("empty");
        }
        self.matcher.matches(text)
    }

    fn run_batch(&self, judge: &Judge, raws: &[Raw], observed_ms: i64, with_ids: bool) -> Batch {
        let mut batch = Batch {
            ages: vec![(vec![0; self.age_bounds.len() + 1], 0.0, false); judge.field_names.len()],
            ..Default::default()
        };
        let observed = observed_ms as i128;
        // IDs recur within a batch (a thread's ID in every message of the thread): classify each
        // distinct string once per batch.
        // Shared, not cloned, on a hit.
        let mut cache: HashMap<String, Arc<Info>> = HashMap::default();
        for (index, raw) in raws.iter().enumerate() {
            let bytes = match raw {
                Raw::Skip => {
                    batch.results.push(RESULT_SKIPPED);
                    batch.owners.push(None);
                    continue;
                }
                Raw::Malformed(reason) => Err(*reason),
                Raw::Bytes(bytes) => Ok(&bytes[..]),
                Raw::Text(text) => Ok(text.as_bytes()),
            };
            let message = bytes.and_then(|b| {
                json::decode_message(b, self.limits.max_message_bytes, self.limits.max_depth)
            });
            let message = match message {
                Ok(m) => m,
                Err(reason) => {
                    batch.results.push(RESULT_MALFORMED);
                    batch.owners.push(None);
                    if let Some(f) = judge.malformed(reason) {
                        *batch.finding_counts.entry((f.field, f.rule, f.severity)).or_default() += 1;
                        batch.findings.push((index, f));
                    }
                    continue;
                }
            };
            let extraction = judge.extractor.extract(&message);
            let mut classify = |text: &str| {
                if let Some(info) = cache.get(text) {
                    return Arc::clone(info);
                }
                let info = Arc::new(self.classify_text(text));
                if cache.len() < 65_536 && text.len() <= self.limits.max_id_length * 4 {
                    cache.insert(text.to_string(), info.clone());
                }
                info
            };
            let report = judge.judge(&extraction, observed, &mut classify);
            for (field, info) in &report.ids {
                *batch.ids.entry((*field, info.format)).or_default() += 1;
                if let Some(ts) = info.timestamp_ms {
                    let mut age = (observed - ts) as f64 / 1000.0;
                    if age < 0.0 {
                        age = 0.0;
                    }
                    let bucket = self.age_bounds.partition_point(|&b| b < age);
                    let slot = &mut batch.ages[*field];
                    slot.0[bucket] += 1;
                    slot.1 += age;
                    slot.2 = true;
                }
            }
            for (field, outcome) in &report.isolation {
                *batch.isolation.entry((*field, outcome)).or_default() += 1;
            }
            for f in &report.findings {
                *batch.finding_counts.entry((f.field, f.rule, f.severity)).or_default() += 1;
            }
            let mut unknown_values = Vec::new();
            if with_ids || report.ids.iter().any(|(_, i)| i.status == Status::Unknown) {
                for (field, found) in &extraction.values {
                    for value in found {
                        if let json::Value::Str(s) = value {
                            unknown_values.push((*field, s.as_str()));
                        }
                    }
                }
            }
            let mut strings = unknown_values.iter();
            for (field, info) in report.ids {
                let value = strings.next().map(|(_, s)| *s).unwrap_or("");
                if info.status == Status::Unknown {
                    batch.unknown.push((field, value.to_string()));
                }
                if with_ids {
                    batch.per_message_ids.push((index, field, info));
                }
            }
            for f in report.findings {
                batch.findings.push((index, f));
            }
            if extraction.dropped > 0 {
                if let Some(f) = judge.malformed("too_many_ids") {
                    *batch.finding_counts.entry((f.field, f.rule, f.severity)).or_default() += 1;
                    batch.findings.push((index, f));
                }
            }
            batch.results.push(RESULT_OK);
            batch.owners.push(report.owner);
        }
        batch
    }
}

fn int_object(py: Python<'_>, value: i128) -> PyResult<PyObject> {
    Ok(match i64::try_from(value) {
        Ok(small) => small.into_pyobject(py)?.into_any().unbind(),
        Err(_) => value.into_pyobject(py)?.into_any().unbind(),
    })
}

fn part_object(py: Python<'_>, part: &Part) -> PyResult<PyObject> {
    Ok(match part {
        Part::Str(s) => s.into_pyobject(py)?.into_any().unbind(),
        Part::Int(i) => int_object(py, *i)?,
    })
}

fn opt_int(py: Python<'_>, value: Option<i128>) -> PyResult<PyObject> {
    match value {
        Some(v) => int_object(py, v),
        None => Ok(py.None()),
    }
}

impl Engine {
    fn info_tuple<'py>(&self, py: Python<'py>, info: &Info) -> PyResult<Bound<'py, PyTuple>> {
        let parts: PyObject = if info.parts.is_empty() {
            py.None()
        } else {
            let items = info
                .parts
                .iter()
                .map(|(k, v)| Ok(PyTuple::new(py, [PyString::intern(py, k).into_any().unbind(), part_object(py, v)?])?))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any().unbind()
        };
        let format = match info.format {
            Some(f) => self.format_objects[f].clone_ref(py).into_any(),
            None => py.None(),
        };
        let status = match info.status {
            Status::Target => &self.status_objects[0],
            Status::Legacy => &self.status_objects[1],
            Status::Unknown => &self.status_objects[2],
        };
        let id_type = match (&info.id_type, info.format) {
            (Some(t), Some(f)) if *t == self.matcher.format_names[f] => self.format_objects[f].clone_ref(py).into_any(),
            (t, _) => t.as_deref().into_pyobject(py)?.into_any().unbind(),
        };
        PyTuple::new(
            py,
            [
                status.clone_ref(py).into_any(),
                format,
                id_type,
                info.owner.as_deref().into_pyobject(py)?.into_any().unbind(),
                opt_int(py, info.timestamp_ms)?,
                opt_int(py, info.counter)?,
                info.reason.map(|r| PyString::intern(py, r).into_any().unbind()).unwrap_or_else(|| py.None()),
                parts,
            ],
        )
    }

    fn field_name(&self, judge: &Judge, field: FieldRef) -> String {
        match field {
            FieldRef::Field(i) => judge.field_names[i].clone(),
            FieldRef::Message => "message".to_string(),
        }
    }
}

#[pymethods]
impl Engine {
    #[new]
    fn new(py: Python<'_>, description: &str) -> PyResult<Self> {
        let desc: Description = serde_json::from_str(description)
            .map_err(|e| PyValueError::new_err(format!("bad engine description: {e}")))?;
        if desc.version != 1 {
            return Err(PyValueError::new_err(format!("unsupported description version {}", desc.version)));
        }
        let matcher = Matcher::new(&desc.schema).map_err(PyValueError::new_err)?;
        let judge = match &desc.judge {
            Some(j) => Some(
                Judge::new(j, &matcher.format_names, desc.limits.max_ids_per_message).map_err(PyValueError::new_err)?,
            ),
            None => None,
        };
        let format_objects = matcher.format_names.iter().map(|n| PyString::intern(py, n).unbind()).collect();
        let status_objects = ["target", "legacy", "unknown"].map(|s| PyString::intern(py, s).unbind());
        Ok(Engine { format_objects, status_objects, matcher, limits: desc.limits, judge, age_bounds: desc.age_buckets })
    }

    /// (status, format, id_type, owner, timestamp_ms, counter, reason, parts) of one string.
    fn classify<'py>(&self, py: Python<'py>, value: &str) -> PyResult<Bound<'py, PyTuple>> {
        let info = self.classify_text(value);
        self.info_tuple(py, &info)
    }

    /// Classify many strings at once (GIL released while matching).
    fn classify_many<'py>(&self, py: Python<'py>, values: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let infos: Vec<Info> = py.allow_threads(|| values.iter().map(|v| self.classify_text(v)).collect());
        let tuples = infos.iter().map(|i| self.info_tuple(py, i)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, tuples)
    }

    /// Decode, extract, classify and judge a batch of raw messages (bytes, str, or None for a
    /// tombstone). Returns a tuple, see `id_monitor.native.engine.BatchResult`.
    #[pyo3(signature = (values, observed_ms, with_ids = false))]
    fn check_batch<'py>(
        &self,
        py: Python<'py>,
        values: &Bound<'py, PyList>,
        observed_ms: i64,
        with_ids: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let judge = self.judge.as_ref().ok_or_else(|| PyValueError::new_err("engine built without a config"))?;
        let mut raws = Vec::with_capacity(values.len());
        for item in values.iter() {
            if item.is_none() {
                raws.push(Raw::Skip);
            } else if let Ok(b) = item.downcast::<PyBytes>() {
                raws.push(Raw::Bytes(PyBackedBytes::from(b.clone())));
            } else if let Ok(s) = item.downcast::<PyString>() {
                let chars = s.len()?;
                if chars > self.limits.max_message_bytes {
                    raws.push(Raw::Malformed("too_large"));
                } else {
                    match PyBackedStr::try_from(s.clone()) {
                        Ok(text) => raws.push(Raw::Text(text)),
                        Err(_) => raws.push(Raw::Malformed("not_utf8")),
                    }
                }
            } else {
                return Err(PyTypeError::new_err(format!(
                    "check_batch takes bytes, str or None, got {}",
                    item.get_type().name()?
                )));
            }
        }
        let batch = py.allow_threads(|| self.run_batch(judge, &raws, observed_ms, with_ids));
        self.batch_tuple(py, judge, batch, with_ids)
    }

    /// The format names in schema order (index = what the core calls a format).
    fn format_names(&self) -> Vec<String> {
        self.matcher.format_names.clone()
    }
}

impl Engine {
    fn batch_tuple<'py>(&self, py: Python<'py>, judge: &Judge, batch: Batch, with_ids: bool) -> PyResult<Bound<'py, PyTuple>> {
        let fname = |f: FieldRef| self.field_name(judge, f);
        let format_name = |f: Option<usize>| f.map(|i| self.matcher.format_names[i].clone());
        let results: Vec<&str> = batch.results.iter().map(|&r| RESULT_NAMES[r as usize]).collect();
        let counts = [RESULT_OK, RESULT_MALFORMED, RESULT_SKIPPED]
            .map(|r| batch.results.iter().filter(|&&x| x == r).count());
        let ids: Vec<(String, Option<String>, u64)> =
            batch.ids.iter().map(|(&(f, fmt), &n)| (judge.field_names[f].clone(), format_name(fmt), n)).collect();
        let finding_counts: Vec<(String, &str, Option<&str>, u64)> =
            batch.finding_counts.iter().map(|(&(f, rule, sev), &n)| (fname(f), rule, sev, n)).collect();
        let ages: Vec<(String, Vec<u64>, f64)> = batch
            .ages
            .iter()
            .enumerate()
            .filter(|(_, a)| a.2)
            .map(|(i, a)| (judge.field_names[i].clone(), a.0.clone(), a.1))
            .collect();
        let isolation: Vec<(String, &str, u64)> =
            batch.isolation.iter().map(|(&(f, o), &n)| (judge.field_names[f].clone(), o, n)).collect();
        let findings = batch
            .findings
            .iter()
            .map(|(i, f)| {
                (
                    *i,
                    f.rule,
                    fname(f.field),
                    f.severity,
                    f.value.as_deref(),
                    format_name(f.format),
                    f.id_type.as_deref(),
                    f.detail.as_deref(),
                )
                    .into_pyobject(py)
                    .map(|t| t.into_any().unbind())
            })
            .collect::<PyResult<Vec<PyObject>>>()?;
        let unknown: Vec<(String, &str)> =
            batch.unknown.iter().map(|(f, v)| (judge.field_names[*f].clone(), v.as_str())).collect();
        let per_ids: PyObject = if with_ids {
            let items = batch
                .per_message_ids
                .iter()
                .map(|(i, f, info)| {
                    Ok(PyTuple::new(
                        py,
                        [
                            i.into_pyobject(py)?.into_any().unbind(),
                            PyString::new(py, &judge.field_names[*f]).into_any().unbind(),
                            self.info_tuple(py, info)?.into_any().unbind(),
                        ],
                    )?
                    .into_any()
                    .unbind())
                })
                .collect::<PyResult<Vec<PyObject>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        } else {
            py.None()
        };
        PyTuple::new(
            py,
            [
                counts.into_pyobject(py)?.into_any().unbind(),
                results.into_pyobject(py)?.into_any().unbind(),
                ids.into_pyobject(py)?.into_any().unbind(),
                finding_counts.into_pyobject(py)?.into_any().unbind(),
                ages.into_pyobject(py)?.into_any().unbind(),
                isolation.into_pyobject(py)?.into_any().unbind(),
                PyList::new(py, findings)?.into_any().unbind(),
                batch.owners.into_pyobject(py)?.into_any().unbind(),
                unknown.into_pyobject(py)?.into_any().unbind(),
                per_ids,
            ],
        )
    }
}

/// True: this build of the extension is usable (the Python side checks the import too).
#[pyfunction]
fn available() -> bool {
    true
}

#[pymodule]
fn id_monitor_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(available, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DESCRIPTION_VERSION", 1)?;
    Ok(())
}
