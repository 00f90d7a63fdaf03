//! Replay (beyond the seed, asked for by its users): send a webhook the events it failed to get, or all of them in a
//! time window, again, as new deliveries (new delivery ids, attempts from 1, the same event ids).

use herald_domain::time::parse_rfc3339;
use herald_domain::{DeliveryId, WebhookId};
use herald_store::{DeliveryState, NewDelivery};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::KnownFormat;
use utoipa::ToSchema;

use crate::input::{or_null, text_enum, text_format, Errors, Field};
use crate::receivable::refusal;
use crate::*;

/// At most this many events are replayed by one call; the answer says when the window held more.
pub const MAX_REPLAY: u32 = 10_000;

/// `POST /webhooks/subscriptions/{id}/replay`: which of the webhook's events to send again.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReplayModel, rename_all = "camelCase")]
pub struct ReplayIn {
    /// Events of deliveries created at or after this time (RFC 3339).
    #[serde(default)]
    #[schema(schema_with = optional_time)]
    pub from: Field<String>,
    /// Events of deliveries created before this time (RFC 3339); not before `from`.
    #[serde(default)]
    #[schema(schema_with = optional_time)]
    pub to: Field<String>,
    /// `failed` (default: failed and dead deliveries), `dead`, or `all`.
    #[serde(default)]
    #[schema(schema_with = replay_status)]
    pub status: Field<String>,
    /// Count only, send nothing (default `false`).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub dry_run: Field<bool>,
}

fn replay_status() -> Schema {
    or_null(text_enum(&["failed", "dead", "all"]))
}

/// An RFC 3339 time (as the service reads it: at most 64 characters) or `null`.
fn optional_time() -> Schema {
    or_null(text_format(KnownFormat::DateTime).max_length(Some(64)))
}

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
        input: ReplayIn,
    ) -> ServiceResult<ReplayOut> {
        let hook = self.webhook_record(who, scope, id).await?;
        let mut f = Errors::default();
        let time = |name: &str, v: &Field<String>, f: &mut Errors| {
            f.optional_str(name, v, 64).and_then(|t| match parse_rfc3339(&t) {
                Some(t) => Some(t),
                None => {
                    f.add(name, "must be an RFC 3339 date and time");
                    None
                }
            })
        };
        let from = time("from", &input.from, &mut f);
        let to = time("to", &input.to, &mut f);
        let states: &[DeliveryState] = match f.optional_str("status", &input.status, 16).as_deref() {
            None | Some("failed") => &[DeliveryState::Failed, DeliveryState::Dead],
            Some("dead") => &[DeliveryState::Dead],
            Some("all") => &[DeliveryState::Delivered, DeliveryState::Failed, DeliveryState::Dead],
            Some(_) => {
                f.add("status", "must be failed, dead or all");
                &[]
            }
        };
        let dry_run = f.optional_bool("dryRun", &input.dry_run).unwrap_or(false);
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                f.add("to", "must not be before from");
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
                            entity_key: None,
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
