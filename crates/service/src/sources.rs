//! Changes from a message broker (contract §9.6), as far as the service is concerned: a message is ingested by the
//! very operation `POST /changes` runs ([`Herald::ingest_changes`], so through the same group commit); a message
//! that is not a valid change is kept as a dead letter ([`Herald::dead_letter`], `GET /sources/dead-letters`); and
//! which sources are down ([`SourceStates`]) is told by `/readyz`. Consuming, acknowledging and reconnecting belong
//! to the `herald-sources` crate, which knows the brokers; this module knows none of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use herald_domain::time::format_api_time;
use herald_domain::FieldError;
use herald_store::{DeadLetterRecord, Page};
use serde::Serialize;

use crate::changes::{ChangesIn, IdempotencyKey, IngestOutcome};
use crate::*;

/// A message larger than this is not a change (contract §3: 1 MiB for changes, as for `POST /changes`).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// At most this much of an invalid message's body is kept in its dead letter.
pub const DEAD_LETTER_BODY_BYTES: usize = 64 * 1024;

/// Whether each configured source is connected, by name: `/readyz` names those that are not.
#[derive(Debug, Clone, Default)]
pub struct SourceStates(Arc<Mutex<BTreeMap<String, bool>>>);

impl SourceStates {
    /// Records whether the source `name` is connected (a source is registered down before its first connection).
    pub fn set(&self, name: &str, up: bool) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), up);
    }

    /// The names of the sources not connected now.
    pub fn down(&self) -> Vec<String> {
        let states = self.0.lock().unwrap_or_else(|p| p.into_inner());
        states.iter().filter(|(_, up)| !**up).map(|(name, _)| name.clone()).collect()
    }
}

/// Why a message was not ingested: the message itself is no change (keep it as a dead letter and acknowledge it),
/// or Herald could not take it now (leave it unacknowledged; the broker delivers it again).
#[derive(Debug)]
pub enum MessageRejected {
    /// The status `POST /changes` would answer such a body (contract §3: 400, 413 or 422), and the error.
    Invalid {
        status: u16,
        error: ServiceError,
    },
    Retry(ServiceError),
}

/// One dead letter, as `GET /sources/dead-letters` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeadLetterModel)]
pub struct DeadLetterOut {
    #[schema(format = Uuid)]
    pub id: String,
    /// The source, as its URL without credentials.
    pub source: String,
    /// The message's idempotency key: its `idempotency-key` header or field, else the broker's message id.
    pub message_id: Option<String>,
    /// When Herald received it.
    #[schema(format = DateTime)]
    pub received: String,
    /// The status `POST /changes` answers such a body: 400 (not JSON), 413 (over 1 MiB) or 422 (a rule broken).
    #[schema(example = 422)]
    pub status_code: u16,
    #[schema(example = "One or more validation failures have occurred.")]
    pub description: String,
    /// One entry per broken rule, as in an error answer (contract §3).
    #[schema(schema_with = field_errors)]
    pub errors: Vec<FieldError>,
    /// The message as text (invalid UTF-8 replaced), its first 64 KiB.
    pub body: String,
}

/// A list of the error body's `FieldErrorModel`s.
fn field_errors() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("FieldErrorModel"))
}

impl From<&DeadLetterRecord> for DeadLetterOut {
    fn from(d: &DeadLetterRecord) -> Self {
        let errors = serde_json::from_str::<Vec<serde_json::Value>>(&d.errors).unwrap_or_default();
        let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|s| s.as_str()).unwrap_or_default().to_string();
        DeadLetterOut {
            id: d.id.to_string(),
            source: d.source.clone(),
            message_id: d.message_id.clone(),
            received: format_api_time(d.received),
            status_code: d.status,
            description: d.description.clone(),
            errors: errors.iter().map(|e| FieldError::new(text(e, "field"), text(e, "message"))).collect(),
            body: d.body.clone(),
        }
    }
}

impl Herald {
    /// The sources' connection states, which the sources set and `/readyz` reads.
    pub fn source_states(&self) -> &SourceStates {
        &self.inner.sources
    }

    /// Ingests one message's body as `POST /changes` with the admin token and `Idempotency-Key: key` would: the same
    /// operation, so the same validation, idempotency and group commit. `Ok` only once its events are stored.
    pub async fn ingest_message(&self, body: &[u8], key: Option<&str>) -> Result<IngestOutcome, MessageRejected> {
        if body.len() > MAX_MESSAGE_BYTES {
            let error = ServiceError::Malformed(format!("The message is larger than {MAX_MESSAGE_BYTES} bytes."));
            return Err(MessageRejected::Invalid { status: 413, error });
        }
        let rejected = |error: ServiceError| match error {
            ServiceError::Malformed(_) => MessageRejected::Invalid { status: 400, error },
            ServiceError::Validation(_) => MessageRejected::Invalid { status: 422, error },
            error => MessageRejected::Retry(error),
        };
        let input: ChangesIn = input::from_json(body).map_err(rejected)?;
        let key = IdempotencyKey::of(key, body).map_err(rejected)?;
        self.ingest_changes(&Principal::Admin, input, key).await.map_err(rejected)
    }

    /// Keeps an invalid message with its error (once per source and message id). `Ok(false)`: it was kept before.
    pub async fn dead_letter(
        &self,
        source: &str,
        message_id: Option<&str>,
        body: &[u8],
        status: u16,
        error: &ServiceError,
    ) -> ServiceResult<bool> {
        let errors = match error {
            ServiceError::Validation(errors) => errors.as_slice(),
            _ => &[],
        };
        let cut = &body[..body.len().min(DEAD_LETTER_BODY_BYTES)];
        let record = DeadLetterRecord {
            id: new_uuid_v7(),
            source: source.to_string(),
            message_id: message_id.map(str::to_string),
            status,
            description: error.to_string(),
            errors: serde_json::to_string(errors).map_err(ServiceError::internal)?,
            body: String::from_utf8_lossy(cut).into_owned(),
            received: self.now(),
        };
        Ok(self.inner.store.insert_dead_letter(&record).await?)
    }

    /// `GET /sources/dead-letters`: the dead letters, newest first (admin only).
    pub async fn list_dead_letters(&self, who: &Principal, page: Page) -> ServiceResult<Paged<DeadLetterOut>> {
        who.require_admin()?;
        let (items, total) = self.inner.store.list_dead_letters(page).await?;
        Ok(Paged { items: items.iter().map(DeadLetterOut::from).collect(), page, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_down_are_those_last_set_down() {
        let states = SourceStates::default();
        states.set("amqp://a", false);
        states.set("nats://b", true);
        states.set("redis://c", false);
        assert_eq!(states.down(), ["amqp://a", "redis://c"]);
        states.set("amqp://a", true);
        assert_eq!(states.down(), ["redis://c"]);
    }

    #[test]
    fn a_dead_letter_renders_its_field_errors() {
        let record = DeadLetterRecord {
            id: uuid::Uuid::nil(),
            source: "redis://h/?stream=s&group=g".into(),
            message_id: Some("k-1".into()),
            status: 422,
            description: "One or more validation failures have occurred.".into(),
            errors: r#"[{"field":"entityType","message":"must be one of …"}]"#.into(),
            body: "{}".into(),
            received: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let out = serde_json::to_value(DeadLetterOut::from(&record)).unwrap_or_default();
        assert_eq!(out["errors"], serde_json::json!([{"field": "entityType", "message": "must be one of …"}]));
        assert_eq!(out["statusCode"], 422);
        assert_eq!(out["messageId"], "k-1");
        assert_eq!(out["received"], "1970-01-01T00:00:00Z");
    }
}
