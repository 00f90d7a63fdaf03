//! After an uninstall or a scope removal, the application may no longer receive that customer's past events:
//! redelivery refuses them (422), replay skips them and says how many, and the logs keep the records without the
//! payload.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// An application with a webhook on `contacts.created` that received one event of customer RPT.
struct Sent {
    app_id: String,
    key: String,
    installation: String,
    hook: String,
    delivery: String,
}

async fn one_event_sent(app: &TestApp) -> Sent {
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    let installation = app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let hook = app.create_webhook(&app_id, &r.url(), &["contacts.created"], &[]).await;
    app.publish(
        json!({"customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null, "new": {"id": "C1"}}),
    )
    .await;
    // Drained with its retries: an attempt that times out on a busy machine is retried, not left pending.
    app.deliver_all(Duration::from_secs(20)).await;
    r.wait_for(1, Duration::from_secs(5)).await;
    let (_, logs) = app.client.get("/webhooks/logs", &key).await;
    assert!(logs[0]["payload"].as_str().is_some_and(|p| p.contains("\"C1\"")), "the payload is readable: {logs}");
    Sent {
        app_id,
        key,
        installation,
        hook: hook["id"].as_str().unwrap().to_string(),
        delivery: logs[0]["deliveryId"].as_str().unwrap().to_string(),
    }
}

async fn redeliver(app: &TestApp, token: &str, delivery: &str) -> (u16, Value) {
    let (s, body) =
        app.client.call(Method::POST, &format!("/webhooks/deliveries/{delivery}/redeliver"), Some(token), None).await;
    (s.as_u16(), body)
}

async fn replay_all(app: &TestApp, token: &str, hook: &str) -> Value {
    let (s, body) =
        app.client.post(&format!("/webhooks/subscriptions/{hook}/replay"), token, json!({ "status": "all" })).await;
    assert_eq!(s, 200, "{body}");
    body
}

fn assert_refused(status: u16, body: &Value, field: &str, words: &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["statusCode"], 422, "{body}");
    assert_eq!(body["errors"][0]["field"], field, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains(words), "{body}");
}

#[tokio::test]
async fn after_an_uninstall_the_customers_past_events_are_neither_redelivered_nor_replayed_nor_readable() {
    let app = TestApp::spawn().await;
    let s = one_event_sent(&app).await;
    let before = replay_all(&app, &s.key, &s.hook).await;
    assert_eq!((before["events"].clone(), before["refused"].clone()), (json!(1), json!(0)), "{before}");
    app.deliver_all(Duration::from_secs(20)).await;

    let (status, _) = app.client.delete(&format!("/installations/{}", s.installation), ADMIN).await;
    assert_eq!(status, 204);

    let (status, body) = redeliver(&app, &s.key, &s.delivery).await;
    assert_refused(status, &body, "customerId", "RPT no longer has a current installation");
    let (status, body) = redeliver(&app, ADMIN, &s.delivery).await;
    assert_refused(status, &body, "customerId", "installation");
    let after = replay_all(&app, &s.key, &s.hook).await;
    assert_eq!((after["events"].clone(), after["refused"].clone()), (json!(0), json!(1)), "{after}");
    assert_eq!(app.deliver().await, 0, "nothing was queued for the uninstalled customer");
    let (_, logs) = app.client.get("/webhooks/logs", &s.key).await;
    let logs = logs.as_array().unwrap().clone();
    // One record per attempt: a busy machine may have retried an attempt that timed out, so deliveries are counted.
    let deliveries: std::collections::HashSet<&str> = logs.iter().filter_map(|l| l["deliveryId"].as_str()).collect();
    assert_eq!(deliveries.len(), 2, "the records stay (the first delivery and the earlier replay)");
    for log in &logs {
        assert_eq!(log["customerId"], "RPT");
        assert_eq!(log["payload"], Value::Null, "the payload is gone: {log}");
    }
    let (_, admin_logs) = app.client.get(&format!("/webhooks/logs?applicationId={}", s.app_id), ADMIN).await;
    assert!(admin_logs.as_array().unwrap().iter().all(|l| l["payload"].is_null()), "{admin_logs}");
    app.stop().await;
}

#[tokio::test]
async fn after_a_scope_removal_the_topics_past_events_are_neither_redelivered_nor_replayed_nor_readable() {
    let app = TestApp::spawn().await;
    let s = one_event_sent(&app).await;

    let (status, out) =
        app.client.put(&format!("/apps/{}", s.app_id), ADMIN, json!({ "name": "A", "scopes": ["offers.read"] })).await;
    assert_eq!(status, 200, "{out}");

    let (status, body) = redeliver(&app, &s.key, &s.delivery).await;
    assert_refused(status, &body, "topicId", "no longer holds the scope contacts.read");
    let (status, body) = redeliver(&app, ADMIN, &s.delivery).await;
    assert_refused(status, &body, "topicId", "contacts.read");
    let after = replay_all(&app, ADMIN, &s.hook).await;
    assert_eq!((after["events"].clone(), after["refused"].clone()), (json!(0), json!(1)), "{after}");
    let (_, logs) = app.client.get("/webhooks/logs", &s.key).await;
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "{logs}");
    assert_eq!(logs[0]["payload"], Value::Null, "{logs}");

    let (status, _) = app
        .client
        .put(&format!("/apps/{}", s.app_id), ADMIN, json!({ "name": "A", "scopes": ["contacts.read"] }))
        .await;
    assert_eq!(status, 200);
    let (status, body) = redeliver(&app, &s.key, &s.delivery).await;
    assert_eq!(status, 202, "with the scope back, the event may be sent again: {body}");
    app.stop().await;
}

#[tokio::test]
async fn sandbox_events_are_redelivered_only_while_the_webhook_lists_the_sandbox() {
    let app = TestApp::spawn().await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let hook = app.create_webhook(&app_id, &r.url(), &["contacts.created"], &["SBOX"]).await;
    let hook = hook["id"].as_str().unwrap().to_string();
    app.publish(
        json!({"customerId": "SBOX", "entityType": "contacts", "entityId": "C1", "old": null, "new": {"id": "C1"}}),
    )
    .await;
    app.deliver_all(Duration::from_secs(20)).await;
    r.wait_for(1, Duration::from_secs(5)).await;
    let (_, logs) = app.client.get("/webhooks/logs", &key).await;
    let delivery = logs[0]["deliveryId"].as_str().unwrap().to_string();
    let (status, body) = redeliver(&app, &key, &delivery).await;
    assert_eq!(status, 202, "{body}");

    let (status, _) = app
        .client
        .put(
            &format!("/webhooks/subscriptions/{hook}"),
            &key,
            json!({ "url": r.url(), "topicIds": ["contacts.created"], "customerIds": [] }),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = redeliver(&app, &key, &delivery).await;
    assert_refused(status, &body, "customerId", "SBOX");
    app.stop().await;
}
