//! End to end for payload filters (contract §9.2): which events a filtered webhook receives, the `202` answer's
//! counts, changing a filter, Ping, and `POST /webhooks/filters/test`.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

/// The contract's example: only contacts whose mobile phone changed.
fn mobile_phone_changed() -> Value {
    json!({"properties": {"diff": {"type": "object", "required": ["mobilePhone"]}}, "required": ["diff"]})
}

fn surname_change(customer: &str) -> Value {
    json!({"customerId": customer, "entityType": "contacts", "entityId": "RPT20000029",
           "old": {"id": "RPT20000029", "surname": "Smith"}, "new": {"id": "RPT20000029", "surname": "Smyth"}})
}

fn deliveries(answer: &Value, topic: &str) -> u64 {
    let events = answer["events"].as_array().expect("events");
    events.iter().find(|e| e["topicId"] == topic).map(|e| e["deliveries"].as_u64().unwrap()).expect(topic)
}

async fn contacts_app(app: &TestApp) -> String {
    let (app_id, _, _) = app.create_app("A", &["contacts.read", "offers.read"]).await;
    app.install(&app_id, "RPT").await;
    app_id
}

async fn filtered_webhook(app: &TestApp, app_id: &str, url: &str, topics: &[&str], filter: Value) -> Value {
    let hook = app
        .create_webhook_with(json!({"applicationId": app_id, "url": url, "topicIds": topics, "filter": filter}))
        .await;
    assert_eq!(hook["filter"], filter, "the webhook model shows its filter");
    hook
}

#[tokio::test]
async fn a_filter_on_the_mobile_phone_delivers_the_seeds_contact_change_and_not_a_change_of_surname() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let filtered = Receiver::start(Behaviour::Status(200)).await;
    let all = Receiver::start(Behaviour::Status(200)).await;
    filtered_webhook(&app, &app_id, &filtered.url(), &["contacts.modified"], mobile_phone_changed()).await;
    app.create_webhook(&app_id, &all.url(), &["contacts.modified"], &[]).await;

    let seed = app.publish(seed_contact_change("RPT")).await;
    assert_eq!(deliveries(&seed, "contacts.modified"), 2);
    let surname = app.publish(surname_change("RPT")).await;
    assert_eq!(deliveries(&surname, "contacts.modified"), 1, "the filtered webhook is not counted");
    app.deliver_all(Duration::from_secs(5)).await;

    assert_eq!(all.count(), 2);
    assert_eq!(filtered.count(), 1);
    let got = filtered.received()[0].json();
    assert_eq!(got["diff"]["mobilePhone"], json!([null, "07123 456789"]));
    assert_eq!(got["entityId"], "RPT20000029");
    app.stop().await;
}

#[tokio::test]
async fn a_filter_on_an_enum_of_new_statuses_lets_only_those_statuses_through() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let filter = json!({"properties": {"new": {"properties": {"status": {"enum": ["accepted", "rejected"]}},
                                               "required": ["status"]}}});
    filtered_webhook(&app, &app_id, &r.url(), &["offers.modified"], filter).await;
    let offer = |id: &str, from: &str, to: &str| {
        json!({"customerId": "RPT", "entityType": "offers", "entityId": id,
               "old": {"id": id, "status": from}, "new": {"id": id, "status": to}})
    };
    let mut counted = Vec::new();
    for (id, to) in [("O1", "accepted"), ("O2", "withdrawn"), ("O3", "rejected"), ("O4", "noteAdded")] {
        counted.push(deliveries(&app.publish(offer(id, "pending", to)).await, "offers.modified"));
    }
    assert_eq!(counted, vec![1, 0, 1, 0]);
    // A deletion has `new: null`: the filter's `properties` do not apply to null, so it matches (JSON Schema's rule).
    let deleted = json!({"customerId": "RPT", "entityType": "offers", "entityId": "O5",
                         "old": {"id": "O5", "status": "pending"}, "new": null});
    assert_eq!(deliveries(&app.publish(deleted).await, "offers.modified"), 1);
    app.deliver_all(Duration::from_secs(5)).await;
    let mut got: Vec<String> = r.received().iter().map(|g| g.json()["entityId"].as_str().unwrap().into()).collect();
    got.sort();
    assert_eq!(got, vec!["O1", "O3", "O5"]);
    app.stop().await;
}

#[tokio::test]
async fn the_202_answer_counts_only_the_webhooks_whose_filter_matches() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let never = json!({"properties": {"topicId": {"const": "nothing.ever"}}, "required": ["topicId"]});
    let first_attempt = json!({"properties": {"SendAttempts": {"const": 1}, "customerId": {"const": "RPT"}},
                               "required": ["SendAttempts", "customerId"]});
    for filter in [mobile_phone_changed(), never, first_attempt, Value::Null] {
        filtered_webhook(&app, &app_id, &r.url(), &["contacts.modified"], filter).await;
    }
    // The seed's change also emits no other topic these webhooks hold: 4 webhooks, 3 of them match.
    let answer = app.publish(seed_contact_change("RPT")).await;
    assert_eq!(deliveries(&answer, "contacts.modified"), 3);
    assert_eq!(app.deliver_all(Duration::from_secs(5)).await, 3);
    assert_eq!(r.count(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_change_of_filter_applies_to_events_accepted_after_the_change() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let hook = filtered_webhook(&app, &app_id, &r.url(), &["contacts.modified"], mobile_phone_changed()).await;
    let path = format!("/webhooks/subscriptions/{}", hook["id"].as_str().unwrap());
    let put = |filter: Option<Value>| {
        let mut body = json!({"url": r.url(), "topicIds": ["contacts.modified"]});
        if let Some(f) = filter {
            body["filter"] = f;
        }
        body
    };

    // Accepted while the filter matches: delivered even though the filter changes before the attempt.
    assert_eq!(deliveries(&app.publish(seed_contact_change("RPT")).await, "contacts.modified"), 1);
    let surname_only = json!({"properties": {"diff": {"required": ["surname"]}}, "required": ["diff"]});
    let (s, body) = app.client.put(&path, ADMIN, put(Some(surname_only.clone()))).await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(deliveries(&app.publish(seed_contact_change("RPT")).await, "contacts.modified"), 0);
    assert_eq!(deliveries(&app.publish(surname_change("RPT")).await, "contacts.modified"), 1);

    // An update without `filter` keeps it; `filter: null` removes it.
    let (s, _) = app.client.put(&path, ADMIN, put(None)).await;
    assert_eq!(s, 204);
    assert_eq!(app.client.get(&path, ADMIN).await.1["filter"], surname_only);
    assert_eq!(deliveries(&app.publish(seed_contact_change("RPT")).await, "contacts.modified"), 0);
    let (s, _) = app.client.put(&path, ADMIN, put(Some(Value::Null))).await;
    assert_eq!(s, 204);
    assert_eq!(app.client.get(&path, ADMIN).await.1["filter"], Value::Null);
    assert_eq!(deliveries(&app.publish(seed_contact_change("RPT")).await, "contacts.modified"), 1);

    app.deliver_all(Duration::from_secs(5)).await;
    let got: Vec<Value> = r.received().iter().map(|g| g.json()["diff"].clone()).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    // Delivery order is not guaranteed: two mobile phone changes and one surname change, in any order.
    assert_eq!(got.iter().filter(|d| d["mobilePhone"].is_array()).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|d| d["surname"].is_array()).count(), 1, "{got:?}");
    app.stop().await;
}

#[tokio::test]
async fn ping_ignores_the_filter() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    let nothing = json!({"not": {}});
    let hook = filtered_webhook(&app, &app_id, &r.url(), &["contacts.modified"], nothing).await;
    assert_eq!(deliveries(&app.publish(seed_contact_change("RPT")).await, "contacts.modified"), 0);
    let (s, out) = app
        .client
        .post(
            &format!("/webhooks/subscriptions/{}/ping", hook["id"].as_str().unwrap()),
            ADMIN,
            json!({"topicId": "contacts.modified"}),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["success"], true);
    assert_eq!(r.count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_schema_a_remote_ref_or_an_oversized_filter_is_a_422_naming_filter() {
    let app = TestApp::spawn().await;
    let app_id = contacts_app(&app).await;
    let create = |filter: Value| {
        json!({"applicationId": app_id, "url": "https://example.com/hook", "topicIds": ["contacts.modified"],
               "filter": filter})
    };
    let cases = [
        (json!({"type": "no-such-type"}), "no-such-type"),
        (json!({"properties": {"new": {"$ref": "https://example.com/schema.json"}}}), "remote $ref"),
        (json!({"$ref": "http://127.0.0.1:1/schema.json"}), "remote $ref"),
        (json!({"description": "x".repeat(16 * 1024)}), "16384 bytes"),
        (json!("required"), "JSON Schema"),
        (json!([]), "JSON Schema"),
    ];
    for (filter, needle) in &cases {
        let (s, body) = app.client.post("/webhooks/subscriptions", ADMIN, create(filter.clone())).await;
        assert_eq!(s, 422, "{filter}: {body}");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["field"], "filter");
        assert!(errors[0]["message"].as_str().unwrap().contains(needle), "{needle}: {body}");
    }
    // The same on update and on /resthooks.
    let hook = app.create_webhook(&app_id, "https://example.com/hook", &["contacts.modified"], &[]).await;
    let path = format!("/webhooks/subscriptions/{}", hook["id"].as_str().unwrap());
    let (s, body) = app
        .client
        .put(
            &path,
            ADMIN,
            json!({"url": "https://example.com/hook", "topicIds": ["contacts.modified"], "filter": {"minimum": "ten"}}),
        )
        .await;
    assert_eq!((s.as_u16(), body["errors"][0]["field"].as_str()), (422, Some("filter")), "{body}");
    let (_, key, _) = app.create_app("B", &["contacts.read"]).await;
    let resp = app
        .client
        .http
        .post(format!("{}/resthooks", app.client.base))
        .bearer_auth(&key)
        .header("reapit-customer", "SBOX")
        .json(&json!({"url": "https://example.com/hook", "topicIds": ["contacts.modified"], "filter": {"$ref": "https://example.com/s"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "filter", "{body}");
    // Nothing was changed or created by the refused requests.
    assert_eq!(app.client.get(&path, ADMIN).await.1["filter"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn resthooks_take_and_show_a_filter() {
    let app = TestApp::spawn().await;
    let (_, key, _) = app.create_app("B", &["contacts.read"]).await;
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = app.client.http.request(method, format!("{}{path}", app.client.base)).bearer_auth(&key);
        req = req.header("reapit-customer", "SBOX");
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let body =
        json!({"url": "https://example.com/hook", "topicIds": ["contacts.modified"], "filter": mobile_phone_changed()});
    let (s, hook) = call(reqwest::Method::POST, "/resthooks", Some(body)).await;
    assert_eq!(s, 201, "{hook}");
    assert_eq!(hook["filter"], mobile_phone_changed());
    let path = format!("/resthooks/{}", hook["id"].as_str().unwrap());
    let (s, _) = call(
        reqwest::Method::PUT,
        &path,
        Some(json!({"url": "https://example.com/hook", "topicIds": ["contacts.modified"], "filter": null})),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(call(reqwest::Method::GET, &path, None).await.1["filter"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn a_filter_is_tested_against_a_payload_or_a_topics_example_before_it_is_saved() {
    let app = TestApp::spawn().await;
    let (_, key, _) = app.create_app("A", &["contacts.read"]).await;
    let test = |token: &str, body: Value| {
        let token = token.to_string();
        let client = &app.client;
        async move { client.post("/webhooks/filters/test", &token, body).await }
    };

    // The topic's example payload (the one Ping sends) has a mobile phone change.
    let (s, out) = test(&key, json!({"filter": mobile_phone_changed(), "topicId": "contacts.modified"})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out, json!({"matches": true, "errors": []}));
    let surname = json!({"properties": {"diff": {"required": ["surname"]}}, "required": ["diff"]});
    let (s, out) = test(ADMIN, json!({"filter": surname, "topicId": "contacts.modified"})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["matches"], false);
    assert_eq!(out["errors"][0]["path"], "/diff");
    assert!(out["errors"][0]["message"].as_str().unwrap().contains("surname"), "{out}");

    // A payload given as it is, e.g. one a receiver got.
    let payload: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
    let (s, out) = test(&key, json!({"filter": mobile_phone_changed(), "payload": payload})).await;
    assert_eq!((s.as_u16(), out["matches"].as_bool()), (200, Some(true)), "{out}");
    let (s, out) = test(&key, json!({"filter": mobile_phone_changed(), "payload": {"diff": null}})).await;
    assert_eq!((s.as_u16(), out["matches"].as_bool()), (200, Some(false)), "{out}");

    // Wrong requests.
    for (body, field) in [
        (json!({"filter": {"type": 7}, "topicId": "contacts.modified"}), "filter"),
        (json!({"topicId": "contacts.modified"}), "filter"),
        (json!({"filter": {}, "topicId": "no.such"}), "topicId"),
        (json!({"filter": {}}), "payload"),
        (json!({"filter": {}, "payload": {}, "topicId": "contacts.modified"}), "topicId"),
        (json!({"filter": {}, "payload": "text"}), "payload"),
    ] {
        let (s, out) = test(&key, body.clone()).await;
        assert_eq!(s, 422, "{body}: {out}");
        assert_eq!(out["errors"][0]["field"], field, "{body}: {out}");
    }
    let (s, _) = app.client.raw(reqwest::Method::POST, "/webhooks/filters/test", None, b"{}".to_vec()).await;
    assert_eq!(s, 401);
    app.stop().await;
}
