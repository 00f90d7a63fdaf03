//! Operational events (contract §9.4): what Herald tells an application about its own webhooks.
//!
//! Three topics with no scope: `webhooks.failing`, `webhooks.disabled` and `webhooks.recovered`. This module decides
//! when a batch of attempts makes a webhook's failing streak start or end ([`transitions`]), who receives the event
//! ([`recipients`]) and what its payload is ([`OperationalBody`]). Storing the transition with its event, in the same
//! transaction as the attempt that causes it, is the store's part; the store passes in every fact and instant.

use serde::Serialize;

use crate::WebhookId;

pub const FAILING: &str = "webhooks.failing";
pub const DISABLED: &str = "webhooks.disabled";
pub const RECOVERED: &str = "webhooks.recovered";

/// Each operational topic's rule in one sentence, as `docs/TOPICS.md` states it (a unit test in `rules.rs` holds
/// the two together).
pub const RULES: [(&str, &str); 3] = [
    (
        DISABLED,
        "Herald disabled one of the application's webhooks automatically (its attempts failed for longer than \
         `--auto-disable-after`); sent to the application's other webhooks.",
    ),
    (
        FAILING,
        "A delivery to one of the application's webhooks died (retries exhausted) or failed for good, the first time \
         since that webhook's last success; sent to the application's other webhooks.",
    ),
    (
        RECOVERED,
        "A webhook that was failing (or disabled) delivered an event successfully again; sent to the application's \
         other webhooks.",
    ),
];

/// The rule of an operational topic; `None` for every other id.
pub fn rule_for(topic_id: &str) -> Option<&'static str> {
    RULES.iter().find(|(t, _)| *t == topic_id).map(|(_, r)| *r)
}

/// Whether `topic_id` is one of the three operational topics.
pub fn is_operational(topic_id: &str) -> bool {
    rule_for(topic_id).is_some()
}

/// A change of a webhook's failing state that Herald announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A failing streak starts: announced once, until the webhook recovers.
    Failing,
    /// Herald disabled the webhook (a failing streak, announced if it was not already).
    Disabled,
    /// The announced streak ends with a success.
    Recovered,
}

impl Transition {
    pub fn topic(self) -> &'static str {
        match self {
            Self::Failing => FAILING,
            Self::Disabled => DISABLED,
            Self::Recovered => RECOVERED,
        }
    }
}

/// What one attempt means for its webhook's failing streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The delivery was delivered (a 2xx). A ping is not a delivery: its attempts are [`Step::Neither`].
    Delivered,
    /// The delivery ended without being delivered: dead (retries exhausted) or failed for good (4xx, refused).
    Ended,
    /// Anything else: a retryable failure with retries left, or a ping.
    Neither,
}

/// The transitions a webhook goes through over its attempts of one batch, in order, from `announced` (whether its
/// failing streak was announced already): `(index of the attempt that causes it, transition)`. At most one
/// `Failing` per streak, one `Recovered` when it ends.
pub fn transitions(mut announced: bool, steps: impl IntoIterator<Item = (usize, Step)>) -> Vec<(usize, Transition)> {
    let mut out = Vec::new();
    for (i, step) in steps {
        match step {
            Step::Ended if !announced => {
                announced = true;
                out.push((i, Transition::Failing));
            }
            Step::Delivered if announced => {
                announced = false;
                out.push((i, Transition::Recovered));
            }
            _ => {}
        }
    }
    out
}

/// The webhooks that receive an operational event about webhook `about` of an application: among `candidates` (the
/// application's active, not deleted webhooks, with their topic ids), those subscribed to `topic`, whatever their
/// customers, never `about` itself.
pub fn recipients<'a>(
    about: WebhookId,
    topic: &str,
    candidates: impl IntoIterator<Item = (WebhookId, &'a [String])>,
) -> Vec<WebhookId> {
    candidates
        .into_iter()
        .filter(|(id, topics)| *id != about && topics.iter().any(|t| t == topic))
        .map(|(id, _)| id)
        .collect()
}

/// The attempt an operational event reports (`new.lastAttempt`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LastAttempt {
    /// RFC 3339, when the attempt started.
    pub time_stamp: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub topic_id: String,
    pub event_id: String,
}

/// The webhook as an operational event shows it (`new`): its state once the transition happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookState {
    pub webhook_id: String,
    pub url: String,
    /// RFC 3339; `null` once the webhook recovered.
    pub failing_since: Option<String>,
    pub disabled_reason: Option<String>,
    pub last_attempt: Option<LastAttempt>,
}

/// The payload of an operational event but `SendAttempts`, in the order of contract §8.1: `customerId` is `null`,
/// `entityId` the webhook's id, `old` and `diff` `null`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationalBody<'a> {
    pub event_id: &'a str,
    pub entity_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub event_time: &'a str,
    pub topic_id: &'a str,
    pub new: &'a WebhookState,
    pub old: Option<()>,
    pub diff: Option<()>,
}

impl OperationalBody<'_> {
    /// The payload's tail, as [`crate::payload::EventBody::render_tail`] writes it: `"eventId":"…",…}`.
    pub fn render_tail(&self) -> String {
        // Serialising strings and options cannot fail.
        let mut text = serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"));
        text.remove(0);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    use Step::*;
    use Transition::*;

    fn steps(s: &[Step]) -> Vec<(usize, Step)> {
        s.iter().copied().enumerate().collect()
    }

    #[test]
    fn a_streak_is_announced_once_and_its_end_once() {
        assert_eq!(transitions(false, steps(&[Neither, Ended, Neither, Ended, Ended])), vec![(1, Failing)]);
        assert_eq!(transitions(true, steps(&[Ended, Neither])), vec![]);
        assert_eq!(transitions(true, steps(&[Neither, Delivered, Delivered])), vec![(1, Recovered)]);
        assert_eq!(transitions(false, steps(&[Delivered, Neither])), vec![], "nothing to recover from");
        assert_eq!(
            transitions(false, steps(&[Ended, Delivered, Ended])),
            vec![(0, Failing), (1, Recovered), (2, Failing)]
        );
    }

    #[test]
    fn recipients_are_the_subscribed_webhooks_but_the_one_the_event_is_about() {
        let (a, b, c) = (WebhookId(Uuid::from_u128(1)), WebhookId(Uuid::from_u128(2)), WebhookId(Uuid::from_u128(3)));
        let all = [FAILING.to_string(), RECOVERED.to_string()];
        let other = ["contacts.created".to_string()];
        let got = recipients(a, FAILING, [(a, &all[..]), (b, &all[..]), (c, &other[..])]);
        assert_eq!(got, vec![b]);
        assert_eq!(recipients(a, DISABLED, [(a, &all[..]), (b, &all[..])]), vec![]);
    }

    #[test]
    fn the_payload_has_the_contracts_fields_in_order() {
        let state = WebhookState {
            webhook_id: "w".into(),
            url: "https://x".into(),
            failing_since: Some("2026-01-01T00:00:00Z".into()),
            disabled_reason: None,
            last_attempt: Some(LastAttempt {
                time_stamp: "2026-01-01T00:00:01.000Z".into(),
                status_code: Some(500),
                error: None,
                topic_id: "contacts.created".into(),
                event_id: "e".into(),
            }),
        };
        let tail = OperationalBody {
            event_id: "ev",
            entity_id: "w",
            customer_id: None,
            event_time: "t",
            topic_id: FAILING,
            new: &state,
            old: None,
            diff: None,
        }
        .render_tail();
        let bytes = crate::payload::with_attempt(tail.as_bytes(), 1);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"SendAttempts": 1, "eventId": "ev", "entityId": "w", "customerId": null, "eventTime": "t",
                "topicId": FAILING, "old": null, "diff": null,
                "new": {"webhookId": "w", "url": "https://x", "failingSince": "2026-01-01T00:00:00Z",
                    "disabledReason": null, "lastAttempt": {"timeStamp": "2026-01-01T00:00:01.000Z",
                    "statusCode": 500, "error": null, "topicId": "contacts.created", "eventId": "e"}}})
        );
        assert!(tail.starts_with("\"eventId\":\"ev\",\"entityId\":\"w\",\"customerId\":null,"));
    }

    #[test]
    fn every_operational_topic_is_in_the_catalogue_without_a_scope() {
        for (topic, _) in RULES {
            let t = crate::topics::find(topic).unwrap_or_else(|| panic!("{topic} is not in the catalogue"));
            assert_eq!((t.scope, t.entity_type), (None, None), "{topic}");
        }
        assert!(is_operational(FAILING) && !is_operational("application.install"));
    }
}
