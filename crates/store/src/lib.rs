//! Herald's storage: one [`Store`] trait, with SQLite (the embedded default) behind it and room for PostgreSQL.
//!
//! The store keeps records and answers queries; it knows nothing of HTTP and holds no business rule. Each backend
//! maps its own failures (constraint names, SQLSTATEs) to [`StoreError`] so that callers never see them. Every
//! instant is kept as microseconds since the Unix epoch, every id as UUID text, on every backend.

mod codec;
mod error;
mod models;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use error::StoreError;
pub use models::*;

use herald_domain::{ApplicationId, DeliveryId, InstallationId, WebhookId};

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Herald stores. Methods are batch-shaped where the hot path needs it (events with their deliveries,
/// claims, attempt records), so that a backend can write many in one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // -- applications --------------------------------------------------------------------------------------------
    async fn insert_application(&self, app: &ApplicationRecord) -> StoreResult<()>;
    async fn get_application(&self, id: ApplicationId) -> StoreResult<ApplicationRecord>;
    async fn find_application_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<ApplicationRecord>>;
    async fn list_applications(&self, page: Page) -> StoreResult<(Vec<ApplicationRecord>, u64)>;
    async fn update_application(
        &self,
        id: ApplicationId,
        name: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<ApplicationRecord>;

    // -- installations -------------------------------------------------------------------------------------------
    async fn insert_installation(&self, inst: &InstallationRecord) -> StoreResult<()>;
    async fn get_installation(&self, id: InstallationId) -> StoreResult<InstallationRecord>;
    /// Sets `terminated`; `NotFound` when absent, `Conflict` when already terminated.
    async fn terminate_installation(&self, id: InstallationId, now: DateTime<Utc>) -> StoreResult<InstallationRecord>;
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
    /// Everything the routing table is built from, read in one consistent snapshot.
    async fn routing_snapshot(&self) -> StoreResult<RoutingSnapshot>;

    // -- events and deliveries -----------------------------------------------------------------------------------
    /// Stores events with their deliveries (and, when given, the idempotency key's answer) in one transaction.
    async fn insert_events(
        &self,
        events: &[NewEvent],
        idempotency: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The answer stored for an idempotency key, if it is younger than `since`.
    async fn get_idempotent_response(&self, key: &str, since: DateTime<Utc>) -> StoreResult<Option<String>>;
    /// Claims up to `limit` pending deliveries due at `now` that no live node holds, for `owner`.
    /// Webhooks in `exclude` are skipped (their owner has enough of their work queued already).
    async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        limit: u32,
        exclude: &[WebhookId],
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Releases the pending deliveries `owner` holds (a node shutting down).
    async fn release_claims(&self, owner: &str) -> StoreResult<u64>;
    /// The earliest `next_attempt_at` of the pending deliveries nobody holds.
    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Releases every delivery held by any owner (start-up of a single-node store).
    async fn release_all_claims(&self) -> StoreResult<u64>;
    /// Records attempts and the resulting state of their deliveries, in one transaction.
    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()>;
    async fn get_delivery(&self, id: DeliveryId) -> StoreResult<DeliveryRecord>;

    // -- logs ----------------------------------------------------------------------------------------------------
    async fn list_attempts(&self, filter: &AttemptFilter) -> StoreResult<Vec<AttemptLogRecord>>;
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
