//! PostgreSQL: several Herald nodes sharing one database.
//!
//! Migrations run at open under a session advisory lock taken on one dedicated connection, so that nodes starting
//! together apply them once, one after the other. Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so that
//! concurrent nodes never claim the same row, and a node's claims outlive it only for its lease (`nodes`).
//! Applications, installations and webhooks live here; the hot path (events, deliveries, attempts) in `deliveries`.

mod deliveries;
mod dialect;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};
use uuid::Uuid;

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

    /// The catalogue on this store's pools (written once for both backends, `crate::catalogue`).
    fn catalogue(&self) -> crate::catalogue::Catalogue<'_, Postgres> {
        crate::catalogue::Catalogue { writer: &self.pool, reader: &self.pool, sealer: &self.sealer }
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

#[async_trait]
impl Store for PgStore {
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
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        deliveries::claim_due(&self.pool, owner, now, limit, exclude, lease).await
    }

    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::heartbeat(&self.pool, node, now).await
    }

    async fn release_claims(&self, owner: &str) -> StoreResult<u64> {
        self.catalogue().release_claims(owner).await
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        deliveries::next_due_at(&self.pool, exclude).await
    }

    async fn release_all_claims(&self) -> StoreResult<u64> {
        self.catalogue().release_all_claims().await
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        deliveries::record_attempts(&self.pool, attempts).await
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

    async fn insert_deliveries(&self, deliveries: &[(Uuid, NewDelivery)], now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::insert_deliveries(&self.pool, deliveries, now).await
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
