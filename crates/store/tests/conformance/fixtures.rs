//! Records to store, built with unique ids and keys, at instants with whole microseconds (what the store keeps).

use chrono::{DateTime, Duration, TimeZone, Utc};
use herald_domain::{ApplicationId, DeliveryId, EventId, InstallationId, WebhookId};
use herald_store::*;
use uuid::Uuid;

/// `secs` seconds after a fixed origin (2030-01-01T00:00:00Z).
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid instant") + Duration::seconds(secs)
}

pub fn app_at(created: DateTime<Utc>) -> ApplicationRecord {
    let id = Uuid::new_v4();
    ApplicationRecord {
        id: ApplicationId(id),
        client_id: format!("client-{}", id.simple()),
        name: "Lettings Pro".into(),
        scopes: vec!["contacts.read".into(), "properties.read".into()],
        api_key_hash: format!("hash-{}", id.simple()),
        signing_seed: id.as_bytes().to_vec(),
        created,
        modified: created,
    }
}

pub fn installation(app: &ApplicationRecord, customer: &str, created: DateTime<Utc>) -> InstallationRecord {
    InstallationRecord {
        id: InstallationId(Uuid::new_v4()),
        application_id: app.id,
        customer_id: customer.into(),
        customer_name: Some(format!("{customer} Estates")),
        customer_email: None,
        created,
        terminated: None,
    }
}

pub fn webhook(app: &ApplicationRecord, customers: &[&str], created: DateTime<Utc>) -> WebhookRecord {
    WebhookRecord {
        id: WebhookId(Uuid::new_v4()),
        application_id: app.id,
        url: "https://example.com/hook".into(),
        description: Some("a test hook".into()),
        topic_ids: vec!["contacts.created".into(), "contacts.modified".into()],
        customer_ids: customers.iter().map(|c| c.to_string()).collect(),
        active: true,
        ignore_etag_only_changes: true,
        ordered: false,
        rate_limit: None,
        secret: "whsec_c2VjcmV0".into(),
        previous_secret: None,
        previous_secret_expires: None,
        disabled_reason: None,
        last_success: None,
        failing_since: None,
        failing_announced: None,
        created,
        modified: created,
        filter: None,
    }
}

/// An application with one active webhook for every installed customer, both stored.
pub async fn seed(store: &dyn Store) -> (ApplicationRecord, WebhookRecord) {
    let app = app_at(t(0));
    store.insert_application(&app).await.expect("application stored");
    let hook = webhook(&app, &[], t(1));
    store.insert_webhook(&hook).await.expect("webhook stored");
    (app, hook)
}

pub fn event(customer: &str, topic: &str, deliveries: Vec<NewDelivery>) -> NewEvent {
    NewEvent {
        id: Uuid::new_v4(),
        event_id: EventId(Uuid::new_v4()),
        topic_id: topic.into(),
        customer_id: customer.into(),
        entity_id: Some(format!("ENT{}", &Uuid::new_v4().simple().to_string()[..8])),
        event_time: t(0),
        body: format!("{{\"topicId\":\"{topic}\",\"customerId\":\"{customer}\"}}"),
        deliveries,
    }
}

/// A pending delivery to `hook`, due at `at`.
pub fn pending(hook: &WebhookRecord, at: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        id: DeliveryId(Uuid::new_v4()),
        webhook_id: hook.id,
        application_id: hook.application_id,
        sandbox: false,
        state: DeliveryState::Pending,
        next_attempt_at: Some(at),
        owner: None,
        entity_key: None,
    }
}

/// Stores one event with a pending delivery to `hook` due at `at`; returns the event.
pub async fn due(store: &dyn Store, hook: &WebhookRecord, at: DateTime<Utc>) -> NewEvent {
    let e = event("RPT", "contacts.created", vec![pending(hook, at)]);
    store.insert_events(std::slice::from_ref(&e), None, t(0)).await.expect("event stored");
    e
}

/// The attempt `attempt` of `delivery`, started at `started`, with its outcome.
pub fn attempt(delivery: &ClaimedDelivery, attempt: u32, started: DateTime<Utc>, outcome: Outcome) -> AttemptRecord {
    let (word, status, new_state, next, success) = match outcome {
        Outcome::Delivered => ("delivered", Some(200), DeliveryState::Delivered, None, true),
        Outcome::Retry(at) => ("failed", Some(503), DeliveryState::Pending, Some(at), false),
        Outcome::Rejected => ("rejected", Some(404), DeliveryState::Failed, None, false),
        Outcome::Dead => ("timeout", None, DeliveryState::Dead, None, false),
    };
    AttemptRecord {
        delivery_id: delivery.id,
        event: delivery.event,
        webhook_id: delivery.webhook_id,
        application_id: delivery.application_id,
        attempt,
        started,
        duration_ms: 250,
        outcome: word.into(),
        status_code: status,
        error: (!success).then(|| format!("{word} on attempt {attempt}")),
        response: status.map(|s| format!("answer {s}")),
        url: "https://example.com/hook".into(),
        new_state,
        next_attempt_at: next,
        success,
        entity_key: delivery.order.as_ref().map(|o| o.key.clone()),
        retry_after: None,
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Delivered,
    /// Failed, to be retried at this instant.
    Retry(DateTime<Utc>),
    /// Failed for good (a 4xx).
    Rejected,
    /// The last attempt failed.
    Dead,
}

pub fn page(number: u32, size: u32) -> Page {
    Page { number, size }
}

/// An idempotency key stored with `response` for a body whose hash is `body_hash`, expiring keys stored before
/// `expired_before`.
pub fn key<'a>(key: &'a str, body_hash: &'a str, response: &'a str, expired_before: DateTime<Utc>) -> Idempotency<'a> {
    Idempotency { key, body_hash, response, expired_before }
}

/// The response stored for an idempotency key younger than `since`.
pub async fn stored_response(store: &dyn Store, key: &str, since: DateTime<Utc>) -> Option<String> {
    store.get_idempotent_response(key, since).await.expect("idempotency key read").map(|a| a.response)
}
