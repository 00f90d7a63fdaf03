//! A delivery's target: where to send and how to sign, read from the store and cached by the engine.

use std::sync::Arc;

use herald_domain::signature::{
    reapit_signature, standard_signature, AppSigningKey, WebhookSecret, WebhookSecretError,
};
use herald_domain::DeliveryId;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::sender::Endpoint;

/// What an attempt needs to know of its webhook and application.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Endpoint,
    /// Every secret that signs now: the current one, and the previous one during a rotation's overlap.
    pub secrets: Vec<WebhookSecret>,
    pub client_id: String,
    pub signing_key: Arc<AppSigningKey>,
}

/// The header carrying an ordered delivery's place in its entity's order, 1, 2, 3, … (contract §9.1).
pub const ENTITY_SEQUENCE: HeaderName = HeaderName::from_static("herald-entity-sequence");

/// The headers of one attempt (contract §7.1), computed for this body at this second.
pub fn signed_headers(target: &Target, delivery: DeliveryId, unix_seconds: i64, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(8);
    let msg_id = delivery.to_string();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: String| {
        // Every value here is base64, digits or a UUID: always a valid header value.
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("reapit-webhook-signature", reapit_signature(&target.client_id));
    put("x-signature", target.signing_key.x_signature(unix_seconds, body));
    put("webhook-signature", standard_signature(&target.secrets, &msg_id, unix_seconds, body));
    put("webhook-id", msg_id);
    put("webhook-timestamp", unix_seconds.to_string());
    h
}

/// Why stored records do not make a target that can sign.
#[derive(Debug, thiserror::Error)]
pub enum UnusableTarget {
    #[error("the webhook's secret is not usable")]
    Secret(#[source] WebhookSecretError),
    #[error("the webhook's previous secret is not usable")]
    PreviousSecret(#[source] WebhookSecretError),
    #[error("the application's signing key is not 32 bytes")]
    SigningKey,
}

impl Target {
    /// The target of a webhook of an application, as of `now` (a rotated-out secret signs until it expires).
    pub fn from_records(
        hook: &herald_store::WebhookRecord,
        app: &herald_store::ApplicationRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Target, UnusableTarget> {
        let mut secrets = vec![hook.secret.parse::<WebhookSecret>().map_err(UnusableTarget::Secret)?];
        if let (Some(prev), Some(expires)) = (&hook.previous_secret, hook.previous_secret_expires) {
            if expires > now {
                secrets.push(prev.parse::<WebhookSecret>().map_err(UnusableTarget::PreviousSecret)?);
            }
        }
        let seed: [u8; 32] = app.signing_seed.as_slice().try_into().map_err(|_| UnusableTarget::SigningKey)?;
        Ok(Target {
            url: Endpoint::new(hook.url.clone()),
            secrets,
            client_id: app.client_id.clone(),
            signing_key: Arc::new(AppSigningKey::from_seed(seed)),
        })
    }
}
