//! `Store`, implemented once for every backend: the catalogue (`crate::catalogue`) is written once over the
//! backend's dialect, and what truly differs per database, the hot path, comes from the backend's [`Backend`]
//! implementation (`sqlite/`, `postgres/`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};

use crate::catalogue::Catalogue;
use crate::dialect::Sql;
use crate::group_commit::GroupCommit;
use crate::liveness::Liveness;
use crate::*;

/// What [`Store::claim_due_with_lease`] asks for.
pub struct Claim<'a> {
    pub owner: &'a str,
    pub now: DateTime<Utc>,
    pub limit: u32,
    pub exclude: &'a [WebhookId],
    pub lease: Duration,
    /// Whether the claim also writes `owner`'s heartbeat (see [`crate::liveness`]).
    pub heartbeat: bool,
}

/// A database behind [`Store`]: its catalogue (pools and sealer), its group commit, and its hot path: claims,
/// heartbeats, attempt records and delivery inserts, whose SQL differs (see `docs/STORAGE.md`, *Written once*).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    type Db: Sql;

    /// The catalogue on this backend's pools.
    fn catalogue(&self) -> Catalogue<'_, Self::Db>;
    /// The group commit accepted changes go through.
    fn commits(&self) -> &GroupCommit;
    /// The heartbeats this store wrote, so that claims write them only now and then.
    fn liveness(&self) -> &Liveness;
    /// As [`Store::integrity_problem`].
    fn integrity_problem(&self) -> Option<String> {
        None
    }
    /// As [`Store::claim_due_with_lease`].
    async fn claim(&self, claim: Claim<'_>) -> StoreResult<Vec<ClaimedDelivery>>;
    /// As [`Store::heartbeat`].
    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// As [`Store::next_due_at`].
    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>>;
    /// As [`Store::record_attempts`].
    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()>;
}

#[async_trait]
impl<B: Backend> Store for B {
    fn integrity_problem(&self) -> Option<String> {
        Backend::integrity_problem(self)
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

    async fn hold_webhook(&self, id: WebhookId, until: DateTime<Utc>) -> StoreResult<()> {
        self.catalogue().hold_webhook(id, until).await
    }

    async fn webhook_gates(&self, now: DateTime<Utc>) -> StoreResult<Vec<WebhookGate>> {
        self.catalogue().webhook_gates(now).await
    }

    async fn reserve_send_slots(
        &self,
        id: WebhookId,
        n: u32,
        interval: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<DateTime<Utc>> {
        self.catalogue().reserve_send_slots(id, n, interval, now).await
    }

    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot> {
        self.catalogue().routing_snapshot().await
    }

    async fn insert_events(
        &self,
        events: &[NewEvent],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>> {
        self.commits().submit(events, idempotency, now).await
    }

    async fn insert_entity_events(
        &self,
        events: &[NewEvent],
        entities: &[EntityWrite],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>> {
        self.commits().submit_with_entities(events, entities, idempotency, now).await
    }

    async fn get_entities(&self, keys: &[EntityKey]) -> StoreResult<Vec<Option<EntityState>>> {
        let catalogue = self.catalogue();
        let mut conn = catalogue.reader.acquire().await?;
        let mut states = Vec::with_capacity(keys.len());
        for key in keys {
            states.push(crate::entity_state::get_entity::<B::Db>(&mut conn, key).await?);
        }
        Ok(states)
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
        let heartbeat = self.liveness().due(owner, now, lease);
        let claimed = Backend::claim(self, Claim { owner, now, limit, exclude, lease, heartbeat }).await?;
        if heartbeat {
            self.liveness().written(owner, now);
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        Backend::heartbeat(self, node, now).await?;
        self.liveness().written(node, now);
        Ok(())
    }

    async fn release_claims(&self, owner: &str) -> StoreResult<u64> {
        let released = self.catalogue().release_claims(owner).await;
        // Its `nodes` row is gone (or may be): a later claim by the same name writes a heartbeat again.
        self.liveness().forget(owner);
        released
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        Backend::next_due_at(self, exclude).await
    }

    async fn release_all_claims(&self) -> StoreResult<u64> {
        self.catalogue().release_all_claims().await
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        Backend::record_attempts(self, attempts).await
    }

    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord> {
        self.catalogue().get_delivery(id).await
    }

    async fn insert_dead_letter(&self, dead_letter: &DeadLetterRecord) -> StoreResult<bool> {
        self.catalogue().insert_dead_letter(dead_letter).await
    }

    async fn list_dead_letters(&self, page: Page) -> StoreResult<(Vec<DeadLetterRecord>, u64)> {
        self.catalogue().list_dead_letters(page).await
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
        self.catalogue().insert_deliveries(deliveries, now).await
    }

    async fn disable_failing_webhooks(
        &self,
        failing_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<WebhookId>> {
        self.catalogue().disable_failing_webhooks(failing_before, reason, now).await
    }

    async fn webhook_alerts(&self, application: ApplicationId) -> StoreResult<Vec<WebhookAlert>> {
        self.catalogue().webhook_alerts(application).await
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
