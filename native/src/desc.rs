//! The plain description the Python side compiles a schema and a config into (JSON text).
//! Field names here are the contract with `id_monitor/native/describe.py`.

use serde::Deserialize;

#[derive(Deserialize)]
pub struct Description {
    pub version: u32,
    pub schema: SchemaDesc,
    pub limits: LimitsDesc,
    #[serde(default)]
    pub judge: Option<JudgeDesc>,
    /// finite upper bounds of the ID-age histogram (seconds); +Inf is implied
    #[serde(default)]
    pub age_buckets: Vec<f64>,
}

#[derive(Deserialize)]
pub struct SchemaDesc {
    pub formats: Vec<FormatDesc>,
    pub variants: Vec<VariantDesc>,
    pub buckets: Vec<BucketDesc>,
    pub token_routes: Vec<(String, usize)>,
    pub underscore_default: usize,
    pub length_routes: Vec<(usize, usize)>,
    pub plain_default: usize,
}

#[derive(Deserialize)]
pub struct FormatDesc {
    pub name: String,
    pub status: String,
    pub id_type: Option<String>,
    pub id_type_segment: Option<String>,
}

#[derive(Deserialize)]
pub struct VariantDesc {
    pub format: usize,
    pub segments: Vec<SegmentDesc>,
}

#[derive(Deserialize)]
pub struct SegmentDesc {
    pub name: Option<String>,
    /// literal | word | enum | owner | timestamp | counter | hex | token | standard
    pub kind: String,
    /// owner | timestamp | counter | standard | part | literal
    pub role: String,
    #[serde(default)]
    pub regex: String,
    #[serde(default)]
    pub literal: Option<String>,
    #[serde(default)]
    pub word_tokens: usize,
    #[serde(default)]
    pub word_token_chars: usize,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub codec: Option<CodecDesc>,
}

#[derive(Deserialize)]
pub struct CodecDesc {
    pub kind: String,
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub case: Option<String>,
    #[serde(default)]
    pub epoch: i64,
    #[serde(default)]
    pub timestamp_bits: u32,
    #[serde(default)]
    pub node_bits: u32,
    #[serde(default)]
    pub sequence_bits: u32,
}

#[derive(Deserialize)]
pub struct BucketDesc {
    pub variants: Vec<usize>,
    pub max_length: i64,
}

#[derive(Deserialize)]
pub struct LimitsDesc {
    pub max_id_length: usize,
    pub max_message_bytes: usize,
    pub max_depth: usize,
    pub max_ids_per_message: usize,
}

#[derive(Deserialize, Clone)]
pub struct TypesDesc {
    pub exact: Vec<String>,
    pub prefixes: Vec<String>,
    pub text: String,
}

#[derive(Deserialize)]
pub struct FieldDesc {
    pub name: String,
    pub paths: Vec<String>,
    pub accepts: Option<TypesDesc>,
    pub legacy: Option<String>,
    /// true, false, or the message types (exact / prefixes) for which the field is required
    pub required: bool,
    pub required_types: Option<TypesDesc>,
}

#[derive(Deserialize)]
pub struct JudgeDesc {
    pub fields: Vec<FieldDesc>,
    pub owner_paths: Vec<String>,
    pub type_paths: Vec<String>,
    pub owner_width: usize,
    /// rule -> severity, None when the rule is off (legacy_id is graded per field)
    pub severity: Vec<(String, Option<String>)>,
    pub max_future_ms: i64,
    pub max_age_ms: i64,
    pub references: Vec<(String, String)>,
    /// format names whose IDs may carry a reference part; None = every format
    pub reference_formats: Option<Vec<String>>,
    pub shape_only: Vec<String>,
}
