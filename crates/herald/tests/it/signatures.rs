//! Signatures verified by independent implementations, on first attempts and retries, and across a rotation.

use std::time::Duration;

use base64::Engine as _;
use herald_testkit::{Behaviour, Receiver};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn x_signature_verifies_with_the_published_ed25519_key() {
    let app = TestApp::spawn().await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    let r = Receiver::start(Behaviour::Sequence(vec![500, 200])).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &["SBOX"]).await;
    let (s, keys) = app.client.get(&format!("/webhooks/signing?applicationId={app_id}"), &key).await;
    assert_eq!(s, 200, "{keys}");
    let jwk = &keys["keys"][0];
    assert_eq!(jwk["crv"], "Ed25519");
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver().await;
    let got = r.wait_for(1, Duration::from_secs(5)).await;
    let header = got[0].header("x-signature").unwrap();
    let parts: Vec<&str> = header.splitn(4, ':').collect();
    assert_eq!(parts[0], "s");
    assert_eq!(parts[1], jwk["kid"].as_str().unwrap());
    let mut signed = parts[2].as_bytes().to_vec();
    signed.extend_from_slice(&got[0].body);
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    public.verify_strict(&signed, &sig).expect("X-Signature verifies with the published key");
    app.stop().await;
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_every_attempt() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Sequence(vec![500, 200])).await;
    let hook = app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let id = hook["id"].as_str().unwrap();
    let old_secret = hook["secret"].as_str().unwrap().to_string();
    let (s, rotated) = app.client.post(&format!("/webhooks/subscriptions/{id}/secret/rotate"), ADMIN, json!({})).await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(old_secret, new_secret);
    let (_, current) = app.client.get(&format!("/webhooks/subscriptions/{id}/secret"), ADMIN).await;
    assert_eq!(current["secret"], new_secret.as_str());
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(3)).await;
    let got = r.received();
    assert_eq!(got.len(), 2, "a first attempt and a retry");
    for g in &got {
        assert_eq!(g.header("webhook-signature").unwrap().split(' ').count(), 2);
        assert!(standard_signature_ok(&old_secret, g), "the old secret still verifies");
        assert!(standard_signature_ok(&new_secret, g), "the new secret verifies");
    }
    assert!(!standard_signature_ok("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &got[0]), "another secret does not");
    app.stop().await;
}
