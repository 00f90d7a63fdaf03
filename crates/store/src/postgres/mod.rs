//! PostgreSQL: several Herald nodes sharing one database.
//!
//! Migrations run at open under a session advisory lock taken on one dedicated connection, so that nodes starting
//! together apply them once, one after the other. Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so that
//! concurrent nodes never claim the same row, and a node's claims outlive it only for its lease (`nodes`).
//! Applications, installations and webhooks live here; the hot path (events, deliveries, attempts) in `deliveries`.

mod deliveries;
mod maintenance;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::routing::RouteWebhook;
use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::codec::{micros, opt_time, time};
use crate::*;

/// The advisory lock every node takes to migrate ("HERALD" and a version of the locking scheme). Fixed, so that
/// every node of every version agrees on it.
const MIGRATION_LOCK: i64 = 0x4845_5241_4C44_0001;

/// How long an operation waits for a pooled connection (and, when none is open, for the server to accept a new
/// one) before failing with [`StoreError::Unavailable`]. Short, so that while PostgreSQL is down `POST /changes`
/// answers 503 within seconds instead of holding the client, and workers get to their back-off.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long opening the store waits for the server to accept the first connection (an address that drops
/// packets would otherwise hold start-up for the system's TCP timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Group commits in flight at once on one node (each holds a pooled connection while it runs).
const COMMITS_IN_FLIGHT: usize = 4;

pub struct PgStore {
    pool: PgPool,
    commits: crate::group_commit::GroupCommit,
    sealer: Sealer,
}

impl PgStore {
    /// Connects, applies the embedded migrations under the migration lock, and opens a pool of `max_connections`.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = connect_options(url)?;
        migrate_with(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let commits =
            crate::group_commit::GroupCommit::start(deliveries::PgCommitter { pool: pool.clone() }, COMMITS_IN_FLIGHT);
        Ok(Self { pool, commits, sealer: Sealer::plain() })
    }

    /// The store sealing secrets with `sealer` (see [`Sealer`]); without it, they are written in the clear.
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// Applies the embedded migrations and disconnects (for `herald migrate`).
    pub async fn migrate(url: &str) -> StoreResult<()> {
        migrate_with(&connect_options(url)?).await
    }

    /// Closes the pool's connections, waiting for those in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn bump_routing_version(tx: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("UPDATE routing_version SET version = version + 1 WHERE id = 1").execute(tx).await?;
        Ok(())
    }
}

fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url).map_err(StoreError::Database)?.application_name("herald"))
}

/// Runs the migrations on one dedicated connection holding [`MIGRATION_LOCK`]; sqlx's own lock is off, as this one
/// already serialises every migrating node. The lock is released after, and also dies with the connection.
async fn migrate_with(options: &PgConnectOptions) -> StoreResult<()> {
    let mut conn =
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await.map_err(|_| {
            let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "the server did not answer in time");
            StoreError::Unavailable(sqlx::Error::Io(timed_out))
        })??;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut conn).await?;
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_locking(false);
    let migrated = migrator.run(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut conn).await;
    // Closing ends the session, which releases the lock even if the unlock above failed.
    let closed = conn.close().await;
    migrated?;
    unlocked?;
    closed?;
    Ok(())
}

fn application(row: &PgRow, sealer: &Sealer) -> StoreResult<ApplicationRecord> {
    Ok(ApplicationRecord {
        id: row.try_get::<Uuid, _>("id")?.into(),
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        scopes: row.try_get("scopes")?,
        api_key_hash: row.try_get("api_key_hash")?,
        signing_seed: sealer.open_bytes(row.try_get("signing_seed")?)?,
        created: time(row.try_get("created")?),
        modified: time(row.try_get("modified")?),
    })
}

fn installation(row: &PgRow) -> StoreResult<InstallationRecord> {
    Ok(InstallationRecord {
        id: row.try_get::<Uuid, _>("id")?.into(),
        application_id: row.try_get::<Uuid, _>("application_id")?.into(),
        customer_id: row.try_get("customer_id")?,
        customer_name: row.try_get("customer_name")?,
        customer_email: row.try_get("customer_email")?,
        created: time(row.try_get("created")?),
        terminated: opt_time(row.try_get("terminated")?),
    })
}

fn webhook(row: &PgRow, sealer: &Sealer) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: row.try_get::<Uuid, _>("id")?.into(),
        application_id: row.try_get::<Uuid, _>("application_id")?.into(),
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        topic_ids: row.try_get("topic_ids")?,
        customer_ids: row.try_get("customer_ids")?,
        active: row.try_get("active")?,
        ignore_etag_only_changes: row.try_get("ignore_etag_only_changes")?,
        secret: sealer.open_text(row.try_get("secret")?)?,
        previous_secret: sealer.open_opt_text(row.try_get("previous_secret")?)?,
        previous_secret_expires: opt_time(row.try_get("previous_secret_expires")?),
        disabled_reason: row.try_get("disabled_reason")?,
        last_success: opt_time(row.try_get("last_success")?),
        failing_since: opt_time(row.try_get("failing_since")?),
        created: time(row.try_get("created")?),
        modified: time(row.try_get("modified")?),
    })
}

#[async_trait]
impl Store for PgStore {
    async fn reseal_secrets(&self) -> StoreResult<u64> {
        let sealer = &self.sealer;
        let mut tx = self.pool.begin().await?;
        let mut rewritten = 0;
        // Row locks: a node writing a secret meanwhile waits, and is not overwritten with an older value.
        let apps: Vec<(Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT id, signing_seed FROM applications FOR UPDATE").fetch_all(&mut *tx).await?;
        for (id, seed) in apps.into_iter().filter(|(_, seed)| !sealer.is_current_bytes(seed)) {
            let seed = sealer.seal_bytes(&sealer.open_bytes(seed)?);
            sqlx::query("UPDATE applications SET signing_seed = $1 WHERE id = $2")
                .bind(seed)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            rewritten += 1;
        }
        let hooks: Vec<(Uuid, String, Option<String>)> =
            sqlx::query_as("SELECT id, secret, previous_secret FROM webhooks FOR UPDATE").fetch_all(&mut *tx).await?;
        for (id, secret, previous) in hooks {
            if sealer.is_current_text(&secret) && previous.as_deref().is_none_or(|p| sealer.is_current_text(p)) {
                continue;
            }
            let secret = sealer.seal_text(&sealer.open_text(secret)?);
            let previous = sealer.open_opt_text(previous)?.map(|p| sealer.seal_text(&p));
            sqlx::query("UPDATE webhooks SET secret = $1, previous_secret = $2 WHERE id = $3")
                .bind(secret)
                .bind(previous)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            rewritten += 1;
        }
        tx.commit().await?;
        Ok(rewritten)
    }

    async fn insert_application(&self, app: &ApplicationRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO applications (id, client_id, name, scopes, api_key_hash, signing_seed, created, modified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(app.id.0)
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(&app.scopes)
        .bind(&app.api_key_hash)
        .bind(self.sealer.seal_bytes(&app.signing_seed))
        .bind(micros(app.created))
        .bind(micros(app.modified))
        .execute(&mut *tx)
        .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_application(&self, id: ApplicationId) -> StoreResult<ApplicationRecord> {
        let row = sqlx::query("SELECT * FROM applications WHERE id = $1 AND deleted IS NULL")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        application(&row, &self.sealer)
    }

    async fn find_application_by_key_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApplicationRecord>> {
        let row = sqlx::query(
            "SELECT * FROM applications WHERE deleted IS NULL AND (api_key_hash = $1 \
             OR (previous_api_key_hash = $1 AND previous_key_expires > $2)) LIMIT 1",
        )
        .bind(key_hash)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| application(r, &self.sealer)).transpose()
    }

    async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE deleted IS NULL").fetch_one(&self.pool).await?;
        let rows =
            sqlx::query("SELECT * FROM applications WHERE deleted IS NULL ORDER BY created, id LIMIT $1 OFFSET $2")
                .bind(page.size as i64)
                .bind(page.offset())
                .fetch_all(&self.pool)
                .await?;
        Ok((rows.iter().map(|r| application(r, &self.sealer)).collect::<StoreResult<_>>()?, total as u64))
    }

    async fn update_application(
        &self,
        id: ApplicationId,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("UPDATE applications SET name = $1, scopes = $2, modified = $3 WHERE id = $4 AND deleted IS NULL RETURNING *")
                .bind(name)
                .bind(scopes)
                .bind(micros(now))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let app = application(&row, &self.sealer)?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(app)
    }

    async fn rotate_api_key(
        &self,
        id: ApplicationId,
        key_hash: &str,
        previous_expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        // SET reads the row as it was: the previous key is the one being replaced.
        let row = sqlx::query(
            "UPDATE applications SET previous_api_key_hash = CASE WHEN $1::int8 IS NULL THEN NULL \
             ELSE api_key_hash END, previous_key_expires = $1, api_key_hash = $2, modified = $3 \
             WHERE id = $4 AND deleted IS NULL RETURNING *",
        )
        .bind(previous_expires.map(micros))
        .bind(key_hash)
        .bind(micros(now))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        application(&row, &self.sealer)
    }

    async fn delete_application(&self, id: ApplicationId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE applications SET deleted = $1, modified = $1 WHERE id = $2 AND deleted IS NULL")
            .bind(micros(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE deliveries SET state = 4, owner = NULL, next_attempt_at = NULL, updated = $1 WHERE state = 0 \
             AND webhook_id IN (SELECT id FROM webhooks WHERE application_id = $2 AND deleted IS NULL)",
        )
        .bind(micros(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE webhooks SET deleted = $1, modified = $1 WHERE application_id = $2 AND deleted IS NULL")
            .bind(micros(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE installations SET terminated = $1 WHERE application_id = $2 AND terminated IS NULL")
            .bind(micros(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_installation(&self, inst: &InstallationRecord, event: Option<&NewEvent>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO installations (id, application_id, customer_id, customer_name, customer_email, created, \
             terminated) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(inst.id.0)
        .bind(inst.application_id.0)
        .bind(&inst.customer_id)
        .bind(&inst.customer_name)
        .bind(&inst.customer_email)
        .bind(micros(inst.created))
        .bind(inst.terminated.map(micros))
        .execute(&mut *tx)
        .await?;
        if let Some(e) = event {
            deliveries::insert_event_with_deliveries(&mut tx, e, inst.created).await?;
        }
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_installation(&self, id: InstallationId) -> StoreResult<InstallationRecord> {
        let row = sqlx::query("SELECT * FROM installations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        installation(&row)
    }

    async fn terminate_installation(
        &self,
        id: InstallationId,
        now: DateTime<Utc>,
        event: Option<&NewEvent>,
    ) -> StoreResult<InstallationRecord> {
        let mut tx = self.pool.begin().await?;
        // The row lock makes two concurrent terminations one success and one conflict.
        let row = sqlx::query("SELECT * FROM installations WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut inst = installation(&row)?;
        if inst.terminated.is_some() {
            return Err(StoreError::Conflict("installation already terminated".into()));
        }
        sqlx::query("UPDATE installations SET terminated = $1 WHERE id = $2")
            .bind(micros(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if let Some(e) = event {
            deliveries::insert_event_with_deliveries(&mut tx, e, now).await?;
        }
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        inst.terminated = Some(now);
        Ok(inst)
    }

    async fn list_installations(
        &self,
        filter: &InstallationFilter,
        page: Page,
    ) -> StoreResult<(Vec<InstallationRecord>, u64)> {
        fn push_where<'a>(q: &mut QueryBuilder<'a, Postgres>, f: &'a InstallationFilter) {
            q.push(" WHERE TRUE");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").push_bind(a.0);
            }
            if let Some(c) = &f.customer_id {
                q.push(" AND customer_id = ").push_bind(c.as_str());
            }
            match f.installed {
                Some(true) => {
                    q.push(" AND terminated IS NULL");
                }
                Some(false) => {
                    q.push(" AND terminated IS NOT NULL");
                }
                None => {}
            }
        }
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM installations");
        push_where(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = QueryBuilder::new("SELECT * FROM installations");
        push_where(&mut q, filter);
        q.push(" ORDER BY created, id LIMIT ").push_bind(page.size as i64).push(" OFFSET ").push_bind(page.offset());
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok((rows.iter().map(installation).collect::<StoreResult<_>>()?, total as u64))
    }

    async fn is_installed(&self, application: ApplicationId, customer_id: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM installations WHERE application_id = $1 AND customer_id = $2 AND terminated IS NULL \
             LIMIT 1",
        )
        .bind(application.0)
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn insert_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, application_id, url, description, topic_ids, customer_ids, active, \
             ignore_etag_only_changes, secret, previous_secret, previous_secret_expires, disabled_reason, \
             last_success, failing_since, created, modified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(hook.id.0)
        .bind(hook.application_id.0)
        .bind(&hook.url)
        .bind(&hook.description)
        .bind(&hook.topic_ids)
        .bind(&hook.customer_ids)
        .bind(hook.active)
        .bind(hook.ignore_etag_only_changes)
        .bind(self.sealer.seal_text(&hook.secret))
        .bind(hook.previous_secret.as_deref().map(|s| self.sealer.seal_text(s)))
        .bind(hook.previous_secret_expires.map(micros))
        .bind(&hook.disabled_reason)
        .bind(hook.last_success.map(micros))
        .bind(hook.failing_since.map(micros))
        .bind(micros(hook.created))
        .bind(micros(hook.modified))
        .execute(&mut *tx)
        .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_webhook(&self, id: WebhookId) -> StoreResult<WebhookRecord> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE id = $1 AND deleted IS NULL")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        webhook(&row, &self.sealer)
    }

    async fn update_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET url = $1, description = $2, topic_ids = $3, customer_ids = $4, active = $5, \
             ignore_etag_only_changes = $6, secret = $7, previous_secret = $8, previous_secret_expires = $9, \
             disabled_reason = $10, modified = $11 WHERE id = $12 AND deleted IS NULL",
        )
        .bind(&hook.url)
        .bind(&hook.description)
        .bind(&hook.topic_ids)
        .bind(&hook.customer_ids)
        .bind(hook.active)
        .bind(hook.ignore_etag_only_changes)
        .bind(self.sealer.seal_text(&hook.secret))
        .bind(hook.previous_secret.as_deref().map(|s| self.sealer.seal_text(s)))
        .bind(hook.previous_secret_expires.map(micros))
        .bind(&hook.disabled_reason)
        .bind(micros(hook.modified))
        .bind(hook.id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_webhook(&self, id: WebhookId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE webhooks SET deleted = $1, modified = $1 WHERE id = $2 AND deleted IS NULL")
            .bind(micros(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE deliveries SET state = 4, owner = NULL, next_attempt_at = NULL, updated = $1 \
             WHERE webhook_id = $2 AND state = 0",
        )
        .bind(micros(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_webhooks(&self, filter: &WebhookFilter, page: Page) -> StoreResult<(Vec<WebhookRecord>, u64)> {
        fn push_where<'a>(q: &mut QueryBuilder<'a, Postgres>, f: &'a WebhookFilter) {
            q.push(" WHERE deleted IS NULL");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").push_bind(a.0);
            }
            if let Some(active) = f.active {
                q.push(" AND active = ").push_bind(active);
            }
            if let Some(c) = &f.exact_customer {
                q.push(" AND customer_ids = ").push_bind(vec![c.clone()]);
            }
        }
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM webhooks");
        push_where(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = QueryBuilder::new("SELECT * FROM webhooks");
        push_where(&mut q, filter);
        let col = if filter.by_modified { "modified" } else { "created" };
        let dir = if filter.descending { "DESC" } else { "ASC" };
        q.push(format!(" ORDER BY {col} {dir}, id {dir} LIMIT "))
            .push_bind(page.size as i64)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok((rows.iter().map(|r| webhook(r, &self.sealer)).collect::<StoreResult<_>>()?, total as u64))
    }

    async fn routing_version(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT version FROM routing_version WHERE id = 1").fetch_one(&self.pool).await?)
    }

    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot> {
        let mut tx = self.pool.begin().await?;
        // One snapshot for the four reads: the version read matches the rows read.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM routing_version WHERE id = 1").fetch_one(&mut *tx).await?;
        let rows = sqlx::query(
            "SELECT id, application_id, topic_ids, customer_ids, active, ignore_etag_only_changes FROM webhooks \
             WHERE deleted IS NULL AND active",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut webhooks = Vec::with_capacity(rows.len());
        for row in &rows {
            webhooks.push(RouteWebhook {
                id: row.try_get::<Uuid, _>("id")?.into(),
                application_id: row.try_get::<Uuid, _>("application_id")?.into(),
                topic_ids: row.try_get("topic_ids")?,
                customer_ids: row.try_get("customer_ids")?,
                active: row.try_get("active")?,
                ignore_etag_only_changes: row.try_get("ignore_etag_only_changes")?,
            });
        }
        let mut scopes = Vec::new();
        for row in sqlx::query("SELECT id, scopes FROM applications WHERE deleted IS NULL").fetch_all(&mut *tx).await? {
            scopes.push((row.try_get::<Uuid, _>("id")?.into(), row.try_get("scopes")?));
        }
        let mut installations = Vec::new();
        for row in sqlx::query("SELECT application_id, customer_id FROM installations WHERE terminated IS NULL")
            .fetch_all(&mut *tx)
            .await?
        {
            installations.push((row.try_get::<Uuid, _>("application_id")?.into(), row.try_get("customer_id")?));
        }
        tx.commit().await?;
        Ok(RoutingSnapshot { version, webhooks, scopes, installations })
    }

    async fn insert_events(
        &self,
        events: &[NewEvent],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.commits.submit(events, idempotency, now).await
    }

    async fn get_idempotent_response(&self, key: &str, since: DateTime<Utc>) -> StoreResult<Option<IdempotentAnswer>> {
        let row = sqlx::query("SELECT response, body_hash FROM idempotency_keys WHERE key = $1 AND created >= $2")
            .bind(key)
            .bind(micros(since))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(IdempotentAnswer { response: r.try_get("response")?, body_hash: r.try_get("body_hash")? }))
            .transpose()
    }

    async fn claim_due_with_lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        limit: u32,
        exclude: &[WebhookId],
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        deliveries::claim_due(&self.pool, owner, now, limit, exclude, lease).await
    }

    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::heartbeat(&self.pool, node, now).await
    }

    async fn release_claims(&self, owner: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE deliveries SET owner = NULL WHERE state = 0 AND owner = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1").bind(owner).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT next_attempt_at FROM deliveries WHERE state = 0 AND owner IS NULL AND webhook_id <> ALL($1) \
             ORDER BY next_attempt_at LIMIT 1",
        )
        .bind(exclude.iter().map(|w| w.0).collect::<Vec<uuid::Uuid>>())
        .fetch_optional(&self.pool)
        .await?;
        Ok(opt_time(next.flatten()))
    }

    async fn release_all_claims(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE deliveries SET owner = NULL WHERE state = 0 AND owner IS NOT NULL")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        deliveries::record_attempts(&self.pool, attempts).await
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord> {
        deliveries::get_delivery(&self.pool, id).await
    }

    async fn insert_session(&self, session: &SessionRecord, keep: u32) -> StoreResult<()> {
        sessions::insert(&self.pool, session, keep).await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sessions::get(&self.pool, token_hash).await
    }

    async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        sessions::touch(&self.pool, token_hash, now).await
    }

    async fn set_session_app(&self, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
        sessions::set_app(&self.pool, token_hash, app).await
    }

    async fn set_session_flash(&self, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
        sessions::set_flash(&self.pool, token_hash, flash).await
    }

    async fn clear_session_flash(&self, token_hash: &str, shown: &str) -> StoreResult<()> {
        sessions::clear_flash(&self.pool, token_hash, shown).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        sessions::delete(&self.pool, token_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        sessions::delete_expired(&self.pool, idle_before, created_before).await
    }

    async fn list_attempt_page(&self, filter: &AttemptFilter) -> StoreResult<AttemptPage> {
        deliveries::list_attempt_page(&self.pool, filter).await
    }

    async fn replay_candidates(
        &self,
        webhook: WebhookId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        states: &[DeliveryState],
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        maintenance::replay_candidates(&self.pool, webhook, from, to, states, limit).await
    }

    async fn insert_deliveries(&self, deliveries: &[(Uuid, NewDelivery)], now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::insert_deliveries(&self.pool, deliveries, now).await
    }

    async fn disable_failing_webhooks(
        &self,
        failing_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<WebhookId>> {
        maintenance::disable_failing_webhooks(&self.pool, failing_before, reason, now).await
    }

    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<StoreStats> {
        maintenance::stats(&self.pool, now).await
    }

    async fn prune(&self, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
        maintenance::prune(&self.pool, before, keys_before).await
    }

    async fn attempt_counts(&self, filter: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
        maintenance::attempt_counts(&self.pool, filter).await
    }
}
