//! Operational events (contract §9.4): `webhooks.failing`, `webhooks.disabled` and `webhooks.recovered`, once per
//! transition, through the same engine as any delivery, never to the webhook they are about.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use herald_testkit::{Behaviour, Client, HeraldProcess, Received, Receiver};
use serde_json::{json, Value};

use crate::support::*;

const OPERATIONAL: [&str; 3] = ["webhooks.failing", "webhooks.disabled", "webhooks.recovered"];

fn topics(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.json()["topicId"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn a_failing_webhook_is_announced_once_per_transition_to_the_others_and_never_to_itself() {
    let app = TestApp::with(Opts { auto_disable_after: Some("1h"), ..Opts::default() }).await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let a_rx = Receiver::start(Behaviour::Status(500)).await;
    let b_rx = Receiver::start(Behaviour::Status(200)).await;
    // A is subscribed to the operational topics too: it never gets one about itself.
    let mut a_topics = vec!["contacts.modified"];
    a_topics.extend(OPERATIONAL);
    let a = app.create_webhook(&app_id, &a_rx.url(), &a_topics, &[]).await;
    let a_id = a["id"].as_str().unwrap().to_string();
    // B lists only the sandbox: operational events reach it whatever its customers.
    let b = app.create_webhook(&app_id, &b_rx.url(), &OPERATIONAL, &["SBOX"]).await;
    let b_secret = b["secret"].as_str().unwrap().to_string();

    // A's first delivery dies (three attempts): B gets one webhooks.failing with A's last attempt.
    let published = app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(20)).await;
    assert_eq!(a_rx.count(), 3, "A's delivery tried three times");
    let got = b_rx.received();
    assert_eq!(topics(&got), vec!["webhooks.failing"]);
    let p = got[0].json();
    assert_eq!(p["SendAttempts"], 1);
    assert_eq!(p["entityId"], a_id.as_str());
    assert_eq!(p["customerId"], Value::Null);
    assert_eq!((p["old"].clone(), p["diff"].clone()), (Value::Null, Value::Null));
    let new = &p["new"];
    assert_eq!(new["webhookId"], a_id.as_str());
    assert_eq!(new["url"], a_rx.url().as_str());
    assert!(new["failingSince"].is_string(), "{p}");
    assert_eq!(new["disabledReason"], Value::Null);
    let last = &new["lastAttempt"];
    assert_eq!(last["statusCode"], 500, "{p}");
    assert_eq!(last["topicId"], "contacts.modified");
    assert_eq!(last["eventId"], published["eventId"]);
    assert!(last["timeStamp"].is_string());
    assert!(standard_signature_ok(&b_secret, &got[0]), "signed like any delivery");

    // More dead deliveries: the streak is announced already.
    app.publish(seed_contact_change("RPT")).await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(20)).await;
    assert_eq!(a_rx.count(), 9);
    assert_eq!(b_rx.count(), 1, "no second webhooks.failing in one streak");

    // A is disabled automatically: one webhooks.disabled.
    let clock = app.running().herald.clock().clone();
    clock.advance(Duration::from_secs(3601));
    assert_eq!(app.running().herald.run_maintenance().await.unwrap().disabled_webhooks, 1);
    app.deliver_all(Duration::from_secs(20)).await;
    let got = b_rx.received();
    assert_eq!(topics(&got), vec!["webhooks.failing", "webhooks.disabled"]);
    let disabled = got[1].json();
    assert!(disabled["new"]["disabledReason"].as_str().is_some_and(|r| !r.is_empty()), "{disabled}");
    assert_eq!(disabled["new"]["lastAttempt"]["statusCode"], 500);
    assert_eq!(app.running().herald.run_maintenance().await.unwrap().disabled_webhooks, 0);

    // A's receiver is fixed and A re-enabled: its first success is one webhooks.recovered.
    a_rx.set_behaviour(Behaviour::Status(200));
    let (s, out) = app
        .client
        .put(
            &format!("/webhooks/subscriptions/{a_id}"),
            ADMIN,
            json!({"url": a_rx.url(), "topicIds": a_topics, "active": true}),
        )
        .await;
    assert_eq!(s, 204, "{out}");
    app.publish(seed_contact_change("RPT")).await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(20)).await;
    let got = b_rx.received();
    assert_eq!(topics(&got), vec!["webhooks.failing", "webhooks.disabled", "webhooks.recovered"]);
    let recovered = got[2].json();
    assert_eq!(recovered["new"]["failingSince"], Value::Null, "{recovered}");
    assert_eq!(recovered["new"]["lastAttempt"]["statusCode"], 200);
    let ids: HashSet<String> = got.iter().map(|r| r.json()["eventId"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3, "three events");

    // A never got an operational event about itself.
    assert!(topics(&a_rx.received()).iter().all(|t| t == "contacts.modified"), "{:?}", topics(&a_rx.received()));
    // Logged like any delivery, visible to the application.
    let (_, logs) =
        app.client.get(&format!("/webhooks/logs?topicId=webhooks.failing&applicationId={app_id}"), &key).await;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["webhookId"], b["id"]);
    assert_eq!(logs[0]["entityId"], a_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_failing_webhook_subscribed_to_failing_gets_nothing_about_itself_and_a_4xx_starts_a_streak() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let a_rx = Receiver::start(Behaviour::Status(404)).await;
    let c_rx = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &a_rx.url(), &["contacts.modified", "webhooks.failing"], &[]).await;
    // C is subscribed to the contacts topic only: it gets no operational event.
    app.create_webhook(&app_id, &c_rx.url(), &["contacts.modified"], &[]).await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver_all(Duration::from_secs(20)).await;
    assert_eq!(topics(&a_rx.received()), vec!["contacts.modified"], "a 4xx is final: one attempt, nothing about A");
    assert_eq!(topics(&c_rx.received()), vec!["contacts.modified"]);
    app.stop().await;
}

const BIN: &str = env!("CARGO_BIN_EXE_herald");

async fn start(dir: &Path, db: &Option<herald_testkit::pg::TestDatabase>) -> HeraldProcess {
    let mut flags = vec!["--allow-http-targets", "--allow-private-targets", "--retry-schedule", "200ms"];
    if let Some(db) = db {
        flags.extend(["--database-url", db.url(), "--lease", "1s", "--encryption-key", TEST_ENCRYPTION_KEY]);
    }
    HeraldProcess::start(Path::new(BIN), dir, ADMIN, &flags).await
}

#[tokio::test]
async fn an_operational_event_is_delivered_once_after_a_kill_9_between_its_transition_and_its_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let failing = Receiver::start(Behaviour::Status(410)).await;
    // B hangs: the event is stored (with the transition) and in flight when Herald dies.
    let b_rx = Receiver::start(Behaviour::Hang).await;
    let mut herald = start(dir.path(), &db).await;
    let client = Client::new(herald.base.clone());
    let (s, app) = client.post("/apps", ADMIN, json!({"name": "Ops", "scopes": ["contacts.read"]})).await;
    assert_eq!(s, 201, "{app}");
    let app_id = app["id"].as_str().unwrap();
    let (s, _) = client.post("/installations", ADMIN, json!({"applicationId": app_id, "customerId": "RPT"})).await;
    assert_eq!(s, 201);
    for (url, topics) in [(failing.url(), json!(["contacts.modified"])), (b_rx.url(), json!(["webhooks.failing"]))] {
        let (s, out) = client
            .post("/webhooks/subscriptions", ADMIN, json!({"applicationId": app_id, "url": url, "topicIds": topics}))
            .await;
        assert_eq!(s, 201, "{out}");
    }
    let (s, _) = client.post("/changes", ADMIN, seed_contact_change("RPT")).await;
    assert_eq!(s, 202);
    let first = b_rx.wait_for(1, Duration::from_secs(20)).await;
    herald.kill9();

    b_rx.set_behaviour(Behaviour::Status(200));
    let _herald = start(dir.path(), &db).await;
    let got = b_rx.wait_for(2, Duration::from_secs(30)).await;
    // Let a second, wrong announcement show up if there were one.
    b_rx.expect_no_more_than(2, Duration::from_millis(1500)).await;
    assert_eq!(failing.count(), 1, "the 410 is final");
    assert_eq!(topics(&got), vec!["webhooks.failing", "webhooks.failing"]);
    assert_eq!(got[0].header("webhook-id"), first[0].header("webhook-id"));
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"), "the same delivery, attempted again");
    assert_eq!(got[1].json()["eventId"], got[0].json()["eventId"]);
}
