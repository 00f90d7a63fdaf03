//! Herald's domain: the pure types and rules of a webhooks platform.
//!
//! This crate owns what Herald *means*: the topic catalogue, what a change is, how a diff is computed, which topics a
//! change emits, which webhooks receive an event, when a failed delivery is retried, how a request is signed and what
//! the payload looks like. It must not touch tokio, a database, HTTP, the clock or the network: every time it needs is
//! passed in, so every rule here is a plain function with table tests next to it.

pub mod change;
pub mod diff;
pub mod entity;
pub mod examples;
pub mod field;
pub mod filter;
pub mod ids;
pub mod json;
pub mod operational;
pub mod ordering;
pub mod payload;
pub mod retry;
pub mod routing;
pub mod rules;
pub mod signature;
pub mod time;
pub mod topics;
pub mod validation;

pub use change::{Change, ChangeKind};
pub use entity::EntityType;
pub use ids::{ApplicationId, DeliveryId, EventId, InstallationId, WebhookId};
pub use retry::RetrySchedule;
pub use topics::Topic;
pub use validation::FieldError;

/// The sandbox customer: needs no installation, any application may subscribe to it, its events get one attempt.
pub const SANDBOX_CUSTOMER: &str = "SBOX";

/// The customer id that Ping events carry (contract §5.3).
pub const PING_CUSTOMER: &str = "webhook-test";

/// The entity id that Ping events carry (contract §5.3).
pub const PING_ENTITY_ID: &str = "9e7e4181-6210-49ea-abf5-d5ce16d23647";
