//! Secrets at rest: webhook secrets and the applications' Ed25519 signing seeds are sealed (XChaCha20-Poly1305, a
//! random 24-byte nonce each time) before they are written, and opened when read, by both backends. The key ring
//! comes from the operator (`--encryption-key`); the first key seals, every key opens, so keys can be rotated
//! ([`crate::Store::reseal_secrets`] rewrites every secret with the first key).
//!
//! A sealed text is `enc:v1:<base64url(key id ‖ nonce ‖ ciphertext)>`; sealed bytes are `HSEAL1 ‖ key id ‖ nonce ‖
//! ciphertext`. The key id is the first 4 bytes of SHA-256 of the key. A value without the prefix was written before
//! sealing existed (or by a store without keys) and is read as it is; resealing seals it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::{StoreError, StoreResult};

const TEXT_PREFIX: &str = "enc:v1:";
const BYTES_PREFIX: &[u8] = b"HSEAL1";
const ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;

/// The keys that seal and open secrets; the first seals. Without keys, values are stored as they are.
#[derive(Clone, Default)]
pub struct Sealer {
    keys: Vec<([u8; ID_LEN], XChaCha20Poly1305)>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} key(s))", self.keys.len())
    }
}

impl Sealer {
    /// A key ring: `keys[0]` seals, every key opens.
    pub fn new(keys: &[[u8; 32]]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                let digest = Sha256::digest(k);
                let mut id = [0u8; ID_LEN];
                id.copy_from_slice(&digest[..ID_LEN]);
                (id, XChaCha20Poly1305::new(k.into()))
            })
            .collect();
        Self { keys }
    }

    /// No keys: values are written in the clear (tests and benchmarks only).
    pub fn plain() -> Self {
        Self::default()
    }

    /// Whether `text` is sealed with the key that seals now (nothing to reseal).
    pub fn is_current_text(&self, text: &str) -> bool {
        match (self.keys.first(), text.strip_prefix(TEXT_PREFIX)) {
            (Some((id, _)), Some(rest)) => URL_SAFE_NO_PAD.decode(rest).is_ok_and(|b| b.starts_with(id)),
            (None, None) => true,
            _ => false,
        }
    }

    /// Whether `bytes` are sealed with the key that seals now.
    pub fn is_current_bytes(&self, bytes: &[u8]) -> bool {
        match (self.keys.first(), bytes.strip_prefix(BYTES_PREFIX)) {
            (Some((id, _)), Some(rest)) => rest.starts_with(id),
            (None, None) => true,
            _ => false,
        }
    }

    pub fn seal_text(&self, plain: &str) -> String {
        match self.seal(plain.as_bytes()) {
            Some(sealed) => format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)),
            None => plain.to_string(),
        }
    }

    pub fn seal_bytes(&self, plain: &[u8]) -> Vec<u8> {
        match self.seal(plain) {
            Some(sealed) => [BYTES_PREFIX, &sealed].concat(),
            None => plain.to_vec(),
        }
    }

    pub fn open_text(&self, stored: String) -> StoreResult<String> {
        let Some(rest) = stored.strip_prefix(TEXT_PREFIX) else { return Ok(stored) };
        let sealed = URL_SAFE_NO_PAD.decode(rest).map_err(|_| corrupt("a sealed secret is not base64"))?;
        String::from_utf8(self.open(&sealed)?).map_err(|_| corrupt("a sealed secret is not text"))
    }

    pub fn open_bytes(&self, stored: Vec<u8>) -> StoreResult<Vec<u8>> {
        match stored.strip_prefix(BYTES_PREFIX) {
            Some(sealed) => self.open(sealed),
            None => Ok(stored),
        }
    }

    pub fn open_opt_text(&self, stored: Option<String>) -> StoreResult<Option<String>> {
        stored.map(|s| self.open_text(s)).transpose()
    }

    /// `key id ‖ nonce ‖ ciphertext`, or `None` without keys.
    fn seal(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let (id, cipher) = self.keys.first()?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs over ~256 GiB; a secret is a few dozen bytes.
        let ciphertext = cipher.encrypt(&nonce, plain).ok()?;
        Some([&id[..], &nonce[..], &ciphertext].concat())
    }

    fn open(&self, sealed: &[u8]) -> StoreResult<Vec<u8>> {
        if sealed.len() < ID_LEN + NONCE_LEN {
            return Err(corrupt("a sealed secret is too short"));
        }
        let (id, rest) = sealed.split_at(ID_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            corrupt(&format!("a secret is sealed with key {}, which is not among the encryption keys", hex::encode(id)))
        })?;
        cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| corrupt("a sealed secret does not open with its key (damaged, or the key is wrong)"))
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_any_key_of_the_ring_and_never_show_the_secret() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let old = Sealer::new(&[k1]);
        let text = old.seal_text("whsec_abc");
        assert!(text.starts_with("enc:v1:") && !text.contains("whsec_abc"), "{text}");
        assert_ne!(text, old.seal_text("whsec_abc"), "a fresh nonce each time");
        let bytes = old.seal_bytes(&[7; 32]);
        assert!(bytes.starts_with(b"HSEAL1") && !bytes.windows(32).any(|w| w == [7; 32]));

        let ring = Sealer::new(&[k2, k1]);
        assert_eq!(ring.open_text(text.clone()).unwrap(), "whsec_abc");
        assert_eq!(ring.open_bytes(bytes.clone()).unwrap(), vec![7; 32]);
        assert!(!ring.is_current_text(&text) && old.is_current_text(&text));
        assert!(ring.is_current_text(&ring.seal_text("x")));
        assert!(!ring.is_current_bytes(&bytes) && ring.is_current_bytes(&ring.seal_bytes(b"x")));

        let other = Sealer::new(&[k2]);
        assert!(matches!(other.open_text(text), Err(StoreError::Corrupt(_))), "an unknown key is an error");
        assert!(matches!(other.open_bytes(bytes), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn values_from_before_sealing_are_read_as_they_are() {
        let ring = Sealer::new(&[[9; 32]]);
        assert_eq!(ring.open_text("whsec_plain".into()).unwrap(), "whsec_plain");
        assert_eq!(ring.open_bytes(vec![1; 32]).unwrap(), vec![1; 32]);
        assert!(!ring.is_current_text("whsec_plain") && !ring.is_current_bytes(&[1; 32]));
        let plain = Sealer::plain();
        assert_eq!(plain.seal_text("whsec_x"), "whsec_x");
        assert!(plain.is_current_text("whsec_x"));
    }

    #[test]
    fn a_damaged_sealed_value_is_an_error() {
        let ring = Sealer::new(&[[3; 32]]);
        let mut bytes = ring.seal_bytes(b"seed");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(ring.open_bytes(bytes), Err(StoreError::Corrupt(_))));
        assert!(matches!(ring.open_text("enc:v1:!!".into()), Err(StoreError::Corrupt(_))));
    }
}
