//! An application's API key can be rotated (with an optional grace period for the old one), and an application can
//! be deleted: its webhooks stop at once, its keys stop working, it is neither found nor listed, its logs stay.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, ADMIN};
use crate::{assert_422_naming, assert_error, embedded_ids, send, send_json};

/// The status an API key gets on `GET /webhooks/subscriptions`.
async fn key_status(app: &TestApp, key: &str) -> u16 {
    send(app, Method::GET, "/webhooks/subscriptions", Some(key), &[], None).await.status
}

#[tokio::test]
async fn rotating_an_api_key_without_a_grace_period_stops_the_old_key_at_once() {
    let app = TestApp::spawn().await;
    let (id, old_key, _) = app.create_app("A", &["contacts.read"]).await;

    let r = send(&app, Method::POST, &format!("/apps/{id}/api-key/rotate"), Some(ADMIN), &[], None).await;

    assert_eq!(r.status, 200, "{}", r.body);
    let new_key = r.body["apiKey"].as_str().expect("apiKey").to_string();
    assert!(new_key.starts_with("hk_") && new_key != old_key, "{}", r.body);
    assert!(r.body["previousKeyExpires"].is_null(), "{}", r.body);
    assert_eq!(key_status(&app, &new_key).await, 200);
    let old = send(&app, Method::GET, "/webhooks/subscriptions", Some(&old_key), &[], None).await;
    assert_error(&old, 401, "the old key after a rotation without grace");
    let (status, got) = app.client.get(&format!("/apps/{id}"), ADMIN).await;
    assert_eq!(status, 200);
    assert!(got.get("apiKey").is_none(), "the key is never shown again: {got}");
}

#[tokio::test]
async fn a_rotation_body_of_json_null_takes_the_defaults() {
    let app = TestApp::spawn().await;
    let (id, old_key, _) = app.create_app("A", &[]).await;
    let r =
        send(&app, Method::POST, &format!("/apps/{id}/api-key/rotate"), Some(ADMIN), &[], Some(b"null".to_vec())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["previousKeyExpires"].is_null(), "{}", r.body);
    assert_eq!(key_status(&app, &old_key).await, 401);
}

#[tokio::test]
async fn with_a_grace_period_the_old_api_key_keeps_working_until_it_expires() {
    let app = TestApp::spawn().await;
    let (id, first, _) = app.create_app("A", &[]).await;
    let before = chrono::Utc::now();

    let r = send_json(
        &app,
        Method::POST,
        &format!("/apps/{id}/api-key/rotate"),
        Some(ADMIN),
        &[],
        json!({ "gracePeriod": "1h" }),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["apiKey"].as_str().unwrap().to_string();
    let expires = r.body["previousKeyExpires"].as_str().expect("previousKeyExpires");
    assert!(expires.ends_with('Z'), "{expires}");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect("RFC 3339");
    let grace = expires.with_timezone(&chrono::Utc) - before;
    assert!(grace > chrono::Duration::minutes(59) && grace <= chrono::Duration::minutes(61), "{grace}");
    assert_eq!((key_status(&app, &first).await, key_status(&app, &second).await), (200, 200));

    let r = send_json(
        &app,
        Method::POST,
        &format!("/apps/{id}/api-key/rotate"),
        Some(ADMIN),
        &[],
        json!({ "gracePeriod": "0s" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["previousKeyExpires"].is_null(), "{}", r.body);
    let third = r.body["apiKey"].as_str().unwrap().to_string();
    assert_eq!(key_status(&app, &third).await, 200);
    assert_eq!(key_status(&app, &second).await, 401, "0s: the replaced key stops at once");
    assert_eq!(key_status(&app, &first).await, 401, "a key kept from an earlier rotation is dropped");
}

#[tokio::test]
async fn a_key_rotation_with_a_bad_grace_period_or_by_the_wrong_caller_is_refused() {
    let app = TestApp::spawn().await;
    let (id, key, _) = app.create_app("A", &[]).await;
    let path = format!("/apps/{id}/api-key/rotate");
    for bad in [json!({ "gracePeriod": "soon" }), json!({ "gracePeriod": 60 }), json!({ "gracePeriod": "31d" })] {
        let r = send_json(&app, Method::POST, &path, Some(ADMIN), &[], bad.clone()).await;
        assert_422_naming(&r, "gracePeriod", &bad.to_string());
    }
    let r = send(&app, Method::POST, &path, Some(ADMIN), &[], Some(b"{".to_vec())).await;
    assert_error(&r, 400, "malformed JSON");
    let r = send(&app, Method::POST, &path, Some(&key), &[], None).await;
    assert_error(&r, 403, "an application key");
    let r = send(&app, Method::POST, &path, None, &[], None).await;
    assert_error(&r, 401, "no token");
    let unknown = format!("/apps/{}/api-key/rotate", uuid::Uuid::now_v7());
    let r = send(&app, Method::POST, &unknown, Some(ADMIN), &[], None).await;
    assert_error(&r, 404, "an unknown application");
    assert_eq!(key_status(&app, &key).await, 200, "nothing was rotated");
}

#[tokio::test]
async fn deleting_an_application_stops_its_webhooks_and_keys_and_hides_it_but_keeps_its_logs() {
    let app = TestApp::spawn().await;
    let (a, key_a, _) = app.create_app("A", &["contacts.read"]).await;
    let (b, key_b, _) = app.create_app("B", &["contacts.read"]).await;
    app.install(&a, "RPT").await;
    let r = Receiver::start(Behaviour::Status(500)).await;
    let hook = app.create_webhook(&a, &r.url(), &["contacts.created"], &[]).await;
    let hook = hook["id"].as_str().unwrap().to_string();
    let created = |entity: &str| json!({"customerId": "RPT", "entityType": "contacts", "entityId": entity, "old": null, "new": {}});
    app.publish(created("C1")).await;
    app.deliver().await;
    r.wait_for(1, Duration::from_secs(5)).await;
    app.publish(created("C2")).await;
    // Now: C1 failed once and waits for its retry, C2 waits for its first attempt.

    let gone = send(&app, Method::DELETE, &format!("/apps/{a}"), Some(ADMIN), &[], None).await;

    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_error(&send(&app, Method::GET, &format!("/apps/{a}"), Some(ADMIN), &[], None).await, 404, "GET");
    let (status, list) = app.client.get("/apps", ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!((embedded_ids(&list), list["totalCount"].clone()), (vec![b.clone()], json!(1)), "{list}");
    assert_error(&send(&app, Method::GET, "/webhooks/subscriptions", Some(&key_a), &[], None).await, 401, "A's key");
    assert_eq!(key_status(&app, &key_b).await, 200, "B's key still works");
    let r_hook = send(&app, Method::GET, &format!("/webhooks/subscriptions/{hook}"), Some(ADMIN), &[], None).await;
    assert_error(&r_hook, 404, "A's webhook");
    let after = app.publish(created("C3")).await;
    assert_eq!(after["events"][0]["deliveries"], 0, "A's webhook receives nothing more: {after}");
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1, "the pending retry and the waiting delivery were cancelled");
    let (status, logs) = app.client.get(&format!("/webhooks/logs?applicationId={a}"), ADMIN).await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "its logs stay: {logs}");
    let (status, installed) =
        app.client.get(&format!("/installations?applicationId={a}&isInstalled=true"), ADMIN).await;
    assert_eq!((status.as_u16(), installed["totalCount"].clone()), (200, json!(0)), "its installations ended");
    let again = send(&app, Method::DELETE, &format!("/apps/{a}"), Some(ADMIN), &[], None).await;
    assert_error(&again, 404, "deleting twice");
    let path = format!("/apps/{a}");
    let put = send_json(&app, Method::PUT, &path, Some(ADMIN), &[], json!({"name": "A", "scopes": []})).await;
    assert_error(&put, 404, "updating a deleted application");
    let body = json!({"applicationId": a, "customerId": "X"});
    let install = send_json(&app, Method::POST, "/installations", Some(ADMIN), &[], body).await;
    assert_422_naming(&install, "applicationId", "installing a deleted application");
    let by_key = send(&app, Method::DELETE, &format!("/apps/{b}"), Some(&key_b), &[], None).await;
    assert_error(&by_key, 403, "an application key may not delete");
}
