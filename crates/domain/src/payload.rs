//! The event payload (contract §8.1) and its rendering.
//!
//! An event's payload is the same for every webhook that receives it and for every attempt, but for `SendAttempts`,
//! which comes first. So it is serialised once, without `SendAttempts` (its *tail*), stored once per event, and each
//! attempt's exact bytes are `{"SendAttempts":N,` + tail: no re-serialisation per attempt, and the bytes in the
//! logs are the bytes that were sent.

use std::cell::OnceCell;

use serde::Serialize;
use serde_json::Value;

use crate::change::Entity;
use crate::diff::diff;
use crate::json::Object;
use crate::topics::Topic;

/// The `diff` of an event's payload (contract §8.1): the nested `[old, new]` diff for a `.modified` topic whose
/// change has both sides, `None` for every other event (a creation, a deletion, or a topic such as
/// `offers.accepted` that a modification also emits).
pub fn event_diff(topic: &Topic, old: Option<&Entity>, new: Option<&Entity>) -> Option<Object> {
    match (old, new) {
        (Some(old), Some(new)) if topic.id.ends_with(".modified") => Some(diff(old, new)),
        _ => None,
    }
}

/// The fields of a payload but `SendAttempts`, in the seed's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody<'a> {
    pub event_id: &'a str,
    pub entity_id: Option<&'a str>,
    pub customer_id: &'a str,
    pub event_time: &'a str,
    pub topic_id: &'a str,
    pub new: Option<&'a Entity>,
    pub old: Option<&'a Entity>,
    pub diff: Option<&'a Object>,
}

impl EventBody<'_> {
    /// The payload without its leading `{` and without `SendAttempts`: `"eventId":"…",…}`.
    pub fn render_tail(&self) -> String {
        // Serialising a struct of strings and JSON values cannot fail.
        let mut text = serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"));
        text.remove(0);
        text
    }
}

/// The event id a tail starts with (`"eventId":"…"`, as [`EventBody::render_tail`] writes it), for logs and
/// traces; `None` for anything else (a ping's or a pruned payload).
pub fn tail_event_id(tail: &[u8]) -> Option<&str> {
    let rest = tail.strip_prefix(b"\"eventId\":\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// The exact bytes of attempt number `attempt` of a payload whose tail is `tail`.
pub fn with_attempt(tail: &[u8], attempt: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(tail.len() + 24);
    out.extend_from_slice(b"{\"SendAttempts\":");
    out.extend_from_slice(attempt.to_string().as_bytes());
    if tail != b"}" {
        out.push(b',');
    }
    out.extend_from_slice(tail);
    out
}

/// An event's payload as the receiver gets it on the first attempt (`SendAttempts: 1`), as JSON, for payload
/// filters (contract §9.2). It is parsed from those very bytes, so a filter sees what is sent; and only when a
/// filter first asks for it, so an event that no filtered webhook receives costs nothing more.
pub struct FirstAttempt<'a> {
    tail: &'a str,
    value: OnceCell<Option<Value>>,
}

impl<'a> FirstAttempt<'a> {
    pub fn new(tail: &'a str) -> Self {
        Self { tail, value: OnceCell::new() }
    }

    /// The payload, parsed at most once; `None` if the tail is not a payload's (then no filter matches it).
    pub fn value(&self) -> Option<&Value> {
        self.value.get_or_init(|| serde_json::from_slice(&with_attempt(self.tail.as_bytes(), 1)).ok()).as_ref()
    }

    /// Whether it was parsed (for tests and measurements).
    pub fn is_parsed(&self) -> bool {
        self.value.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_modified_topic_with_both_sides_carries_a_diff() {
        let topic = |id: &str| crate::topics::find(id).expect("a topic");
        let old: Entity = serde_json::from_value(json!({"status": "pending", "x": 1})).unwrap();
        let new: Entity = serde_json::from_value(json!({"status": "accepted", "x": 1})).unwrap();
        assert_eq!(
            event_diff(topic("offers.modified"), Some(&old), Some(&new)),
            Some(serde_json::from_value(json!({"status": ["pending", "accepted"]})).unwrap())
        );
        assert_eq!(event_diff(topic("offers.accepted"), Some(&old), Some(&new)), None);
        assert_eq!(event_diff(topic("offers.modified"), Some(&old), None), None, "a deletion");
        assert_eq!(event_diff(topic("offers.created"), None, Some(&new)), None);
    }

    #[test]
    fn the_first_attempt_is_parsed_from_the_bytes_sent_and_only_when_asked() {
        let new: Entity = json!({"id": "RPT1", "n": 1.5}).as_object().cloned().unwrap().into();
        let body = EventBody {
            event_id: "e1",
            entity_id: Some("RPT1"),
            customer_id: "RPT",
            event_time: "2020-05-13T09:33:16.8811358Z",
            topic_id: "contacts.created",
            new: Some(&new),
            old: None,
            diff: None,
        };
        let tail = body.render_tail();
        let first = FirstAttempt::new(&tail);
        assert!(!first.is_parsed());
        let v = first.value().unwrap();
        assert_eq!(v, &serde_json::from_slice::<Value>(&with_attempt(tail.as_bytes(), 1)).unwrap());
        assert_eq!(v["SendAttempts"], 1);
        assert_eq!(v["new"]["n"], 1.5);
        assert!(first.is_parsed());
        assert_eq!(FirstAttempt::new("not json").value(), None);
    }

    #[test]
    fn the_event_id_is_read_back_from_a_tail() {
        let body = EventBody {
            event_id: "0190b5a0-0000-7000-8000-000000000001",
            entity_id: None,
            customer_id: "RPT",
            event_time: "2026-01-01T00:00:00.0000000Z",
            topic_id: "contacts.created",
            new: None,
            old: None,
            diff: None,
        };
        assert_eq!(tail_event_id(body.render_tail().as_bytes()), Some("0190b5a0-0000-7000-8000-000000000001"));
        assert_eq!(tail_event_id(b"}"), None);
        assert_eq!(tail_event_id(b""), None);
    }

    #[test]
    fn attempt_number_comes_first_and_the_rest_is_unchanged() {
        let new: Entity = json!({"id": "RPT1", "b": 1, "a": 2}).as_object().cloned().unwrap().into();
        let body = EventBody {
            event_id: "e1",
            entity_id: Some("RPT1"),
            customer_id: "RPT",
            event_time: "2020-05-13T09:33:16.8811358Z",
            topic_id: "contacts.created",
            new: Some(&new),
            old: None,
            diff: None,
        };
        let tail = body.render_tail();
        let bytes = with_attempt(tail.as_bytes(), 3);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            r#"{"SendAttempts":3,"eventId":"e1","entityId":"RPT1","customerId":"RPT","eventTime":"2020-05-13T09:33:16.8811358Z","topicId":"contacts.created","new":{"id":"RPT1","b":1,"a":2},"old":null,"diff":null}"#
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["SendAttempts"], 3);
    }
}
