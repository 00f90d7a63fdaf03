//! Fresh deliveries handed to this node's engine in memory, without a claim round trip through the store.
//!
//! `POST /changes` asks the engine for room before it stores its deliveries ([`crate::EngineHandle::reserve`]). The
//! deliveries that get room are stored already held by this node (`owner`), exactly as a claim would leave them,
//! and handed over once the transaction committed; the rest are stored unheld and found by the next claim. The
//! counts here are of every delivery the engine holds, fresh or claimed, so that a webhook's queue stays bounded
//! whichever way its deliveries arrive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_domain::WebhookId;
use herald_store::{ClaimedDelivery, EntityOrder, NewEvent, Sequenced};
use tokio::sync::mpsc;

/// How many times its in-flight bound a webhook may have queued in the engine (512 at the default 16): a quarter of
/// what the engine holds at the default bounds, so that one webhook's backlog leaves room for the others. A busy
/// webhook's fresh deliveries past it are stored unheld and claimed back, one more write each: at 8 times, most
/// deliveries of one webhook taking 20 changes per request went that way (docs/PERFORMANCE.md).
pub(crate) const QUEUE_PER_WEBHOOK: usize = 32;

pub(crate) struct Intake {
    state: Mutex<Counts>,
    tx: mpsc::UnboundedSender<Vec<ClaimedDelivery>>,
    node_id: String,
    max_total: usize,
    max_per_webhook: usize,
}

#[derive(Default)]
struct Counts {
    /// Whether the engine's loop runs and takes deliveries.
    open: bool,
    total: usize,
    by_webhook: HashMap<WebhookId, usize>,
}

impl Counts {
    fn add(&mut self, w: WebhookId) {
        self.total += 1;
        *self.by_webhook.entry(w).or_default() += 1;
    }

    fn remove(&mut self, w: WebhookId) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_webhook.get_mut(&w) {
            *n -= 1;
            if *n == 0 {
                self.by_webhook.remove(&w);
            }
        }
    }
}

impl Intake {
    pub(crate) fn new(
        node_id: String,
        max_in_flight: usize,
        per_webhook: usize,
    ) -> (Self, mpsc::UnboundedReceiver<Vec<ClaimedDelivery>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let intake = Self {
            state: Mutex::new(Counts::default()),
            tx,
            node_id,
            max_total: max_in_flight.max(1) * 4,
            max_per_webhook: per_webhook.max(1) * QUEUE_PER_WEBHOOK,
        };
        (intake, rx)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_open(&self, open: bool) {
        self.counts().open = open;
    }

    /// The engine took deliveries (of these webhooks) by a claim.
    pub(crate) fn claimed(&self, webhooks: &[WebhookId]) {
        let mut c = self.counts();
        webhooks.iter().for_each(|w| c.add(*w));
    }

    /// The engine is done with a delivery (attempted, or dropped at shutdown).
    pub(crate) fn done(&self, w: WebhookId) {
        self.counts().remove(w);
    }

    /// Marks each delivery the engine has room for as held by this node; returns what was reserved.
    pub(crate) fn reserve(self: &Arc<Self>, events: &mut [NewEvent]) -> Reservation {
        let mut c = self.counts();
        let mut webhooks = Vec::new();
        if c.open {
            for d in events.iter_mut().flat_map(|e| e.deliveries.iter_mut()) {
                let queued = c.by_webhook.get(&d.webhook_id).copied().unwrap_or(0);
                if d.owner.is_none() && c.total < self.max_total && queued < self.max_per_webhook {
                    c.add(d.webhook_id);
                    d.owner = Some(self.node_id.clone());
                    webhooks.push(d.webhook_id);
                }
            }
        }
        Reservation { intake: self.clone(), webhooks }
    }
}

/// Room in the engine for deliveries about to be stored as held by this node. Hand them over once stored; dropped
/// without that (the store refused them), the room is given back.
#[must_use = "hand the deliveries over once stored, or drop the reservation"]
pub struct Reservation {
    intake: Arc<Intake>,
    webhooks: Vec<WebhookId>,
}

impl Reservation {
    /// Whether any delivery of the events is left for a claim (stored unheld): the engine should then be woken.
    pub fn leaves_work_to_claim(&self, events: &[NewEvent]) -> bool {
        events.iter().flat_map(|e| &e.deliveries).any(|d| d.owner.is_none())
    }

    /// Gives the engine the deliveries reserved in `events`, which are now stored. `sequenced` is what the store
    /// decided for the ordered ones, in order: one that waits for an earlier delivery of its entity was stored
    /// unheld, so it is not handed over (its room goes back), and the others carry their sequence.
    pub fn hand_over(mut self, events: &[NewEvent], sequenced: &[Sequenced]) {
        let mut batch = Vec::with_capacity(self.webhooks.len());
        let mut sequenced = sequenced.iter();
        for e in events {
            let mut body: Option<Arc<str>> = None;
            for d in &e.deliveries {
                let placed = match &d.entity_key {
                    Some(key) => sequenced.next().map(|s| (key, s)),
                    None => None,
                };
                if d.owner.as_deref() != Some(self.intake.node_id.as_str()) {
                    continue;
                }
                if let Some((_, s)) = placed.filter(|(_, s)| s.waiting) {
                    debug_assert_eq!(s.delivery, d.id);
                    self.give_back(d.webhook_id);
                    continue;
                }
                let body = body.get_or_insert_with(|| Arc::from(e.body.as_str())).clone();
                batch.push(ClaimedDelivery {
                    id: d.id,
                    event: e.id,
                    webhook_id: d.webhook_id,
                    application_id: d.application_id,
                    sandbox: d.sandbox,
                    attempts: 0,
                    body,
                    order: placed.map(|(key, s)| EntityOrder { key: key.clone(), sequence: s.sequence }),
                });
            }
        }
        if batch.is_empty() {
            return;
        }
        // Once sent, the engine owns the counts: it gives them back as it finishes each delivery.
        match self.intake.tx.send(batch) {
            Ok(()) => self.webhooks.clear(),
            // The engine stopped meanwhile: its claims are released when it stops (or expire with its lease), and
            // the deliveries are claimed again after; the counts go back when this reservation drops.
            Err(_) => tracing::debug!("the delivery engine stopped before fresh deliveries were handed over"),
        }
    }
}

impl Reservation {
    /// Gives back the room of one delivery of `webhook` that is not handed over after all.
    fn give_back(&mut self, webhook: WebhookId) {
        if let Some(i) = self.webhooks.iter().position(|w| *w == webhook) {
            self.webhooks.swap_remove(i);
            self.intake.counts().remove(webhook);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.webhooks.is_empty() {
            return;
        }
        let mut c = self.intake.counts();
        self.webhooks.iter().for_each(|w| c.remove(*w));
    }
}
