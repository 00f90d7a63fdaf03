//! `Idempotency-Key` on `POST /changes`: a key reused with another body is refused, and a key past its time to live
//! is new again at once.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

/// Posts `change` with `Idempotency-Key: key`: (status, `idempotent-replayed` present, body).
async fn post(app: &TestApp, key: &str, change: &Value) -> (u16, bool, Value) {
    let resp = app
        .client
        .http
        .post(format!("{}/changes", app.client.base))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", key)
        .json(change)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    (status, replayed, resp.json().await.unwrap())
}

fn contact_created(entity: &str) -> Value {
    json!({"customerId": "RPT", "entityType": "contacts", "entityId": entity, "old": null, "new": {"id": entity}})
}

async fn world(app: &TestApp) -> Receiver {
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.created"], &[]).await;
    r
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused_naming_the_header() {
    let app = TestApp::spawn().await;
    let r = world(&app).await;
    let (status, _, first) = post(&app, "change-7", &contact_created("C1")).await;
    assert_eq!(status, 202, "{first}");

    let (status, replayed, body) = post(&app, "change-7", &contact_created("C2")).await;

    assert_eq!((status, replayed), (422, false), "{body}");
    assert_eq!(body["statusCode"], 422);
    assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{body}");
    let (status, replayed, again) = post(&app, "change-7", &contact_created("C1")).await;
    assert_eq!((status, replayed), (202, true), "the first body still gets its answer: {again}");
    assert_eq!(again, first);
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1, "only the first request created a delivery");
    app.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_past_its_time_to_live_is_new_again_at_once() {
    // A time to live of zero: every key has expired by the next request, as one would after 24 hours.
    let app = TestApp::with(Opts { idempotency_ttl: Some(Duration::ZERO), ..Opts::default() }).await;
    let r = world(&app).await;
    let (status, _, first) = post(&app, "change-8", &contact_created("C1")).await;
    assert_eq!(status, 202, "{first}");

    let (status, replayed, second) = post(&app, "change-8", &contact_created("C2")).await;

    assert_eq!((status, replayed), (202, false), "a new request, not a 409 until the upkeep runs: {second}");
    assert_ne!(second["eventId"], first["eventId"]);
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 2, "both requests created their delivery");
    app.stop().await;
}

#[tokio::test]
async fn a_key_that_is_not_1_to_255_visible_ascii_characters_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let r = world(&app).await;
    for key in ["k".repeat(256), "two words".to_string()] {
        let (status, replayed, body) = post(&app, &key, &contact_created("C1")).await;
        assert_eq!((status, replayed), (422, false), "{key:?}: {body}");
        assert_eq!(body["statusCode"], 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{body}");
    }
    let (status, _, body) = post(&app, &"k".repeat(255), &contact_created("C1")).await;
    assert_eq!(status, 202, "255 characters is a valid key: {body}");
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1, "only the valid request created a delivery");
    app.stop().await;
}
