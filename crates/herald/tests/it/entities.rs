//! End to end for entity state (contract §9.5): `PUT`, `DELETE`, `GET /entities/…` and `POST /entities`, with
//! real deliveries, on the backend of `HERALD_TEST_BACKEND`.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const CONTACT: &str = "/entities/RPT/contacts/RPT20000029";

impl TestApp {
    /// `PUT`s a record; expects `202` and returns the answer.
    async fn put_entity(&self, path: &str, record: Value) -> Value {
        let (status, body) = self.client.put(path, ADMIN, record).await;
        assert_eq!(status, 202, "{body}");
        body
    }
}

/// The topics of a `202` answer, in order.
fn topics(answer: &Value) -> Vec<String> {
    answer["events"].as_array().expect("events").iter().map(|e| e["topicId"].as_str().unwrap().to_string()).collect()
}

fn seed() -> Value {
    serde_json::from_str(SEED_EXAMPLE).unwrap()
}

#[tokio::test]
async fn a_put_entity_is_created_then_diffed_as_the_seed_then_silent_when_unchanged() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.created", "contacts.modified"], &[]).await;
    let (old, new) = (seed()["old"].clone(), seed()["new"].clone());

    let (s, _) = app.client.get(CONTACT, ADMIN).await;
    assert_eq!(s, 404, "nothing is kept before the first PUT");
    let first = app.put_entity(CONTACT, old.clone()).await;
    assert_eq!(topics(&first), ["contacts.created"]);
    assert_eq!(first["events"][0]["entityId"], "RPT20000029");
    assert_eq!(first["events"][0]["deliveries"], 1);
    let second = app.put_entity(CONTACT, new.clone()).await;
    assert_eq!(topics(&second), ["contacts.modified"]);
    let third = app.put_entity(CONTACT, new.clone()).await;
    assert_eq!(third["events"], json!([]), "the same record again emits nothing");
    assert!(third["eventId"].is_string());
    let (s, kept) = app.client.get(CONTACT, ADMIN).await;
    assert_eq!((s.as_u16(), &kept), (200, &new), "GET answers the last record");

    app.deliver_all(Duration::from_secs(5)).await;
    let got = r.received();
    assert_eq!(got.len(), 2);
    let created = got.iter().map(|g| g.json()).find(|p| p["topicId"] == "contacts.created").expect("created");
    assert_eq!((&created["old"], &created["new"], &created["diff"]), (&Value::Null, &old, &Value::Null));
    assert_eq!(created["customerId"], "RPT");
    let modified = got.iter().map(|g| g.json()).find(|p| p["topicId"] == "contacts.modified").expect("modified");
    assert_eq!(modified["old"], old);
    assert_eq!(modified["new"], new);
    assert_eq!(modified["diff"], seed()["diff"], "the seed's contact diff");
    assert_eq!(modified["eventId"], second["eventId"]);
    app.stop().await;
}

#[tokio::test]
async fn an_offer_put_as_accepted_emits_modified_and_accepted() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["offers.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["offers.modified", "offers.accepted"], &[]).await;
    let path = "/entities/RPT/offers/OF1";
    let offer = |status: &str| json!({"id": "OF1", "status": status, "amount": 250000});
    assert_eq!(topics(&app.put_entity(path, offer("pending")).await), ["offers.created"]);
    let mut accepted = topics(&app.put_entity(path, offer("accepted")).await);
    accepted.sort();
    assert_eq!(accepted, ["offers.accepted", "offers.modified"]);
    app.deliver_all(Duration::from_secs(5)).await;
    let got = r.received();
    assert_eq!(got.len(), 2);
    for g in got {
        let p = g.json();
        assert_eq!(p["old"]["status"], "pending");
        assert_eq!(p["new"]["status"], "accepted");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_entity_is_published_with_new_null_and_is_created_again_when_put() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let (s, body) = app.client.delete(CONTACT, ADMIN).await;
    assert_eq!(s, 404, "an unknown entity: {body}");
    let record = json!({"id": "RPT20000029", "surname": "Smith"});
    app.put_entity(CONTACT, record.clone()).await;

    let (s, deleted) = app.client.delete(CONTACT, ADMIN).await;
    assert_eq!(s, 202, "{deleted}");
    assert_eq!(topics(&deleted), ["contacts.modified"]);
    assert_eq!(deleted["events"][0]["deliveries"], 1);
    assert_eq!(app.client.get(CONTACT, ADMIN).await.0, 404, "a deleted entity has no record");
    assert_eq!(app.client.delete(CONTACT, ADMIN).await.0, 404, "deleted already");
    app.deliver_all(Duration::from_secs(5)).await;
    let p = r.received()[0].json();
    assert_eq!((&p["old"], &p["new"], &p["diff"]), (&record, &Value::Null, &Value::Null));

    let again = app.put_entity(CONTACT, record.clone()).await;
    assert_eq!(topics(&again), ["contacts.created"], "deleted and put again is a creation");
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_puts_of_one_entity_chain_their_diffs() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.modified"], &[]).await;
    let base = json!({"id": "C1", "surname": "Smith"});
    let path = "/entities/RPT/contacts/C1";
    app.put_entity(path, base.clone()).await;

    // Each PUT sets one field of its own: applied one after the other, each diffs against the record before it.
    let mut puts = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (client, mut record) = (app.client.clone(), base.clone());
        record[format!("field{i:02}")] = json!(i);
        puts.spawn(async move { client.put(path, ADMIN, record).await });
    }
    for (s, body) in puts.join_all().await {
        assert_eq!(s, 202, "{body}");
        assert_eq!(topics(&body), ["contacts.modified"]);
    }
    app.deliver_all(Duration::from_secs(20)).await;
    let payloads: Vec<Value> = r.received().iter().map(|g| g.json()).collect();
    assert_eq!(payloads.len(), 50);
    let order = herald_testkit::entities::chain(&base, &payloads).unwrap_or_else(|e| panic!("no chain: {e}"));
    let last = &payloads[*order.last().unwrap()]["new"];
    assert_eq!(&app.client.get(path, ADMIN).await.1, last, "the state is the last record applied");
    for w in order.windows(2) {
        let diff = payloads[w[1]]["diff"].as_object().expect("a diff");
        assert_eq!(diff.len(), 2, "one field set, the one before unset: {diff:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_batch_is_applied_in_order_as_one_request() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read", "offers.read"]).await;
    app.install(&app_id, "RPT").await;
    let r = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &r.url(), &["contacts.created", "contacts.modified", "offers.accepted"], &[]).await;
    let rec = |t: &str, id: &str, record: Value| json!({"customerId": "RPT", "entityType": t, "entityId": id, "record": record});
    let (s, out) = app
        .client
        .post(
            "/entities",
            ADMIN,
            json!({"records": [
                rec("contacts", "C1", json!({"id": "C1", "surname": "Smith"})),
                rec("contacts", "C1", json!({"id": "C1", "surname": "Smyth"})),
                rec("offers", "O1", json!({"id": "O1", "status": "accepted"})),
                rec("contacts", "C2", Value::Null),
                rec("contacts", "C1", json!({"id": "C1", "surname": "Smyth"})),
            ]}),
        )
        .await;
    assert_eq!(s, 202, "{out}");
    assert_eq!(topics(&out), ["contacts.created", "contacts.modified", "offers.accepted", "offers.created"]);
    assert_eq!(app.client.get("/entities/RPT/contacts/C1", ADMIN).await.1, json!({"id": "C1", "surname": "Smyth"}));
    assert_eq!(app.client.get("/entities/RPT/contacts/C2", ADMIN).await.0, 404, "deleting nothing is nothing");
    app.deliver_all(Duration::from_secs(5)).await;
    let got: Vec<Value> = r.received().iter().map(|g| g.json()).collect();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|p| p["eventId"] == out["eventId"]), "one event id for the batch");
    let modified = got.iter().find(|p| p["topicId"] == "contacts.modified").expect("modified");
    assert_eq!(modified["diff"], json!({"surname": ["Smith", "Smyth"]}), "the second record diffs against the first");

    let (s, bad) = app
        .client
        .post("/entities", ADMIN, json!({"records": [rec("contacts", "C3", json!({})), rec("nope", "X", json!({})), {"customerId": "RPT", "entityType": "contacts", "entityId": "C4"}]}))
        .await;
    assert_eq!(s, 422, "{bad}");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["records[1].entityType", "records[2].record"]);
    assert_eq!(app.client.get("/entities/RPT/contacts/C3", ADMIN).await.0, 404, "nothing of a refused batch is kept");
    app.stop().await;
}

#[tokio::test]
async fn an_idempotent_put_retried_answers_the_first_answer() {
    let app = TestApp::spawn().await;
    let put = |key: &'static str, record: Value| {
        let client = app.client.clone();
        async move {
            let resp = client
                .http
                .put(format!("{}{CONTACT}", client.base))
                .bearer_auth(ADMIN)
                .header("Idempotency-Key", key)
                .json(&record)
                .send()
                .await
                .unwrap();
            let replayed = resp.headers().get("idempotent-replayed").is_some();
            (resp.status().as_u16(), replayed, resp.text().await.unwrap())
        }
    };
    let record = json!({"id": "RPT20000029", "surname": "Smith"});
    let (s1, r1, first) = put("put-1", record.clone()).await;
    let (s2, r2, second) = put("put-1", record.clone()).await;
    assert_eq!((s1, r1, s2, r2), (202, false, 202, true));
    assert_eq!(first, second, "the very same answer: the retry is not diffed again");
    let (s3, _, other) = put("put-1", json!({"id": "RPT20000029", "surname": "Smyth"})).await;
    assert_eq!(s3, 422, "the key with another record: {other}");
    app.stop().await;
}

#[tokio::test]
async fn bad_entity_requests_are_refused_with_the_error_body() {
    let app = TestApp::spawn().await;
    let (s, body) = app.client.put("/entities/RPT/unicorns/U1", ADMIN, json!({"id": "U1"})).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "entityType");
    assert_eq!(app.client.get("/entities/RPT/unicorns/U1", ADMIN).await.0, 422);
    let (s, body) = app.client.put(CONTACT, ADMIN, json!([1, 2])).await;
    assert_eq!((s.as_u16(), body["statusCode"].as_u64()), (422, Some(422)), "a record is an object: {body}");
    let (s, body) = app.client.raw(Method::PUT, CONTACT, Some(ADMIN), b"{\"id\": ".to_vec()).await;
    assert_eq!(s, 400, "{body}");
    let mut big = br#"{"id": "RPT20000029", "notes": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    big.extend(br#""}"#);
    let (s, body) = app.client.raw(Method::PUT, CONTACT, Some(ADMIN), big).await;
    assert_eq!(s, 413, "{body}");
    assert_eq!(body["statusCode"], 413);
    let (app_id, key, _) = app.create_app("A", &["contacts.read"]).await;
    assert!(!app_id.is_empty());
    assert_eq!(app.client.put(CONTACT, &key, json!({"id": "X"})).await.0, 403, "admin token only");
    assert_eq!(app.client.get(CONTACT, &key).await.0, 403);
    assert_eq!(app.client.delete(CONTACT, &key).await.0, 403);
    app.stop().await;
}
