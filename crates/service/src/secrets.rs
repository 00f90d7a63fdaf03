//! Signing secrets and keys (contract §5.5).

use herald_domain::signature::{AppSigningKey, WebhookSecret};
use herald_domain::{ApplicationId, WebhookId};

use crate::models::{SecretOut, SigningKeyOut, SigningKeysOut};
use crate::*;

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

impl Herald {
    pub async fn webhook_secret(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
    ) -> ServiceResult<SecretOut> {
        Ok(SecretOut { secret: self.webhook_record(who, scope, id).await?.secret })
    }

    /// A new secret; the old one signs beside it for 24 hours.
    pub async fn rotate_secret(
        &self,
        who: &Principal,
        scope: &WebhookScope,
        id: WebhookId,
    ) -> ServiceResult<SecretOut> {
        let mut hook = self.webhook_record(who, scope, id).await?;
        let now = self.now();
        let secret = WebhookSecret::from_random(random_bytes::<24>()).to_string();
        hook.previous_secret = Some(std::mem::replace(&mut hook.secret, secret.clone()));
        hook.previous_secret_expires = Some(now + ROTATION_OVERLAP);
        hook.modified = now;
        self.inner.store.update_webhook(&hook).await?;
        self.routing_changed();
        Ok(SecretOut { secret })
    }

    /// The application's Ed25519 public key(s), for verifying `X-Signature`.
    pub async fn signing_keys(
        &self,
        who: &Principal,
        application: Option<ApplicationId>,
    ) -> ServiceResult<SigningKeysOut> {
        let id = match (application, who.application_id()) {
            (Some(id), _) => id,
            (None, Some(own)) => own,
            (None, None) => return Err(ServiceError::field("applicationId", "is required")),
        };
        let app = self.app_record(who, id).await?;
        let seed: [u8; 32] = app
            .signing_seed
            .as_slice()
            .try_into()
            .map_err(|_| ServiceError::Internal("stored signing key is not 32 bytes".into()))?;
        let key = AppSigningKey::from_seed(seed);
        Ok(SigningKeysOut {
            keys: vec![SigningKeyOut { kid: key.kid(), kty: "OKP", crv: "Ed25519", x: key.public_x() }],
        })
    }
}
