//! Herald's delivery engine: claim due deliveries, sign, `POST`, record the attempt, reschedule.
//!
//! The store is the queue: a delivery is a row with a state and the time of its next attempt. The [`Engine`] claims
//! due rows for its node, attempts them with bounded concurrency (overall and per webhook, picking work round-robin
//! across webhooks so that one slow endpoint cannot starve the others), and records every attempt with the
//! delivery's next state in batches. Outcomes are data ([`AttemptOutcome`]), never errors of the API.

mod clock;
mod engine;
mod gate;
mod guard;
mod intake;
pub mod metrics;
mod outcome;
mod pacing;
mod sender;
mod target;

pub use clock::Clock;
pub use engine::{DeliveryConfig, Engine, EngineHandle};
pub use guard::{check_ip, TargetGuard};
pub use intake::Reservation;
pub use metrics::Metrics;
pub use outcome::AttemptOutcome;
pub use sender::{Endpoint, HttpSender, RetryAfter, SendResult};
pub use target::{signed_headers, Target};
