//! Conversions between domain values and the column types every backend uses (microseconds, UUID text, JSON text).

use chrono::{DateTime, Utc};
use herald_domain::time::{from_micros, to_micros};
use uuid::Uuid;

use crate::StoreError;

pub fn micros(t: DateTime<Utc>) -> i64 {
    to_micros(t)
}

pub fn time(us: i64) -> DateTime<Utc> {
    from_micros(us)
}

pub fn opt_time(us: Option<i64>) -> Option<DateTime<Utc>> {
    us.map(from_micros)
}

pub fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("bad id {text:?}")))
}

pub fn id<T: From<Uuid>>(text: &str) -> Result<T, StoreError> {
    uuid(text).map(T::from)
}

pub fn list(json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|_| StoreError::Corrupt(format!("bad list {json:?}")))
}

pub fn list_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// The instant before which a holder's last sign of life means its lease expired.
pub fn lease_cutoff(now: DateTime<Utc>, lease: std::time::Duration) -> i64 {
    micros(now).saturating_sub(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

/// How long a silent node is remembered: past it, its row goes (its claims were free long before).
pub const NODE_FORGET_AFTER_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// An ordered delivery's entity key and sequence, from its two columns (both set, or neither).
pub fn entity_order(key: Option<String>, sequence: Option<i64>) -> Option<crate::EntityOrder> {
    Some(crate::EntityOrder { key: key?, sequence: sequence? })
}
