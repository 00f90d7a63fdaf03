//! The models of the API (contract §4, §5), as the JSON API and the UI render them.

use herald_domain::time::{format_api_time, format_log_time};
use herald_store::{ApplicationRecord, AttemptLogRecord, InstallationRecord, WebhookRecord};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApplicationModel)]
pub struct AppOut {
    #[schema(format = Uuid)]
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created: String,
    #[schema(format = DateTime)]
    pub modified: String,
}

impl From<&ApplicationRecord> for AppOut {
    fn from(a: &ApplicationRecord) -> Self {
        AppOut {
            id: a.id.to_string(),
            client_id: a.client_id.clone(),
            name: a.name.clone(),
            scopes: a.scopes.clone(),
            created: format_api_time(a.created),
            modified: format_api_time(a.modified),
        }
    }
}

/// The answer to `POST /apps`: the only time the API key is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedApplicationModel)]
pub struct AppCreatedOut {
    #[serde(flatten)]
    pub app: AppOut,
    pub api_key: String,
}

/// The answer to `POST /apps/{id}/api-key/rotate`: the only time the new key is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RotatedApiKeyModel)]
pub struct ApiKeyOut {
    /// The new API key (`hk_…`).
    pub api_key: String,
    /// Until when the key it replaced keeps working; `null`: it stopped at once.
    #[schema(format = DateTime)]
    pub previous_key_expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = InstallationModel)]
pub struct InstallationOut {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub application_id: String,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    #[schema(format = DateTime)]
    pub created: String,
    #[schema(format = DateTime)]
    pub terminated: Option<String>,
}

impl From<&InstallationRecord> for InstallationOut {
    fn from(i: &InstallationRecord) -> Self {
        InstallationOut {
            id: i.id.to_string(),
            application_id: i.application_id.to_string(),
            customer_id: i.customer_id.clone(),
            customer_name: i.customer_name.clone(),
            customer_email: i.customer_email.clone(),
            created: format_api_time(i.created),
            terminated: i.terminated.map(format_api_time),
        }
    }
}

/// `WebhookModel` (contract §5.1), plus Herald's health fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookModel)]
pub struct WebhookOut {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = DateTime)]
    pub created: String,
    #[schema(format = DateTime)]
    pub modified: String,
    #[schema(format = Uuid)]
    pub application_id: String,
    pub url: String,
    pub description: Option<String>,
    pub topic_ids: Vec<String>,
    pub customer_ids: Vec<String>,
    pub active: bool,
    pub ignore_etag_only_changes: bool,
    /// Each entity's deliveries one after the other, with `herald-entity-sequence` (contract §9.1).
    pub ordered: bool,
    /// At most this many attempts per second (contract §9.3); `null`: no limit.
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_limit: Option<u32>,
    /// Why Herald deactivated the webhook (its endpoint failed for too long), if it did.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed, if the last one did.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    #[schema(format = DateTime)]
    pub last_success: Option<String>,
    /// The payload filter (contract §9.2): a JSON Schema, or `null`.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
}

impl From<&WebhookRecord> for WebhookOut {
    fn from(w: &WebhookRecord) -> Self {
        WebhookOut {
            id: w.id.to_string(),
            created: format_api_time(w.created),
            modified: format_api_time(w.modified),
            application_id: w.application_id.to_string(),
            url: w.url.clone(),
            description: w.description.clone(),
            topic_ids: w.topic_ids.clone(),
            customer_ids: w.customer_ids.clone(),
            active: w.active,
            ignore_etag_only_changes: w.ignore_etag_only_changes,
            ordered: w.ordered,
            rate_limit: w.rate_limit,
            disabled_reason: w.disabled_reason.clone(),
            failing_since: w.failing_since.map(format_api_time),
            last_success: w.last_success.map(format_api_time),
            // Stored only after it compiled, so it is JSON.
            filter: w.filter.as_deref().and_then(|f| serde_json::from_str(f).ok()),
        }
    }
}

/// The answer to creating a webhook: the model plus its signing secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedWebhookModel)]
pub struct WebhookCreatedOut {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TopicModel)]
pub struct TopicOut {
    pub id: String,
    pub name: String,
    pub description: String,
    pub associated_scope: Option<String>,
    pub active: bool,
    /// The example payload Ping sends, as JSON text.
    pub example: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ChangesAcceptedModel)]
pub struct ChangesOut {
    #[schema(format = Uuid)]
    pub event_id: String,
    pub events: Vec<EventOut>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventModel)]
pub struct EventOut {
    pub topic_id: String,
    pub entity_id: Option<String>,
    pub deliveries: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PingResultModel)]
pub struct PingOut {
    pub success: bool,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// One attempt in the logs (contract §5.4).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LogModel)]
pub struct LogOut {
    #[schema(format = DateTime)]
    pub time_stamp: String,
    #[schema(format = Uuid)]
    pub application_id: String,
    #[schema(format = Uuid)]
    pub webhook_id: String,
    #[schema(format = Uuid)]
    pub delivery_id: String,
    pub url: String,
    pub topic_id: String,
    pub customer_id: String,
    pub entity_id: Option<String>,
    #[schema(format = Uuid)]
    pub event_id: String,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub outcome: String,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The `Retry-After` header the endpoint answered with (a `429` or `503`), as received; it held every delivery
    /// of the webhook until then, at most 24 hours (contract §9.3).
    pub retry_after: Option<String>,
    /// The exact bytes sent, as text; `null` once retention pruned them, or once the application may no longer
    /// receive the event (its customer uninstalled it, or the topic's scope was taken away).
    pub payload: Option<String>,
    pub response: Option<String>,
}

impl From<&AttemptLogRecord> for LogOut {
    fn from(r: &AttemptLogRecord) -> Self {
        LogOut {
            time_stamp: format_log_time(r.started),
            application_id: r.application_id.to_string(),
            webhook_id: r.webhook_id.to_string(),
            delivery_id: r.delivery_id.to_string(),
            url: r.url.clone(),
            topic_id: r.topic_id.clone(),
            customer_id: r.customer_id.clone(),
            entity_id: r.entity_id.clone(),
            event_id: r.event_id.to_string(),
            attempt: r.attempt,
            status_code: r.status_code,
            outcome: r.outcome.clone(),
            duration_ms: r.duration_ms,
            error: r.error.clone(),
            retry_after: r.retry_after.clone(),
            payload: r.body.as_ref().map(|b| {
                String::from_utf8_lossy(&herald_domain::payload::with_attempt(b.as_bytes(), r.attempt)).into_owned()
            }),
            response: r.response.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SigningKeysModel)]
pub struct SigningKeysOut {
    pub keys: Vec<SigningKeyOut>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SigningKeyModel)]
pub struct SigningKeyOut {
    pub kid: String,
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = SecretModel)]
pub struct SecretOut {
    pub secret: String,
}
