//! Ping (contract §5.3): one synchronous, signed attempt with the topic's example payload, never retried, recorded
//! in the logs like any other attempt.

use chrono::{DateTime, Utc};
use herald_delivery::Target;
use herald_domain::examples::example_change;
use herald_domain::payload::{event_diff, with_attempt, EventBody};
use herald_domain::time::{format_event_time, parse_rfc3339};
use herald_domain::{topics, DeliveryId, EventId, Topic, WebhookId, PING_CUSTOMER, PING_ENTITY_ID};
use herald_store::{AttemptRecord, DeliveryState, NewDelivery, NewEvent};

use serde::Deserialize;
use utoipa::ToSchema;

use crate::input::{topic_id, Errors, Field};
use crate::models::PingOut;
use crate::*;

/// `POST /webhooks/subscriptions/{id}/ping`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PingModel, rename_all = "camelCase")]
pub struct PingIn {
    /// One of the webhook's `topicIds`.
    #[serde(default)]
    #[schema(schema_with = topic_id, required = true)]
    pub topic_id: Field<String>,
}

/// The example's fixed event id and time, so that the catalogue's `example` is stable.
const EXAMPLE_EVENT_ID: &str = "9e7e4181-6210-49ea-abf5-d5ce16d23647";
const EXAMPLE_EVENT_TIME: &str = "2020-05-13T09:33:16.8811358Z";

/// The tail (payload without `SendAttempts`) of the example event of `topic`.
fn example_tail(topic: &Topic, event_id: &str, event_time: &str) -> String {
    let (old, new) = example_change(topic);
    let d = event_diff(topic, old.as_ref(), new.as_ref());
    let entity_id = if topic.entity_type.is_some() { Some(PING_ENTITY_ID) } else { None };
    EventBody {
        event_id,
        entity_id,
        customer_id: PING_CUSTOMER,
        event_time,
        topic_id: topic.id,
        new: new.as_ref(),
        old: old.as_ref(),
        diff: d.as_ref(),
    }
    .render_tail()
}

/// The bytes of the example payload of `topic` as a first attempt; with `at`, for that event id and time.
pub fn example_payload(topic: &Topic, at: Option<(EventId, DateTime<Utc>)>) -> Vec<u8> {
    let tail = match at {
        Some((id, t)) => example_tail(topic, &id.to_string(), &format_event_time(t)),
        None => example_tail(topic, EXAMPLE_EVENT_ID, EXAMPLE_EVENT_TIME),
    };
    with_attempt(tail.as_bytes(), 1)
}

impl Herald {
    pub async fn ping(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
        input: PingIn,
    ) -> ServiceResult<PingOut> {
        let hook = self.webhook_record(who, scope, id).await?;
        let mut f = Errors::default();
        let topic_id = f.required_str("topicId", &input.topic_id, 100);
        f.finish()?;
        let topic_id = topic_id.unwrap_or_default();
        let topic = match topics::find(&topic_id) {
            Some(t) if hook.topic_ids.contains(&topic_id) => t,
            Some(_) => return Err(ServiceError::field("topicId", "is not one of the webhook's topics")),
            None => return Err(ServiceError::field("topicId", format!("unknown topic {topic_id:?}"))),
        };
        let app = self.inner.store.get_application(hook.application_id).await?;
        let now = self.now();
        let target = Target::from_records(&hook, &app, now).map_err(|e| ServiceError::Internal(e.into()))?;
        let event_id = EventId(new_uuid_v7());
        let tail = example_tail(topic, &event_id.to_string(), &format_event_time(now));
        let delivery = DeliveryId(new_uuid_v7());
        let payload = with_attempt(tail.as_bytes(), 1);
        let result = self.inner.engine.send_now(&target, delivery, payload.into()).await;
        let success = result.outcome.is_success();
        // A ping's delivery is closed for good whatever its outcome: never retried and never replayed (replay looks
        // at delivered, failed and dead deliveries); its attempt is in the logs like any other.
        let state = DeliveryState::Cancelled;
        let event = NewEvent {
            id: new_uuid_v7(),
            event_id,
            topic_id: topic.id.to_string(),
            customer_id: PING_CUSTOMER.to_string(),
            entity_id: topic.entity_type.map(|_| PING_ENTITY_ID.to_string()),
            event_time: parse_rfc3339(&format_event_time(now)).unwrap_or(now),
            body: tail,
            deliveries: vec![NewDelivery {
                id: delivery,
                webhook_id: hook.id,
                application_id: hook.application_id,
                sandbox: false,
                state,
                next_attempt_at: None,
                owner: None,
                entity_key: None,
            }],
        };
        let out = PingOut {
            success,
            status_code: result.outcome.status_code(),
            duration_ms: result.duration.as_millis() as u64,
            error: result.outcome.error(),
        };
        let record = AttemptRecord {
            delivery_id: delivery,
            event: event.id,
            webhook_id: hook.id,
            application_id: hook.application_id,
            attempt: 1,
            started: now,
            duration_ms: out.duration_ms,
            outcome: result.outcome.kind().to_string(),
            status_code: out.status_code,
            error: out.error.clone(),
            response: result.response,
            retry_after: result.retry_after.map(|r| r.raw),
            url: hook.url.clone(),
            new_state: state,
            next_attempt_at: None,
            success,
            entity_key: None,
        };
        self.inner.store.insert_events(&[event], None, now).await?;
        self.inner.store.record_attempts(&[record]).await?;
        Ok(out)
    }
}
