//! The attempt logs (contract §5.4).

use herald_domain::time::parse_rfc3339;
use herald_domain::{ApplicationId, EventId, WebhookId};
use herald_store::AttemptFilter;

use crate::input::query_param;
use crate::models::LogOut;
use crate::*;

/// The logs' filters as they arrive in a query string.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub application_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub topic_id: Option<String>,
    pub entity_id: Option<String>,
    pub event_id: Option<String>,
    pub webhook_id: Option<String>,
    pub customer_id: Option<String>,
    pub delivery_id: Option<String>,
    /// `success` or `failure`.
    pub status: Option<String>,
    /// At most this many records (default 100, at most 1000).
    pub limit: Option<String>,
}

pub const DEFAULT_LOG_LIMIT: u32 = 100;
pub const MAX_LOG_LIMIT: u32 = 1_000;

/// What `from` and `to` must be.
const LOG_TIME: &str = "an RFC 3339 date and time in the years 0001 to 9999 (UTC)";

/// A log bound: RFC 3339 whose UTC instant lies in the years RFC 3339 can write. An offset can carry
/// `9999-12-31T23:59:59-23:59` into the year 10000; such instants are refused rather than passed on.
fn log_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    parse_rfc3339(text).filter(|t| (1..=9999).contains(&t.year()))
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

impl Herald {
    pub async fn list_logs(&self, who: &Principal, q: &LogQuery) -> ServiceResult<Vec<LogOut>> {
        let app: Option<ApplicationId> =
            query_param("applicationId", q.application_id.as_deref(), |s| s.parse().ok(), "an application id")?;
        if let Some(a) = app {
            who.check_app(a)?;
        }
        let filter = AttemptFilter {
            application_id: app.or(who.application_id()),
            from: query_param("from", q.from.as_deref(), log_time, LOG_TIME)?,
            to: query_param("to", q.to.as_deref(), log_time, LOG_TIME)?,
            topic_id: nonempty(&q.topic_id),
            entity_id: nonempty(&q.entity_id),
            event_id: query_param("eventId", q.event_id.as_deref(), |s| s.parse::<EventId>().ok(), "a UUID")?,
            webhook_id: query_param("webhookId", q.webhook_id.as_deref(), |s| s.parse::<WebhookId>().ok(), "a UUID")?,
            customer_id: nonempty(&q.customer_id),
            delivery_id: query_param("deliveryId", q.delivery_id.as_deref(), |s| s.parse().ok(), "a UUID")?,
            success: query_param(
                "status",
                q.status.as_deref(),
                |s| match s {
                    "success" => Some(true),
                    "failure" => Some(false),
                    _ => None,
                },
                "success or failure",
            )?,
            limit: query_param(
                "limit",
                q.limit.as_deref(),
                |s| s.parse::<u32>().ok().filter(|n| (1..=MAX_LOG_LIMIT).contains(n)),
                "a whole number from 1 to 1000",
            )?
            .unwrap_or(DEFAULT_LOG_LIMIT),
        };
        let records = self.inner.store.list_attempts(&filter).await?;
        Ok(records.iter().map(LogOut::from).collect())
    }
}
