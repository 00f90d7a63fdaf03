//! Payload filters (contract §9.2) at the edge: reading a webhook's `filter` field, and `POST /webhooks/filters/test`,
//! which tells whether a payload (or a topic's example payload) satisfies a filter before anyone saves it.
//!
//! A filter is compiled by `herald_domain::filter` (the validator's rules, its limits and its messages); routing
//! compiles the stored text again when it builds its table.

use herald_domain::filter::{Filter, Mismatch, MAX_FILTER_BYTES};
use herald_domain::topics;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::ToSchema;

use crate::input::{topic_id, Errors, Field};
use crate::ping::example_payload;
use crate::*;

/// The OpenAPI schema of a webhook's `filter`.
pub(crate) fn filter_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(format!(
            "A JSON Schema (draft 2020-12) that an event's payload, as delivered with `SendAttempts: 1`, must satisfy \
             for the webhook to receive the event; `null` (the default) for none. At most {MAX_FILTER_BYTES} bytes of \
             compact JSON; every `$ref` must point inside the schema (a remote `$ref` is refused). Ping ignores it. \
             On update, absent keeps the filter and `null` removes it."
        )))
        .examples([serde_json::json!({
            "properties": {"diff": {"type": "object", "required": ["mobilePhone"]}},
            "required": ["diff"]
        })])
        .into()
}

/// The OpenAPI schema of the filter to test.
fn filter_to_test() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "The filter to test: a JSON Schema (draft 2020-12), at most {MAX_FILTER_BYTES} bytes of compact JSON, \
             every `$ref` inside the schema. The rules are those of a webhook's `filter`."
        )))
        .into()
}

/// Reads a `filter` field: `None` when absent (keep what is stored), `Some(None)` for `null`, `Some(Some(text))` for a
/// schema that compiles, the compact JSON text to store. A schema that does not compile is an error on `field`.
pub(crate) fn read_filter(f: &mut Errors, field: &str, v: &Field<Map<String, Value>>) -> Option<Option<String>> {
    match v {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Given(schema) => match Filter::compile(schema) {
            Ok(filter) => Some(Some(filter.text().to_string())),
            Err(e) => {
                f.add(field, e.to_string());
                None
            }
        },
        Field::Invalid => {
            f.add(field, "must be a JSON Schema (a JSON object) or null");
            None
        }
    }
}

/// `POST /webhooks/filters/test`: a filter and the payload to test it against, given or a topic's example.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FilterTestModel, rename_all = "camelCase")]
pub struct FilterTestIn {
    #[serde(default)]
    #[schema(schema_with = filter_to_test, required = true)]
    pub filter: Field<Map<String, Value>>,
    /// A payload to test (any JSON object, typically one a receiver got). Exactly one of `payload` and `topicId`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Field<Map<String, Value>>,
    /// Test against this topic's example payload (the one Ping sends, `example` of the topic model). `null` is
    /// the same as absent.
    #[serde(default)]
    #[schema(schema_with = topic_id_or_null)]
    pub topic_id: Field<String>,
}

fn topic_id_or_null() -> utoipa::openapi::Schema {
    crate::input::or_null(topic_id())
}

/// Whether the payload satisfies the filter, and if not, why.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FilterTestResultModel)]
pub struct FilterTestOut {
    pub matches: bool,
    /// The validator's reasons (at most 10), empty when the payload matches.
    pub errors: Vec<FilterMismatchOut>,
}

/// One reason a payload does not satisfy a filter.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FilterMismatchModel)]
pub struct FilterMismatchOut {
    /// A JSON Pointer to the part of the payload concerned (`""`: the payload itself).
    pub path: String,
    /// The validator's message.
    pub message: String,
}

impl From<Mismatch> for FilterMismatchOut {
    fn from(m: Mismatch) -> Self {
        FilterMismatchOut { path: m.path, message: m.message }
    }
}

impl Herald {
    /// Tests a filter (admin token or any application key: it reads nothing an application owns).
    pub fn test_filter(&self, _who: &Principal, input: FilterTestIn) -> ServiceResult<FilterTestOut> {
        let mut f = Errors::default();
        let filter = match &input.filter {
            Field::Given(schema) => Filter::compile(schema).map_err(|e| f.add("filter", e.to_string())).ok(),
            Field::Absent | Field::Null => {
                f.add("filter", "is required: a JSON Schema");
                None
            }
            Field::Invalid => {
                f.add("filter", "must be a JSON Schema (a JSON object)");
                None
            }
        };
        let topic = f.optional_str("topicId", &input.topic_id, 100);
        let payload = match (&input.payload, topic) {
            (Field::Given(p), None) => Some(Value::Object(p.clone())),
            (Field::Invalid, _) => {
                f.add("payload", "must be a JSON object");
                None
            }
            (Field::Given(_), Some(_)) => {
                f.add("topicId", "give either payload or topicId, not both");
                None
            }
            (_, Some(t)) => match topics::find(&t) {
                Some(topic) => serde_json::from_slice(&example_payload(topic, None)).ok(),
                None => {
                    f.add("topicId", format!("unknown topic {t:?}"));
                    None
                }
            },
            (_, None) => {
                if !f.has("topicId") {
                    f.add("payload", "is required unless topicId names a topic whose example to test");
                }
                None
            }
        };
        f.finish()?;
        let (Some(filter), Some(payload)) = (filter, payload) else {
            return Err(ServiceError::Internal("a filter test without a filter or a payload".into()));
        };
        let errors: Vec<FilterMismatchOut> = filter.mismatches(&payload).into_iter().map(Into::into).collect();
        Ok(FilterTestOut { matches: errors.is_empty(), errors })
    }
}
