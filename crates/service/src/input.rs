//! How request bodies are read. Each body is one Rust type (`AppIn`, `WebhookIn`, …, next to the operation that
//! takes it): serde reads it, its `validate` step names each failing field, and `utoipa::ToSchema` on the same type
//! writes the OpenAPI schema. A field is read as a [`Field`], so that a wrong type is a 422 naming the field rather
//! than serde's 400 for the whole body; [`from_json`] tells malformed JSON (400) from valid JSON of the wrong shape
//! (422).

pub use herald_domain::field::Field;
use herald_domain::FieldError;
use serde::de::DeserializeOwned;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

use crate::{ServiceError, ServiceResult};

/// Reads a request body of type `T`: malformed JSON is a 400, JSON that is not an object a 422 on the body (`""`).
/// Every field of `T` is a [`Field`], so no other shape error can happen.
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> ServiceResult<T> {
    let not_json = |e: serde_json::Error| ServiceError::Malformed(format!("The request body is not valid JSON: {e}"));
    // Serde would also read a struct from a list; a body is an object. Whether other text is JSON at all is told by
    // a plain parse, whose error is the one any parser gives.
    if body.trim_ascii_start().first() != Some(&b'{') {
        serde_json::from_slice::<serde_json::Value>(body).map_err(not_json)?;
        return Err(ServiceError::field("", "the request body must be a JSON object"));
    }
    // Every field is a `Field`: a data error left is a key given twice.
    serde_json::from_slice(body)
        .map_err(|e| if e.is_data() { ServiceError::field("", e.to_string()) } else { not_json(e) })
}

/// As [`from_json`], for an optional body: an empty body (or only white space), or `null`, is `T::default()`.
pub fn from_json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> ServiceResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        Ok(T::default())
    } else {
        from_json(body)
    }
}

/// Collects the errors of one body while it is validated.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    pub fn finish(self) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(self.0))
        }
    }

    /// A string that must be present, non-blank, at most `max` characters.
    pub fn required_str(&mut self, name: &str, v: &Field<String>, max: usize) -> Option<String> {
        match v {
            Field::Absent | Field::Null => {
                self.add(name, "is required");
                None
            }
            v => self.check_str(name, v, max),
        }
    }

    pub fn optional_str(&mut self, name: &str, v: &Field<String>, max: usize) -> Option<String> {
        match v {
            Field::Absent | Field::Null => None,
            v => self.check_str(name, v, max),
        }
    }

    fn check_str(&mut self, name: &str, v: &Field<String>, max: usize) -> Option<String> {
        match v {
            Field::Given(s) if s.trim().is_empty() => {
                self.add(name, "must not be empty");
                None
            }
            Field::Given(s) if s.chars().count() > max => {
                self.add(name, format!("must be at most {max} characters"));
                None
            }
            // Stored as text: PostgreSQL refuses NUL in text, and no name, URL or id needs it.
            Field::Given(s) if s.contains('\0') => {
                self.add(name, "must not contain the NUL character");
                None
            }
            Field::Given(s) => Some(s.clone()),
            _ => {
                self.add(name, "must be a string");
                None
            }
        }
    }

    pub fn optional_bool(&mut self, name: &str, v: &Field<bool>) -> Option<bool> {
        match v {
            Field::Absent | Field::Null => None,
            Field::Given(b) => Some(*b),
            Field::Invalid => {
                self.add(name, "must be true or false");
                None
            }
        }
    }

    /// A list of strings; `None` when absent or null. Each item must be a non-empty string of at most `max` chars.
    pub fn str_list(&mut self, name: &str, v: &StrList, max: usize) -> Option<Vec<String>> {
        match v {
            Field::Absent | Field::Null => None,
            Field::Given(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Field::Given(s) if s.contains('\0') => {
                            self.add(format!("{name}[{i}]"), "must not contain the NUL character")
                        }
                        Field::Given(s) if !s.trim().is_empty() && s.chars().count() <= max => out.push(s.clone()),
                        Field::Given(_) => self.add(
                            format!("{name}[{i}]"),
                            format!("must be a non-empty string of at most {max} characters"),
                        ),
                        _ => self.add(format!("{name}[{i}]"), "must be a string"),
                    }
                }
                Some(out)
            }
            Field::Invalid => {
                self.add(name, "must be an array of strings");
                None
            }
        }
    }
}

/// A list of strings as a body field.
pub type StrList = herald_domain::field::List<String>;

/// A list of strings for a typed input built in code (the UI's forms).
pub fn str_list<S: Into<String>>(items: impl IntoIterator<Item = S>) -> StrList {
    Field::Given(items.into_iter().map(|s| Field::Given(s.into())).collect())
}

/// Parses an optional query parameter with `parse`, or a 422 naming it.
pub fn query_param<T>(
    name: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> ServiceResult<Option<T>> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| ServiceError::field(name, format!("must be {what}"))),
    }
}

// ---- the OpenAPI schemas of fields that several bodies share, each saying what validation accepts ----

/// Non-blank: at least one character that is not white space as Rust's `str::trim` reads it (Unicode
/// `White_Space`; ECMA's `\S` would differ on U+0085 and U+FEFF).
/// And no NUL anywhere (text columns refuse it on PostgreSQL).
pub const NON_BLANK: &str = concat!(
    r"^[^\u0000]*",
    r"[^\u0000\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"[^\u0000]*$"
);

/// Text without NUL.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// A non-blank string of at most `max` characters, as [`Errors::required_str`] reads one.
pub fn non_blank(max: usize) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(max)).pattern(Some(NON_BLANK))
}

/// `schema`, or `null` (which the service reads as absent).
pub fn or_null(schema: impl Into<RefOr<Schema>>) -> Schema {
    Schema::OneOf(OneOfBuilder::new().item(schema).item(ObjectBuilder::new().schema_type(Type::Null)).build())
}

/// A string of one of `values`.
pub fn text_enum(values: &'static [&'static str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied()))
}

/// A string of a known format.
pub fn text_format(format: KnownFormat) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)))
}

/// A topic id of the catalogue (`GET /webhooks/topics`).
pub fn topic_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(herald_domain::topics::all().iter().map(|t| t.id)))
        .description(Some("A topic id of the catalogue (`GET /webhooks/topics`)."))
}

/// Customer ids, each non-blank and listed once.
pub fn customer_id_list() -> ArrayBuilder {
    ArrayBuilder::new().items(non_blank(100)).unique_items(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    struct Body {
        #[serde(default)]
        #[allow(dead_code)]
        x: herald_domain::field::ObjectList<serde_json::Map<String, serde_json::Value>>,
    }

    #[test]
    fn malformed_json_is_a_400_anywhere_and_other_json_a_422() {
        for text in [
            r#"{"x": ["a" "b"]}"#,
            r#"{"x": [{"a" 1}]}"#,
            r#"{"x": [1,}"#,
            r#"{"x": [{"a": }]}"#,
            r#"{"x": [{"a": 1e400}]}"#,
            r#"{"x": [{"a": "\ud800"}]}"#,
            "",
            "[1",
            "[1e400]",
        ] {
            assert!(matches!(from_json::<Body>(text.as_bytes()), Err(ServiceError::Malformed(_))), "{text}");
        }
        for text in ["[1]", "null", "\"x\"", "3", r#"{"x": 1, "x": 2}"#] {
            assert!(matches!(from_json::<Body>(text.as_bytes()), Err(ServiceError::Validation(_))), "{text}");
        }
        assert!(from_json::<Body>(br#"{"x": [[1], {"a": 1}, 2], "y": 1}"#).is_ok());
        assert!(from_json_or_default::<Body>(b" \n").is_ok());
        assert!(from_json_or_default::<Body>(b" null ").is_ok());
        assert!(matches!(from_json_or_default::<Body>(b"[]"), Err(ServiceError::Validation(_))));
    }
}
