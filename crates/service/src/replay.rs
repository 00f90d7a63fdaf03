//! Replay (beyond the seed, asked for by its users): send a webhook the events it failed to get, or all of them in a
//! time window, again, as new deliveries (new delivery ids, attempts from 1, the same event ids).

use herald_domain::time::parse_rfc3339;
use herald_domain::{DeliveryId, WebhookId};
use herald_store::{DeliveryState, NewDelivery};
use serde::Serialize;

use crate::input::{object, Fields};
use crate::receivable::refusal;
use crate::*;

/// At most this many events are replayed by one call; the answer says when the window held more.
pub const MAX_REPLAY: u32 = 10_000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReplayResultModel)]
pub struct ReplayOut {
    /// How many events were (or, on a dry run, would be) sent again.
    pub events: u64,
    /// How many matching events were left out because the application may no longer receive them (the customer has
    /// no current installation, or the application no longer holds the topic's scope).
    pub refused: u64,
    pub dry_run: bool,
    /// More events matched than one call replays (`MAX_REPLAY`); call again with a later `from`.
    pub truncated: bool,
}

impl Herald {
    /// `{ from?, to?, status?: "failed" | "dead" | "all" (default "failed"), dryRun?: bool }`.
    pub async fn replay(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
        body: &[u8],
    ) -> ServiceResult<ReplayOut> {
        let hook = self.webhook_record(who, scope, id).await?;
        let obj = object(body)?;
        let mut f = Fields::new(&obj);
        let time = |name: &str, f: &mut Fields<'_>| {
            f.optional_str(name, 64).and_then(|t| match parse_rfc3339(&t) {
                Some(t) => Some(t),
                None => {
                    f.error(name, "must be an RFC 3339 date and time");
                    None
                }
            })
        };
        let from = time("from", &mut f);
        let to = time("to", &mut f);
        let states: &[DeliveryState] = match f.optional_str("status", 16).as_deref() {
            None | Some("failed") => &[DeliveryState::Failed, DeliveryState::Dead],
            Some("dead") => &[DeliveryState::Dead],
            Some("all") => &[DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Dead],
            Some(_) => {
                f.error("status", "must be failed, dead or all");
                &[]
            }
        };
        let dry_run = f.optional_bool("dryRun").unwrap_or(false);
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                f.error("to", "must not be before from");
            }
        }
        f.finish()?;
        let found = self.inner.store.replay_candidates(hook.id, from, to, states, MAX_REPLAY + 1).await?;
        let truncated = found.len() > MAX_REPLAY as usize;
        let window = &found[..found.len().min(MAX_REPLAY as usize)];
        let table = self.inner.routing.table().await?;
        let chosen: Vec<_> = window
            .iter()
            .filter(|c| {
                refusal(&table, c.application_id, &c.topic_id, &c.customer_id, Some(&hook.customer_ids)).is_none()
            })
            .collect();
        let refused = (window.len() - chosen.len()) as u64;
        if !dry_run && !chosen.is_empty() {
            let now = self.now();
            let rows: Vec<_> = chosen
                .iter()
                .map(|c| {
                    (
                        c.event,
                        NewDelivery {
                            id: DeliveryId(new_uuid_v7()),
                            webhook_id: hook.id,
                            application_id: c.application_id,
                            sandbox: c.sandbox,
                            state: DeliveryState::Pending,
                            next_attempt_at: Some(now),
                            owner: None,
                        },
                    )
                })
                .collect();
            self.inner.store.insert_deliveries(&rows, now).await?;
            self.inner.engine.wake();
        }
        Ok(ReplayOut { events: chosen.len() as u64, refused, dry_run, truncated })
    }
}
