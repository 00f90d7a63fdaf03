//! Background upkeep, run periodically by the process: deactivating webhooks that stayed dead, retention, and the
//! queue-depth figures of the metrics.

use chrono::Duration as ChronoDuration;
use herald_store::{CountFilter, CountGroup};
use serde::Serialize;

use crate::input::query_param;
use crate::*;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceReport {
    pub disabled_webhooks: usize,
    pub pruned_payloads: u64,
    pub pruned_responses: u64,
    pub expired_sessions: u64,
}

/// `GET /analytics/deliveries` rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DeliveryCountModel)]
pub struct CountOut {
    pub key: String,
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
}

fn chrono(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::days(36_500))
}

/// The filters of `GET /analytics/deliveries` as they arrive in a query string; the OpenAPI document's parameters
/// are derived from this type.
#[derive(Debug, Clone, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AnalyticsQuery {
    /// Only this application's attempts. An application key sees only its own.
    #[param(format = Uuid)]
    pub application_id: Option<String>,
    /// Attempts started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Attempts started before this time (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// How rows are grouped (default `day`).
    #[param(schema_with = group_by)]
    pub group_by: Option<String>,
}

fn group_by() -> utoipa::openapi::schema::ObjectBuilder {
    crate::input::text_enum(&["day", "customer", "topic", "webhook"])
}

impl Herald {
    /// One round of upkeep at the current time.
    pub async fn run_maintenance(&self) -> ServiceResult<MaintenanceReport> {
        let now = self.now();
        let cfg = &self.inner.cfg;
        let days = cfg.auto_disable_after.as_secs_f64() / 86_400.0;
        let reason = format!("deactivated by Herald: every attempt failed for {days:.1} days");
        let disabled =
            self.inner.store.disable_failing_webhooks(now - chrono(cfg.auto_disable_after), &reason, now).await?;
        if !disabled.is_empty() {
            tracing::warn!(count = disabled.len(), webhooks = ?disabled, "deactivated webhooks failing too long");
            self.inner.engine.metrics().webhooks_disabled.inc_by(disabled.len() as u64);
            self.routing_changed();
        }
        let pruned = self.inner.store.prune(now - chrono(cfg.retention), now - chrono(cfg.idempotency_ttl)).await?;
        let expired_sessions = self.delete_expired_sessions(now).await?;
        Ok(MaintenanceReport {
            expired_sessions,
            disabled_webhooks: disabled.len(),
            pruned_payloads: pruned.event_bodies,
            pruned_responses: pruned.responses,
        })
    }

    /// Why this node should not take traffic now, or `None` when it is ready: the integrity check at start found the
    /// database damaged, or the store does not answer.
    pub async fn not_ready(&self) -> Option<String> {
        if let Some(problem) = self.inner.store.integrity_problem() {
            return Some(format!("The database is damaged: {problem}"));
        }
        match self.inner.store.routing_version().await {
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                Some("The store is unreachable.".to_string())
            }
        }
    }

    /// The Prometheus text of every metric, queue depth read from the store now.
    pub async fn render_metrics(&self) -> ServiceResult<String> {
        let stats = self.inner.store.stats(self.now()).await?;
        let m = self.inner.engine.metrics();
        m.deliveries_due.set(stats.due as i64);
        m.deliveries_scheduled.set(stats.scheduled as i64);
        m.deliveries_waiting.set(stats.waiting as i64);
        m.webhooks_failing.set(stats.failing_webhooks as i64);
        Ok(m.render())
    }

    /// Attempt counts for analytics and billing, for the admin (any or every application) or an application's key.
    pub async fn delivery_counts(&self, who: &Principal, q: &AnalyticsQuery) -> ServiceResult<Vec<CountOut>> {
        let (from, to) = (q.from.as_deref(), q.to.as_deref());
        let app = query_param("applicationId", q.application_id.as_deref(), |s| s.parse().ok(), "an application id")?;
        if let Some(a) = app {
            self.app_record(who, a).await?;
        }
        let group_by = match q.group_by.as_deref().filter(|g| !g.is_empty()) {
            None | Some("day") => CountGroup::Day,
            Some("customer") => CountGroup::Customer,
            Some("topic") => CountGroup::Topic,
            Some("webhook") => CountGroup::Webhook,
            Some(_) => return Err(ServiceError::field("groupBy", "must be day, customer, topic or webhook")),
        };
        let filter = CountFilter {
            application_id: app.or(who.application_id()),
            from: query_param("from", from, herald_domain::time::parse_rfc3339, "an RFC 3339 date and time")?,
            to: query_param("to", to, herald_domain::time::parse_rfc3339, "an RFC 3339 date and time")?,
            group_by,
        };
        let rows = self.inner.store.attempt_counts(&filter).await?;
        Ok(rows
            .into_iter()
            .map(|r| CountOut { key: r.key, attempts: r.attempts, successes: r.successes, failures: r.failures })
            .collect())
    }
}
