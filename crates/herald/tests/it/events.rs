//! End to end for events: eTag-only routing, batches sharing an event id, idempotent retries, install events,
//! topic derivation through the API.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn an_etag_only_change_reaches_only_webhooks_that_ask_for_it() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let default = Receiver::start(Behaviour::Status(200)).await;
    let wants = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &default.url(), &["contacts.modified"], &[]).await;
    app.create_webhook_with(json!({"applicationId": app_id, "url": wants.url(), "topicIds": ["contacts.modified"], "ignoreEtagOnlyChanges": false})).await;
    let old = json!({"id": "C1", "forename": "Ann", "modified": "2024-01-01T00:00:00Z", "_eTag": "\"A\""});
    let new = json!({"id": "C1", "forename": "Ann", "modified": "2024-01-02T00:00:00Z", "_eTag": "\"B\""});
    let answer = app
        .publish(json!({"customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": old, "new": new}))
        .await;
    assert_eq!(answer["events"][0]["deliveries"], 1);
    app.deliver().await;
    assert_eq!(default.count(), 0);
    assert_eq!(wants.count(), 1);
    assert_eq!(
        wants.received()[0].json()["diff"],
        json!({"modified": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"], "_eTag": ["\"A\"", "\"B\""]})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_batch_shares_one_event_id_across_all_its_events() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read", "applicants.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified", "applicants.modified"], &[]).await;
    let event_id = "0b7d6d5e-7a7c-4a8e-9a53-0f7b5d1c2e3f";
    let contact = |id: &str, name: &str| json!({"id": id, "surname": name});
    let answer = app
        .publish(json!({"eventId": event_id, "changes": [
            {"customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": contact("C1", "Smith"), "new": contact("C1", "Smyth")},
            {"customerId": "RPT", "entityType": "applicants", "entityId": "A1", "old": {"id": "A1", "related": [{"name": "Smith"}]}, "new": {"id": "A1", "related": [{"name": "Smyth"}]}},
        ]}))
        .await;
    assert_eq!(answer["eventId"], event_id);
    assert_eq!(answer["events"].as_array().unwrap().len(), 2);
    app.deliver().await;
    let got = r.wait_for(2, Duration::from_secs(5)).await;
    let mut topics: Vec<String> = got.iter().map(|g| g.json()["topicId"].as_str().unwrap().to_string()).collect();
    topics.sort();
    assert_eq!(topics, vec!["applicants.modified", "contacts.modified"]);
    assert!(got.iter().all(|g| g.json()["eventId"] == event_id));
    app.stop().await;
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_first_answer_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let post = || async {
        let resp = app
            .client
            .http
            .post(format!("{}/changes", app.client.base))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", "change-42")
            .json(&seed_contact_change("RPT"))
            .send()
            .await
            .unwrap();
        let replayed = resp.headers().get("idempotent-replayed").is_some();
        (resp.status().as_u16(), replayed, resp.text().await.unwrap())
    };
    let (s1, replayed1, first) = post().await;
    let (s2, replayed2, second) = post().await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!((replayed1, replayed2), (false, true));
    assert_eq!(first, second, "the very same answer");
    app.deliver_all(Duration::from_secs(2)).await;
    assert_eq!(r.count(), 1, "one delivery only");
    app.stop().await;
}

#[tokio::test]
async fn install_and_uninstall_events_reach_only_the_application_concerned() {
    let app = TestApp::spawn().await;
    let (a, _, client_a) = app.create_app("App A", &[]).await;
    let (b, _, _) = app.create_app("App B", &[]).await;
    let ra = Receiver::start(Behaviour::Status(200)).await;
    let rb = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&a, &ra.url(), &["application.install", "application.uninstall"], &[]).await;
    app.create_webhook(&b, &rb.url(), &["application.install", "application.uninstall"], &[]).await;
    let (s, inst) = app
        .client
        .post("/installations", ADMIN, json!({"applicationId": a, "customerId": "NEWCO", "customerName": "New Co", "customerEmail": "ops@newco.example"}))
        .await;
    assert_eq!(s, 201, "{inst}");
    app.deliver().await;
    let (s, _) = app.client.delete(&format!("/installations/{}", inst["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(s, 204);
    app.deliver().await;
    let got = ra.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(rb.count(), 0);
    let install = got[0].json();
    assert_eq!(install["topicId"], "application.install");
    assert_eq!(install["customerId"], "NEWCO");
    assert_eq!(install["entityId"], Value::Null);
    assert_eq!(install["old"], Value::Null);
    assert_eq!(install["diff"], Value::Null);
    assert_eq!(
        install["new"],
        json!({"customerId": "NEWCO", "customerName": "New Co", "customerEmail": "ops@newco.example", "applicationId": client_a, "internalAppId": a, "applicationName": "App A"})
    );
    assert_eq!(got[1].json()["topicId"], "application.uninstall");
    app.stop().await;
}

#[tokio::test]
async fn state_transitions_emit_their_topics_through_the_api() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) =
        app.create_app("A", &["offers.read", "properties.read", "worksorders.read", "conveyancing.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let all: Vec<&str> = vec![
        "offers.accepted",
        "offers.modified",
        "offers.created",
        "properties.selling.instructed",
        "properties.modified",
        "worksorders.raised",
        "conveyancing.modified",
    ];
    app.create_webhook(&app_id, &r.url(), &all, &[]).await;
    let topics = |answer: &Value| -> Vec<String> {
        answer["events"].as_array().unwrap().iter().map(|e| e["topicId"].as_str().unwrap().to_string()).collect()
    };
    let a = app.publish(json!({"customerId": "RPT", "entityType": "offers", "entityId": "O1", "old": {"id": "O1", "status": "pending"}, "new": {"id": "O1", "status": "accepted"}})).await;
    assert_eq!(topics(&a), vec!["offers.accepted", "offers.modified"]);
    let a = app.publish(json!({"customerId": "RPT", "entityType": "worksorders", "entityId": "W1", "old": null, "new": {"id": "W1", "status": "raised"}})).await;
    assert_eq!(topics(&a), vec!["worksorders.raised"]);
    let a = app.publish(json!({"customerId": "RPT", "entityType": "conveyancing", "entityId": "V1", "old": null, "new": {"id": "V1"}})).await;
    assert!(topics(&a).is_empty(), "conveyancing creation emits nothing");
    let a = app.publish(json!({"customerId": "RPT", "entityType": "properties", "entityId": "P1", "old": {"id": "P1", "selling": {"status": "valuation"}}, "new": {"id": "P1", "selling": {"status": "forSale"}}})).await;
    assert_eq!(topics(&a), vec!["properties.modified", "properties.selling.instructed"]);
    app.deliver().await;
    assert_eq!(r.count(), 5);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_right_after_a_new_webhook_all_reach_it() {
    // A regression test: the routing cache once served its previous table to requests arriving while another
    // request was reloading it, so the first changes after a new webhook could route to nobody.
    let app = TestApp::spawn().await;
    for round in 0..10 {
        let customer = format!("C{round}");
        let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
        app.install(&app_id, &customer).await;
        app.create_webhook(&app_id, "http://127.0.0.1:9/hook", &["contacts.modified"], &[&customer]).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let client = app.client.clone();
            let change = json!({"customerId": customer, "entityType": "contacts", "entityId": format!("E{i}"),
                "old": {"a": 1}, "new": {"a": 2}});
            tasks.push(tokio::spawn(async move { client.post("/changes", ADMIN, change).await }));
        }
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 202);
            assert_eq!(body["events"][0]["deliveries"], 1, "round {round}: {body}");
        }
    }
    app.stop().await;
}
