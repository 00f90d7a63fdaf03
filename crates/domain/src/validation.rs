//! A rule broken by an input, named by the field it concerns. Every layer reports validation failures in this one
//! shape; the HTTP layer renders a list of them as the `errors` of contract §3.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The property, with an index for list items (`topicIds[2]`) or a dotted path (`changes[1].entityId`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error, its field placed under `prefix` (`changes[3]` + `entityId` = `changes[3].entityId`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", self.field) };
        self
    }
}
