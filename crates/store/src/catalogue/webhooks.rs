//! Webhooks, and the routing snapshot every node builds its routing table from.

use chrono::{DateTime, Utc};
use herald_domain::routing::RouteWebhook;
use herald_domain::WebhookId;

use super::applications::cancel_pending;
use super::{commit_routing, records, soft_delete, Catalogue};
use crate::codec::micros;
use crate::dialect::{sql, Arg, Sql, Stmt};
use crate::*;

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn insert_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let sealer = self.sealer;
        let mut tx = self.writer.begin().await?;
        sql::<DB>(
            "INSERT INTO webhooks (id, application_id, url, description, topic_ids, customer_ids, active, \
             ignore_etag_only_changes, ordered, rate_limit, secret, previous_secret, previous_secret_expires, \
             disabled_reason, last_success, failing_since, created, modified, filter) VALUES (",
        )
        .args([
            Arg::Id(hook.id.0),
            Arg::Id(hook.application_id.0),
            (&hook.url).into(),
            (&hook.description).into(),
            (&hook.topic_ids).into(),
            (&hook.customer_ids).into(),
            hook.active.into(),
            hook.ignore_etag_only_changes.into(),
            hook.ordered.into(),
            hook.rate_limit.map(i64::from).into(),
            sealer.seal_text(&hook.secret).into(),
            hook.previous_secret.as_deref().map(|s| sealer.seal_text(s)).into(),
            hook.previous_secret_expires.map(micros).into(),
            (&hook.disabled_reason).into(),
            hook.last_success.map(micros).into(),
            hook.failing_since.map(micros).into(),
            micros(hook.created).into(),
            micros(hook.modified).into(),
            (&hook.filter).into(),
        ])
        .push(")")
        .run(&mut *tx)
        .await?;
        commit_routing(tx).await
    }

    pub async fn get_webhook(&self, id: WebhookId) -> StoreResult<WebhookRecord> {
        records::webhook::<DB>(&self.live_row("webhooks", id.0).await?, self.sealer)
    }

    pub async fn update_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let sealer = self.sealer;
        let mut tx = self.writer.begin().await?;
        let mut q = sql::<DB>("UPDATE webhooks SET url = ");
        q.arg(&hook.url).push(", description = ").arg(&hook.description);
        q.push(", topic_ids = ").arg(&hook.topic_ids).push(", customer_ids = ").arg(&hook.customer_ids);
        q.push(", active = ").arg(hook.active);
        q.push(", ignore_etag_only_changes = ").arg(hook.ignore_etag_only_changes);
        q.push(", ordered = ").arg(hook.ordered);
        q.push(", rate_limit = ").arg(hook.rate_limit.map(i64::from));
        q.push(", secret = ").arg(sealer.seal_text(&hook.secret));
        q.push(", previous_secret = ").arg(hook.previous_secret.as_deref().map(|s| sealer.seal_text(s)));
        q.push(", previous_secret_expires = ").arg(hook.previous_secret_expires.map(micros));
        q.push(", disabled_reason = ").arg(&hook.disabled_reason);
        q.push(", modified = ").arg(micros(hook.modified));
        q.push(", filter = ").arg(&hook.filter);
        q.push(" WHERE id = ").arg(hook.id.0).push(" AND deleted IS NULL");
        if q.run(&mut *tx).await? == 0 {
            return Err(StoreError::NotFound);
        }
        commit_routing(tx).await
    }

    pub async fn delete_webhook(&self, id: WebhookId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = soft_delete::<DB>(&mut *tx, "webhooks", "id", id.0, now).await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        cancel_pending::<DB>(&mut *tx, id.0, now).await?;
        commit_routing(tx).await
    }

    pub async fn list_webhooks(&self, filter: &WebhookFilter, page: Page) -> StoreResult<(Vec<WebhookRecord>, u64)> {
        fn push_where<'a, DB: Sql>(q: &mut Stmt<'a, DB>, f: &'a WebhookFilter) {
            q.push(" WHERE deleted IS NULL");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").arg(a.0);
            }
            if let Some(active) = f.active {
                q.push(" AND active = ").arg(active);
            }
            if let Some(c) = &f.exact_customer {
                q.push(" AND customer_ids = ").arg(std::slice::from_ref(c));
            }
        }
        let col = if filter.by_modified { "modified" } else { "created" };
        let dir = if filter.descending { "DESC" } else { "ASC" };
        let order = format!("{col} {dir}, id {dir}");
        let (rows, total) = self.page_of("webhooks", |q| push_where(q, filter), &order, page).await?;
        let hooks = rows.iter().map(|r| records::webhook::<DB>(r, self.sealer)).collect::<StoreResult<_>>()?;
        Ok((hooks, total))
    }

    pub async fn routing_version(&self) -> StoreResult<i64> {
        let mut conn = self.reader.acquire().await?;
        let row = sql::<DB>("SELECT version FROM routing_version WHERE id = 1")
            .optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        DB::int(&row, "version")
    }

    pub async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot> {
        let mut tx = self.reader.begin().await?;
        // One snapshot for the four reads: the version read matches the rows read.
        if let Some(snapshot) = DB::SNAPSHOT {
            sql::<DB>(snapshot).run(&mut *tx).await?;
        }
        let version = sql::<DB>("SELECT version FROM routing_version WHERE id = 1")
            .optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let rows = sql::<DB>(
            "SELECT id, application_id, topic_ids, customer_ids, active, ignore_etag_only_changes, ordered, filter FROM webhooks \
             WHERE deleted IS NULL AND active",
        )
        .all(&mut *tx)
        .await?;
        let mut webhooks = Vec::with_capacity(rows.len());
        for row in &rows {
            webhooks.push(RouteWebhook {
                id: DB::get_id(row, "id")?.into(),
                application_id: DB::get_id(row, "application_id")?.into(),
                topic_ids: DB::get_list(row, "topic_ids")?,
                customer_ids: DB::get_list(row, "customer_ids")?,
                active: DB::flag(row, "active")?,
                ignore_etag_only_changes: DB::flag(row, "ignore_etag_only_changes")?,
                ordered: DB::flag(row, "ordered")?,
                filter: DB::opt_text(row, "filter")?,
            });
        }
        let mut scopes = Vec::new();
        for row in sql::<DB>("SELECT id, scopes FROM applications WHERE deleted IS NULL").all(&mut *tx).await? {
            scopes.push((DB::get_id(&row, "id")?.into(), DB::get_list(&row, "scopes")?));
        }
        let mut installations = Vec::new();
        for row in sql::<DB>("SELECT application_id, customer_id FROM installations WHERE terminated IS NULL")
            .all(&mut *tx)
            .await?
        {
            installations.push((DB::get_id(&row, "application_id")?.into(), DB::text(&row, "customer_id")?));
        }
        tx.commit().await?;
        Ok(RoutingSnapshot { version: DB::int(&version, "version")?, webhooks, scopes, installations })
    }

    /// Holds every delivery of the webhook until `until`, never moving an existing hold back (contract §9.3).
    pub async fn hold_webhook(&self, id: WebhookId, until: DateTime<Utc>) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        sql::<DB>(format!("UPDATE webhooks SET hold_until = {}(COALESCE(hold_until, 0), ", DB::GREATEST))
            .arg(micros(until))
            .push(") WHERE id = ")
            .arg(id.0)
            .run(&mut *conn)
            .await?;
        Ok(())
    }

    /// The live webhooks whose deliveries are gated: held (`hold_until` after `now`) or rate-limited. One scan of
    /// the partial index `webhooks_gated`; each delivering node reads it a few times a second.
    pub async fn webhook_gates(&self, now: DateTime<Utc>) -> StoreResult<Vec<WebhookGate>> {
        let mut conn = self.reader.acquire().await?;
        let rows = sql::<DB>(
            "SELECT id, hold_until, rate_limit FROM webhooks \
             WHERE (hold_until IS NOT NULL OR rate_limit IS NOT NULL) AND deleted IS NULL",
        )
        .all(&mut *conn)
        .await?;
        let now = micros(now);
        let mut gates = Vec::with_capacity(rows.len());
        for row in &rows {
            let hold_until = DB::opt_int(row, "hold_until")?.filter(|h| *h > now).map(crate::codec::time);
            let rate_limit = DB::opt_int(row, "rate_limit")?.and_then(|r| u32::try_from(r).ok());
            if hold_until.is_some() || rate_limit.is_some() {
                gates.push(WebhookGate { webhook_id: DB::get_id(row, "id")?.into(), hold_until, rate_limit });
            }
        }
        Ok(gates)
    }

    /// Reserves `n` send slots `interval` apart for a rate-limited webhook (GCRA): moves the webhook's theoretical
    /// arrival time from the later of itself and `now` by `n * interval`, atomically, so that nodes sharing the
    /// database never get overlapping slots. Returns the first slot's instant; the others follow `interval` apart.
    pub async fn reserve_send_slots(
        &self,
        id: WebhookId,
        n: u32,
        interval: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<DateTime<Utc>> {
        let span = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX / 4).saturating_mul(i64::from(n));
        let mut conn = self.writer.acquire().await?;
        let row = sql::<DB>(format!("UPDATE webhooks SET rate_tat = {}(COALESCE(rate_tat, 0), ", DB::GREATEST))
            .arg(micros(now))
            .push(") + ")
            .arg(span)
            .push(" WHERE id = ")
            .arg(id.0)
            .push(" RETURNING rate_tat")
            .optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(crate::codec::time(DB::int(&row, "rate_tat")? - span))
    }
}
