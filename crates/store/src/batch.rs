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
