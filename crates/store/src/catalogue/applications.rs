//! Applications (with their keys and signing seeds), installations, and the resealing of every secret.

use chrono::{DateTime, Utc};
use herald_domain::{ApplicationId, InstallationId};

use super::deliveries::insert_event;
use super::{commit_routing, records, soft_delete, Catalogue};
use crate::codec::micros;
use crate::dialect::{sql, Arg, Sql, Stmt};
use crate::*;

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn reseal_secrets(&self) -> StoreResult<u64> {
        let sealer = self.sealer;
        // No locks taken ahead (rows are updated in id order, as attempt records lock them): each row is rewritten if it
        // still holds the value read (compare and set), so a secret a node wrote meanwhile (sealed with its current
        // key already) is never overwritten with an older one.
        let mut tx = self.writer.begin().await?;
        let mut rewritten = 0;
        let apps = sql::<DB>("SELECT id, signing_seed FROM applications ORDER BY id").all(&mut *tx).await?;
        for row in &apps {
            let stored = DB::bytes(row, "signing_seed")?;
            if sealer.is_current_bytes(&stored) {
                continue;
            }
            let seed = sealer.seal_bytes(&sealer.open_bytes(stored.clone())?);
            rewritten += sql::<DB>("UPDATE applications SET signing_seed = ")
                .arg(seed)
                .push(" WHERE id = ")
                .arg(DB::get_id(row, "id")?)
                .push(" AND signing_seed = ")
                .arg(stored)
                .run(&mut *tx)
                .await?;
        }
        let hooks = sql::<DB>("SELECT id, secret, previous_secret FROM webhooks ORDER BY id").all(&mut *tx).await?;
        for row in &hooks {
            let (stored, stored_previous) = (DB::text(row, "secret")?, DB::opt_text(row, "previous_secret")?);
            if sealer.is_current_text(&stored) && stored_previous.as_deref().is_none_or(|p| sealer.is_current_text(p)) {
                continue;
            }
            let secret = sealer.seal_text(&sealer.open_text(stored.clone())?);
            let previous = sealer.open_opt_text(stored_previous.clone())?.map(|p| sealer.seal_text(&p));
            rewritten += sql::<DB>("UPDATE webhooks SET secret = ")
                .arg(secret)
                .push(", previous_secret = ")
                .arg(previous)
                .push(" WHERE id = ")
                .arg(DB::get_id(row, "id")?)
                .push(" AND secret = ")
                .arg(stored)
                .push(" AND previous_secret IS NOT DISTINCT FROM ")
                .arg(stored_previous)
                .run(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rewritten)
    }

    pub async fn insert_application(&self, app: &ApplicationRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sql::<DB>(
            "INSERT INTO applications (id, client_id, name, scopes, api_key_hash, signing_seed, created, modified) \
             VALUES (",
        )
        .arg(app.id.0)
        .push(", ")
        .args([Arg::from(&app.client_id), (&app.name).into(), (&app.scopes).into(), (&app.api_key_hash).into()])
        .push(", ")
        .arg(self.sealer.seal_bytes(&app.signing_seed))
        .push(", ")
        .args([micros(app.created), micros(app.modified)])
        .push(")")
        .run(&mut *tx)
        .await?;
        commit_routing(tx).await
    }

    pub async fn get_application(&self, id: ApplicationId) -> StoreResult<ApplicationRecord> {
        records::application::<DB>(&self.live_row("applications", id.0).await?, self.sealer)
    }

    pub async fn find_application_by_key_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApplicationRecord>> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>("SELECT * FROM applications WHERE deleted IS NULL AND (api_key_hash = ")
            .arg(key_hash)
            .push(" OR (previous_api_key_hash = ")
            .arg(key_hash)
            .push(" AND previous_key_expires > ")
            .arg(micros(now))
            .push(")) LIMIT 1")
            .optional(&mut *conn)
            .await?;
        row.as_ref().map(|r| records::application::<DB>(r, self.sealer)).transpose()
    }

    pub async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)> {
        let (rows, total) = self
            .page_of(
                "applications",
                |q| {
                    q.push(" WHERE deleted IS NULL");
                },
                "created, id",
                page,
            )
            .await?;
        let apps = rows.iter().map(|r| records::application::<DB>(r, self.sealer)).collect::<StoreResult<_>>()?;
        Ok((apps, total))
    }

    pub async fn update_application(
        &self,
        id: ApplicationId,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        let mut tx = self.writer.begin().await?;
        let row = sql::<DB>("UPDATE applications SET name = ")
            .arg(name)
            .push(", scopes = ")
            .arg(scopes)
            .push(", modified = ")
            .arg(micros(now))
            .push(" WHERE id = ")
            .arg(id.0)
            .push(" AND deleted IS NULL RETURNING *")
            .optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let app = records::application::<DB>(&row, self.sealer)?;
        commit_routing(tx).await?;
        Ok(app)
    }

    pub async fn rotate_api_key(
        &self,
        id: ApplicationId,
        key_hash: &str,
        previous_expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        let mut conn = self.writer.acquire().await?;
        // SET reads the row as it was: the previous key is the one being replaced.
        let row = sql::<DB>("UPDATE applications SET previous_api_key_hash = CASE WHEN ")
            .arg(previous_expires.is_some())
            .push(" THEN api_key_hash ELSE NULL END, previous_key_expires = ")
            .arg(previous_expires.map(micros))
            .push(", api_key_hash = ")
            .arg(key_hash)
            .push(", modified = ")
            .arg(micros(now))
            .push(" WHERE id = ")
            .arg(id.0)
            .push(" AND deleted IS NULL RETURNING *")
            .optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        records::application::<DB>(&row, self.sealer)
    }

    pub async fn delete_application(&self, id: ApplicationId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = soft_delete::<DB>(&mut *tx, "applications", "id", id.0, now).await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        cancel_open::<DB>(now, |q| application_webhooks(q, id)).run(&mut *tx).await?;
        soft_delete::<DB>(&mut *tx, "webhooks", "application_id", id.0, now).await?;
        sql::<DB>("UPDATE installations SET terminated = ")
            .arg(micros(now))
            .push(" WHERE application_id = ")
            .arg(id.0)
            .push(" AND terminated IS NULL")
            .run(&mut *tx)
            .await?;
        commit_routing(tx).await
    }

    pub async fn insert_installation(&self, inst: &InstallationRecord, event: Option<&NewEvent>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sql::<DB>(
            "INSERT INTO installations (id, application_id, customer_id, customer_name, customer_email, created, \
             terminated) VALUES (",
        )
        .args([Arg::Id(inst.id.0), Arg::Id(inst.application_id.0)])
        .push(", ")
        .args([Arg::from(&inst.customer_id), (&inst.customer_name).into(), (&inst.customer_email).into()])
        .push(", ")
        .args([Arg::from(micros(inst.created)), inst.terminated.map(micros).into()])
        .push(")")
        .run(&mut *tx)
        .await?;
        if let Some(e) = event {
            insert_event::<DB>(&mut *tx, e, inst.created).await?;
        }
        commit_routing(tx).await
    }

    pub async fn get_installation(&self, id: InstallationId) -> StoreResult<InstallationRecord> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>("SELECT * FROM installations WHERE id = ")
            .arg(id.0)
            .optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        records::installation::<DB>(&row)
    }

    pub async fn terminate_installation(
        &self,
        id: InstallationId,
        now: DateTime<Utc>,
        event: Option<&NewEvent>,
    ) -> StoreResult<InstallationRecord> {
        let mut tx = self.writer.begin().await?;
        // The row lock (PostgreSQL) makes two concurrent terminations one success and one conflict.
        let row = sql::<DB>("SELECT * FROM installations WHERE id = ")
            .arg(id.0)
            .push(DB::FOR_UPDATE)
            .optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut inst = records::installation::<DB>(&row)?;
        if inst.terminated.is_some() {
            return Err(StoreError::Conflict("installation already terminated".into()));
        }
        sql::<DB>("UPDATE installations SET terminated = ")
            .arg(micros(now))
            .push(" WHERE id = ")
            .arg(id.0)
            .run(&mut *tx)
            .await?;
        if let Some(e) = event {
            insert_event::<DB>(&mut *tx, e, now).await?;
        }
        commit_routing(tx).await?;
        inst.terminated = Some(now);
        Ok(inst)
    }

    pub async fn list_installations(
        &self,
        filter: &InstallationFilter,
        page: Page,
    ) -> StoreResult<(Vec<InstallationRecord>, u64)> {
        fn push_where<'a, DB: Sql>(q: &mut Stmt<'a, DB>, f: &'a InstallationFilter) {
            q.push(" WHERE TRUE");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").arg(a.0);
            }
            if let Some(c) = &f.customer_id {
                q.push(" AND customer_id = ").arg(c);
            }
            match f.installed {
                Some(true) => q.push(" AND terminated IS NULL"),
                Some(false) => q.push(" AND terminated IS NOT NULL"),
                None => q,
            };
        }
        let (rows, total) = self.page_of("installations", |q| push_where(q, filter), "created, id", page).await?;
        Ok((rows.iter().map(records::installation::<DB>).collect::<StoreResult<_>>()?, total))
    }

    pub async fn is_installed(&self, application: ApplicationId, customer_id: &str) -> StoreResult<bool> {
        let mut conn = self.reader.acquire().await?;
        let found = sql::<DB>("SELECT 1 AS found FROM installations WHERE application_id = ")
            .arg(application.0)
            .push(" AND customer_id = ")
            .arg(customer_id)
            .push(" AND terminated IS NULL LIMIT 1")
            .optional(&mut *conn)
            .await?;
        Ok(found.is_some())
    }
}

/// Cancels the open (pending or waiting) deliveries of a webhook being deleted, in the caller's transaction.
pub(super) async fn cancel_pending<DB: Sql>(
    conn: &mut DB::Connection,
    webhook: uuid::Uuid,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    cancel_open::<DB>(now, |q| {
        q.arg(webhook);
    })
    .run(conn)
    .await
}

/// The ids of `application`'s webhooks, as a subquery.
pub(super) fn application_webhooks<DB: Sql>(q: &mut Stmt<'_, DB>, application: ApplicationId) {
    q.push("SELECT id FROM webhooks WHERE application_id = ").arg(application.0).push(" AND deleted IS NULL");
}

/// The statement cancelling the open deliveries of the webhooks `hooks` pushes (a list of ids or a subquery returning
/// them). No index has every delivery of a webhook (one would take an entry at every webhook's end of it in every
/// commit: see docs/STORAGE.md), so the open ones are found through the three partial indexes that hold them between them:
/// pending and free (`deliveries_free_by_webhook`), pending and held (the held index: only what the nodes are
/// attempting), waiting (`deliveries_open_by_entity`: only ordered deliveries wait, and they have an entity key).
pub(super) fn cancel_open<'a, DB: Sql>(now: DateTime<Utc>, hooks: impl Fn(&mut Stmt<'a, DB>)) -> Stmt<'a, DB> {
    let (pending, open, cancelled) =
        (DeliveryState::Pending.sql(), DeliveryState::OPEN_SQL, DeliveryState::Cancelled.sql());
    let mut q = sql::<DB>(format!(
        "UPDATE deliveries SET state = {cancelled}, owner = NULL, next_attempt_at = NULL, updated = "
    ));
    q.arg(micros(now)).push(format!(" WHERE state IN ({open}) AND id IN ("));
    for (i, branch) in [
        format!("state = {pending} AND owner IS NULL"),
        format!("state = {pending} AND owner IS NOT NULL"),
        format!("state IN ({open}) AND entity_key IS NOT NULL"),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(format!("SELECT id FROM deliveries WHERE {branch} AND webhook_id IN ("));
        hooks(&mut q);
        q.push(")");
    }
    q.push(")");
    q
}
