//! Reading JSON request bodies field by field, so that a wrong type is a 422 naming the field rather than a 400.

use herald_domain::FieldError;
use serde_json::{Map, Value};

use crate::{ServiceError, ServiceResult};

/// Parses a body that must be a JSON object.
pub fn object(body: &[u8]) -> ServiceResult<Map<String, Value>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ServiceError::Malformed(format!("The request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(ServiceError::field("", "the request body must be a JSON object")),
    }
}

/// Collects the errors of one body while its fields are read.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Self { obj, errors: Vec::new() }
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A string that must be present, non-blank, at most `max` characters.
    pub fn required_str(&mut self, name: &str, max: usize) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => {
                self.error(name, "is required");
                None
            }
            Some(v) => self.check_str(name, v, max),
        }
    }

    pub fn optional_str(&mut self, name: &str, max: usize) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => self.check_str(name, v, max),
        }
    }

    fn check_str(&mut self, name: &str, v: &Value, max: usize) -> Option<String> {
        match v {
            Value::String(s) if s.trim().is_empty() => {
                self.error(name, "must not be empty");
                None
            }
            Value::String(s) if s.chars().count() > max => {
                self.error(name, format!("must be at most {max} characters"));
                None
            }
            // Stored as text: PostgreSQL refuses NUL in text, and no name, URL or id needs it.
            Value::String(s) if s.contains('\0') => {
                self.error(name, "must not contain the NUL character");
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.error(name, "must be a string");
                None
            }
        }
    }

    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(name, "must be true or false");
                None
            }
        }
    }

    /// A list of strings; `None` when absent or null. Each item must be a non-empty string of at most `max` chars.
    pub fn str_list(&mut self, name: &str, max: usize) -> Option<Vec<String>> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if s.contains('\0') => {
                            self.error(format!("{name}[{i}]"), "must not contain the NUL character")
                        }
                        Value::String(s) if !s.trim().is_empty() && s.chars().count() <= max => out.push(s.clone()),
                        Value::String(_) => self.error(
                            format!("{name}[{i}]"),
                            format!("must be a non-empty string of at most {max} characters"),
                        ),
                        _ => self.error(format!("{name}[{i}]"), "must be a string"),
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.error(name, "must be an array of strings");
                None
            }
        }
    }

    pub fn finish(self) -> ServiceResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(self.errors))
        }
    }
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
