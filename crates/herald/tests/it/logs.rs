//! The logs over HTTP (contract §5.4) and redelivery.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn every_attempt_is_logged_with_the_exact_payload_and_filters_narrow_it() {
    let app = TestApp::spawn().await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read", "offers.read"]).await;
    app.install(&app_id, "RPT").await;
    app.install(&app_id, "ACME").await;
    let r = Receiver::start(Behaviour::Status(201)).await;
    r.set_body(&format!("thanks{}", "!".repeat(5000)));
    let hook = app.create_webhook(&app_id, &r.url(), &["contacts.modified", "offers.created"], &[]).await;
    app.publish(seed_contact_change("RPT")).await;
    let offer = app
        .publish(json!({"customerId": "ACME", "entityType": "offers", "entityId": "OF1", "old": null, "new": {"id": "OF1", "status": "pending"}}))
        .await;
    app.deliver().await;
    let got = r.wait_for(2, Duration::from_secs(5)).await;

    let (s, logs) = app.client.get("/webhooks/logs", &key).await;
    assert_eq!(s, 200);
    let logs = logs.as_array().unwrap().clone();
    assert_eq!(logs.len(), 2);
    for log in &logs {
        let sent = got.iter().find(|g| g.json()["topicId"] == log["topicId"]).unwrap();
        assert_eq!(log["payload"].as_str().unwrap().as_bytes(), &sent.body[..], "the exact bytes sent");
        assert_eq!(log["statusCode"], 201);
        assert_eq!(log["response"].as_str().unwrap().len(), 4096, "the first 4 KiB of the answer");
        assert_eq!(log["webhookId"], hook["id"]);
        assert_eq!(log["attempt"], 1);
        assert_eq!(log["url"], r.url());
    }
    let q = |query: &str| {
        let app = &app;
        let key = key.clone();
        let query = query.to_string();
        async move {
            let (s, v) = app.client.get(&format!("/webhooks/logs?{query}"), &key).await;
            assert_eq!(s, 200, "{query}: {v}");
            v.as_array().unwrap().iter().map(|l| l["topicId"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(q("topicId=offers.created").await, vec!["offers.created"]);
    assert_eq!(q("customerId=RPT").await, vec!["contacts.modified"]);
    assert_eq!(q("entityId=OF1").await, vec!["offers.created"]);
    assert_eq!(q(&format!("eventId={}", offer["eventId"].as_str().unwrap())).await, vec!["offers.created"]);
    assert_eq!(q(&format!("webhookId={}", hook["id"].as_str().unwrap())).await.len(), 2);
    assert!(q("from=2999-01-01T00:00:00Z").await.is_empty(), "an empty result is []");
    assert_eq!(q("to=2999-01-01T00:00:00Z&from=2000-01-01T00:00:00Z").await.len(), 2);
    let (s, body) = app.client.get("/webhooks/logs?from=yesterday", &key).await;
    assert_eq!(s, 422);
    assert_eq!(body["errors"][0]["field"], "from");
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_can_be_redelivered_as_a_new_delivery_of_the_same_event() {
    let app = TestApp::with(Opts { retry_schedule: Some(""), ..Opts::default() }).await;
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    let (other_app, other_key, _) = app.create_app("B", &["contacts.read"]).await;
    let _ = other_app;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Sequence(vec![500, 200])).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let published = app.publish(seed_contact_change("RPT")).await;
    app.deliver().await;
    let (_, logs) = app.client.get("/webhooks/logs", &key).await;
    let delivery = logs[0]["deliveryId"].as_str().unwrap().to_string();
    assert_eq!(logs[0]["statusCode"], 500);

    let (s, _) = app.client.post(&format!("/webhooks/deliveries/{delivery}/redeliver"), &other_key, json!({})).await;
    assert_eq!(s, 404, "another application's key cannot redeliver");
    let (s, out) = app.client.post(&format!("/webhooks/deliveries/{delivery}/redeliver"), &key, json!({})).await;
    assert_eq!(s, 202, "{out}");
    assert_ne!(out["deliveryId"], Value::String(delivery.clone()));
    app.deliver().await;
    let got = r.wait_for(2, Duration::from_secs(5)).await;
    let second = got[1].json();
    assert_eq!(second["eventId"], published["eventId"], "the same event id");
    assert_eq!(second["SendAttempts"], 1, "a new delivery counts attempts from 1");
    assert_ne!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    let (s, _) =
        app.client.post("/webhooks/deliveries/00000000-0000-7000-8000-000000000000/redeliver", &key, json!({})).await;
    assert_eq!(s, 404);
    app.stop().await;
}

/// The `cursor` of a `Link: <…>; rel="next"` header, and the path it links to.
fn next_link(resp: &reqwest::Response) -> Option<String> {
    let link = resp.headers().get("link")?.to_str().ok()?;
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    let target = link.strip_prefix('<')?.split('>').next()?.to_string();
    assert!(target.starts_with("/webhooks/logs?"), "{target}");
    Some(target)
}

#[tokio::test]
async fn a_log_read_of_large_payloads_comes_in_pages_under_the_byte_budget_linked_by_cursors() {
    const CHANGES: usize = 100;
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("Big", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.created"], &[]).await;
    let filler = "x".repeat(400 * 1024);
    for i in 0..CHANGES {
        let id = format!("BIG{i:03}");
        app.publish(json!({ "customerId": "RPT", "entityType": "contacts", "entityId": id, "old": null,
                            "new": { "id": id, "notes": filler } }))
            .await;
    }
    // Every change delivered (a slow moment may add a retry: each attempt is one record).
    let attempts = app.deliver_all(Duration::from_secs(60)).await;
    assert!(attempts >= CHANGES, "{attempts} attempts");

    let budget = herald_service::LOG_PAGE_BYTES as usize;
    let http = reqwest::Client::new();
    let mut path = "/webhooks/logs?limit=1000&customerId=RPT".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        let resp = http.get(format!("{}{path}", app.client.base)).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let next = next_link(&resp);
        let body = resp.bytes().await.unwrap();
        let records: Vec<Value> = serde_json::from_slice(&body).unwrap();
        assert!(!records.is_empty());
        let largest = records.iter().map(|r| serde_json::to_vec(r).unwrap().len()).max().unwrap();
        assert!(body.len() <= budget + largest, "page {pages}: {} bytes over {budget} + one record", body.len());
        for rec in &records {
            assert_eq!(rec["payload"].as_str().map(str::len).map(|n| n > 400 * 1024), Some(true));
            let key = (rec["deliveryId"].as_str().unwrap().to_string(), rec["attempt"].as_u64().unwrap());
            assert!(seen.insert(key), "a record came twice");
        }
        pages += 1;
        match next {
            Some(p) => {
                assert!(p.contains("limit=1000") && p.contains("customerId=RPT"), "the filters stay: {p}");
                path = p;
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), attempts, "every record once");
    assert!(pages >= 4, "40 MiB of payloads in pages of 8 MiB: {pages} pages");
    app.stop().await;
}

#[tokio::test]
async fn a_cursor_that_is_not_one_answers_422_naming_it() {
    let app = TestApp::spawn().await;
    for cursor in ["nope!", "bm9wZQ", "MTIzLmFiYw"] {
        let (s, body) = app.client.get(&format!("/webhooks/logs?cursor={cursor}"), ADMIN).await;
        assert_eq!(s, 422, "{cursor}: {body}");
        assert_eq!(body["errors"][0]["field"], "cursor");
    }
    app.stop().await;
}

#[tokio::test]
async fn logs_page_bytes_sets_the_byte_bound_of_a_page() {
    let app = TestApp::with(Opts { logs_page_bytes: Some("65536"), ..Opts::default() }).await;
    let (app_id, _, _) = app.create_app("Mid", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.created"], &[]).await;
    for i in 0..10 {
        let id = format!("MID{i}");
        let change = json!({ "customerId": "RPT", "entityType": "contacts", "entityId": id, "old": null,
                             "new": { "id": id, "notes": "y".repeat(20_000) } });
        app.publish(change).await;
    }
    let attempts = app.deliver_all(Duration::from_secs(30)).await;
    let http = reqwest::Client::new();
    let mut path = "/webhooks/logs".to_string();
    let mut sizes = Vec::new();
    let mut total = 0;
    loop {
        let resp = http.get(format!("{}{path}", app.client.base)).bearer_auth(ADMIN).send().await.unwrap();
        let next = next_link(&resp);
        let page: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        total += page.len();
        sizes.push(page.len());
        match next {
            Some(p) => path = p,
            None => break,
        }
    }
    assert_eq!(total, attempts);
    assert!(sizes.len() >= 4 && sizes.iter().all(|&n| n <= 3), "20 KB payloads, 64 KiB pages: {sizes:?}");
    app.stop().await;
}
