//! A webhook receiver that verifies Herald's three signatures (docs/RECEIVERS.md).
//!
//! The binary (`src/main.rs`) reads its configuration from the environment and serves [`router`]; the checks are
//! plain functions so that they can be copied into any axum, actix or hyper service.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use standardwebhooks::Webhook;

/// Replay protection: a request signed more than 5 minutes ago (or ahead) is refused.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// What a receiver needs to check Herald's signatures.
pub struct Verifier {
    /// The webhook's Standard Webhooks secret (`whsec_…`).
    pub webhook: Webhook,
    /// The application's Ed25519 public key, from `GET /webhooks/signing?applicationId=…`.
    pub public_key: VerifyingKey,
    /// The application's client id.
    pub client_id: String,
}

impl Verifier {
    /// From the webhook's secret, the `x` of the application's key (base64url, no padding) and its client id.
    pub fn new(secret: &str, public_x: &str, client_id: &str) -> Result<Verifier, String> {
        let webhook = Webhook::new(secret).map_err(|e| format!("HERALD_SECRET: {e}"))?;
        let public_key = public_key_from_x(public_x).ok_or("HERALD_PUBLIC_KEY: not a base64url Ed25519 key")?;
        Ok(Verifier { webhook, public_key, client_id: client_id.to_string() })
    }

    /// From `HERALD_SECRET`, `HERALD_PUBLIC_KEY` and `HERALD_CLIENT_ID`.
    pub fn from_env() -> Result<Verifier, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name} (see docs/RECEIVERS.md)"));
        Verifier::new(&var("HERALD_SECRET")?, &var("HERALD_PUBLIC_KEY")?, &var("HERALD_CLIENT_ID")?)
    }

    /// Checks one request and describes it in one line.
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Verdict {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        let payload: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |v: &serde_json::Value| if v.is_null() { "?".to_string() } else { v.to_string().replace('"', "") };
        Verdict {
            standard: verify_standard(&self.webhook, headers, body),
            x_signature: verify_x_signature(&self.public_key, header("x-signature"), body, now()),
            reapit: verify_reapit(&self.client_id, header("reapit-webhook-signature")),
            topic: text(&payload["topicId"]),
            attempt: text(&payload["SendAttempts"]),
        }
    }
}

/// The outcome of the three checks on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub standard: bool,
    pub x_signature: bool,
    pub reapit: bool,
    pub topic: String,
    pub attempt: String,
}

impl Verdict {
    pub fn all_ok(&self) -> bool {
        self.standard && self.x_signature && self.reapit
    }

    /// `verified standard=ok x-signature=ok reapit=ok topic=contacts.modified attempt=1`
    pub fn line(&self) -> String {
        let word = |ok: bool| if ok { "ok" } else { "fail" };
        format!(
            "verified standard={} x-signature={} reapit={} topic={} attempt={}",
            word(self.standard),
            word(self.x_signature),
            word(self.reapit),
            self.topic,
            self.attempt
        )
    }
}

/// webhook-id / webhook-timestamp / webhook-signature, with the webhook's whsec_ secret.
pub fn verify_standard(webhook: &Webhook, headers: &HeaderMap, body: &[u8]) -> bool {
    // Checks the HMAC of "id.timestamp.body" and that webhook-timestamp is within 5 minutes.
    webhook.verify(body, headers).is_ok()
}

/// X-Signature: s:<kid>:<unix seconds>:<base64url Ed25519 signature of (seconds as text + body)>.
pub fn verify_x_signature(public_key: &VerifyingKey, header: &str, body: &[u8], now: i64) -> bool {
    let parts: Vec<&str> = header.split(':').collect();
    let ["s", _kid, timestamp, signature] = parts[..] else { return false };
    let Some(seconds) = timestamp.parse::<i64>().ok().filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit())) else {
        return false;
    };
    if (now - seconds).abs() > TOLERANCE_SECONDS {
        return false;
    }
    let Some(signature) = URL_SAFE_NO_PAD.decode(signature).ok().and_then(|s| Signature::from_slice(&s).ok()) else {
        return false;
    };
    let message = [timestamp.as_bytes(), body].concat();
    public_key.verify_strict(&message, &signature).is_ok()
}

/// Reapit-Webhook-Signature: the base64 of the application's client id (proves nothing cryptographically).
pub fn verify_reapit(client_id: &str, header: &str) -> bool {
    header == STANDARD.encode(client_id)
}

/// The key of a JWK {kty: "OKP", crv: "Ed25519", x} (x is base64url without padding).
pub fn public_key_from_x(x: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The current unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Where the receiver's lines go: stdout in the binary, a buffer in tests.
pub type Output = Arc<dyn Fn(String) + Send + Sync>;

/// Answers every POST: 204 when the three signatures hold, 401 otherwise; one line per request to `output`.
pub fn router(verifier: Arc<Verifier>, output: Output) -> Router {
    Router::new().fallback(move |method: Method, headers: HeaderMap, body: Bytes| async move {
        if method != Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED;
        }
        let verdict = verifier.check(&headers, &body);
        output(verdict.line());
        if verdict.all_ok() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::UNAUTHORIZED
        }
    })
}

/// Serves [`router`] on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, verifier: Verifier, output: Output) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(verifier), output)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    // The known vector of crates/domain/src/signature.rs: seed [7; 32], 1700000000 and `{"SendAttempts":1}`.
    const X: &str = "6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw";
    const HEADER: &str = "s:fe812c12f3ab4ce6:1700000000:\
        WPVI_vyaHJqjqbPvwUULCBr-2HbTxBc31f5BEaE77m9uMRSU6VszfXAT0ROUHto8Rd3CYIk3QuZ02ii2UKa0Ag";
    const BODY: &[u8] = br#"{"SendAttempts":1}"#;

    #[test]
    fn x_signature_of_the_known_vector_verifies_within_five_minutes_only() {
        let key = public_key_from_x(X).unwrap();
        assert!(verify_x_signature(&key, HEADER, BODY, 1_700_000_000));
        assert!(verify_x_signature(&key, HEADER, BODY, 1_700_000_300));
        assert!(!verify_x_signature(&key, HEADER, BODY, 1_700_000_301), "a replay after 5 minutes");
        assert!(!verify_x_signature(&key, HEADER, br#"{"SendAttempts":2}"#, 1_700_000_000));
        assert!(!verify_x_signature(&key, &HEADER.replace(":1700000000:", ":1700000001:"), BODY, 1_700_000_000));
        assert!(!verify_x_signature(&key, "", BODY, 1_700_000_000));
        assert!(!verify_x_signature(&key, &HEADER.replace(":1700000000:", ":+1700000000:"), BODY, 1_700_000_000));
    }

    #[test]
    fn reapit_signature_is_the_base64_of_the_client_id() {
        assert!(verify_reapit("SBOX_CLIENT", "U0JPWF9DTElFTlQ="));
        assert!(!verify_reapit("SBOX_CLIENT", "U0JPWF9DTElFTlQ"));
    }

    #[test]
    fn the_line_names_each_check() {
        let verdict = Verdict {
            standard: false,
            x_signature: true,
            reapit: true,
            topic: "contacts.modified".into(),
            attempt: "1".into(),
        };
        assert_eq!(verdict.line(), "verified standard=fail x-signature=ok reapit=ok topic=contacts.modified attempt=1");
        assert!(!verdict.all_ok());
    }
}
