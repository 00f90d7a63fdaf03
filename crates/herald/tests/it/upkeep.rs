//! Replay, auto-disable, retention, metrics and analytics over the HTTP API.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn replay_sends_failed_events_again_and_a_dry_run_only_counts() {
    let app = TestApp::with(Opts { retry_schedule: Some(""), ..Opts::default() }).await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(503)).await;
    let hook = app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let path = format!("/webhooks/subscriptions/{}/replay", hook["id"].as_str().unwrap());
    let mut event_ids = Vec::new();
    for _ in 0..3 {
        event_ids.push(app.publish(seed_contact_change("RPT")).await["eventId"].clone());
    }
    app.deliver().await;
    assert_eq!(r.count(), 3);

    let (s, out) = app.client.post(&path, &key, json!({"status": "failed", "dryRun": true})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["events"], 3);
    app.deliver().await;
    assert_eq!(r.count(), 3, "a dry run sends nothing");

    r.set_behaviour(Behaviour::Status(200));
    let (_, out) = app.client.post(&path, &key, json!({"status": "dead"})).await;
    assert_eq!(out["events"], 3);
    app.deliver().await;
    let got = r.wait_for(6, Duration::from_secs(5)).await;
    let replayed: Vec<_> = got[3..].iter().map(|g| g.json()).collect();
    for (i, body) in replayed.iter().enumerate() {
        assert_eq!(body["SendAttempts"], 1);
        assert!(event_ids.contains(&body["eventId"]), "replay {i} keeps its event id");
    }
    let (_, out) = app.client.post(&path, &key, json!({"status": "failed"})).await;
    assert_eq!(out["events"], 3, "the first deliveries are still failed; the replays succeeded");
    let (s, out) = app.client.post(&path, &key, json!({"status": "sometimes"})).await;
    assert_eq!(s, 422);
    assert_eq!(out["errors"][0]["field"], "status");
    let (s, out) =
        app.client.post(&path, &key, json!({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"})).await;
    assert_eq!(s, 422, "{out}");
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_failing_longer_than_the_limit_is_deactivated_with_a_reason() {
    let app = TestApp::with(Opts { retry_schedule: Some(""), auto_disable_after: Some("1h"), ..Opts::default() }).await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let dead = Receiver::start(Behaviour::Status(500)).await;
    let healthy = Receiver::start(Behaviour::Status(200)).await;
    let hook = app.create_webhook(&app_id, &dead.url(), &["contacts.modified"], &[]).await;
    let ok = app.create_webhook(&app_id, &healthy.url(), &["contacts.modified"], &[]).await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver().await;
    let (_, model) = app.client.get(&format!("/webhooks/subscriptions/{}", hook["id"].as_str().unwrap()), ADMIN).await;
    assert!(model["failingSince"].is_string(), "{model}");
    let clock = app.running().herald.clock().clone();
    clock.advance(Duration::from_secs(3599));
    let report = app.running().herald.run_maintenance().await.unwrap();
    assert_eq!(report.disabled_webhooks, 0, "not before the hour is up");
    clock.advance(Duration::from_secs(2));
    let report = app.running().herald.run_maintenance().await.unwrap();
    assert_eq!(report.disabled_webhooks, 1);
    let (_, model) = app.client.get(&format!("/webhooks/subscriptions/{}", hook["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(model["active"], false);
    assert!(model["disabledReason"].as_str().unwrap().contains("failed"), "{model}");
    let (_, model) = app.client.get(&format!("/webhooks/subscriptions/{}", ok["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(model["active"], true, "a healthy webhook stays active");
    // a deactivated webhook receives nothing new
    app.publish(seed_contact_change("RPT")).await;
    app.deliver().await;
    assert_eq!(dead.count(), 1);
    assert_eq!(healthy.count(), 2);
    app.stop().await;
}

#[tokio::test]
async fn retention_prunes_payloads_and_responses_but_keeps_counts() {
    let app = TestApp::with(Opts { retention: Some("30d"), ..Opts::default() }).await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    r.set_body("ok");
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    app.publish(seed_contact_change("RPT")).await;
    app.publish(seed_contact_change("RPT")).await;
    app.deliver().await;
    let (_, before) = app.client.get("/analytics/deliveries?groupBy=topic", &key).await;
    assert_eq!(before, json!([{"key": "contacts.modified", "attempts": 2, "successes": 2, "failures": 0}]));
    let (_, logs) = app.client.get("/webhooks/logs", &key).await;
    assert!(logs[0]["payload"].is_string());
    let clock = app.running().herald.clock().clone();
    clock.advance(Duration::from_secs(29 * 86_400));
    let report = app.running().herald.run_maintenance().await.unwrap();
    assert_eq!((report.pruned_payloads, report.pruned_responses), (0, 0), "not before 30 days");
    clock.advance(Duration::from_secs(86_400 + 1));
    let report = app.running().herald.run_maintenance().await.unwrap();
    // two change events and the install event (which no webhook received)
    assert_eq!((report.pruned_payloads, report.pruned_responses), (3, 2));
    let (_, logs) = app.client.get("/webhooks/logs", &key).await;
    assert_eq!(logs.as_array().unwrap().len(), 2, "the attempts stay");
    assert!(logs[0]["payload"].is_null() && logs[0]["response"].is_null(), "{logs}");
    let (_, after) = app.client.get("/analytics/deliveries?groupBy=topic", &key).await;
    assert_eq!(after, before);
    app.stop().await;
}

#[tokio::test]
async fn metrics_change_after_a_delivery() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &["SBOX"]).await;
    let metrics = || async {
        let resp = reqwest::get(format!("{}/metrics", app.client.base)).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    };
    let before = metrics().await;
    assert!(before.contains("herald_changes_received_total 0"), "{before}");
    assert!(before.contains("herald_changes_store_duration_seconds_count 0"), "{before}");
    app.publish(seed_contact_change("SBOX")).await;
    let queued = metrics().await;
    assert!(queued.contains("herald_deliveries_due 1"), "{queued}");
    // The publish was answered after its changes were stored: its wait is counted already.
    assert!(queued.contains("herald_changes_store_duration_seconds_count 1"), "{queued}");
    app.deliver().await;
    let after = metrics().await;
    assert!(after.contains("herald_changes_received_total 1"), "{after}");
    assert!(after.contains("herald_events_emitted_total{topic=\"contacts.modified\"} 1"), "{after}");
    assert!(after.contains("herald_attempts_total{outcome=\"delivered\"} 1"), "{after}");
    assert!(after.contains("herald_deliveries_due 0"), "{after}");
    assert!(after.contains("herald_attempt_duration_seconds_count 1"), "{after}");
    app.stop().await;
}

#[tokio::test]
async fn analytics_counts_match_the_deliveries_made_and_are_scoped_to_the_key() {
    let app = TestApp::with(Opts { retry_schedule: Some(""), ..Opts::default() }).await;
    let (a, key_a, _) = app.create_app("A", &["contacts.read"]).await;
    let (b, key_b, _) = app.create_app("B", &["contacts.read"]).await;
    app.install(&a, "RPT").await;
    app.install(&a, "ACME").await;
    app.install(&b, "RPT").await;
    let ok = Receiver::start(Behaviour::Status(200)).await;
    let bad = Receiver::start(Behaviour::Status(500)).await;
    app.create_webhook(&a, &ok.url(), &["contacts.modified"], &["RPT"]).await;
    app.create_webhook(&a, &bad.url(), &["contacts.modified"], &["ACME"]).await;
    app.create_webhook(&b, &ok.url(), &["contacts.modified"], &[]).await;
    app.publish(seed_contact_change("RPT")).await;
    app.publish(seed_contact_change("ACME")).await;
    app.deliver().await;
    let (s, by_customer) = app.client.get("/analytics/deliveries?groupBy=customer", &key_a).await;
    assert_eq!(s, 200, "{by_customer}");
    assert_eq!(
        by_customer,
        json!([
            {"key": "ACME", "attempts": 1, "successes": 0, "failures": 1},
            {"key": "RPT", "attempts": 1, "successes": 1, "failures": 0},
        ])
    );
    let (_, all) = app.client.get("/analytics/deliveries?groupBy=topic", ADMIN).await;
    assert_eq!(all[0]["attempts"], 3, "the admin sees every application");
    let (s, _) = app.client.get(&format!("/analytics/deliveries?applicationId={a}"), &key_b).await;
    assert_eq!(s, 404, "another application's counts are not visible");
    let (_, days) = app.client.get("/analytics/deliveries", &key_b).await;
    assert_eq!(days.as_array().unwrap().len(), 1);
    assert_eq!(days[0]["key"].as_str().unwrap().len(), 10, "YYYY-MM-DD");
    let (s, _) = app.client.get("/analytics/deliveries?groupBy=hour", &key_a).await;
    assert_eq!(s, 422);
    app.stop().await;
}
