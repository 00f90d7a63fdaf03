//! The embedded default: SQLite in WAL mode, one file in the data dir.
//!
//! Writes go through one connection (SQLite has one writer at a time; a single connection avoids busy retries) and
//! reads through a small pool of their own, which WAL lets run beside the writer. `synchronous = FULL`: a transaction
//! that committed is on disk, so an answer given after a commit survives a crash of the process or of the machine.

mod checkpoint;
mod commit;
mod deliveries;
mod maintenance;
mod sessions;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::routing::RouteWebhook;
use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::codec::{id, list, list_json, micros, opt_time, time};
use crate::*;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    commits: crate::group_commit::GroupCommit,
    /// Stops the background checkpoints when the store is dropped.
    _checkpoints: tokio::sync::mpsc::Sender<()>,
    /// What [`SqliteStore::quick_check`] found wrong, if anything.
    integrity: std::sync::Mutex<Option<String>>,
    sealer: Sealer,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::Database)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-16000")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // Checkpoints run beside the writer (see `checkpoint`), not inside its commits.
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(StoreError::from)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(StoreError::from)?;
        let commits = crate::group_commit::GroupCommit::start(commit::SqliteCommitter { writer: writer.clone() }, 1);
        let checkpoints = checkpoint::start(options);
        Ok(Self {
            writer,
            reader,
            commits,
            _checkpoints: checkpoints,
            integrity: std::sync::Mutex::new(None),
            sealer: Sealer::plain(),
        })
    }

    /// The store sealing secrets with `sealer` (see [`Sealer`]); without it, they are written in the clear.
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// Runs SQLite's `PRAGMA quick_check` (every page and index entry readable and well-formed; O(size of the file))
    /// and remembers what it found, which [`Store::integrity_problem`] reports from then on. `None`: the file is sound.
    pub async fn quick_check(&self) -> StoreResult<Option<String>> {
        let problem = match sqlx::query_scalar::<_, String>("PRAGMA quick_check(20)").fetch_all(&self.reader).await {
            Ok(rows) => match rows.as_slice() {
                [ok] if ok == "ok" => None,
                [] => Some("quick_check returned nothing".to_string()),
                lines => Some(lines.join("; ")),
            },
            // Damage can stop the check itself (SQLITE_CORRUPT, or a page that cannot be read): a finding too.
            Err(e) => Some(format!(
                "the check could not finish: {}",
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
            )),
        };
        *self.integrity.lock().unwrap_or_else(|e| e.into_inner()) = problem.clone();
        Ok(problem)
    }

    /// Applies the embedded migrations and closes the database (for `herald migrate`).
    pub async fn migrate(path: &Path) -> StoreResult<()> {
        let store = Self::open(path).await?;
        store.writer.close().await;
        store.reader.close().await;
        Ok(())
    }

    async fn bump_routing_version(tx: &mut sqlx::SqliteConnection) -> StoreResult<()> {
        sqlx::query("UPDATE routing_version SET version = version + 1 WHERE id = 1").execute(tx).await?;
        Ok(())
    }
}

fn application(row: &SqliteRow, sealer: &Sealer) -> StoreResult<ApplicationRecord> {
    Ok(ApplicationRecord {
        id: id(row.try_get("id")?)?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        scopes: list(row.try_get("scopes")?)?,
        api_key_hash: row.try_get("api_key_hash")?,
        signing_seed: sealer.open_bytes(row.try_get("signing_seed")?)?,
        created: time(row.try_get("created")?),
        modified: time(row.try_get("modified")?),
    })
}

fn installation(row: &SqliteRow) -> StoreResult<InstallationRecord> {
    Ok(InstallationRecord {
        id: id(row.try_get("id")?)?,
        application_id: id(row.try_get("application_id")?)?,
        customer_id: row.try_get("customer_id")?,
        customer_name: row.try_get("customer_name")?,
        customer_email: row.try_get("customer_email")?,
        created: time(row.try_get("created")?),
        terminated: opt_time(row.try_get("terminated")?),
    })
}

fn webhook(row: &SqliteRow, sealer: &Sealer) -> StoreResult<WebhookRecord> {
    Ok(WebhookRecord {
        id: id(row.try_get("id")?)?,
        application_id: id(row.try_get("application_id")?)?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        topic_ids: list(row.try_get("topic_ids")?)?,
        customer_ids: list(row.try_get("customer_ids")?)?,
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
impl Store for SqliteStore {
    fn integrity_problem(&self) -> Option<String> {
        self.integrity.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn reseal_secrets(&self) -> StoreResult<u64> {
        let sealer = &self.sealer;
        let mut tx = self.writer.begin().await?;
        let mut rewritten = 0;
        let apps: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT id, signing_seed FROM applications").fetch_all(&mut *tx).await?;
        for (id, seed) in apps.into_iter().filter(|(_, seed)| !sealer.is_current_bytes(seed)) {
            let seed = sealer.seal_bytes(&sealer.open_bytes(seed)?);
            sqlx::query("UPDATE applications SET signing_seed = ? WHERE id = ?")
                .bind(seed)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            rewritten += 1;
        }
        let hooks: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT id, secret, previous_secret FROM webhooks").fetch_all(&mut *tx).await?;
        for (id, secret, previous) in hooks {
            if sealer.is_current_text(&secret) && previous.as_deref().is_none_or(|p| sealer.is_current_text(p)) {
                continue;
            }
            let secret = sealer.seal_text(&sealer.open_text(secret)?);
            let previous = sealer.open_opt_text(previous)?.map(|p| sealer.seal_text(&p));
            sqlx::query("UPDATE webhooks SET secret = ?, previous_secret = ? WHERE id = ?")
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
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO applications (id, client_id, name, scopes, api_key_hash, signing_seed, created, modified) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(app.id.to_string())
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(list_json(&app.scopes))
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
        let row = sqlx::query("SELECT * FROM applications WHERE id = ? AND deleted IS NULL")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
            "SELECT * FROM applications WHERE deleted IS NULL AND (api_key_hash = ? \
             OR (previous_api_key_hash = ? AND previous_key_expires > ?)) LIMIT 1",
        )
        .bind(key_hash)
        .bind(key_hash)
        .bind(micros(now))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(|r| application(r, &self.sealer)).transpose()
    }

    async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE deleted IS NULL")
            .fetch_one(&self.reader)
            .await?;
        let rows =
            sqlx::query("SELECT * FROM applications WHERE deleted IS NULL ORDER BY created, id LIMIT ? OFFSET ?")
                .bind(page.size as i64)
                .bind(page.offset())
                .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE applications SET name = ?, scopes = ?, modified = ? WHERE id = ? AND deleted IS NULL RETURNING *",
        )
        .bind(name)
        .bind(list_json(scopes))
        .bind(micros(now))
        .bind(id.to_string())
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
            "UPDATE applications SET previous_api_key_hash = CASE WHEN ? IS NULL THEN NULL ELSE api_key_hash END, \
             previous_key_expires = ?, api_key_hash = ?, modified = ? WHERE id = ? AND deleted IS NULL RETURNING *",
        )
        .bind(previous_expires.map(micros))
        .bind(previous_expires.map(micros))
        .bind(key_hash)
        .bind(micros(now))
        .bind(id.to_string())
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StoreError::NotFound)?;
        application(&row, &self.sealer)
    }

    async fn delete_application(&self, id: ApplicationId, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE applications SET deleted = ?, modified = ? WHERE id = ? AND deleted IS NULL")
            .bind(micros(now))
            .bind(micros(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE deliveries SET state = 4, owner = NULL, next_attempt_at = NULL, updated = ? WHERE state = 0 \
             AND webhook_id IN (SELECT id FROM webhooks WHERE application_id = ? AND deleted IS NULL)",
        )
        .bind(micros(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE webhooks SET deleted = ?, modified = ? WHERE application_id = ? AND deleted IS NULL")
            .bind(micros(now))
            .bind(micros(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE installations SET terminated = ? WHERE application_id = ? AND terminated IS NULL")
            .bind(micros(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_installation(&self, inst: &InstallationRecord, event: Option<&NewEvent>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO installations (id, application_id, customer_id, customer_name, customer_email, created, \
             terminated) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(inst.id.to_string())
        .bind(inst.application_id.to_string())
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
        let row = sqlx::query("SELECT * FROM installations WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query("SELECT * FROM installations WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut inst = installation(&row)?;
        if inst.terminated.is_some() {
            return Err(StoreError::Conflict("installation already terminated".into()));
        }
        sqlx::query("UPDATE installations SET terminated = ? WHERE id = ?")
            .bind(micros(now))
            .bind(id.to_string())
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
        fn push_where<'a>(q: &mut QueryBuilder<'a, Sqlite>, f: &'a InstallationFilter) {
            q.push(" WHERE 1 = 1");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").push_bind(a.to_string());
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
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await?;
        let mut q = QueryBuilder::new("SELECT * FROM installations");
        push_where(&mut q, filter);
        q.push(" ORDER BY created, id LIMIT ").push_bind(page.size as i64).push(" OFFSET ").push_bind(page.offset());
        let rows = q.build().fetch_all(&self.reader).await?;
        Ok((rows.iter().map(installation).collect::<StoreResult<_>>()?, total as u64))
    }

    async fn is_installed(&self, application: ApplicationId, customer_id: &str) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM installations WHERE application_id = ? AND customer_id = ? AND terminated IS NULL LIMIT 1",
        )
        .bind(application.to_string())
        .bind(customer_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn insert_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, application_id, url, description, topic_ids, customer_ids, active, \
             ignore_etag_only_changes, secret, previous_secret, previous_secret_expires, disabled_reason, \
             last_success, failing_since, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(hook.id.to_string())
        .bind(hook.application_id.to_string())
        .bind(&hook.url)
        .bind(&hook.description)
        .bind(list_json(&hook.topic_ids))
        .bind(list_json(&hook.customer_ids))
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
        let row = sqlx::query("SELECT * FROM webhooks WHERE id = ? AND deleted IS NULL")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        webhook(&row, &self.sealer)
    }

    async fn update_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET url = ?, description = ?, topic_ids = ?, customer_ids = ?, active = ?, \
             ignore_etag_only_changes = ?, secret = ?, previous_secret = ?, previous_secret_expires = ?, \
             disabled_reason = ?, modified = ? WHERE id = ? AND deleted IS NULL",
        )
        .bind(&hook.url)
        .bind(&hook.description)
        .bind(list_json(&hook.topic_ids))
        .bind(list_json(&hook.customer_ids))
        .bind(hook.active)
        .bind(hook.ignore_etag_only_changes)
        .bind(self.sealer.seal_text(&hook.secret))
        .bind(hook.previous_secret.as_deref().map(|s| self.sealer.seal_text(s)))
        .bind(hook.previous_secret_expires.map(micros))
        .bind(&hook.disabled_reason)
        .bind(micros(hook.modified))
        .bind(hook.id.to_string())
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
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE webhooks SET deleted = ?, modified = ? WHERE id = ? AND deleted IS NULL")
            .bind(micros(now))
            .bind(micros(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE deliveries SET state = 4, owner = NULL, next_attempt_at = NULL, updated = ? WHERE webhook_id = ? AND state = 0")
            .bind(micros(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        Self::bump_routing_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_webhooks(&self, filter: &WebhookFilter, page: Page) -> StoreResult<(Vec<WebhookRecord>, u64)> {
        fn push_where<'a>(q: &mut QueryBuilder<'a, Sqlite>, f: &'a WebhookFilter) {
            q.push(" WHERE deleted IS NULL");
            if let Some(a) = f.application_id {
                q.push(" AND application_id = ").push_bind(a.to_string());
            }
            if let Some(active) = f.active {
                q.push(" AND active = ").push_bind(active);
            }
            if let Some(c) = &f.exact_customer {
                q.push(" AND customer_ids = ").push_bind(list_json(std::slice::from_ref(c)));
            }
        }
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM webhooks");
        push_where(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await?;
        let mut q = QueryBuilder::new("SELECT * FROM webhooks");
        push_where(&mut q, filter);
        let col = if filter.by_modified { "modified" } else { "created" };
        let dir = if filter.descending { "DESC" } else { "ASC" };
        q.push(format!(" ORDER BY {col} {dir}, id {dir} LIMIT "))
            .push_bind(page.size as i64)
            .push(" OFFSET ")
            .push_bind(page.offset());
        let rows = q.build().fetch_all(&self.reader).await?;
        Ok((rows.iter().map(|r| webhook(r, &self.sealer)).collect::<StoreResult<_>>()?, total as u64))
    }

    async fn routing_version(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT version FROM routing_version WHERE id = 1").fetch_one(&self.reader).await?)
    }

    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot> {
        let mut tx = self.reader.begin().await?;
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM routing_version WHERE id = 1").fetch_one(&mut *tx).await?;
        let rows = sqlx::query(
            "SELECT id, application_id, topic_ids, customer_ids, active, ignore_etag_only_changes FROM webhooks \
             WHERE deleted IS NULL AND active = 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut webhooks = Vec::with_capacity(rows.len());
        for row in &rows {
            webhooks.push(RouteWebhook {
                id: id(row.try_get("id")?)?,
                application_id: id(row.try_get("application_id")?)?,
                topic_ids: list(row.try_get("topic_ids")?)?,
                customer_ids: list(row.try_get("customer_ids")?)?,
                active: row.try_get("active")?,
                ignore_etag_only_changes: row.try_get("ignore_etag_only_changes")?,
            });
        }
        let mut scopes = Vec::new();
        for row in sqlx::query("SELECT id, scopes FROM applications WHERE deleted IS NULL").fetch_all(&mut *tx).await? {
            scopes.push((id(row.try_get("id")?)?, list(row.try_get("scopes")?)?));
        }
        let mut installations = Vec::new();
        for row in sqlx::query("SELECT application_id, customer_id FROM installations WHERE terminated IS NULL")
            .fetch_all(&mut *tx)
            .await?
        {
            installations.push((id(row.try_get("application_id")?)?, row.try_get("customer_id")?));
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
        let row = sqlx::query("SELECT response, body_hash FROM idempotency_keys WHERE key = ? AND created >= ?")
            .bind(key)
            .bind(micros(since))
            .fetch_optional(&self.reader)
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
        lease: std::time::Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        deliveries::claim_due(&self.writer, owner, now, limit, exclude, lease).await
    }

    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::heartbeat(&self.writer, node, now).await
    }

    async fn release_claims(&self, owner: &str) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE deliveries SET owner = NULL WHERE state = 0 AND owner = ?")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = ?").bind(owner).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        deliveries::next_due_at(&self.reader, exclude).await
    }

    async fn release_all_claims(&self) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE deliveries SET owner = NULL WHERE state = 0 AND owner IS NOT NULL")
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        deliveries::record_attempts(&self.writer, attempts).await
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord> {
        deliveries::get_delivery(&self.reader, id).await
    }

    async fn insert_session(&self, session: &SessionRecord, keep: u32) -> StoreResult<()> {
        sessions::insert(&self.writer, session, keep).await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sessions::get(&self.reader, token_hash).await
    }

    async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        sessions::touch(&self.writer, token_hash, now).await
    }

    async fn set_session_app(&self, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
        sessions::set_app(&self.writer, token_hash, app).await
    }

    async fn set_session_flash(&self, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
        sessions::set_flash(&self.writer, token_hash, flash).await
    }

    async fn clear_session_flash(&self, token_hash: &str, shown: &str) -> StoreResult<()> {
        sessions::clear_flash(&self.writer, token_hash, shown).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        sessions::delete(&self.writer, token_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        sessions::delete_expired(&self.writer, idle_before, created_before).await
    }

    async fn list_attempt_page(&self, filter: &AttemptFilter) -> StoreResult<AttemptPage> {
        deliveries::list_attempt_page(&self.reader, filter).await
    }

    async fn replay_candidates(
        &self,
        webhook: WebhookId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        states: &[DeliveryState],
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        maintenance::replay_candidates(&self.reader, webhook, from, to, states, limit).await
    }

    async fn insert_deliveries(&self, deliveries: &[(uuid::Uuid, NewDelivery)], now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::insert_deliveries(&self.writer, deliveries, now).await
    }

    async fn disable_failing_webhooks(
        &self,
        failing_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<WebhookId>> {
        maintenance::disable_failing_webhooks(&self.writer, failing_before, reason, now).await
    }

    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<StoreStats> {
        maintenance::stats(&self.reader, now).await
    }

    async fn prune(&self, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
        maintenance::prune(&self.writer, before, keys_before).await
    }

    async fn attempt_counts(&self, filter: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
        maintenance::attempt_counts(&self.reader, filter).await
    }
}
