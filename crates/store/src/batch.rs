//! Rules both backends share: how a batch of attempt records is shaped for set-based writes, and when a claim
//! switches to its per-webhook plan.

use std::collections::HashMap;

use herald_domain::{DeliveryId, WebhookId};

use crate::codec::micros;
use crate::AttemptRecord;

/// What a batch of attempts does to one webhook's health, folded in the batch's order: the latest success, and the
/// first failure after the last success (or in the batch, with no success).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Microseconds of the latest successful attempt's start; `None` when the batch holds no success.
    pub success: Option<i64>,
    /// Microseconds of the first failed attempt after the last success (the webhook's new `failing_since` when a
    /// success reset it, else its `failing_since` if it had none).
    pub failing: Option<i64>,
}

/// Each webhook's [`Health`] after `attempts`, sorted by webhook id (the order rows are locked in).
pub fn health(attempts: &[AttemptRecord]) -> Vec<(WebhookId, Health)> {
    let mut by_hook: HashMap<WebhookId, Health> = HashMap::new();
    for a in attempts {
        let h = by_hook.entry(a.webhook_id).or_default();
        let started = micros(a.started);
        if a.success {
            h.success = Some(h.success.map_or(started, |s| s.max(started)));
            h.failing = None;
        } else if h.failing.is_none() {
            h.failing = Some(started);
        }
    }
    let mut hooks: Vec<(WebhookId, Health)> = by_hook.into_iter().collect();
    hooks.sort_by_key(|(id, _)| *id);
    hooks
}

/// The attempts in rounds: a delivery appearing more than once in a batch has its attempts applied in order, one
/// per round, so that each round updates a delivery at most once.
pub fn rounds(attempts: &[AttemptRecord]) -> Vec<Vec<&AttemptRecord>> {
    let mut rounds: Vec<Vec<&AttemptRecord>> = Vec::new();
    let mut seen: HashMap<DeliveryId, usize> = HashMap::new();
    for a in attempts {
        let n = seen.entry(a.delivery_id).or_insert(0);
        if rounds.len() <= *n {
            rounds.push(Vec::new());
        }
        rounds[*n].push(a);
        *n += 1;
    }
    rounds
}

/// When the attempt ended: the delivery's `updated`.
pub fn ended(a: &AttemptRecord) -> i64 {
    micros(a.started + chrono::Duration::milliseconds(a.duration_ms as i64))
}

/// How far past its `limit` a claim walks the due deliveries in time order looking for ones not excluded, before it
/// looks webhook by webhook instead.
const CLAIM_WINDOW_SLACK: u32 = 1_024;

/// The rows a claim's probe reads in time order: `limit` plus the slack.
pub fn claim_window(limit: u32) -> i64 {
    i64::from(limit.saturating_add(CLAIM_WINDOW_SLACK))
}

/// Whether a probe that read `seen` of the earliest due rows (at most [`claim_window`]), `usable` of them not
/// excluded, shows a window blocked by excluded webhooks' backlog: the claim then takes the per-webhook plan.
pub fn window_blocked(seen: i64, usable: i64, limit: u32) -> bool {
    seen >= claim_window(limit) && usable < i64::from(limit)
}

/// One ordered row of a batch of new deliveries: its webhook and entity key.
pub type OrderKey<'a> = (WebhookId, &'a str);

/// The order key of each new delivery (`None` for one that is not ordered), in the batch's order.
pub fn order_keys<'a>(
    rows: &[(uuid::Uuid, &'a crate::NewDelivery, chrono::DateTime<chrono::Utc>)],
) -> Vec<Option<OrderKey<'a>>> {
    rows.iter().map(|(_, d, _)| d.entity_key.as_deref().map(|k| (d.webhook_id, k))).collect()
}

/// How many new deliveries each key gets, sorted by key: the order the store locks the keys' rows in, so that two
/// transactions adding to the same keys cannot deadlock.
pub fn order_counts<'a>(keys: &[Option<OrderKey<'a>>]) -> Vec<(OrderKey<'a>, i64)> {
    let mut counts = herald_domain::ordering::counts(keys);
    counts.sort_unstable();
    counts
}

/// Places each ordered delivery of a batch ([`herald_domain::ordering::place`]) from what the store answered: each
/// key's last sequence after adding its count (`last`), and the keys that had an open delivery before the batch.
pub fn placements<'a>(
    keys: &[Option<OrderKey<'a>>],
    counts: &[(OrderKey<'a>, i64)],
    last: &HashMap<OrderKey<'a>, i64>,
    open: &std::collections::HashSet<OrderKey<'a>>,
) -> Vec<Option<herald_domain::ordering::Placement>> {
    use herald_domain::ordering::{place, KeyState};
    let mut before: HashMap<OrderKey<'a>, KeyState> = counts
        .iter()
        .map(|(k, n)| (*k, KeyState { last: last.get(k).copied().unwrap_or(*n) - n, open: open.contains(k) }))
        .collect();
    place(keys, &mut before)
}

/// A new delivery as stored: its state, due time and holder after its placement (a waiting delivery is neither
/// due nor held), and its sequence.
pub fn placed_row(
    d: &crate::NewDelivery,
    placement: Option<herald_domain::ordering::Placement>,
) -> (crate::DeliveryState, Option<i64>, Option<&str>, Option<i64>) {
    match placement {
        Some(p) if p.waiting => (crate::DeliveryState::Waiting, None, None, Some(p.sequence)),
        p => (d.state, d.next_attempt_at.map(micros), d.owner.as_deref(), p.map(|p| p.sequence)),
    }
}

/// What the caller learns of its ordered deliveries, in the batch's order.
pub fn sequenced(
    rows: &[(uuid::Uuid, &crate::NewDelivery, chrono::DateTime<chrono::Utc>)],
    placed: &[Option<herald_domain::ordering::Placement>],
) -> Vec<crate::Sequenced> {
    rows.iter()
        .zip(placed)
        .filter_map(|((_, d, _), p)| {
            p.map(|p| crate::Sequenced { delivery: d.id, sequence: p.sequence, waiting: p.waiting })
        })
        .collect()
}

/// The keys of the ordered deliveries that ended in a batch of attempts (delivered, failed, dead), each with the
/// time its attempt ended, sorted by key (the order their rows are locked in): for each, the next waiting delivery
/// of its entity becomes due then, if nothing else of it is pending.
pub fn ended_keys(attempts: &[AttemptRecord]) -> Vec<(OrderKey<'_>, i64)> {
    let mut keys: HashMap<OrderKey<'_>, i64> = HashMap::new();
    for a in attempts.iter().filter(|a| a.new_state != crate::DeliveryState::Pending) {
        if let Some(key) = a.entity_key.as_deref() {
            let at = keys.entry((a.webhook_id, key)).or_insert(i64::MIN);
            *at = (*at).max(ended(a));
        }
    }
    let mut keys: Vec<(OrderKey<'_>, i64)> = keys.into_iter().collect();
    keys.sort_unstable();
    keys
}
