//! Herald's storage: one [`Store`] trait, with SQLite (the embedded, single-node default) and PostgreSQL (several
//! nodes sharing one database) behind it. `docs/STORAGE.md` describes both schemas and how claims and leases work.
//!
//! The store keeps records and answers queries; it knows nothing of HTTP and holds no business rule. Each backend
//! maps its own failures (constraint names, SQLSTATEs) to [`StoreError`] so that callers never see them. Every
//! instant is kept as microseconds since the Unix epoch on every backend; ids are UUID text on SQLite and native
//! UUIDs on PostgreSQL, which sort the same way.

mod backend;
mod batch;
mod catalogue;
mod codec;
mod dead_letters;
mod dialect;
mod entity_state;
mod error;
mod group_commit;
mod liveness;
mod models;
pub mod postgres;
mod sealing;
mod sessions;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use dead_letters::DeadLetterRecord;
pub use entity_state::{EntityKey, EntityState, EntityWrite};
pub use error::StoreError;
pub use models::*;
pub use sealing::Sealer;
pub use sessions::SessionRecord;

use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};

pub type StoreResult<T> = Result<T, StoreError>;

/// How long a node's claims outlive its last sign of life (a [`Store::heartbeat`] or a claim) when
/// [`Store::claim_due`] is used. A node should heartbeat several times per lease, and the lease must exceed the clock
/// skew between nodes, since every node compares its own `now` with the others' heartbeats.
pub const DEFAULT_NODE_LEASE: Duration = Duration::from_secs(30);

/// How many rows [`Store::prune`] changes per statement (and transaction) before letting other writers in.
pub const PRUNE_BATCH: u32 = 10_000;

/// Everything Herald stores. Methods are batch-shaped where the hot path needs it (events with their deliveries,
/// claims, attempt records), so that a backend can write many in one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Damage found in the database by an integrity check at start (SQLite's `quick_check`), if any: the store
    /// still answers, but what touches the damaged pages fails. `None` when sound or never checked.
    fn integrity_problem(&self) -> Option<String> {
        None
    }

    /// Rewrites every webhook secret and signing seed (deleted webhooks included) not sealed with the store's
    /// sealing key with it, in one transaction; returns how many rows it rewrote. Run by
    /// `herald rotate-encryption-key` with the new key first and the old one after it.
    async fn reseal_secrets(&self) -> StoreResult<u64>;

    // -- applications --------------------------------------------------------------------------------------------
    async fn insert_application(&self, app: &ApplicationRecord) -> StoreResult<()>;
    /// An application that is not deleted.
    async fn get_application(&self, id: ApplicationId) -> StoreResult<ApplicationRecord>;
    /// The application (not deleted) whose current API key has this hash, or whose previous key (before the last
    /// rotation) has it and is still valid at `now`.
    async fn find_application_by_key_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApplicationRecord>>;
    /// The applications that are not deleted, oldest first.
    async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)>;
    async fn update_application(
        &self,
        id: ApplicationId,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord>;

    /// Replaces the application's API key hash. With `previous_expires`, the key it replaces keeps authenticating
    /// until then (a key kept from an earlier rotation is dropped); without, it stops at once. `NotFound` when the
    /// application is absent or deleted.
    async fn rotate_api_key(
        &self,
        id: ApplicationId,
        key_hash: &str,
        previous_expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord>;
    /// Soft-deletes the application, in one transaction: its webhooks are deleted and their pending deliveries
    /// cancelled (as [`Store::delete_webhook`] does), its current installations terminated, and its keys stop
    /// authenticating. Attempts, events and deliveries stay for the logs. `NotFound` when absent or deleted already.
    async fn delete_application(&self, id: ApplicationId, now: DateTime<Utc>) -> StoreResult<()>;

    // -- installations -------------------------------------------------------------------------------------------
    /// Stores the installation and, in the same transaction, its `application.install` event with the event's
    /// deliveries (created at `inst.created`), so that a crash cannot keep one without the other.
    async fn insert_installation(&self, inst: &InstallationRecord, event: Option<&NewEvent>) -> StoreResult<()>;
    async fn get_installation(&self, id: InstallationId) -> StoreResult<InstallationRecord>;
    /// Sets `terminated` and, in the same transaction, stores its `application.uninstall` event with the event's
    /// deliveries (created at `now`); `NotFound` when absent, `Conflict` when already terminated (nothing stored).
    async fn terminate_installation(
        &self,
        id: InstallationId,
        now: DateTime<Utc>,
        event: Option<&NewEvent>,
    ) -> StoreResult<InstallationRecord>;
    async fn list_installations(
        &self,
        filter: &InstallationFilter,
        page: Page,
    ) -> StoreResult<(Vec<InstallationRecord>, u64)>;
    /// Whether the customer has a current (not terminated) installation of the application.
    async fn is_installed(&self, application: ApplicationId, customer_id: &str) -> StoreResult<bool>;

    // -- webhooks ------------------------------------------------------------------------------------------------
    async fn insert_webhook(&self, hook: &WebhookRecord) -> StoreResult<()>;
    /// A webhook that is not deleted.
    async fn get_webhook(&self, id: WebhookId) -> StoreResult<WebhookRecord>;
    async fn update_webhook(&self, hook: &WebhookRecord) -> StoreResult<()>;
    /// Soft-deletes the webhook and cancels its pending deliveries.
    async fn delete_webhook(&self, id: WebhookId, now: DateTime<Utc>) -> StoreResult<()>;
    async fn list_webhooks(&self, filter: &WebhookFilter, page: Page) -> StoreResult<(Vec<WebhookRecord>, u64)>;

    // -- routing snapshot ----------------------------------------------------------------------------------------
    /// A number that changes whenever applications, installations or webhooks change.
    async fn routing_version(&self) -> StoreResult<i64>;

    // -- backpressure (contract §9.3) ------------------------------------------------------------------------------
    /// Holds every delivery of the webhook until `until` (a `Retry-After`), never moving an existing hold back.
    async fn hold_webhook(&self, id: WebhookId, until: DateTime<Utc>) -> StoreResult<()>;
    /// The live webhooks held after `now` or rate-limited.
    async fn webhook_gates(&self, now: DateTime<Utc>) -> StoreResult<Vec<WebhookGate>>;
    /// Reserves `n` send slots `interval` apart for a rate-limited webhook, shared by every node; the first slot's
    /// instant (never before `now`).
    async fn reserve_send_slots(
        &self,
        id: WebhookId,
        n: u32,
        interval: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<DateTime<Utc>>;
    /// Everything the routing table is built from, read in one consistent snapshot.
    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot>;

    // -- events and deliveries -----------------------------------------------------------------------------------
    /// Stores events with their deliveries (and, when given, the idempotency key with its answer) in one
    /// transaction. `Conflict` (and nothing stored) when the key is stored already and has not expired
    /// (`Idempotency::expired_before`); an expired key is replaced. Deliveries with an `entity_key` are placed in
    /// their entities' order: the answer holds, in order, each one's sequence and whether it waits (stored
    /// `Waiting` and unheld; see `herald_domain::ordering`).
    async fn insert_events(
        &self,
        events: &[NewEvent],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>>;
    /// As [`Store::insert_events`], with entity state written in the same transaction (contract §9.5): each write
    /// only if its entity is still at the version read. `Stale` (and nothing stored) when one had moved.
    async fn insert_entity_events(
        &self,
        events: &[NewEvent],
        entities: &[EntityWrite],
        idempotency: Option<Idempotency<'_>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Sequenced>>;
    /// The stored state of each entity of `keys`, in order (`None`: never stored).
    async fn get_entities(&self, keys: &[EntityKey]) -> StoreResult<Vec<Option<EntityState>>>;
    /// What is stored for an idempotency key, if it is younger than `since`.
    async fn get_idempotent_response(&self, key: &str, since: DateTime<Utc>) -> StoreResult<Option<IdempotentAnswer>>;
    /// [`Store::claim_due_with_lease`] with the [`DEFAULT_NODE_LEASE`].
    async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        limit: u32,
        exclude: &[WebhookId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.claim_due_with_lease(owner, now, limit, exclude, DEFAULT_NODE_LEASE).await
    }
    /// Claims up to `limit` pending deliveries due at `now` that no live node holds, for `owner`, earliest due first.
    /// Webhooks in `exclude` are skipped (their owner has enough of their work queued already).
    ///
    /// A delivery is free when nobody holds it, or when its holder (another node) was last seen, by heartbeat or
    /// claim, more than `lease` before `now` and claimed it more than `lease` before `now`. `owner` also gets back
    /// its own deliveries claimed (or stored held) more than `lease` before `now`: it may have lost them (a request
    /// cancelled between its commit and the hand-over, an attempt that panicked), and its worker ignores those it
    /// still holds. Claiming is itself a heartbeat of `owner`, written in the same statement whenever this store last
    /// wrote one for `owner` more than a tenth of `lease` before `now`. Two concurrent calls
    /// never return the same delivery.
    async fn claim_due_with_lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        limit: u32,
        exclude: &[WebhookId],
        lease: Duration,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records that `node` is alive at `now` (its claims stay its own for a lease from now). A node holding claims
    /// heartbeats several times per lease, also when it has no room to claim more. Forgets nodes silent for a week.
    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Releases the pending deliveries `owner` holds and forgets its heartbeat (a node shutting down).
    async fn release_claims(&self, owner: &str) -> StoreResult<u64>;
    /// The earliest `next_attempt_at` of the pending deliveries nobody holds, but those to webhooks in `exclude`
    /// (whose owner has enough of their work queued already). Deliveries held by a node whose lease expired are not
    /// counted: they become claimable without a wake-up, so pollers find them on their next poll.
    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>>;
    /// Releases every delivery held by any owner: start-up of a single-node store only. On a shared database this
    /// would take live nodes' claims away; expired leases make it unnecessary there.
    async fn release_all_claims(&self) -> StoreResult<u64>;
    /// Records attempts and the resulting state of their deliveries, in one transaction, with each webhook's health
    /// and, when an attempt starts or ends a webhook's failing streak, the transition and its `webhooks.failing` or
    /// `webhooks.recovered` event with its deliveries (contract §9.4; at most once per transition, whatever other
    /// writers record at the same time).
    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()>;
    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord>;

    // -- dead letters of the broker sources -------------------------------------------------------------------
    /// Keeps a message a source could not ingest; false when the source already keeps one with that message id.
    async fn insert_dead_letter(&self, dead_letter: &DeadLetterRecord) -> StoreResult<bool>;
    /// The dead letters, newest first, and how many there are.
    async fn list_dead_letters(&self, page: Page) -> StoreResult<(Vec<DeadLetterRecord>, u64)>;

    // -- web UI sessions ----------------------------------------------------------------------------------------
    /// Stores a new session, then deletes the oldest sessions of its principal beyond the `keep` newest (by
    /// `created`, then token hash), in one transaction. `Conflict` when the token hash exists.
    async fn insert_session(&self, session: &SessionRecord, keep: u32) -> StoreResult<()>;
    /// The session with this token hash, whatever its age (expiry is the caller's rule).
    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Moves the session's `last_seen` forward to `now` (never back); false when there is no such session.
    async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Records the application picked in the session.
    async fn set_session_app(&self, token_hash: &str, app: ApplicationId) -> StoreResult<()>;
    /// Sets (or, with `None`, clears) the session's one-shot message.
    async fn set_session_flash(&self, token_hash: &str, flash: Option<&str>) -> StoreResult<()>;
    /// Clears the session's one-shot message if it is still `shown` (a newer one stays for the next page).
    async fn clear_session_flash(&self, token_hash: &str, shown: &str) -> StoreResult<()>;
    /// Deletes the session; false when there was none.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<bool>;
    /// Deletes every session last seen before `idle_before` or created before `created_before`; returns how many.
    async fn delete_expired_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    // -- logs ----------------------------------------------------------------------------------------------------
    /// The attempts matching `filter`, newest first (by `started`, then row id), as [`Store::list_attempt_page`].
    async fn list_attempts(&self, filter: &AttemptFilter) -> StoreResult<Vec<AttemptLogRecord>> {
        Ok(self.list_attempt_page(filter).await?.records)
    }
    /// A page of the attempts matching `filter`, newest first: at most `limit`, after `cursor`, cut at the byte
    /// budget, and whether more follow. With a budget, the records' sizes are read first and only the records of
    /// the page are read whole, so that memory stays within the budget plus one record.
    async fn list_attempt_page(&self, filter: &AttemptFilter) -> StoreResult<AttemptPage>;

    // -- replay, health, maintenance, analytics -----------------------------------------------------------------
    /// The events `webhook` had deliveries of, created within `[from, to]` (either bound optional), whose delivery
    /// is in one of `states`: one row per event (an event delivered twice counts once), oldest first (by the
    /// earliest such delivery's `created`, then by event row id), at most `limit`. No `states`, no rows.
    ///
    /// An event is returned whether or not retention has pruned its body (see [`Store::prune`]).
    async fn replay_candidates(
        &self,
        webhook: WebhookId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        states: &[DeliveryState],
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>>;
    /// Inserts new deliveries of events already stored (`(event row id, delivery)`), in one transaction: each with
    /// its `state` and `next_attempt_at`, no attempts, created at `now`. `NotFound` (and nothing stored) when an
    /// event is unknown; `Conflict` when a delivery id exists.
    async fn insert_deliveries(&self, deliveries: &[(uuid::Uuid, NewDelivery)], now: DateTime<Utc>) -> StoreResult<()>;
    /// Deactivates every active webhook whose attempts have all failed since before `failing_before` (its
    /// `failing_since` is earlier), recording `reason` (`disabled_reason`) and `modified = now`; returns their ids,
    /// sorted. Stores each one's `webhooks.disabled` event and bumps the routing version, in the same transaction,
    /// when any changed. Their pending deliveries stay.
    async fn disable_failing_webhooks(
        &self,
        failing_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<WebhookId>>;
    /// The application's webhooks whose failing streak is announced (`webhooks.failing` or `webhooks.disabled`,
    /// contract §9.4) and that were not modified since, oldest first, each with its latest attempt: what the web UI's
    /// banner shows.
    async fn webhook_alerts(&self, application: ApplicationId) -> StoreResult<Vec<WebhookAlert>>;
    /// Queue depth and health figures for metrics, read in one statement. Cheap: counts walk the pending rows of
    /// an index, not the tables.
    async fn stats(&self, now: DateTime<Utc>) -> StoreResult<StoreStats>;
    /// Retention: drops event bodies (of events created before `before` none of whose deliveries is pending) and
    /// attempt response bodies (of attempts started before `before`), and deletes idempotency keys created before
    /// `keys_before`. Rows and counts stay. Works in batches of [`PRUNE_BATCH`] rows, each its own transaction, so
    /// that a large backlog never holds the (SQLite) writer for long; returns how many of each it pruned.
    async fn prune(&self, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport>;
    /// Attempt counts (all, successful, failed) of attempts started within `[from, to]`, grouped as asked, sorted
    /// by key (byte order). Successful means outcome `delivered`. Pruning does not change them.
    async fn attempt_counts(&self, filter: &CountFilter) -> StoreResult<Vec<AttemptCount>>;
}

/// Offset paging: `number` from 1, `size` 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub fn offset(&self) -> i64 {
        (self.number.saturating_sub(1) as i64) * self.size as i64
    }
}
