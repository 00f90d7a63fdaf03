//! The embedded default: SQLite in WAL mode, one file in the data dir.
//!
//! Writes go through one connection (SQLite has one writer at a time; a single connection avoids busy retries) and
//! reads through a small pool of their own, which WAL lets run beside the writer. `synchronous = FULL`: a transaction
//! that committed is on disk, so an answer given after a commit survives a crash of the process or of the machine.

mod checkpoint;
mod commit;
mod deliveries;
mod dialect;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

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

    /// The catalogue on this store's pools (written once for both backends, `crate::catalogue`).
    fn catalogue(&self) -> crate::catalogue::Catalogue<'_, Sqlite> {
        crate::catalogue::Catalogue { writer: &self.writer, reader: &self.reader, sealer: &self.sealer }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn integrity_problem(&self) -> Option<String> {
        self.integrity.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn reseal_secrets(&self) -> StoreResult<u64> {
        self.catalogue().reseal_secrets().await
    }

    async fn insert_application(&self, app: &ApplicationRecord) -> StoreResult<()> {
        self.catalogue().insert_application(app).await
    }

    async fn get_application(&self, id: ApplicationId) -> StoreResult<ApplicationRecord> {
        self.catalogue().get_application(id).await
    }

    async fn find_application_by_key_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApplicationRecord>> {
        self.catalogue().find_application_by_key_hash(key_hash, now).await
    }

    async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)> {
        self.catalogue().list_applications(page).await
    }

    async fn update_application(
        &self,
        id: ApplicationId,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        self.catalogue().update_application(id, name, scopes, now).await
    }

    async fn rotate_api_key(
        &self,
        id: ApplicationId,
        key_hash: &str,
        previous_expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord> {
        self.catalogue().rotate_api_key(id, key_hash, previous_expires, now).await
    }

    async fn delete_application(&self, id: ApplicationId, now: DateTime<Utc>) -> StoreResult<()> {
        self.catalogue().delete_application(id, now).await
    }

    async fn insert_installation(&self, inst: &InstallationRecord, event: Option<&NewEvent>) -> StoreResult<()> {
        self.catalogue().insert_installation(inst, event).await
    }

    async fn get_installation(&self, id: InstallationId) -> StoreResult<InstallationRecord> {
        self.catalogue().get_installation(id).await
    }

    async fn terminate_installation(
        &self,
        id: InstallationId,
        now: DateTime<Utc>,
        event: Option<&NewEvent>,
    ) -> StoreResult<InstallationRecord> {
        self.catalogue().terminate_installation(id, now, event).await
    }

    async fn list_installations(
        &self,
        filter: &InstallationFilter,
        page: Page,
    ) -> StoreResult<(Vec<InstallationRecord>, u64)> {
        self.catalogue().list_installations(filter, page).await
    }

    async fn is_installed(&self, application: ApplicationId, customer_id: &str) -> StoreResult<bool> {
        self.catalogue().is_installed(application, customer_id).await
    }

    async fn insert_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        self.catalogue().insert_webhook(hook).await
    }

    async fn get_webhook(&self, id: WebhookId) -> StoreResult<WebhookRecord> {
        self.catalogue().get_webhook(id).await
    }

    async fn update_webhook(&self, hook: &WebhookRecord) -> StoreResult<()> {
        self.catalogue().update_webhook(hook).await
    }

    async fn delete_webhook(&self, id: WebhookId, now: DateTime<Utc>) -> StoreResult<()> {
        self.catalogue().delete_webhook(id, now).await
    }

    async fn list_webhooks(&self, filter: &WebhookFilter, page: Page) -> StoreResult<(Vec<WebhookRecord>, u64)> {
        self.catalogue().list_webhooks(filter, page).await
    }

    async fn routing_version(&self) -> StoreResult<i64> {
        self.catalogue().routing_version().await
    }

    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot> {
        self.catalogue().routing_snapshot().await
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
        self.catalogue().get_idempotent_response(key, since).await
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
        self.catalogue().release_claims(owner).await
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        deliveries::next_due_at(&self.reader, exclude).await
    }

    async fn release_all_claims(&self) -> StoreResult<u64> {
        self.catalogue().release_all_claims().await
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        deliveries::record_attempts(&self.writer, attempts).await
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord> {
        self.catalogue().get_delivery(id).await
    }

    async fn insert_session(&self, session: &SessionRecord, keep: u32) -> StoreResult<()> {
        self.catalogue().insert_session(session, keep).await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.catalogue().get_session(token_hash).await
    }

    async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        self.catalogue().touch_session(token_hash, now).await
    }

    async fn set_session_app(&self, token_hash: &str, app: ApplicationId) -> StoreResult<()> {
        self.catalogue().set_session_app(token_hash, app).await
    }

    async fn set_session_flash(&self, token_hash: &str, flash: Option<&str>) -> StoreResult<()> {
        self.catalogue().set_session_flash(token_hash, flash).await
    }

    async fn clear_session_flash(&self, token_hash: &str, shown: &str) -> StoreResult<()> {
        self.catalogue().clear_session_flash(token_hash, shown).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool> {
        self.catalogue().delete_session(token_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.catalogue().delete_expired_sessions(idle_before, created_before).await
    }

    async fn list_attempt_page(&self, filter: &AttemptFilter) -> StoreResult<AttemptPage> {
        self.catalogue().list_attempt_page(filter).await
    }

    async fn replay_candidates(
        &self,
        webhook: WebhookId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        states: &[DeliveryState],
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        self.catalogue().replay_candidates(webhook, from, to, states, limit).await
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
        self.catalogue().disable_failing_webhooks(failing_before, reason, now).await
    }

    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<StoreStats> {
        self.catalogue().stats(now).await
    }

    async fn prune(&self, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
        self.catalogue().prune(before, keys_before).await
    }

    async fn attempt_counts(&self, filter: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
        self.catalogue().attempt_counts(filter).await
    }
}
