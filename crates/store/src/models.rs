//! The records the store keeps and returns.

use chrono::{DateTime, Utc};
use herald_domain::routing::RouteWebhook;
use herald_domain::{ApplicationId, DeliveryId, EventId, InstallationId, WebhookId};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// SHA-256 of the API key, hex. The key itself is never stored.
    pub api_key_hash: String,
    /// The seed of the application's Ed25519 signing key.
    pub signing_seed: Vec<u8>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstallationRecord {
    pub id: InstallationId,
    pub application_id: ApplicationId,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub created: DateTime<Utc>,
    pub terminated: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct InstallationFilter {
    pub application_id: Option<ApplicationId>,
    pub customer_id: Option<String>,
    /// `Some(true)`: current installations only; `Some(false)`: terminated ones only.
    pub installed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub application_id: ApplicationId,
    pub url: String,
    pub description: Option<String>,
    pub topic_ids: Vec<String>,
    pub customer_ids: Vec<String>,
    pub active: bool,
    pub ignore_etag_only_changes: bool,
    /// Each entity's deliveries one after the other (contract §9.1).
    pub ordered: bool,
    /// At most this many attempts per second, over all nodes (contract §9.3); `None`: no limit.
    pub rate_limit: Option<u32>,
    /// The current Standard Webhooks secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_expires`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires: Option<DateTime<Utc>>,
    /// Why Herald deactivated the webhook, if it did.
    pub disabled_reason: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    /// When Herald last announced the webhook's failing streak (`webhooks.failing` or `webhooks.disabled`, contract
    /// §9.4); `None` while none is announced. Only the hot path and the upkeep write it.
    pub failing_announced: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// The payload filter (contract §9.2): a JSON Schema's compact JSON text, checked by the service before it is
    /// stored.
    pub filter: Option<String>,
}

/// A webhook whose failing streak was announced and that was not modified since (see `Store::webhook_alerts`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAlert {
    pub webhook_id: WebhookId,
    pub url: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    /// The webhook's latest attempt: when it started, its status code and its error.
    pub last_attempt: Option<(DateTime<Utc>, Option<u16>, Option<String>)>,
}

/// Why a webhook's deliveries may not all go now: a hold (a `Retry-After` received) and/or a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookGate {
    pub webhook_id: WebhookId,
    /// Every delivery waits until then.
    pub hold_until: Option<DateTime<Utc>>,
    /// Attempts per second at most.
    pub rate_limit: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookFilter {
    pub application_id: Option<ApplicationId>,
    pub active: Option<bool>,
    /// Only webhooks whose customer list is exactly this one customer (the `/resthooks` view).
    pub exact_customer: Option<String>,
    /// Sort by `modified` instead of `created`.
    pub by_modified: bool,
    pub descending: bool,
}

/// What the in-memory routing table is built from.
#[derive(Debug, Clone, Default)]
pub struct RoutingSnapshot {
    pub version: i64,
    pub webhooks: Vec<RouteWebhook>,
    pub scopes: Vec<(ApplicationId, Vec<String>)>,
    pub installations: Vec<(ApplicationId, String)>,
}

/// An `Idempotency-Key` stored with the events of the request that first used it.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    pub key: &'a str,
    /// SHA-256 of the request body, hex: a reuse of the key with another body is told apart by it.
    pub body_hash: &'a str,
    /// The answer given, replayed to retries.
    pub response: &'a str,
    /// A key stored before this instant has expired: storing it again replaces it instead of conflicting.
    pub expired_before: DateTime<Utc>,
}

/// What is stored for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    pub response: String,
    /// SHA-256 of the first request's body, hex; `None` for keys stored before Herald kept it.
    pub body_hash: Option<String>,
}

/// An event to store: one topic of one change, with the deliveries routing chose for it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: Uuid,
    pub event_id: EventId,
    pub topic_id: String,
    pub customer_id: String,
    pub entity_id: Option<String>,
    pub event_time: DateTime<Utc>,
    /// The payload without `SendAttempts` (see `herald_domain::payload`).
    pub body: String,
    pub deliveries: Vec<NewDelivery>,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub application_id: ApplicationId,
    pub sandbox: bool,
    /// `Pending` for a delivery the worker will attempt; a final state for a ping recorded after the fact.
    pub state: DeliveryState,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The node that holds the delivery from the moment it is stored, as if it had claimed it then (its delivery
    /// worker was handed the delivery in memory); `None` leaves it for whichever node claims it.
    pub owner: Option<String>,
    /// For a webhook with `ordered`: the entity the delivery is about ([`herald_domain::ordering::entity_key`]).
    /// The store gives it the entity's next sequence and stores it `Waiting` while an earlier delivery of the same
    /// entity to the same webhook is still open (see [`Sequenced`]).
    pub entity_key: Option<String>,
}

/// What the store decided for a new ordered delivery (one with an `entity_key`): its sequence, and whether it waits
/// for an earlier delivery of its entity (it is then stored `Waiting` and unheld, whatever its `owner` said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequenced {
    pub delivery: DeliveryId,
    pub sequence: i64,
    pub waiting: bool,
}

/// A delivery's state, kept as an `INTEGER` on both backends. SQL names a state through [`DeliveryState::sql`] (in
/// the text) or [`DeliveryState::code`] (bound), never as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending = 0,
    Delivered = 1,
    Failed = 2,
    Dead = 3,
    Cancelled = 4,
    /// An ordered delivery behind an earlier one of the same entity: not claimable until that one ends.
    Waiting = 5,
}

impl DeliveryState {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Pending,
            1 => Self::Delivered,
            2 => Self::Failed,
            3 => Self::Dead,
            4 => Self::Cancelled,
            5 => Self::Waiting,
            _ => return None,
        })
    }

    /// The number stored in `deliveries.state`, to bind.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The number stored in `deliveries.state`, as SQL text (`format!("… state = {}", Pending.sql())`).
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Pending => "0",
            Self::Delivered => "1",
            Self::Failed => "2",
            Self::Dead => "3",
            Self::Cancelled => "4",
            Self::Waiting => "5",
        }
    }

    /// The states of a delivery that has not ended (`pending`, `waiting`), as SQL text for `state IN (…)`.
    pub const OPEN_SQL: &'static str = "0, 5";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
            Self::Waiting => "waiting",
        }
    }
}

/// A delivery claimed by a worker: what it needs to make the next attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub event: Uuid,
    pub webhook_id: WebhookId,
    pub application_id: ApplicationId,
    pub sandbox: bool,
    /// Attempts made so far; the next one is `attempts + 1`.
    pub attempts: u32,
    /// The event's payload without `SendAttempts`, shared by every delivery of the event.
    pub body: std::sync::Arc<str>,
    /// The delivery's entity and place in its order, for a webhook with `ordered` (`herald-entity-sequence`).
    pub order: Option<EntityOrder>,
}

/// An ordered delivery's entity key ([`herald_domain::ordering::entity_key`]) and sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityOrder {
    pub key: String,
    pub sequence: i64,
}

#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub event: Uuid,
    pub event_id: EventId,
    pub topic_id: String,
    /// The event's customer.
    pub customer_id: String,
    pub webhook_id: WebhookId,
    pub application_id: ApplicationId,
    pub sandbox: bool,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// One attempt, and what becomes of its delivery.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    pub event: Uuid,
    pub webhook_id: WebhookId,
    pub application_id: ApplicationId,
    pub attempt: u32,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    /// A short machine word: delivered, rejected, failed, timeout, connect, blocked.
    pub outcome: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response: Option<String>,
    pub url: String,
    /// The delivery's state after this attempt.
    pub new_state: DeliveryState,
    /// When `new_state` is pending: the time of the next attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Whether the attempt succeeded (updates the webhook's health).
    pub success: bool,
    /// An ordered delivery's entity key: when the delivery ends, the next waiting one of its entity becomes due.
    pub entity_key: Option<String>,
    /// The `Retry-After` header of the answer (a `429` or `503`), as received.
    pub retry_after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub application_id: Option<ApplicationId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub topic_id: Option<String>,
    pub entity_id: Option<String>,
    pub event_id: Option<EventId>,
    pub webhook_id: Option<WebhookId>,
    pub customer_id: Option<String>,
    pub delivery_id: Option<DeliveryId>,
    /// Only successful (`Some(true)`) or failed (`Some(false)`) attempts.
    pub success: Option<bool>,
    pub limit: u32,
    /// Only the attempts listed after this one (newest first: older ones, or as old with a smaller row id).
    pub cursor: Option<AttemptCursor>,
    /// Read each record's payload (`body`) and `response`. Without it both are `None` and no payload column is read.
    pub bodies: bool,
    /// With `bodies`: stop before a record that would take the payload and response bytes of the records over
    /// this many; the first record always comes, however large. Only their lengths are read to decide.
    pub byte_budget: Option<u64>,
}

/// Where a page of attempts ended: the last record's start and row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCursor {
    pub started: DateTime<Utc>,
    pub id: i64,
}

/// A page of attempts, newest first.
#[derive(Debug, Clone)]
pub struct AttemptPage {
    pub records: Vec<AttemptLogRecord>,
    /// More attempts match the filter after these (the page was cut by `limit` or by the byte budget).
    pub more: bool,
}

/// One attempt as the logs show it.
#[derive(Debug, Clone)]
pub struct AttemptLogRecord {
    /// The attempt's row id: with `started`, its place in the logs.
    pub id: i64,
    pub delivery_id: DeliveryId,
    pub started: DateTime<Utc>,
    pub application_id: ApplicationId,
    pub webhook_id: WebhookId,
    pub url: String,
    pub topic_id: String,
    pub customer_id: String,
    pub entity_id: Option<String>,
    pub event_id: EventId,
    pub attempt: u32,
    pub outcome: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The `Retry-After` header of the answer, as received (a `429` or `503`).
    pub retry_after: Option<String>,
    /// The payload's tail (`None` once retention pruned it); the bytes sent are `with_attempt(body, attempt)`.
    pub body: Option<String>,
    pub response: Option<String>,
}

impl AttemptLogRecord {
    /// The cursor of the page that ends with this record.
    pub fn cursor(&self) -> AttemptCursor {
        AttemptCursor { started: self.started, id: self.id }
    }
}

/// Which of the records of `sizes` (payload and response bytes each, in order) a page with `budget` takes: the
/// longest prefix whose bytes stay within the budget, and never none.
pub fn within_budget(sizes: &[u64], budget: Option<u64>) -> usize {
    let Some(budget) = budget else { return sizes.len() };
    let mut total = 0u64;
    for (i, size) in sizes.iter().enumerate() {
        total = total.saturating_add(*size);
        if i > 0 && total > budget {
            return i;
        }
    }
    sizes.len()
}

/// An event a webhook may be sent again (see `Store::replay_candidates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCandidate {
    /// The event row.
    pub event: Uuid,
    pub application_id: ApplicationId,
    pub sandbox: bool,
    /// The event's topic and customer, so that the caller can tell whether the application may still receive it.
    pub topic_id: String,
    pub customer_id: String,
}

/// Figures for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Pending deliveries whose next attempt is due now (held or not).
    pub due: u64,
    /// Pending deliveries whose next attempt is in the future.
    pub scheduled: u64,
    /// Ordered deliveries waiting for an earlier delivery of their entity to end.
    pub waiting: u64,
    /// Active webhooks whose last attempts failed (`failing_since` set).
    pub failing_webhooks: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub event_bodies: u64,
    pub responses: u64,
    pub idempotency_keys: u64,
}

/// How `attempt_counts` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountGroup {
    /// UTC day, `YYYY-MM-DD`.
    Day,
    Customer,
    Topic,
    Webhook,
}

#[derive(Debug, Clone)]
pub struct CountFilter {
    pub application_id: Option<ApplicationId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub group_by: CountGroup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCount {
    pub key: String,
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
}

#[cfg(test)]
mod tests {
    use super::DeliveryState;

    #[test]
    fn a_state_renders_the_number_it_is_stored_as() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
            DeliveryState::Dead,
            DeliveryState::Cancelled,
            DeliveryState::Waiting,
        ] {
            assert_eq!(state.sql(), state.code().to_string());
            assert_eq!(DeliveryState::from_i64(state.code().into()), Some(state));
        }
        let open = format!("{}, {}", DeliveryState::Pending.sql(), DeliveryState::Waiting.sql());
        assert_eq!(DeliveryState::OPEN_SQL, open);
    }
}
