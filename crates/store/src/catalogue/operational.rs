//! Operational events (contract §9.4) in the store: each transition of a webhook's failing streak is a conditional
//! update of its row, written with its event and the event's deliveries in the caller's transaction: the one that
//! records the attempt causing it (both hot paths call [`record_transitions`]) or disables the webhook
//! ([`announce_disabled`]). A crash thus loses or repeats neither, and the condition (`failing_announced IS NULL` to
//! start a streak, `IS NOT NULL` to end it) makes one writer announce it when several nodes record at once.
//!
//! When a transition happens and who receives its event are `herald_domain::operational`'s rules; this module only
//! reads the facts they need and writes what they decide. Nothing here runs unless a batch changes some webhook's
//! state, so the hot path of an ordinary batch is untouched.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use herald_domain::operational::{
    recipients, transitions, LastAttempt, OperationalBody, Step, Transition, WebhookState,
};
use herald_domain::ordering::entity_key;
use herald_domain::time::{format_api_time, format_event_time, format_log_time};
use herald_domain::{ApplicationId, DeliveryId, EventId, WebhookId};
use uuid::Uuid;

use super::deliveries::insert_event;
use crate::codec::{micros, opt_time, time};
use crate::dialect::{sql, Sql};
use crate::*;

/// What an attempt record means for its webhook's failing streak.
fn step(a: &AttemptRecord) -> Step {
    match a.new_state {
        DeliveryState::Delivered if a.success => Step::Delivered,
        DeliveryState::Dead | DeliveryState::Failed => Step::Ended,
        // Still pending (retries left), or a ping (recorded as cancelled whatever its outcome).
        _ => Step::Neither,
    }
}

/// Whether a batch may change some webhook's failing state, given whether each was `announced`: without it, a batch
/// needs no statement of this module.
pub fn may_transition(attempts: &[AttemptRecord], announced: &HashMap<WebhookId, bool>) -> bool {
    attempts.iter().any(|a| match step(a) {
        Step::Ended => !announced.get(&a.webhook_id).copied().unwrap_or(false),
        Step::Delivered => announced.get(&a.webhook_id).copied().unwrap_or(false),
        Step::Neither => false,
    })
}

/// Records the transitions a batch of attempts causes (after its health update, in the same transaction) and stores
/// their events. `announced`: whether each webhook of the batch had its failing streak announced before the batch,
/// as the health update read it (locked on PostgreSQL). Webhooks are taken in id order, the order of their locks.
pub async fn record_transitions<DB: Sql>(
    conn: &mut DB::Connection,
    attempts: &[AttemptRecord],
    announced: &HashMap<WebhookId, bool>,
) -> StoreResult<()> {
    if !may_transition(attempts, announced) {
        return Ok(());
    }
    let mut by_hook: BTreeMap<WebhookId, Vec<(usize, Step)>> = BTreeMap::new();
    for (i, a) in attempts.iter().enumerate() {
        let s = step(a);
        if s != Step::Neither {
            by_hook.entry(a.webhook_id).or_default().push((i, s));
        }
    }
    for (hook, steps) in by_hook {
        let was = announced.get(&hook).copied().unwrap_or(false);
        for (i, transition) in transitions(was, steps) {
            record_transition::<DB>(conn, hook, transition, &attempts[i]).await?;
        }
    }
    Ok(())
}

/// One transition caused by `attempt`: the conditional update, and when it changed the row, the event.
async fn record_transition<DB: Sql>(
    conn: &mut DB::Connection,
    hook: WebhookId,
    transition: Transition,
    attempt: &AttemptRecord,
) -> StoreResult<()> {
    let at = attempt.started + chrono::Duration::milliseconds(attempt.duration_ms as i64);
    let mut q = match transition {
        Transition::Failing => {
            let mut q = sql::<DB>("UPDATE webhooks SET failing_announced = ");
            q.arg(micros(at)).push(" WHERE failing_announced IS NULL");
            q
        }
        Transition::Recovered => {
            sql::<DB>("UPDATE webhooks SET failing_announced = NULL WHERE failing_announced IS NOT NULL")
        }
        // Disabling is the upkeep's (`announce_disabled`), never an attempt's.
        Transition::Disabled => return Ok(()),
    };
    q.push(" AND deleted IS NULL AND id = ").arg(hook.0);
    q.push(" RETURNING application_id, url, failing_since, disabled_reason");
    let Some(row) = q.optional(&mut *conn).await? else {
        return Ok(()); // Announced already (by another node, or an earlier batch), or deleted.
    };
    let event =
        sql::<DB>("SELECT event_id, topic_id FROM events WHERE id = ").arg(attempt.event).optional(&mut *conn).await?;
    let last = match event {
        Some(e) => Some(LastAttempt {
            time_stamp: format_log_time(attempt.started),
            status_code: attempt.status_code,
            error: attempt.error.clone(),
            topic_id: DB::text(&e, "topic_id")?,
            event_id: DB::get_id(&e, "event_id")?.to_string(),
        }),
        None => None,
    };
    let state = webhook_state::<DB>(&row, hook, last)?;
    emit::<DB>(conn, hook, DB::get_id(&row, "application_id")?.into(), transition, &state, at).await
}

/// The webhook's state for the payload, from a row holding `url`, `failing_since` and `disabled_reason`.
fn webhook_state<DB: Sql>(row: &DB::Row, hook: WebhookId, last: Option<LastAttempt>) -> StoreResult<WebhookState> {
    Ok(WebhookState {
        webhook_id: hook.to_string(),
        url: DB::text(row, "url")?,
        failing_since: opt_time(DB::opt_int(row, "failing_since")?).map(format_api_time),
        disabled_reason: DB::opt_text(row, "disabled_reason")?,
        last_attempt: last,
    })
}

/// Stores the event of `transition` about webhook `about` with a delivery to each of its application's webhooks that
/// receives it (`herald_domain::operational::recipients`), due at `at`. With no recipient nothing is stored.
async fn emit<DB: Sql>(
    conn: &mut DB::Connection,
    about: WebhookId,
    application: ApplicationId,
    transition: Transition,
    state: &WebhookState,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let topic = transition.topic();
    let rows =
        sql::<DB>("SELECT id, topic_ids, ordered FROM webhooks WHERE active AND deleted IS NULL AND application_id = ")
            .arg(application.0)
            .all(&mut *conn)
            .await?;
    let candidates = rows
        .iter()
        .map(|r| Ok((WebhookId(DB::get_id(r, "id")?), DB::get_list(r, "topic_ids")?)))
        .collect::<StoreResult<Vec<(WebhookId, Vec<String>)>>>()?;
    let ordered: std::collections::HashSet<WebhookId> = rows
        .iter()
        .filter(|r| DB::flag(r, "ordered").unwrap_or(false))
        .map(|r| Ok(WebhookId(DB::get_id(r, "id")?)))
        .collect::<StoreResult<_>>()?;
    let to = recipients(about, topic, candidates.iter().map(|(id, topics)| (*id, &topics[..])));
    if to.is_empty() {
        return Ok(());
    }
    let event_id = EventId(Uuid::now_v7());
    let (event_text, about_text, time_text) = (event_id.to_string(), about.to_string(), format_event_time(at));
    let body = OperationalBody {
        event_id: &event_text,
        entity_id: &about_text,
        customer_id: None,
        event_time: &time_text,
        topic_id: topic,
        new: state,
        old: None,
        diff: None,
    }
    .render_tail();
    let event = NewEvent {
        id: Uuid::now_v7(),
        event_id,
        topic_id: topic.to_string(),
        // The events table needs a customer; an operational event has none (`customerId: null` in its payload).
        customer_id: String::new(),
        entity_id: Some(about_text.clone()),
        event_time: at,
        body,
        deliveries: to
            .into_iter()
            .map(|webhook_id| NewDelivery {
                id: DeliveryId(Uuid::now_v7()),
                webhook_id,
                application_id: application,
                sandbox: false,
                state: DeliveryState::Pending,
                next_attempt_at: Some(at),
                owner: None,
                // An ordered webhook gets the events about one webhook in order (failing before recovered): the
                // webhook is the entity, with no customer.
                entity_key: ordered.contains(&webhook_id).then(|| entity_key("", &about_text)),
            })
            .collect(),
    };
    tracing::info!(webhook_id = %about, topic, event_id = %event.event_id, deliveries = event.deliveries.len(),
        "operational event");
    insert_event::<DB>(conn, &event, at).await
}

/// Announces that the upkeep disabled these webhooks (rows of its `UPDATE … RETURNING id, application_id, url,
/// failing_since, disabled_reason`), in its transaction: each webhook's latest attempt is the event's `lastAttempt`.
pub async fn announce_disabled<DB: Sql>(
    conn: &mut DB::Connection,
    disabled: &[DB::Row],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for row in disabled {
        let hook = WebhookId(DB::get_id(row, "id")?);
        let last = sql::<DB>(
            "SELECT a.started, a.status_code, a.error, e.topic_id, e.event_id FROM attempts a \
             JOIN events e ON e.id = a.event WHERE a.webhook_id = ",
        )
        .arg(hook.0)
        .push(" ORDER BY a.started DESC, a.id DESC LIMIT 1")
        .optional(&mut *conn)
        .await?
        .map(|a| {
            Ok::<_, StoreError>(LastAttempt {
                time_stamp: format_log_time(time(DB::int(&a, "started")?)),
                status_code: DB::opt_int4(&a, "status_code")?.map(|s| s as u16),
                error: DB::opt_text(&a, "error")?,
                topic_id: DB::text(&a, "topic_id")?,
                event_id: DB::get_id(&a, "event_id")?.to_string(),
            })
        })
        .transpose()?;
        let state = webhook_state::<DB>(row, hook, last)?;
        let application = DB::get_id(row, "application_id")?.into();
        emit::<DB>(conn, hook, application, Transition::Disabled, &state, now).await?;
    }
    Ok(())
}

impl<DB: Sql> super::Catalogue<'_, DB> {
    pub async fn webhook_alerts(&self, application: ApplicationId) -> StoreResult<Vec<WebhookAlert>> {
        let mut conn = self.reader.acquire().await?;
        let rows = sql::<DB>(
            "SELECT id, url, active, disabled_reason, failing_since FROM webhooks WHERE deleted IS NULL \
             AND failing_announced IS NOT NULL AND modified <= failing_announced AND application_id = ",
        )
        .arg(application.0)
        .push(" ORDER BY failing_announced, id")
        .all(&mut *conn)
        .await?;
        let mut alerts = Vec::with_capacity(rows.len());
        for row in &rows {
            let hook = WebhookId(DB::get_id(row, "id")?);
            let last = sql::<DB>("SELECT started, status_code, error FROM attempts WHERE webhook_id = ")
                .arg(hook.0)
                .push(" ORDER BY started DESC, id DESC LIMIT 1")
                .optional(&mut *conn)
                .await?
                .map(|a| {
                    Ok::<_, StoreError>((
                        time(DB::int(&a, "started")?),
                        DB::opt_int4(&a, "status_code")?.map(|s| s as u16),
                        DB::opt_text(&a, "error")?,
                    ))
                })
                .transpose()?;
            alerts.push(WebhookAlert {
                webhook_id: hook,
                url: DB::text(row, "url")?,
                active: DB::flag(row, "active")?,
                disabled_reason: DB::opt_text(row, "disabled_reason")?,
                failing_since: opt_time(DB::opt_int(row, "failing_since")?),
                last_attempt: last,
            });
        }
        Ok(alerts)
    }
}
