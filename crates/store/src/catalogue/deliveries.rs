//! The cold side of deliveries: one delivery by id, releasing claims, and the answers kept for idempotency keys.
//! Storing events and deliveries, claiming and recording attempts are each backend's hot path.

use chrono::{DateTime, Utc};
use herald_domain::DeliveryId;
use uuid::Uuid;

use super::Catalogue;
use crate::codec::{micros, opt_time};
use crate::dialect::{sql, Arg, Sql};
use crate::*;

/// Stores one event with its deliveries, created at `now`, in the caller's transaction (an installation's event,
/// written with the installation; the hot path of `POST /changes` goes through the group commit instead).
pub(super) async fn insert_event<DB: Sql>(
    conn: &mut DB::Connection,
    e: &NewEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sql::<DB>(
        "INSERT INTO events (id, event_id, topic_id, customer_id, entity_id, event_time, body, created) VALUES (",
    )
    .args([Arg::Id(e.id), Arg::Id(e.event_id.0), (&e.topic_id).into(), (&e.customer_id).into()])
    .push(", ")
    .args([Arg::from(&e.entity_id), micros(e.event_time).into(), (&e.body).into(), micros(now).into()])
    .push(")")
    .run(&mut *conn)
    .await?;
    let rows: Vec<(Uuid, &NewDelivery, DateTime<Utc>)> = e.deliveries.iter().map(|d| (e.id, d, now)).collect();
    DB::insert_delivery_rows(conn, &rows).await?;
    Ok(())
}

impl<DB: Sql> Catalogue<'_, DB> {
    /// Deliveries of events already stored, in one transaction (see `Store::insert_deliveries`).
    pub async fn insert_deliveries(&self, deliveries: &[(Uuid, NewDelivery)], now: DateTime<Utc>) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let rows: Vec<(Uuid, &NewDelivery, DateTime<Utc>)> =
            deliveries.iter().map(|(event, d)| (*event, d, now)).collect();
        let mut tx = self.writer.begin().await?;
        DB::insert_delivery_rows(&mut *tx, &rows).await.map_err(StoreError::missing_reference_as_not_found)?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_idempotent_response(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotentAnswer>> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>("SELECT response, body_hash FROM idempotency_keys WHERE key = ")
            .arg(key)
            .push(" AND created >= ")
            .arg(micros(since))
            .optional(&mut *conn)
            .await?;
        row.map(|r| {
            Ok(IdempotentAnswer { response: DB::text(&r, "response")?, body_hash: DB::opt_text(&r, "body_hash")? })
        })
        .transpose()
    }

    pub async fn get_delivery(&self, delivery: DeliveryId) -> StoreResult<DeliveryRecord> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>(
            "SELECT d.id, d.event, e.event_id, e.topic_id, e.customer_id, d.webhook_id, d.application_id, d.sandbox, \
             d.state, d.attempts, d.next_attempt_at FROM deliveries d JOIN events e ON e.id = d.event WHERE d.id = ",
        )
        .arg(delivery.0)
        .optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        let state = DB::int4(&row, "state")?;
        Ok(DeliveryRecord {
            id: DB::get_id(&row, "id")?.into(),
            event: DB::get_id(&row, "event")?,
            event_id: DB::get_id(&row, "event_id")?.into(),
            topic_id: DB::text(&row, "topic_id")?,
            customer_id: DB::text(&row, "customer_id")?,
            webhook_id: DB::get_id(&row, "webhook_id")?.into(),
            application_id: DB::get_id(&row, "application_id")?.into(),
            sandbox: DB::flag(&row, "sandbox")?,
            state: DeliveryState::from_i64(state.into())
                .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state}")))?,
            attempts: DB::int4(&row, "attempts")? as u32,
            next_attempt_at: opt_time(DB::opt_int(&row, "next_attempt_at")?),
        })
    }

    /// Frees what `owner` holds and forgets its heartbeat (a node shutting down).
    pub async fn release_claims(&self, owner: &str) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let pending = DeliveryState::Pending.sql();
        let done = sql::<DB>(format!("UPDATE deliveries SET owner = NULL WHERE state = {pending} AND owner = "))
            .arg(owner)
            .run(&mut *tx)
            .await?;
        sql::<DB>("DELETE FROM nodes WHERE id = ").arg(owner).run(&mut *tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    pub async fn release_all_claims(&self) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await?;
        let pending = DeliveryState::Pending.sql();
        sql::<DB>(format!("UPDATE deliveries SET owner = NULL WHERE state = {pending} AND owner IS NOT NULL"))
            .run(&mut *conn)
            .await
    }
}
