//! Payload filters (contract §9.2): a JSON Schema (draft 2020-12) that an event's payload must satisfy for a webhook
//! to receive the event.
//!
//! A [`Filter`] is compiled once, when it is checked on write and when the routing table is built, never per event;
//! evaluating it reads only memory. Compiling never touches the network or the file system: every `$ref` that is not
//! inside the schema itself (or one of the drafts' own meta-schemas, which the validator carries) is refused.

use std::fmt;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::{Map, Value};

/// The largest filter, in bytes of its compact JSON text.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;

/// At most this many reasons are given for a payload that does not match.
pub const MAX_MISMATCHES: usize = 10;

/// Why a schema cannot be a filter. The message is the validator's own, for the `filter` field of a 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("must be at most {MAX_FILTER_BYTES} bytes of JSON (it has {0})")]
    TooLarge(usize),
    #[error("must not use a remote $ref ({0}); use a local reference such as \"#/$defs/name\"")]
    RemoteRef(String),
    #[error("is not a valid JSON Schema: {0}")]
    Invalid(String),
}

/// One reason a payload does not match a filter: where in the payload, and the validator's message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// A JSON Pointer into the payload (`/diff`, `""` for the payload itself).
    pub path: String,
    pub message: String,
}

/// A compiled payload filter.
pub struct Filter {
    /// The compact JSON text of the schema, as stored.
    text: String,
    validator: Validator,
}

impl Filter {
    /// Compiles a schema given as a JSON object.
    pub fn compile(schema: &Map<String, Value>) -> Result<Filter, FilterError> {
        // Serialising a map of JSON values cannot fail.
        let text = serde_json::to_string(schema).unwrap_or_default();
        Self::build(text, &Value::Object(schema.clone()))
    }

    /// Compiles a stored filter (its JSON text).
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let value: Value = serde_json::from_str(text).map_err(|e| FilterError::Invalid(e.to_string()))?;
        match value {
            Value::Object(schema) => Self::compile(&schema),
            _ => Err(FilterError::Invalid("a filter is a JSON object".into())),
        }
    }

    fn build(text: String, schema: &Value) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(FilterError::TooLarge(text.len()));
        }
        let validator =
            jsonschema::options().with_draft(Draft::Draft202012).with_retriever(NoRemote).build(schema).map_err(
                |e| match remote_ref(&e.to_string()) {
                    Some(uri) => FilterError::RemoteRef(uri),
                    None => {
                        let at = e.schema_path().as_str();
                        if at.is_empty() {
                            FilterError::Invalid(e.to_string())
                        } else {
                            FilterError::Invalid(format!("{e} (at {at})"))
                        }
                    }
                },
            )?;
        Ok(Filter { text, validator })
    }

    /// The schema's compact JSON text, as stored.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `payload` satisfies the filter.
    pub fn matches(&self, payload: &Value) -> bool {
        self.validator.is_valid(payload)
    }

    /// Why `payload` does not satisfy the filter: up to [`MAX_MISMATCHES`] reasons, none when it does.
    pub fn mismatches(&self, payload: &Value) -> Vec<Mismatch> {
        self.validator
            .iter_errors(payload)
            .take(MAX_MISMATCHES)
            .map(|e| Mismatch { path: e.instance_path().as_str().to_string(), message: e.to_string() })
            .collect()
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Filter").field(&self.text).finish()
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Filter {}

/// Marks the refusal of a remote `$ref`, so that it can be told from other build errors.
const REMOTE_MARK: &str = "herald refuses remote $ref: ";

/// The retriever of every resource a schema names outside itself: none is fetched.
struct NoRemote;

impl Retrieve for NoRemote {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("{REMOTE_MARK}{uri}\u{1}").into())
    }
}

/// The URI a build error refused to retrieve, if that was the error.
fn remote_ref(message: &str) -> Option<String> {
    let start = message.find(REMOTE_MARK)? + REMOTE_MARK.len();
    let rest = &message[start..];
    Some(rest[..rest.find('\u{1}').unwrap_or(rest.len())].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    fn compile(v: Value) -> Result<Filter, FilterError> {
        Filter::compile(&schema(v))
    }

    #[test]
    fn the_contracts_example_matches_a_mobile_phone_change_only() {
        let f = compile(
            json!({"properties": {"diff": {"type": "object", "required": ["mobilePhone"]}}, "required": ["diff"]}),
        )
        .unwrap();
        assert!(f.matches(&json!({"SendAttempts": 1, "diff": {"mobilePhone": ["1", "2"]}})));
        assert!(!f.matches(&json!({"SendAttempts": 1, "diff": {"surname": ["a", "b"]}})));
        assert!(!f.matches(&json!({"SendAttempts": 1, "diff": null})));
        let why = f.mismatches(&json!({"diff": {"surname": ["a", "b"]}}));
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].path, "/diff");
        assert!(why[0].message.contains("mobilePhone"), "{why:?}");
        assert!(f.mismatches(&json!({"diff": {"mobilePhone": []}})).is_empty());
    }

    #[test]
    fn an_enum_and_a_range_filter() {
        let f = compile(json!({"properties": {"new": {"properties": {
            "status": {"enum": ["accepted", "rejected"]},
            "amount": {"type": "number", "minimum": 100000, "maximum": 500000}
        }, "required": ["status"]}}}))
        .unwrap();
        assert!(f.matches(&json!({"new": {"status": "accepted", "amount": 250000}})));
        assert!(!f.matches(&json!({"new": {"status": "pending", "amount": 250000}})));
        assert!(!f.matches(&json!({"new": {"status": "accepted", "amount": 50}})));
        assert!(f.matches(&json!({"new": {"status": "rejected"}})));
    }

    #[test]
    fn an_invalid_schema_is_refused_with_the_validators_message() {
        let e = compile(json!({"type": "no-such-type"})).unwrap_err();
        let FilterError::Invalid(msg) = &e else { panic!("{e:?}") };
        assert!(msg.contains("no-such-type"), "{msg}");
        assert!(matches!(compile(json!({"minimum": "ten"})), Err(FilterError::Invalid(_))));
        assert!(matches!(compile(json!({"pattern": "(unclosed"})), Err(FilterError::Invalid(_))));
    }

    #[test]
    fn a_remote_ref_is_refused_and_a_local_one_is_not() {
        for r in ["https://example.com/schema.json", "http://127.0.0.1:1/x", "file:///etc/passwd"] {
            match compile(json!({"properties": {"new": {"$ref": r}}})) {
                Err(FilterError::RemoteRef(uri)) => assert!(uri.contains(r.trim_start_matches("file://")), "{uri}"),
                other => panic!("{r}: {other:?}"),
            }
        }
        // A relative reference has no base to resolve against: refused too, by the validator.
        let e = compile(json!({"$ref": "other.json"})).unwrap_err();
        assert!(e.to_string().contains("other.json"), "{e}");
        let f = compile(json!({"$defs": {"status": {"enum": ["a"]}}, "properties": {"s": {"$ref": "#/$defs/status"}}}))
            .unwrap();
        assert!(f.matches(&json!({"s": "a"})) && !f.matches(&json!({"s": "b"})));
        // The draft's own meta-schema is carried by the validator, not fetched.
        compile(json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"})).unwrap();
    }

    #[test]
    fn a_filter_over_16_kib_is_refused() {
        let big = "x".repeat(MAX_FILTER_BYTES);
        assert!(matches!(compile(json!({"description": big})), Err(FilterError::TooLarge(_))));
        let fits = "x".repeat(MAX_FILTER_BYTES - 40);
        compile(json!({"description": fits})).unwrap();
    }

    #[test]
    fn a_stored_filter_compiles_from_its_text() {
        let f = compile(json!({"required": ["diff"]})).unwrap();
        assert_eq!(f.text(), r#"{"required":["diff"]}"#);
        assert_eq!(Filter::parse(f.text()).unwrap(), f);
        assert!(Filter::parse("[]").is_err());
        assert!(Filter::parse("{").is_err());
    }
}
