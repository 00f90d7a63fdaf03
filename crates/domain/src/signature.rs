//! Request signatures (contract §7.1): how a receiver can tell that a request comes from Herald.
//!
//! Every delivery attempt carries three signatures, each for a different kind of receiver:
//!
//! - `Reapit-Webhook-Signature`: the base64 of the application's client id, the seed's check. It proves nothing
//!   cryptographically; receivers written against the seed compare it with their own client id.
//! - `webhook-signature` ([Standard Webhooks](https://www.standardwebhooks.com)): `v1,<base64 HMAC-SHA256 of
//!   "{id}.{timestamp}.{body}">` keyed with the webhook's secret ([`WebhookSecret`], `whsec_…`). During a rotation the
//!   old and the new secret both sign, space-separated, so a receiver holding either accepts the request.
//! - `X-Signature`: `s:<kid>:<unix seconds>:<base64url Ed25519 signature of (unix seconds as text + body)>`, signed
//!   with the application's key ([`AppSigningKey`]); receivers fetch the public key (a JWK `x`) by its `kid`.
//!
//! This module only computes and checks signatures: it owns no clock (timestamps are passed in), no storage (keys and
//! secrets are handed over as values) and no transport (header values are plain strings). Whether a timestamp is
//! fresh enough is the receiver's policy, not a rule here.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::Ed25519KeyPair;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a Standard Webhooks secret's text form.
const SECRET_PREFIX: &str = "whsec_";
/// A secret shorter than this is too weak to sign with; Herald generates 24 bytes, as Svix does.
const SECRET_MIN_LEN: usize = 24;
/// SHA-256's block size: HMAC zero-pads a key of at most this many bytes to one block (RFC 2104 §2), so keeping
/// secrets within it makes the keyed HMAC infallible to build and the same as any other implementation's.
const SECRET_MAX_LEN: usize = 64;

/// The seed's `Reapit-Webhook-Signature`: the base64 (standard alphabet, padded) of the application's client id.
pub fn reapit_signature(client_id: &str) -> String {
    STANDARD.encode(client_id.as_bytes())
}

/// A webhook's Standard Webhooks secret: 24 to 64 bytes of key material, written `whsec_<base64>`.
///
/// Its `Debug` form hides the key; `Display` gives the full secret and is meant only for the API that returns it to
/// the webhook's owner and for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Why a text is not a [`WebhookSecret`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretError {
    #[error("a webhook secret starts with \"whsec_\"")]
    MissingPrefix,
    #[error("a webhook secret is \"whsec_\" followed by standard base64")]
    NotBase64,
    #[error("a webhook secret holds 24 to 64 bytes, this one holds {len}")]
    Length { len: usize },
}

impl WebhookSecret {
    /// A new secret from 24 random bytes (the caller draws them: this crate has no source of randomness).
    pub fn from_random(bytes: [u8; 24]) -> Self {
        Self { key: bytes.to_vec() }
    }

    /// The HMAC-SHA256 keyed with this secret.
    fn mac(&self) -> HmacSha256 {
        // The key is at most one block long (checked when the secret was made), so padding it to the block is what
        // HMAC itself would do, and building the MAC from a full block cannot fail.
        let mut block = [0u8; SECRET_MAX_LEN];
        block[..self.key.len()].copy_from_slice(&self.key);
        <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
    }

    /// HMAC-SHA256 of `{msg_id}.{timestamp}.{body}`.
    fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let encoded = s.strip_prefix(SECRET_PREFIX).ok_or(WebhookSecretError::MissingPrefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| WebhookSecretError::NotBase64)?;
        if !(SECRET_MIN_LEN..=SECRET_MAX_LEN).contains(&key.len()) {
            return Err(WebhookSecretError::Length { len: key.len() });
        }
        Ok(Self { key })
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">` for each secret,
/// in the given order, space-separated. With no secret it is empty.
pub fn standard_signature(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let entries: Vec<String> = secrets
        .iter()
        .map(|secret| format!("v1,{}", STANDARD.encode(secret.sign(msg_id, timestamp, body).finalize().into_bytes())))
        .collect();
    entries.join(" ")
}

/// Whether any `v1,` entry of a `webhook-signature` header value is the signature of this request with `secret`.
/// Entries of other versions and entries that are not base64 are skipped; the comparison is constant-time.
pub fn verify_standard(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().filter_map(|entry| entry.split_once(',')).filter(|(version, _)| *version == "v1").any(
        |(_, signature)| match STANDARD.decode(signature) {
            Ok(bytes) => secret.sign(msg_id, timestamp, body).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        },
    )
}

/// An application's Ed25519 key, which signs `X-Signature`. Its `Debug` form shows the `kid`, never the key.
pub struct AppSigningKey {
    key: SigningKey,
    /// The same key as AWS-LC holds it, expanded once, which signs every attempt: its assembly signs in about two
    /// thirds of ed25519-dalek's time (docs/PERFORMANCE.md). Ed25519 is deterministic, so both give the same bytes
    /// (a test checks it). `None` only if AWS-LC refused the key, which it does not for a seed and its own public
    /// key; ed25519-dalek signs then.
    signer: Option<Ed25519KeyPair>,
    /// [`AppSigningKey::kid`], computed once.
    kid: String,
}

impl AppSigningKey {
    /// The key whose 32-byte secret seed is `seed` (as drawn at random when the application is created, or as
    /// stored).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let signer = Ed25519KeyPair::from_seed_and_public_key(&seed, key.verifying_key().as_bytes()).ok();
        let kid = kid_of(&key.verifying_key());
        Self { key, signer, kid }
    }

    /// The secret seed, for storage: [`AppSigningKey::from_seed`] gives the same key back.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key's id: the first 8 bytes of the SHA-256 of the public key, in lowercase hex. It depends only on the
    /// public key, so it is stable across restarts and the same wherever it is computed.
    pub fn kid(&self) -> String {
        self.kid.clone()
    }

    /// The public key as a JWK `x` (RFC 8037): base64url without padding of its 32 bytes.
    pub fn public_x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// The whole `X-Signature` header value for a request sent at `timestamp` (unix seconds) with `body`.
    pub fn x_signature(&self, timestamp: i64, body: &[u8]) -> String {
        let signature = self.sign_x(timestamp, body);
        format!("s:{}:{timestamp}:{}", self.kid, URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Ed25519 of the timestamp's text followed by the body ([`x_signed_message`]).
    fn sign_x(&self, timestamp: i64, body: &[u8]) -> ed25519_dalek::Signature {
        let message = x_signed_message(timestamp, body);
        let fast = self.signer.as_ref().and_then(|signer| signer.try_sign(&message).ok());
        match fast.as_ref().and_then(|signature| <&[u8; 64]>::try_from(signature.as_ref()).ok()) {
            Some(bytes) => ed25519_dalek::Signature::from_bytes(bytes),
            None => self.key.sign(&message),
        }
    }
}

impl Clone for AppSigningKey {
    fn clone(&self) -> Self {
        Self::from_seed(self.seed())
    }
}

impl fmt::Debug for AppSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSigningKey").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

fn kid_of(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What `X-Signature` signs: the unix seconds as decimal text, then the body.
fn x_signed_message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let stamp = timestamp.to_string();
    let mut message = Vec::with_capacity(stamp.len() + body.len());
    message.extend_from_slice(stamp.as_bytes());
    message.extend_from_slice(body);
    message
}

/// Why an `X-Signature` header was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the header is not of the form s:<kid>:<unix seconds>:<signature>")]
    Malformed,
    #[error("the timestamp {0:?} is not a number of unix seconds")]
    InvalidTimestamp(String),
    #[error("the signature is not base64url of 64 bytes")]
    InvalidSignatureEncoding,
    #[error("the public key is not base64url of a 32-byte Ed25519 key")]
    InvalidPublicKey,
    #[error("the header was signed with key {kid}, not with the given key {expected}")]
    OtherKey { kid: String, expected: String },
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks an `X-Signature` header value against the body and the signer's public key (a JWK `x`), and gives the
/// header's `kid` and timestamp. Whether the timestamp is recent enough is for the caller to decide.
pub fn verify_x_signature(header: &str, public_x: &str, body: &[u8]) -> Result<(String, i64), SignatureError> {
    let mut parts = header.trim().splitn(4, ':');
    let (Some("s"), Some(kid), Some(timestamp_text), Some(signature)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignatureError::Malformed);
    };
    if kid.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // Only the canonical decimal form: the signature covers the text, so `+12` or `012` would sign other bytes.
    let timestamp = timestamp_text
        .parse::<i64>()
        .ok()
        .filter(|t| t.to_string() == timestamp_text)
        .ok_or_else(|| SignatureError::InvalidTimestamp(timestamp_text.to_string()))?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(SignatureError::InvalidSignatureEncoding)?;
    let public: [u8; 32] = URL_SAFE_NO_PAD
        .decode(public_x)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(SignatureError::InvalidPublicKey)?;
    let public = VerifyingKey::from_bytes(&public).map_err(|_| SignatureError::InvalidPublicKey)?;
    let signature = ed25519_dalek::Signature::from_bytes(&signature);
    match public.verify_strict(&x_signed_message(timestamp, body), &signature) {
        Ok(()) => Ok((kid.to_string(), timestamp)),
        Err(_) => {
            let expected = kid_of(&public);
            if kid == expected {
                Err(SignatureError::Mismatch)
            } else {
                Err(SignatureError::OtherKey { kid: kid.to_string(), expected })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use ed25519_dalek::Verifier;
    use proptest::prelude::*;

    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret(text: &str) -> WebhookSecret {
        text.parse().unwrap()
    }

    /// Builds the `http::HeaderMap` that the official crate's `verify` takes without naming `http`, which is not a
    /// dependency of this crate: the map and its key and value types are inferred from `Webhook::verify`.
    fn headers<M, K, V>(pairs: [(&'static str, String); 3]) -> M
    where
        M: FromIterator<(K, V)>,
        K: TryFrom<&'static str>,
        K::Error: Debug,
        V: TryFrom<String>,
        V::Error: Debug,
    {
        pairs.into_iter().map(|(name, value)| (K::try_from(name).unwrap(), V::try_from(value).unwrap())).collect()
    }

    /// Whether the official Standard Webhooks crate accepts our request. It checks the timestamp against the real
    /// clock, so the request must be signed with the current time.
    fn official_crate_accepts(secret: &str, msg_id: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
        let webhook = standardwebhooks::Webhook::new(secret).unwrap();
        let headers = headers([
            ("webhook-id", msg_id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.to_string()),
        ]);
        webhook.verify(body, &headers).is_ok()
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    #[test]
    fn reapit_signature_is_the_base64_of_the_client_id() {
        assert_eq!(reapit_signature("SBOX_CLIENT"), "U0JPWF9DTElFTlQ=");
        assert_eq!(reapit_signature(""), "");
    }

    #[test]
    fn standard_signature_matches_the_standard_webhooks_spec_example() {
        let signature = standard_signature(&[secret(SPEC_SECRET)], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(signature, SPEC_SIGNATURE);
        assert!(verify_standard(&secret(SPEC_SECRET), SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY, SPEC_SIGNATURE));
    }

    #[test]
    fn standard_signature_is_accepted_by_the_official_crate() {
        let secret = WebhookSecret::from_random(rand::random());
        let timestamp = now();
        let body = br#"{"SendAttempts":1,"eventId":"e"}"#;
        let signature = standard_signature(std::slice::from_ref(&secret), "dlv_1", timestamp, body);
        assert!(official_crate_accepts(&secret.to_string(), "dlv_1", timestamp, body, &signature));
        assert!(!official_crate_accepts(&secret.to_string(), "dlv_2", timestamp, body, &signature));
        assert!(!official_crate_accepts(&secret.to_string(), "dlv_1", timestamp, b"{}", &signature));
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_and_either_verifies() {
        let old = WebhookSecret::from_random([1; 24]);
        let new = WebhookSecret::from_random([2; 24]);
        let timestamp = now();
        let body = b"{}";
        let header = standard_signature(&[old.clone(), new.clone()], "dlv_1", timestamp, body);
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|entry| entry.starts_with("v1,")));
        for secret in [&old, &new] {
            assert!(verify_standard(secret, "dlv_1", timestamp, body, &header));
            assert!(official_crate_accepts(&secret.to_string(), "dlv_1", timestamp, body, &header));
        }
    }

    #[test]
    fn a_wrong_secret_or_a_changed_request_does_not_verify() {
        let right = WebhookSecret::from_random([1; 24]);
        let wrong = WebhookSecret::from_random([3; 24]);
        let header = standard_signature(std::slice::from_ref(&right), "dlv_1", 100, b"{}");
        assert!(!verify_standard(&wrong, "dlv_1", 100, b"{}", &header));
        assert!(!verify_standard(&right, "dlv_2", 100, b"{}", &header));
        assert!(!verify_standard(&right, "dlv_1", 101, b"{}", &header));
        assert!(!verify_standard(&right, "dlv_1", 100, b"{ }", &header));
    }

    #[test]
    fn verify_standard_skips_other_versions_and_garbage() {
        let secret = secret(SPEC_SECRET);
        let signature = SPEC_SIGNATURE.trim_start_matches("v1,");
        let verify = |header: &str| verify_standard(&secret, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY, header);
        assert!(verify(&format!("v1a,xyz v2,{signature} {SPEC_SIGNATURE}")));
        assert!(!verify(&format!("v2,{signature}")));
        assert!(!verify("v1,not base64!"));
        assert!(!verify(""));
        assert!(!verify(&format!("v1,{}", &signature[..20])));
    }

    #[test]
    fn no_secret_gives_an_empty_header() {
        assert_eq!(standard_signature(&[], "dlv_1", 1, b"{}"), "");
    }

    #[test]
    fn secrets_parse_and_print_as_whsec_base64() {
        let parsed = secret(SPEC_SECRET);
        assert_eq!(parsed.to_string(), SPEC_SECRET);
        let random = WebhookSecret::from_random([9; 24]);
        assert_eq!(random.to_string().parse::<WebhookSecret>(), Ok(random.clone()));
        assert_eq!(random.to_string(), format!("whsec_{}", STANDARD.encode([9; 24])));
        let longest = format!("whsec_{}", STANDARD.encode([5; 64]));
        assert!(longest.parse::<WebhookSecret>().is_ok());
    }

    #[test]
    fn malformed_secrets_are_rejected_with_the_reason() {
        let table = [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", WebhookSecretError::MissingPrefix),
            ("whsec-MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", WebhookSecretError::MissingPrefix),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w", WebhookSecretError::NotBase64),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", WebhookSecretError::NotBase64),
            ("whsec_", WebhookSecretError::Length { len: 0 }),
            ("whsec_AAAA", WebhookSecretError::Length { len: 3 }),
        ];
        for (text, expected) in table {
            assert_eq!(text.parse::<WebhookSecret>(), Err(expected), "{text}");
        }
        let too_long = format!("whsec_{}", STANDARD.encode([5; 65]));
        assert_eq!(too_long.parse::<WebhookSecret>(), Err(WebhookSecretError::Length { len: 65 }));
    }

    #[test]
    fn debug_forms_hide_the_secrets() {
        assert_eq!(format!("{:?}", secret(SPEC_SECRET)), "WebhookSecret(***)");
        let key = AppSigningKey::from_seed([7; 32]);
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.kid()), "{debug}");
        for secret_form in [STANDARD.encode(key.seed()), URL_SAFE_NO_PAD.encode(key.seed())] {
            assert!(!debug.contains(&secret_form), "{debug}");
        }
        assert!(!debug.contains("7, 7"), "{debug}");
    }

    #[test]
    fn signing_key_has_stable_known_kid_and_public_x() {
        let key = AppSigningKey::from_seed([7; 32]);
        assert_eq!(key.kid(), KNOWN_KID);
        assert_eq!(key.public_x(), KNOWN_X);
        assert_eq!(key.kid().len(), 16);
        assert_eq!(AppSigningKey::from_seed(key.seed()).public_x(), key.public_x());
        assert_ne!(AppSigningKey::from_seed([8; 32]).kid(), key.kid());
    }

    // Computed independently (Python `cryptography`) for the seed [7; 32], 1700000000 and `{"SendAttempts":1}`.
    const KNOWN_KID: &str = "fe812c12f3ab4ce6";
    const KNOWN_X: &str = "6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw";
    const KNOWN_X_SIGNATURE: &str = "s:fe812c12f3ab4ce6:1700000000:\
        WPVI_vyaHJqjqbPvwUULCBr-2HbTxBc31f5BEaE77m9uMRSU6VszfXAT0ROUHto8Rd3CYIk3QuZ02ii2UKa0Ag";

    #[test]
    fn x_signature_matches_the_known_vector() {
        let key = AppSigningKey::from_seed([7; 32]);
        assert_eq!(key.x_signature(1_700_000_000, br#"{"SendAttempts":1}"#), KNOWN_X_SIGNATURE);
    }

    #[test]
    fn x_signature_verifies_with_ed25519_dalek_and_with_verify_x_signature() {
        let key = AppSigningKey::from_seed([7; 32]);
        let body = br#"{"SendAttempts":1,"eventId":"e"}"#;
        let header = key.x_signature(1_700_000_000, body);
        let parts: Vec<&str> = header.split(':').collect();
        assert_eq!(parts[..3], ["s", key.kid().as_str(), "1700000000"]);

        let public: [u8; 32] = URL_SAFE_NO_PAD.decode(key.public_x()).unwrap().try_into().unwrap();
        let public = VerifyingKey::from_bytes(&public).unwrap();
        let signature: [u8; 64] = URL_SAFE_NO_PAD.decode(parts[3]).unwrap().try_into().unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        let mut message = b"1700000000".to_vec();
        message.extend_from_slice(body);
        assert!(public.verify(&message, &signature).is_ok());

        assert_eq!(verify_x_signature(&header, &key.public_x(), body), Ok((key.kid(), 1_700_000_000)));
    }

    #[test]
    fn x_signature_is_the_plain_ed25519_signature_of_the_joined_message() {
        // AWS-LC's signature is the one ed25519-dalek's `SigningKey::sign` gives for the timestamp and body joined,
        // for any key, timestamp and body (and a clone signs the same).
        for (seed, timestamp, body) in
            [([7u8; 32], 1_700_000_000i64, &b"{}"[..]), ([0; 32], 0, &b""[..]), ([200; 32], -5, &[0xff; 3000][..])]
        {
            let key = AppSigningKey::from_seed(seed);
            let expected = SigningKey::from_bytes(&seed).sign(&x_signed_message(timestamp, body));
            assert_eq!(key.sign_x(timestamp, body), expected);
            assert_eq!(key.clone().x_signature(timestamp, body), key.x_signature(timestamp, body));
        }
    }

    #[test]
    fn x_signature_of_a_tampered_request_does_not_verify() {
        let key = AppSigningKey::from_seed([7; 32]);
        let body = br#"{"a":1}"#;
        let header = key.x_signature(1_700_000_000, body);
        assert_eq!(verify_x_signature(&header, &key.public_x(), br#"{"a":2}"#), Err(SignatureError::Mismatch));
        let other_time = header.replace(":1700000000:", ":1700000001:");
        assert_eq!(verify_x_signature(&other_time, &key.public_x(), body), Err(SignatureError::Mismatch));
        let other = AppSigningKey::from_seed([8; 32]);
        assert_eq!(
            verify_x_signature(&header, &other.public_x(), body),
            Err(SignatureError::OtherKey { kid: key.kid(), expected: other.kid() })
        );
    }

    #[test]
    fn malformed_x_signatures_are_rejected_with_the_reason() {
        let key = AppSigningKey::from_seed([7; 32]);
        let header = key.x_signature(1_700_000_000, b"{}");
        let signature = header.rsplit(':').next().unwrap();
        let kid = key.kid();
        let x = key.public_x();
        let table = [
            (String::new(), SignatureError::Malformed),
            (format!("t:{kid}:1700000000:{signature}"), SignatureError::Malformed),
            (format!("s:{kid}:1700000000"), SignatureError::Malformed),
            (format!("s::1700000000:{signature}"), SignatureError::Malformed),
            (format!("s:{kid}:soon:{signature}"), SignatureError::InvalidTimestamp("soon".into())),
            (format!("s:{kid}:01700000000:{signature}"), SignatureError::InvalidTimestamp("01700000000".into())),
            (format!("s:{kid}:1700000000:{signature}="), SignatureError::InvalidSignatureEncoding),
            (format!("s:{kid}:1700000000:{}", &signature[..40]), SignatureError::InvalidSignatureEncoding),
            (format!("s:{kid}:1700000000:{signature}:extra"), SignatureError::InvalidSignatureEncoding),
        ];
        for (header, expected) in table {
            assert_eq!(verify_x_signature(&header, &x, b"{}"), Err(expected), "{header}");
        }
        assert_eq!(verify_x_signature(&header, "AAAA", b"{}"), Err(SignatureError::InvalidPublicKey));
        assert_eq!(verify_x_signature(&header, &x, b"{}"), Ok((kid, 1_700_000_000)));
    }

    proptest! {
        #[test]
        fn any_signed_request_verifies(
            key in any::<[u8; 24]>(),
            msg_id in "[a-zA-Z0-9_]{1,40}",
            timestamp in any::<i64>(),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let secret = WebhookSecret::from_random(key);
            let header = standard_signature(std::slice::from_ref(&secret), &msg_id, timestamp, &body);
            prop_assert!(verify_standard(&secret, &msg_id, timestamp, &body, &header));
            prop_assert_eq!(secret.to_string().parse::<WebhookSecret>(), Ok(secret));

            let app_key = AppSigningKey::from_seed([key.as_slice(), &[0; 8]].concat().try_into().unwrap());
            let x_header = app_key.x_signature(timestamp, &body);
            prop_assert_eq!(verify_x_signature(&x_header, &app_key.public_x(), &body), Ok((app_key.kid(), timestamp)));
        }
    }
}
