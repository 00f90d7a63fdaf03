//! End to end: a change published over HTTP reaches the right webhooks, signed, with the seed's payload; failures
//! follow the retry schedule.

use std::time::Duration;

use base64::Engine as _;
use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

fn verify_standard(secret: &str, r: &herald_testkit::Received) {
    assert!(standard_signature_ok(secret, r), "the Standard Webhooks signature verifies");
}

#[tokio::test]
async fn the_seed_contact_change_arrives_with_the_seeds_exact_diff_and_only_where_routed() {
    let app = TestApp::spawn().await;
    let (app_id, _key, client_id) = app.create_app("CRM sync", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    app.install(&app_id, "OTHER").await;
    let all = Receiver::start(Behaviour::Status(200)).await;
    let other_customer = Receiver::start(Behaviour::Status(200)).await;
    let inactive = Receiver::start(Behaviour::Status(200)).await;
    let excluded = Receiver::start(Behaviour::Status(200)).await;
    let hook = app.create_webhook(&app_id, &all.url(), &["contacts.modified"], &[]).await;
    app.create_webhook(&app_id, &other_customer.url(), &["contacts.modified"], &["OTHER"]).await;
    app.create_webhook_with(
        json!({"applicationId": app_id, "url": inactive.url(), "topicIds": ["contacts.modified"], "active": false}),
    )
    .await;
    app.create_webhook(&app_id, &excluded.url(), &["contacts.modified"], &["SBOX"]).await;

    let answer = app.publish(seed_contact_change("RPT")).await;
    assert_eq!(answer["events"], json!([{"topicId": "contacts.modified", "entityId": "RPT20000029", "deliveries": 1}]));
    assert_eq!(app.deliver().await, 1);

    let got = all.wait_for(1, Duration::from_secs(5)).await;
    let r = &got[0];
    let seed: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
    let body = r.json();
    assert_eq!(body["diff"], seed["diff"]);
    assert_eq!(body["new"], seed["new"]);
    assert_eq!(body["old"], seed["old"]);
    assert_eq!(body["SendAttempts"], 1);
    assert_eq!(body["topicId"], "contacts.modified");
    assert_eq!(body["customerId"], "RPT");
    assert_eq!(body["entityId"], "RPT20000029");
    assert_eq!(body["eventTime"], "2020-05-13T09:33:16.8811358Z");
    assert_eq!(body["eventId"], answer["eventId"]);
    // the diff keeps the seed's key order
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let diff_at = text.find("\"diff\":").unwrap();
    assert_eq!(
        &text[diff_at..],
        r#""diff":{"modified":[null,"2020-05-13T09:33:10Z"],"mobilePhone":[null,"07123 456789"],"primaryAddress":{"buildingNumber":["1","12"]},"_eTag":["\"65D680519E9762519D203891A694B85B\"","\"4DF107A6EB05D792EEAFDF1432F6E275\""]}}"#
    );
    assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(
        r.header("reapit-webhook-signature"),
        Some(base64::engine::general_purpose::STANDARD.encode(client_id.as_bytes()))
    );
    verify_standard(hook["secret"].as_str().unwrap(), r);
    assert!(r.header("x-signature").unwrap().starts_with("s:"));
    assert!(r.header("user-agent").unwrap().starts_with("Herald/"));

    assert_eq!(other_customer.count(), 0, "a webhook for another customer gets nothing");
    assert_eq!(inactive.count(), 0, "an inactive webhook gets nothing");
    assert_eq!(excluded.count(), 0, "a webhook whose customers exclude the event's gets nothing");
    app.stop().await;
}

#[tokio::test]
async fn sandbox_events_reach_only_webhooks_listing_sbox() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("Sandbox", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let sbox = Receiver::start(Behaviour::Status(200)).await;
    let all = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &sbox.url(), &["contacts.modified"], &["SBOX"]).await;
    app.create_webhook(&app_id, &all.url(), &["contacts.modified"], &[]).await;
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver().await;
    assert_eq!(sbox.count(), 1);
    assert_eq!(all.count(), 0, "'all customers' excludes the sandbox");
    app.stop().await;
}

#[tokio::test]
async fn an_uninstalled_customer_routes_to_nobody() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    let inst = app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let (status, _) = app.client.delete(&format!("/installations/{inst}"), ADMIN).await;
    assert_eq!(status, 204);
    let answer = app.publish(seed_contact_change("RPT")).await;
    assert_eq!(answer["events"][0]["deliveries"], 0);
    app.deliver().await;
    assert_eq!(r.count(), 0);
    app.stop().await;
}

async fn one_webhook(app: &TestApp, url: &str, customer: &str) -> Value {
    let (app_id, _, _) = app.create_app("Retry", &["contacts.read"]).await;
    if customer != "SBOX" {
        app.install(&app_id, customer).await;
    }
    app.create_webhook(&app_id, url, &["contacts.modified"], &[customer]).await
}

#[tokio::test]
async fn a_failing_endpoint_gets_every_attempt_of_the_schedule_then_nothing() {
    let app = TestApp::with(Opts { retry_schedule: Some("50ms,100ms,150ms"), ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::Status(500)).await;
    let hook = one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(5)).await;
    let got = r.received();
    assert_eq!(got.len(), 4, "1 attempt + 3 retries");
    let attempts: Vec<i64> = got.iter().map(|g| g.json()["SendAttempts"].as_i64().unwrap()).collect();
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    let ids: std::collections::HashSet<_> = got.iter().map(|g| g.header("webhook-id").unwrap()).collect();
    assert_eq!(ids.len(), 1, "webhook-id is the same on every attempt");
    // The gaps on Herald's clock (which `deliver_all` moved to each due time rather than sleeping): each retry
    // starts no sooner than its delay after the previous attempt.
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    let started: Vec<chrono::DateTime<chrono::Utc>> =
        logs.as_array().unwrap().iter().rev().map(|l| l["timeStamp"].as_str().unwrap().parse().unwrap()).collect();
    for (i, min) in [(1, 50), (2, 100), (3, 150)] {
        let gap = (started[i] - started[i - 1]).to_std().unwrap();
        assert!(gap >= Duration::from_millis(min), "gap before attempt {} was {gap:?}", i + 1);
    }
    // every retry is signed again over its own body
    for g in &got {
        verify_standard(hook["secret"].as_str().unwrap(), g);
    }
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs.as_array().unwrap().len(), 4);
    assert_eq!(logs[0]["attempt"], 4, "newest first");
    app.stop().await;
}

#[tokio::test]
async fn retries_wait_for_their_delay_on_the_engines_clock_which_a_test_moves_instead_of_sleeping() {
    // An hour, then two: no test could sleep through this schedule.
    let app = TestApp::with(Opts { retry_schedule: Some("1h,2h"), ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::Status(500)).await;
    one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    let clock = app.running().engine.handle().clock().clone();
    assert_eq!(app.deliver().await, 1, "the first attempt is due at once");
    assert_eq!(app.deliver().await, 0, "the retry is not due yet");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(app.deliver().await, 0, "nor a second before its hour");
    clock.advance(Duration::from_secs(2));
    assert_eq!(app.deliver().await, 1, "the second attempt, an hour after the first");
    clock.advance(Duration::from_secs(2 * 3600 + 1));
    assert_eq!(app.deliver().await, 1, "the third, two hours after the second");
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(app.deliver().await, 0, "the schedule is spent: the delivery is dead");
    let attempts: Vec<i64> = r.received().iter().map(|g| g.json()["SendAttempts"].as_i64().unwrap()).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    app.stop().await;
}

#[tokio::test]
async fn a_4xx_answer_is_final() {
    let app = TestApp::spawn().await;
    let r = Receiver::start(Behaviour::Status(404)).await;
    one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_500_then_a_200_takes_two_attempts() {
    let app = TestApp::spawn().await;
    let r = Receiver::start(Behaviour::Sequence(vec![500, 200])).await;
    one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(3)).await;
    let got = r.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["SendAttempts"], 2);
    app.stop().await;
}

#[tokio::test]
async fn sandbox_events_get_one_attempt() {
    let app = TestApp::spawn().await;
    let r = Receiver::start(Behaviour::Status(500)).await;
    one_webhook(&app, &r.url(), "SBOX").await;
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_fails_and_is_retried() {
    let app =
        TestApp::with(Opts { delivery_timeout: Some("200ms"), retry_schedule: Some("50ms"), ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::Delay(Duration::from_secs(2))).await;
    one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(5)).await;
    assert_eq!(r.count(), 2);
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs[0]["outcome"], "timeout");
    app.stop().await;
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let app = TestApp::with(Opts { retry_schedule: Some(""), ..Opts::default() }).await;
    let elsewhere = Receiver::start(Behaviour::Status(200)).await;
    let r = Receiver::start(Behaviour::Redirect(elsewhere.url())).await;
    one_webhook(&app, &r.url(), "RPT").await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1);
    assert_eq!(elsewhere.count(), 0);
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs[0]["statusCode"], 302);
    app.stop().await;
}

#[tokio::test]
async fn the_background_worker_delivers_without_being_driven() {
    let app = TestApp::spawn_with_worker().await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    one_webhook(&app, &r.url(), "RPT").await;
    for _ in 0..20 {
        app.publish(seed_contact_change("RPT")).await;
    }
    r.wait_for(20, Duration::from_secs(10)).await;
    app.stop().await;
}

#[tokio::test]
async fn ping_reports_success_failure_and_connection_errors() {
    let app = TestApp::spawn().await;
    let ok = Receiver::start(Behaviour::Status(204)).await;
    let failing = Receiver::start(Behaviour::Status(500)).await;
    let hook_ok = one_webhook(&app, &ok.url(), "SBOX").await;
    let hook_fail = one_webhook(&app, &failing.url(), "SBOX").await;
    let closed = format!("http://127.0.0.1:{}/hook", herald_testkit::free_port());
    let hook_closed = one_webhook(&app, &closed, "SBOX").await;
    let ping = |h: &Value| format!("/webhooks/subscriptions/{}/ping", h["id"].as_str().unwrap());

    let (status, out) = app.client.post(&ping(&hook_ok), ADMIN, json!({"topicId": "contacts.modified"})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!((out["success"].clone(), out["statusCode"].clone()), (json!(true), json!(204)));
    let got = ok.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["customerId"], "webhook-test");
    assert_eq!(body["entityId"], "9e7e4181-6210-49ea-abf5-d5ce16d23647");
    assert_eq!(body["topicId"], "contacts.modified");
    verify_standard(hook_ok["secret"].as_str().unwrap(), &got[0]);

    let (_, out) = app.client.post(&ping(&hook_fail), ADMIN, json!({"topicId": "contacts.modified"})).await;
    assert_eq!((out["success"].clone(), out["statusCode"].clone()), (json!(false), json!(500)));
    let (_, out) = app.client.post(&ping(&hook_closed), ADMIN, json!({"topicId": "contacts.modified"})).await;
    assert_eq!(out["success"], false);
    assert_eq!(out["statusCode"], Value::Null);
    assert!(out["error"].as_str().unwrap().contains("connection"));

    // never retried, and in the logs
    app.deliver_all(Duration::from_millis(500)).await;
    assert_eq!(failing.count(), 1);
    let (_, logs) =
        app.client.get(&format!("/webhooks/logs?webhookId={}", hook_fail["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(logs[0]["customerId"], "webhook-test");

    let (status, out) = app.client.post(&ping(&hook_ok), ADMIN, json!({"topicId": "contacts.created"})).await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["errors"][0]["field"], "topicId");
    app.stop().await;
}
