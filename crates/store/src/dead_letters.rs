//! The record of a dead letter: a message from a broker source that was not a valid change. The store keeps them;
//! what makes a message invalid is the service's rule.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One message a source could not ingest, with the error it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRecord {
    pub id: Uuid,
    /// The source it came from, as its URL without credentials.
    pub source: String,
    /// Its idempotency key, when it had one: a source keeps one dead letter per key.
    pub message_id: Option<String>,
    /// The status `POST /changes` would have answered (400, 413 or 422).
    pub status: u16,
    pub description: String,
    /// The field errors, as the JSON list of `{field, message}`.
    pub errors: String,
    /// The message's body as text (invalid UTF-8 replaced), cut to a size the caller chose.
    pub body: String,
    pub received: DateTime<Utc>,
}
