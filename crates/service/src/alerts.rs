//! The failing webhooks an application is told about in the web UI (contract §9.4): each webhook whose failing
//! streak Herald announced (`webhooks.failing` or `webhooks.disabled`), until it recovers or is modified.

use herald_domain::time::format_log_time;
use herald_domain::ApplicationId;
use herald_store::WebhookAlert;

use crate::{Herald, Principal, ServiceResult};

/// One failing or disabled webhook, as the UI's banner shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAlertOut {
    pub webhook_id: String,
    pub url: String,
    /// Herald disabled it (`disabled_reason` says why); otherwise it is failing.
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    /// RFC 3339 with milliseconds.
    pub failing_since: Option<String>,
    /// What the latest attempt ended with: its error, else its status code; `None` without an attempt.
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
}

impl From<WebhookAlert> for WebhookAlertOut {
    fn from(a: WebhookAlert) -> Self {
        let (last_attempt_at, last_error) = match a.last_attempt {
            Some((at, status, error)) => {
                let what = error.or_else(|| status.map(|s| format!("HTTP {s}")));
                (Some(format_log_time(at)), what)
            }
            None => (None, None),
        };
        WebhookAlertOut {
            webhook_id: a.webhook_id.to_string(),
            url: a.url,
            disabled: !a.active && a.disabled_reason.is_some(),
            disabled_reason: a.disabled_reason,
            failing_since: a.failing_since.map(format_log_time),
            last_error,
            last_attempt_at,
        }
    }
}

impl Herald {
    /// The application's failing or disabled webhooks that were not modified since Herald announced them.
    pub async fn webhook_alerts(
        &self,
        who: &Principal,
        application: ApplicationId,
    ) -> ServiceResult<Vec<WebhookAlertOut>> {
        who.check_app(application)?;
        let alerts = self.inner.store.webhook_alerts(application).await?;
        Ok(alerts.into_iter().map(WebhookAlertOut::from).collect())
    }
}
