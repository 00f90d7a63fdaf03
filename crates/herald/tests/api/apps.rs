//! Contract §4.1 and §4.2: applications and installations through the platform API (admin token).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{TestApp, ADMIN};
use crate::{assert_422_naming, assert_error, embedded_ids, send, send_json};

fn is_api_time(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[tokio::test]
async fn creating_an_application_answers_201_with_id_client_id_api_key_and_created() {
    let app = TestApp::spawn().await;
    let r = send_json(
        &app,
        Method::POST,
        "/apps",
        Some(ADMIN),
        &[],
        json!({ "name": "Lettings sync", "scopes": ["contacts.read", "tenancies.write"] }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = &r.body;
    assert!(b["id"].as_str().is_some_and(|s| !s.is_empty()), "id in {b}");
    assert!(b["clientId"].as_str().is_some_and(|s| !s.is_empty()), "a generated clientId in {b}");
    assert!(b["apiKey"].as_str().is_some_and(|s| s.len() >= 20), "apiKey in {b}");
    assert!(is_api_time(&b["created"]), "created in {b}");
    assert_eq!(b["name"], "Lettings sync");
    assert_eq!(b["scopes"], json!(["contacts.read", "tenancies.write"]));
    // The key works at once.
    let key = b["apiKey"].as_str().unwrap();
    let (status, _) = app.client.get("/webhooks/subscriptions", key).await;
    assert_eq!(status, 200, "the new API key authenticates");
    // Generated client ids differ.
    let (_, _, other) = app.create_app("Second", &[]).await;
    assert_ne!(json!(other), b["clientId"], "each generated clientId is new");
}

#[tokio::test]
async fn a_given_client_id_is_kept() {
    let app = TestApp::spawn().await;
    let (status, b) =
        app.client.post("/apps", ADMIN, json!({ "name": "N", "scopes": [], "clientId": "my-client_1" })).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["clientId"], "my-client_1");
    let (_, got) = app.client.get(&format!("/apps/{}", b["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(got["clientId"], "my-client_1");
}

#[tokio::test]
async fn a_duplicate_client_id_is_refused_naming_client_id() {
    let app = TestApp::spawn().await;
    let (status, b) = app.client.post("/apps", ADMIN, json!({ "name": "N", "scopes": [], "clientId": "dup" })).await;
    assert_eq!(status, 201, "{b}");
    let r = send_json(
        &app,
        Method::POST,
        "/apps",
        Some(ADMIN),
        &[],
        json!({ "name": "M", "scopes": [], "clientId": "dup" }),
    )
    .await;
    assert_422_naming(&r, "clientId", "a duplicate clientId");
    let (_, list) = app.client.get("/apps", ADMIN).await;
    assert_eq!(list["totalCount"], 1, "the duplicate was not stored: {list}");
}

#[tokio::test]
async fn an_application_body_breaking_a_rule_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({ "scopes": [] }), "name"),
        (json!({ "name": "", "scopes": [] }), "name"),
        (json!({ "name": 5, "scopes": [] }), "name"),
        (json!({ "name": "N" }), "scopes"),
        (json!({ "name": "N", "scopes": "contacts.read" }), "scopes"),
        (json!({ "name": "N", "scopes": [3] }), "scopes[0]"),
        (json!({ "name": "N", "scopes": [], "clientId": 7 }), "clientId"),
    ] {
        let r = send_json(&app, Method::POST, "/apps", Some(ADMIN), &[], body.clone()).await;
        assert_422_naming(&r, field, &format!("POST /apps {body}"));
    }
}

#[tokio::test]
async fn reading_an_application_never_shows_its_api_key() {
    let app = TestApp::spawn().await;
    let (id, key, client_id) = app.create_app("Secretive", &["contacts.read"]).await;
    let r = send(&app, Method::GET, &format!("/apps/{id}"), Some(ADMIN), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["clientId"], json!(client_id));
    assert_eq!(r.body["name"], "Secretive");
    assert_eq!(r.body["scopes"], json!(["contacts.read"]));
    assert!(is_api_time(&r.body["created"]), "{}", r.body);
    let (_, list) = app.client.get("/apps", ADMIN).await;
    for (what, v) in [("GET /apps/{id}", &r.body), ("GET /apps", &list)] {
        let text = v.to_string();
        assert!(!text.contains("apiKey"), "{what} shows no apiKey field: {text}");
        assert!(!text.contains(&key), "{what} does not leak the key: {text}");
    }
}

#[tokio::test]
async fn updating_an_application_changes_its_name_and_scopes() {
    let app = TestApp::spawn().await;
    let (id, key, client_id) = app.create_app("Before", &["contacts.read"]).await;
    let (status, out) =
        app.client.put(&format!("/apps/{id}"), ADMIN, json!({ "name": "After", "scopes": ["tenancies.write"] })).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["name"], "After");
    assert_eq!(out["scopes"], json!(["tenancies.write"]));
    assert_eq!(out["clientId"], json!(client_id), "the client id is unchanged");
    assert!(out.get("apiKey").is_none(), "PUT does not show the key: {out}");
    let (_, got) = app.client.get(&format!("/apps/{id}"), ADMIN).await;
    assert_eq!((got["name"].clone(), got["scopes"].clone()), (json!("After"), json!(["tenancies.write"])));
    // The new scopes govern topics at once.
    let (_, topics) = app.client.get(&format!("/webhooks/topics?applicationId={id}"), &key).await;
    let ids: BTreeSet<String> = embedded_ids(&topics).into_iter().collect();
    assert!(ids.contains("tenancies.modified") && !ids.contains("contacts.created"), "{ids:?}");
    // Validation and unknown ids.
    let r = send_json(&app, Method::PUT, &format!("/apps/{id}"), Some(ADMIN), &[], json!({ "scopes": [] })).await;
    assert_422_naming(&r, "name", "PUT /apps without name");
    let unknown = uuid::Uuid::now_v7();
    let r = send_json(
        &app,
        Method::PUT,
        &format!("/apps/{unknown}"),
        Some(ADMIN),
        &[],
        json!({ "name": "X", "scopes": [] }),
    )
    .await;
    assert_error(&r, 404, "PUT an unknown application");
}

#[tokio::test]
async fn an_unknown_application_is_404() {
    let app = TestApp::spawn().await;
    for id in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_string()] {
        let r = send(&app, Method::GET, &format!("/apps/{id}"), Some(ADMIN), &[], None).await;
        assert_error(&r, 404, &format!("GET /apps/{id}"));
    }
}

#[tokio::test]
async fn installing_answers_201_with_terminated_null() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("A", &[]).await;
    let r = send_json(
        &app,
        Method::POST,
        "/installations",
        Some(ADMIN),
        &[],
        json!({ "applicationId": a, "customerId": "RPT", "customerName": "Reapit Estates", "customerEmail": "a@b.c" }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = &r.body;
    assert!(b["id"].as_str().is_some_and(|s| !s.is_empty()), "{b}");
    assert_eq!(b["applicationId"], json!(a));
    assert_eq!(b["customerId"], "RPT");
    assert_eq!(b["customerName"], "Reapit Estates");
    assert!(is_api_time(&b["created"]), "{b}");
    assert!(b.as_object().unwrap().contains_key("terminated") && b["terminated"].is_null(), "terminated: null in {b}");
    let (status, got) = app.client.get(&format!("/installations/{}", b["id"].as_str().unwrap()), ADMIN).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], b["id"]);
    assert_eq!(got["terminated"], Value::Null);
}

#[tokio::test]
async fn an_installation_body_breaking_a_rule_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("A", &[]).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for (body, field) in [
        (json!({ "customerId": "RPT" }), "applicationId"),
        (json!({ "applicationId": "nope", "customerId": "RPT" }), "applicationId"),
        (json!({ "applicationId": unknown, "customerId": "RPT" }), "applicationId"),
        (json!({ "applicationId": a }), "customerId"),
        (json!({ "applicationId": a, "customerId": 3 }), "customerId"),
    ] {
        let r = send_json(&app, Method::POST, "/installations", Some(ADMIN), &[], body.clone()).await;
        assert_422_naming(&r, field, &format!("POST /installations {body}"));
    }
    let (_, list) = app.client.get("/installations", ADMIN).await;
    assert_eq!(list["totalCount"], 0, "{list}");
}

#[tokio::test]
async fn uninstalling_answers_204_sets_terminated_and_a_second_time_409() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("A", &[]).await;
    let inst = app.install(&a, "RPT").await;
    let path = format!("/installations/{inst}");
    let r = send(&app, Method::DELETE, &path, Some(ADMIN), &[], None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, Value::Null, "204 has no body");
    let (status, got) = app.client.get(&path, ADMIN).await;
    assert_eq!(status, 200, "{got}");
    assert!(is_api_time(&got["terminated"]), "terminated is set: {got}");
    let r = send(&app, Method::DELETE, &path, Some(ADMIN), &[], None).await;
    assert_error(&r, 409, "DELETE a terminated installation");
    let (_, again) = app.client.get(&path, ADMIN).await;
    assert_eq!(again["terminated"], got["terminated"], "the second DELETE changes nothing");
    let unknown = uuid::Uuid::now_v7();
    let r = send(&app, Method::DELETE, &format!("/installations/{unknown}"), Some(ADMIN), &[], None).await;
    assert_error(&r, 404, "DELETE an unknown installation");
    let r = send(&app, Method::GET, &format!("/installations/{unknown}"), Some(ADMIN), &[], None).await;
    assert_error(&r, 404, "GET an unknown installation");
}

#[tokio::test]
async fn installations_are_filtered_by_installed_state_application_and_customer() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("A", &[]).await;
    let (b, _, _) = app.create_app("B", &[]).await;
    let a_rpt = app.install(&a, "RPT").await;
    let a_xyz = app.install(&a, "XYZ").await;
    let b_rpt = app.install(&b, "RPT").await;
    let (status, _) = app.client.delete(&format!("/installations/{a_xyz}"), ADMIN).await;
    assert_eq!(status, 204);

    let set = |v: &[&String]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    for (query, expected) in [
        ("".to_string(), set(&[&a_rpt, &a_xyz, &b_rpt])),
        ("isInstalled=true".to_string(), set(&[&a_rpt, &b_rpt])),
        ("isInstalled=false".to_string(), set(&[&a_xyz])),
        (format!("applicationId={a}"), set(&[&a_rpt, &a_xyz])),
        (format!("applicationId={b}"), set(&[&b_rpt])),
        ("customerId=RPT".to_string(), set(&[&a_rpt, &b_rpt])),
        ("customerId=XYZ".to_string(), set(&[&a_xyz])),
        ("customerId=NOPE".to_string(), set(&[])),
        (format!("applicationId={a}&isInstalled=true"), set(&[&a_rpt])),
        (format!("applicationId={a}&customerId=RPT&isInstalled=false"), set(&[])),
    ] {
        let path = format!("/installations?{query}");
        let (status, body) = app.client.get(&path, ADMIN).await;
        assert_eq!(status, 200, "{path}: {body}");
        let got: BTreeSet<String> = embedded_ids(&body).into_iter().collect();
        assert_eq!(got, expected, "{path}");
        assert_eq!(body["totalCount"], json!(expected.len()), "{path}");
    }
    for (query, field) in [
        ("isInstalled=maybe", "isInstalled"),
        ("isInstalled=yes", "isInstalled"),
        ("applicationId=nope", "applicationId"),
    ] {
        let r = send(&app, Method::GET, &format!("/installations?{query}"), Some(ADMIN), &[], None).await;
        assert_422_naming(&r, field, query);
    }
}
