//! Contract §5.2: the topic catalogue, its models, scopes and the `applicationId` filter.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{TestApp, ADMIN};
use crate::{assert_error, send};

/// Every topic, walking the pages of `path` (which has no query yet) with `size` items each.
async fn all_topics(app: &TestApp, token: &str, query: &str, size: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut number = 1;
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let path = format!("/webhooks/topics?{query}{sep}pageSize={size}&pageNumber={number}");
        let (status, body) = app.client.get(&path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        let items = body["_embedded"].as_array().expect("_embedded").clone();
        assert_eq!(body["pageCount"], json!(items.len()), "{path}");
        let total = body["totalCount"].as_u64().expect("totalCount");
        let done = items.is_empty();
        out.extend(items);
        if done || out.len() as u64 >= total {
            assert_eq!(out.len() as u64, total, "{path}: the pages hold totalCount topics");
            return out;
        }
        number += 1;
    }
}

fn ids(topics: &[Value]) -> BTreeSet<String> {
    topics.iter().map(|t| t["id"].as_str().expect("id").to_string()).collect()
}

#[tokio::test]
async fn the_catalogue_holds_51_topics_across_pages() {
    let app = TestApp::spawn().await;
    let (status, body) = app.client.get("/webhooks/topics?pageSize=100", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalCount"], 51, "{body}");
    assert_eq!(body["pageCount"], 51);
    assert_eq!(body["totalPageCount"], 1);
    let one_page = body["_embedded"].as_array().expect("_embedded").clone();
    assert_eq!(ids(&one_page).len(), 51, "ids are unique");
    for size in [1, 7, 20, 25] {
        let paged = all_topics(&app, ADMIN, "", size).await;
        assert_eq!(paged.len(), 51, "pageSize {size}");
        assert_eq!(ids(&paged), ids(&one_page), "pageSize {size} walks the same topics");
    }
}

#[tokio::test]
async fn every_topic_has_the_topic_model_and_an_example_for_itself() {
    let app = TestApp::spawn().await;
    for t in all_topics(&app, ADMIN, "", 100).await {
        let id = t["id"].as_str().expect("id");
        assert!(t["name"].as_str().is_some_and(|s| !s.is_empty()), "name of {t}");
        assert!(t["description"].as_str().is_some_and(|s| !s.is_empty()), "description of {t}");
        assert!(t["associatedScope"].is_string() || t["associatedScope"].is_null(), "associatedScope of {t}");
        assert!(t.as_object().expect("object").contains_key("associatedScope"), "associatedScope present in {t}");
        assert_eq!(t["active"], true, "active of {id}");
        let example: Value = serde_json::from_str(t["example"].as_str().expect("example is JSON text"))
            .unwrap_or_else(|e| panic!("example of {id} does not parse: {e}"));
        assert_eq!(example["topicId"], json!(id), "example of {id}");
        for key in ["eventId", "customerId", "eventTime", "new", "old", "diff"] {
            assert!(example.as_object().is_some_and(|o| o.contains_key(key)), "example of {id} lacks {key}");
        }
    }
}

#[tokio::test]
async fn topic_scopes_are_those_of_the_seed() {
    let app = TestApp::spawn().await;
    let scopes: BTreeMap<String, Value> = all_topics(&app, ADMIN, "", 100)
        .await
        .into_iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t["associatedScope"].clone()))
        .collect();
    for (id, scope) in [
        ("tenancies.modified", json!("tenancies.write")),
        ("tenancies.created", json!("tenancies.read")),
        ("application.install", Value::Null),
        ("application.uninstall", Value::Null),
        ("webhooks.failing", Value::Null),
        ("webhooks.disabled", Value::Null),
        ("webhooks.recovered", Value::Null),
        ("contacts.optedout", json!("contacts.read")),
        ("applicants.modified", json!("applicants.read")),
        ("appointments.confirmed", json!("appointments.read")),
        ("conveyancing.modified", json!("conveyancing.read")),
        ("identitychecks.created", json!("identitychecks.read")),
        ("properties.selling.instructed", json!("properties.read")),
        ("properties.selling.askingpricechanged", json!("properties.read")),
        ("offers.withdrawn", json!("offers.read")),
        ("vendors.created", json!("vendors.read")),
        ("worksorders.raised", json!("worksorders.read")),
    ] {
        assert_eq!(scopes.get(id), Some(&scope), "scope of {id}");
    }
    for absent in ["conveyancing.created", "worksorders.created", "contacts.deleted"] {
        assert!(!scopes.contains_key(absent), "{absent} is not a topic");
    }
}

#[tokio::test]
async fn the_application_filter_keeps_its_scopes_and_the_scopeless_topics() {
    let app = TestApp::spawn().await;
    let (a, key_a, _) = app.create_app("Contacts", &["contacts.read"]).await;
    let scopeless = ["application.install", "application.uninstall", "webhooks.disabled", "webhooks.failing"];
    let scopeless: Vec<&str> = scopeless.into_iter().chain(["webhooks.recovered"]).collect();
    let with = |more: &[&str]| -> BTreeSet<String> { scopeless.iter().chain(more).map(|s| s.to_string()).collect() };
    let expected = with(&["contacts.created", "contacts.modified", "contacts.optedout"]);
    for token in [ADMIN, key_a.as_str()] {
        let topics = all_topics(&app, token, &format!("applicationId={a}"), 100).await;
        assert_eq!(topics.len(), 8, "{topics:?}");
        assert_eq!(ids(&topics), expected);
    }
    let (status, body) = app.client.get(&format!("/webhooks/topics?applicationId={a}&pageSize=2"), ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!((body["totalCount"].clone(), body["totalPageCount"].clone()), (json!(8), json!(4)), "{body}");

    let (none, _, _) = app.create_app("Nothing", &[]).await;
    let topics = all_topics(&app, ADMIN, &format!("applicationId={none}"), 100).await;
    assert_eq!(ids(&topics), with(&[]));

    let (t, _, _) = app.create_app("Tenancies", &["tenancies.read"]).await;
    let topics = all_topics(&app, ADMIN, &format!("applicationId={t}"), 100).await;
    assert_eq!(ids(&topics), with(&["tenancies.created"]), "tenancies.modified needs tenancies.write");
    // Without the filter, an application key sees the whole catalogue.
    assert_eq!(all_topics(&app, &key_a, "", 100).await.len(), 51);
}

#[tokio::test]
async fn the_application_filter_refuses_a_bad_or_unknown_id() {
    let app = TestApp::spawn().await;
    let r = send(&app, Method::GET, "/webhooks/topics?applicationId=nope", Some(ADMIN), &[], None).await;
    crate::assert_422_naming(&r, "applicationId", "a malformed application id");
    let unknown = uuid::Uuid::now_v7();
    let r = send(&app, Method::GET, &format!("/webhooks/topics?applicationId={unknown}"), Some(ADMIN), &[], None).await;
    assert_error(&r, 404, "an unknown application");
}

#[tokio::test]
async fn one_topic_is_read_by_id_and_an_unknown_one_is_404() {
    let app = TestApp::spawn().await;
    let (_, key, _) = app.create_app("Reader", &[]).await;
    for token in [ADMIN, key.as_str()] {
        let (status, t) = app.client.get("/webhooks/topics/tenancies.modified", token).await;
        assert_eq!(status, 200, "{t}");
        assert_eq!(t["id"], "tenancies.modified");
        assert_eq!(t["associatedScope"], "tenancies.write");
        assert_eq!(t["active"], true);
        assert!(t["name"].is_string() && t["description"].is_string(), "{t}");
        let example: Value = serde_json::from_str(t["example"].as_str().expect("example")).expect("example parses");
        assert_eq!(example["topicId"], "tenancies.modified");
    }
    let (_, listed) = app.client.get("/webhooks/topics?pageSize=100", ADMIN).await;
    let from_list = listed["_embedded"].as_array().unwrap().iter().find(|t| t["id"] == "contacts.modified").cloned();
    let (_, one) = app.client.get("/webhooks/topics/contacts.modified", ADMIN).await;
    assert_eq!(Some(one), from_list, "the single topic equals its list entry");
    for unknown in ["contacts.exploded", "nope", "CONTACTS.MODIFIED"] {
        let r = send(&app, Method::GET, &format!("/webhooks/topics/{unknown}"), Some(ADMIN), &[], None).await;
        assert_error(&r, 404, unknown);
    }
}
