//! Backpressure from receivers (contract §9.3): `429`/`503` with `Retry-After` hold the whole webhook without
//! spending attempts, capped at 24 hours; `rateLimit` meters attempts per second. Real receivers, real time (a
//! hold is about what a receiver sees and when).

use std::time::{Duration, Instant};

use herald_domain::{DeliveryId, WebhookId};
use herald_testkit::windows::busiest;
use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

/// `n` changes of distinct contacts, in one `POST /changes` body.
fn contact_changes(customer: &str, n: usize) -> Value {
    let changes: Vec<Value> = (0..n)
        .map(|i| {
            json!({"customerId": customer, "entityType": "contacts", "entityId": format!("C{i}"),
                "old": {"id": format!("C{i}"), "forename": "A"}, "new": {"id": format!("C{i}"), "forename": "B"}})
        })
        .collect();
    json!({ "changes": changes })
}

fn send_attempts(r: &herald_testkit::Received) -> i64 {
    r.json()["SendAttempts"].as_i64().unwrap()
}

/// The logs of the app, once `n` attempts are recorded (the recorder writes them a moment after the attempts).
async fn logs(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, logs) = app.client.get("/webhooks/logs?pageSize=500", ADMIN).await;
        let logs = logs.as_array().cloned().unwrap_or_default();
        if logs.len() >= n || Instant::now() > deadline {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup(app: &TestApp, receiver: &Receiver, extra: Value) -> Value {
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let mut body = json!({"applicationId": app_id, "url": receiver.url(), "topicIds": ["contacts.modified"]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.create_webhook_with(body).await
}

#[tokio::test]
async fn a_429_with_retry_after_holds_every_delivery_of_the_webhook_without_spending_attempts() {
    let app = TestApp::with(Opts { worker: true, ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::RetryAfter { status: 429, value: "2".into(), times: 1 }).await;
    setup(&app, &r, json!({})).await;
    app.publish(contact_changes("RPT", 1)).await;
    let first = r.wait_for(1, Duration::from_secs(5)).await[0].at;
    // Once the 429 is logged, the hold is in place. Five more while the webhook is held: none goes before the hold
    // ends, and none spends an attempt.
    logs(&app, 1).await;
    app.publish(contact_changes("RPT", 5)).await;
    r.expect_no_more_than(1, Duration::from_millis(1500)).await;
    let got = r.wait_for(7, Duration::from_secs(10)).await;
    for g in &got[1..] {
        let after = g.at.duration_since(first);
        assert!(after >= Duration::from_millis(1950), "a request {after:?} after the 429 with Retry-After: 2");
    }
    let mut attempts: Vec<i64> = got.iter().map(send_attempts).collect();
    attempts.sort();
    assert_eq!(attempts, vec![1, 1, 1, 1, 1, 1, 2], "only the answered delivery was attempted twice");
    r.expect_no_more_than(7, Duration::from_millis(300)).await;

    let logs = logs(&app, 7).await;
    assert_eq!(logs.len(), 7);
    let answered: Vec<&Value> = logs.iter().filter(|l| l["statusCode"] == 429).collect();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["retryAfter"], "2", "the logs show the Retry-After received");
    assert_eq!(answered[0]["attempt"], 1);
    assert!(logs.iter().filter(|l| l["statusCode"] == 200).all(|l| l["retryAfter"].is_null()));
    let mut numbers: Vec<i64> = logs.iter().map(|l| l["attempt"].as_i64().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 1, 1, 1, 1, 1, 2]);
    app.stop().await;
}

#[tokio::test]
async fn a_503_with_an_http_date_retry_after_holds_the_webhook_until_that_date() {
    let app = TestApp::with(Opts { worker: true, ..Opts::default() }).await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = until.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let r = Receiver::start(Behaviour::RetryAfter { status: 503, value: date.clone(), times: 1 }).await;
    setup(&app, &r, json!({})).await;
    app.publish(contact_changes("RPT", 1)).await;
    r.wait_for(1, Duration::from_secs(5)).await;
    logs(&app, 1).await;
    app.publish(contact_changes("RPT", 2)).await;
    let got = r.wait_for(4, Duration::from_secs(10)).await;
    // The date has whole seconds: the hold ends at most a second before `until`.
    let held_until = std::time::SystemTime::from(until.with_nanosecond(0).unwrap());
    for g in &got[1..] {
        let at = std::time::SystemTime::now() - g.at.elapsed();
        assert!(at + Duration::from_millis(50) >= held_until, "a request before the Retry-After date");
    }
    let logs = logs(&app, 4).await;
    assert!(logs.iter().any(|l| l["statusCode"] == 503 && l["retryAfter"] == date.as_str()), "{logs:?}");
    app.stop().await;
}

use chrono::Timelike;

#[tokio::test]
async fn a_retry_after_of_three_days_holds_for_24_hours_at_most() {
    let app = TestApp::with(Opts { worker: true, ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::RetryAfter { status: 429, value: "259200".into(), times: 1 }).await;
    let hook = setup(&app, &r, json!({})).await;
    app.publish(contact_changes("RPT", 1)).await;
    r.wait_for(1, Duration::from_secs(5)).await;
    // The answer is in once its attempt is logged (the hold is applied before the record is written): only then
    // is a new delivery sure to meet the hold.
    let logs = logs(&app, 1).await;
    app.publish(contact_changes("RPT", 1)).await;
    r.expect_no_more_than(1, Duration::from_millis(500)).await;

    assert_eq!(logs[0]["retryAfter"], "259200");
    let store = app.running().herald.store();
    let now = app.running().herald.clock().now();
    let day = chrono::Duration::hours(24);
    let delivery: DeliveryId = logs[0]["deliveryId"].as_str().unwrap().parse().unwrap();
    let next = store.get_delivery(delivery).await.unwrap().next_attempt_at.expect("pending");
    assert!(next <= now + day && next > now + day - chrono::Duration::seconds(10), "retry at {next}, now {now}");
    let webhook: WebhookId = hook["id"].as_str().unwrap().parse().unwrap();
    let gates = store.webhook_gates(now).await.unwrap();
    let hold = gates.iter().find(|g| g.webhook_id == webhook).and_then(|g| g.hold_until).expect("held, in the store");
    assert!(hold <= now + day && hold > now + day - chrono::Duration::seconds(10), "held until {hold}");
    app.stop().await;
}

#[tokio::test]
async fn a_rate_limit_keeps_every_one_second_window_within_it() {
    let app = TestApp::with(Opts { worker: true, ..Opts::default() }).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let hook = setup(&app, &r, json!({"rateLimit": 20})).await;
    assert_eq!(hook["rateLimit"], 20);
    let started = Instant::now();
    app.publish(contact_changes("RPT", 200)).await;
    let got = r.wait_for(200, Duration::from_secs(20)).await;
    let took = started.elapsed();
    // What the contract meters: the instants Herald started its attempts (recorded to the microsecond). Records are
    // written in batches after the attempts: real I/O, polled until all 200 are there.
    let id: WebhookId = hook["id"].as_str().unwrap().parse().unwrap();
    let filter = herald_store::AttemptFilter { webhook_id: Some(id), limit: 1000, ..Default::default() };
    let store = app.running().herald.store();
    let deadline = Instant::now() + Duration::from_secs(5);
    let records = loop {
        let records = store.list_attempt_page(&filter).await.unwrap().records;
        if records.len() >= 200 || Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut sent: Vec<Duration> =
        records.iter().map(|r| Duration::from_micros(r.started.timestamp_micros() as u64)).collect();
    sent.sort_unstable();
    assert_eq!(sent.len(), 200, "one attempt per delivery");
    let busiest_sent = busiest(&sent, Duration::from_secs(1));
    // What the receiver saw, by its own clock: its task's scheduling can bunch receipts on a loaded machine (Herald
    // and the receiver share this test's runtime), so it is held to the limit over 900 ms.
    let at: Vec<Instant> = got.iter().map(|g| g.at).collect();
    let (worst, worst_900) = (busiest(&at, Duration::from_secs(1)), busiest(&at, Duration::from_millis(900)));
    println!(
        "200 deliveries at rateLimit 20 took {took:?}; the busiest second held {busiest_sent} sends and {worst} \
         receipts ({worst_900} within 900 ms)"
    );
    assert!(busiest_sent <= 20, "Herald started {busiest_sent} attempts within one second");
    assert!(worst_900 <= 20, "the receiver had {worst_900} requests within 900 ms");
    assert!(took >= Duration::from_secs(9), "200 at 20 a second take ten seconds: {took:?}");
    let mut attempts: Vec<i64> = got.iter().map(send_attempts).collect();
    attempts.dedup();
    assert_eq!(attempts, vec![1], "waiting spends no attempt");
    r.expect_no_more_than(200, Duration::from_millis(200)).await;
    app.stop().await;
}

#[tokio::test]
async fn rate_limit_is_set_kept_and_cleared_and_out_of_range_values_are_refused() {
    let app = TestApp::spawn().await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    for bad in [json!(0), json!(10_001), json!(1.5), json!("20"), json!(-3)] {
        let (app_id, _, _) = app.create_app("B", &["contacts.read"]).await;
        let (status, body) = app
            .client
            .post(
                "/webhooks/subscriptions",
                ADMIN,
                json!({"applicationId": app_id, "url": r.url(), "topicIds": ["contacts.modified"], "rateLimit": bad}),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "rateLimit", "{body}");
    }
    let hook = setup(&app, &r, json!({"rateLimit": 10000})).await;
    assert_eq!(hook["rateLimit"], 10000);
    let path = format!("/webhooks/subscriptions/{}", hook["id"].as_str().unwrap());
    let update = json!({"url": r.url(), "topicIds": ["contacts.modified"]});
    let (status, _) = app.client.put(&path, ADMIN, update.clone()).await;
    assert!(status.is_success());
    let (_, body) = app.client.get(&path, ADMIN).await;
    assert_eq!(body["rateLimit"], 10000, "absent: kept");
    let mut clear = update.clone();
    clear["rateLimit"] = Value::Null;
    let (status, _) = app.client.put(&path, ADMIN, clear).await;
    assert!(status.is_success());
    let (_, body) = app.client.get(&path, ADMIN).await;
    assert!(body["rateLimit"].is_null(), "null: no limit");
    let created = setup(&app, &r, json!({})).await;
    assert!(created["rateLimit"].is_null(), "the default is no limit");
    app.stop().await;
}
