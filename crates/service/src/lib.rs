//! Herald's service layer: every operation of the platform API, the webhook management API and the web UI, written
//! once. Callers (the JSON API, the `/resthooks` API, the UI) are thin: they authenticate, call a method here with
//! the [`Principal`] they got, and render the result. Tenant scoping (an application key sees only its application)
//! happens here, in one place per resource.

mod admission;
mod alerts;
mod apps;
mod changes;
mod entities;
mod entity_cache;
mod entity_locks;
mod error;
mod filters;
pub mod input;
mod installations;
mod logs;
mod maintenance;
pub mod models;
pub mod paging;
mod ping;
mod receivable;
mod redeliver;
mod replay;
mod routing_cache;
mod secrets;
mod sessions;
mod sources;
mod topics;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_delivery::EngineHandle;
use herald_domain::ApplicationId;
use herald_store::{ApplicationRecord, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use admission::{Admitted, MAX_PENDING_BODY_BYTES, MAX_PENDING_PUBLISHES, RETRY_AFTER_SECS};
pub use alerts::WebhookAlertOut;
pub use apps::{ApiKeyRotateIn, AppIn, AppPatch};
pub use changes::{
    BatchedChange, ChangeBatchIn, ChangeIn, ChangesIn, CustomerIdText, EntityIdText, EntityTypeName, IdempotencyKey,
    IngestOutcome,
};
pub use entities::{EntitiesIn, EntityPath, EntityRecordIn};
pub use error::{ServiceError, ServiceResult};
pub use filters::{FilterMismatchOut, FilterTestIn, FilterTestOut};
pub use herald_delivery::Clock;
pub use input::Field;
pub use installations::InstallationIn;
pub use logs::{LogPage, LogQuery, LOG_PAGE_BYTES};
pub use maintenance::{AnalyticsQuery, CountOut, MaintenanceReport};
pub use paging::Paged;
pub use ping::PingIn;
pub use redeliver::RedeliverOut;
pub use replay::ReplayIn;
pub use replay::ReplayOut;
pub use sessions::{SessionPolicy, UiSession};
pub use sources::{DeadLetterOut, MessageRejected, SourceStates, MAX_MESSAGE_BYTES};
pub use webhooks::{
    ResthookIn, ResthookPatch, WebhookIn, WebhookListQuery, WebhookOptions, WebhookPatch, WebhookScope,
};

use routing_cache::RoutingCache;

/// The service's part of the configuration.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub allow_http_targets: bool,
    pub allow_private_targets: bool,
    /// How long idempotency keys of `POST /changes` are remembered.
    pub idempotency_ttl: Duration,
    /// A webhook whose attempts all failed for this long is deactivated.
    pub auto_disable_after: Duration,
    /// Payloads and response bodies older than this are pruned (counts stay).
    pub retention: Duration,
    /// Web UI sessions: lifetimes and the cap per principal.
    pub sessions: SessionPolicy,
    /// Bytes of records (as JSON) one page of the logs with payloads holds, beside its count limit.
    pub log_page_bytes: u64,
    /// Publishing requests handled at once before the next is shed (`admission.rs`).
    pub max_pending_publishes: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            allow_http_targets: false,
            allow_private_targets: false,
            idempotency_ttl: Duration::from_secs(86_400),
            auto_disable_after: Duration::from_secs(5 * 86_400),
            retention: Duration::from_secs(30 * 86_400),
            sessions: SessionPolicy::default(),
            log_page_bytes: LOG_PAGE_BYTES,
            max_pending_publishes: MAX_PENDING_PUBLISHES,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The platform operator: may do everything.
    Admin,
    /// An application's API key: its own webhooks, topics, logs and keys only.
    App(Arc<ApplicationRecord>),
}

impl Principal {
    /// `NotFound` unless the principal may see resources of `application` (contract §2: no existence leak).
    pub fn check_app(&self, application: ApplicationId) -> ServiceResult<()> {
        match self {
            Principal::Admin => Ok(()),
            Principal::App(app) if app.id == application => Ok(()),
            Principal::App(_) => Err(ServiceError::NotFound("application")),
        }
    }

    /// `Forbidden` unless the principal is the admin.
    pub fn require_admin(&self) -> ServiceResult<()> {
        match self {
            Principal::Admin => Ok(()),
            Principal::App(_) => Err(ServiceError::Forbidden("This operation needs the admin token.".into())),
        }
    }

    pub fn application_id(&self) -> Option<ApplicationId> {
        match self {
            Principal::Admin => None,
            Principal::App(app) => Some(app.id),
        }
    }
}

/// Herald's operations. Cheap to clone.
#[derive(Clone)]
pub struct Herald {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    engine: EngineHandle,
    admin_token_hash: [u8; 32],
    cfg: ServiceConfig,
    routing: RoutingCache,
    clock: Clock,
    /// Writers of entity state on this node take turns per entity (`entities.rs`).
    entity_locks: entity_locks::EntityLocks,
    /// Entity state this node last saw, so that a write of it needs no read (`entity_cache.rs`).
    entity_cache: entity_cache::EntityCache,
    /// Whether each broker source is connected (contract §9.6).
    sources: SourceStates,
    /// The publishing requests being handled, and their bound (`admission.rs`).
    admission: Arc<admission::Admission>,
}

impl Herald {
    pub fn new(store: Arc<dyn Store>, engine: EngineHandle, admin_token: &str, cfg: ServiceConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                routing: RoutingCache::new(store.clone(), {
                    let engine = engine.clone();
                    move || engine.invalidate_targets()
                }),
                store,
                clock: engine.clock().clone(),
                engine,
                admin_token_hash: Sha256::digest(admin_token.as_bytes()).into(),
                admission: admission::Admission::new(cfg.max_pending_publishes, MAX_PENDING_BODY_BYTES),
                cfg,
                entity_locks: Default::default(),
                entity_cache: Default::default(),
                sources: SourceStates::default(),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.cfg
    }

    /// Admits a publishing request whose body is `body_bytes` long (the largest accepted when its length is not
    /// known beforehand), or refuses it with [`ServiceError::Overloaded`] when Herald is handling as many as it may
    /// (`admission.rs`). Hold the answer until the request is answered.
    pub fn admit_publish(&self, body_bytes: usize) -> ServiceResult<Admitted> {
        self.inner.admission.try_admit(body_bytes).ok_or_else(|| {
            self.inner.engine.metrics().publishes_shed.inc();
            ServiceError::Overloaded { pending: self.inner.admission.pending() }
        })
    }

    /// The principal a bearer token stands for, or `None` for an unknown token.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Option<Principal>> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if constant_time_eq(&hash, &self.inner.admin_token_hash) {
            return Ok(Some(Principal::Admin));
        }
        if !token.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let app = self.inner.store.find_application_by_key_hash(&hex::encode(hash), self.now()).await?;
        Ok(app.map(|a| Principal::App(Arc::new(a))))
    }

    /// Now, by [`Herald::clock`]: what every operation, the UI included, calls the present.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The clock every operation reads, shared with the delivery engine (tests move it forward).
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Store writes that change routing call this so that the next event on this node sees them.
    fn routing_changed(&self) {
        self.inner.routing.invalidate();
        self.inner.engine.invalidate_targets();
    }
}

/// Prefix of application API keys, so that a key is recognisable (and never mistaken for the admin token).
pub const API_KEY_PREFIX: &str = "hk_";

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::thread_rng().fill_bytes(&mut b);
    b
}

pub(crate) fn new_uuid_v7() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// SHA-256 of an API key, hex: what the store keeps.
pub(crate) fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}
