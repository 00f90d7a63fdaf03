//! Contract §5.6: `/resthooks`, an application key acting for one customer (`reapit-customer`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{TestApp, ADMIN};
use crate::{admin_webhook, assert_422_naming, assert_error, embedded_ids, send, send_json};

/// Apps A and B (both contacts.read), each installed for RPT.
struct World {
    app_a: String,
    key_a: String,
    app_b: String,
    key_b: String,
}

async fn world(app: &TestApp) -> World {
    let (app_a, key_a, _) = app.create_app("A", &["contacts.read"]).await;
    let (app_b, key_b, _) = app.create_app("B", &["contacts.read"]).await;
    app.install(&app_a, "RPT").await;
    app.install(&app_b, "RPT").await;
    World { app_a, key_a, app_b, key_b }
}

fn resthook_body() -> Value {
    json!({ "url": "https://example.com/rest", "topicIds": ["contacts.created"] })
}

async fn rest(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    customer: Option<&str>,
    body: Option<Value>,
) -> crate::Reply {
    let headers: Vec<(&str, &str)> = customer.map(|c| vec![("reapit-customer", c)]).unwrap_or_default();
    match body {
        Some(b) => send_json(app, method, path, Some(token), &headers, b).await,
        None => send(app, method, path, Some(token), &headers, None).await,
    }
}

/// Every `/resthooks` request, for one existing webhook id.
fn every_request(hook: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/resthooks".into(), None),
        (Method::POST, "/resthooks".into(), Some(resthook_body())),
        (Method::GET, format!("/resthooks/{hook}"), None),
        (Method::PUT, format!("/resthooks/{hook}"), Some(resthook_body())),
        (Method::DELETE, format!("/resthooks/{hook}"), None),
    ]
}

async fn webhook_count(app: &TestApp) -> Value {
    app.client.get("/webhooks/subscriptions", ADMIN).await.1["totalCount"].clone()
}

#[tokio::test]
async fn the_admin_token_may_not_use_resthooks() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = admin_webhook(
        &app,
        json!({ "applicationId": w.app_a, "url": "https://example.com/a",
        "topicIds": ["contacts.created"], "customerIds": ["RPT"] }),
    )
    .await;
    for (method, path, body) in every_request(&hook) {
        for customer in [Some("RPT"), Some("SBOX"), None] {
            let r = rest(&app, method.clone(), &path, ADMIN, customer, body.clone()).await;
            assert_error(&r, 403, &format!("admin {method} {path} for {customer:?}"));
        }
    }
    assert_eq!(webhook_count(&app).await, 1, "nothing was created or deleted");
}

#[tokio::test]
async fn an_application_key_without_the_customer_header_gets_403() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = admin_webhook(
        &app,
        json!({ "applicationId": w.app_a, "url": "https://example.com/a",
        "topicIds": ["contacts.created"], "customerIds": ["RPT"] }),
    )
    .await;
    for (method, path, body) in every_request(&hook) {
        let r = rest(&app, method.clone(), &path, &w.key_a, None, body.clone()).await;
        assert_error(&r, 403, &format!("{method} {path} without reapit-customer"));
        let r = rest(&app, method.clone(), &path, &w.key_a, Some(""), body).await;
        assert_error(&r, 403, &format!("{method} {path} with an empty reapit-customer"));
    }
    assert_eq!(webhook_count(&app).await, 1);
}

#[tokio::test]
async fn a_customer_without_a_current_installation_gets_403() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let old = app.install(&w.app_a, "OLD").await;
    let (status, _) = app.client.delete(&format!("/installations/{old}"), ADMIN).await;
    assert_eq!(status, 204);
    let hook = admin_webhook(
        &app,
        json!({ "applicationId": w.app_a, "url": "https://example.com/a",
        "topicIds": ["contacts.created"], "customerIds": ["RPT"] }),
    )
    .await;
    for customer in ["NOPE", "OLD"] {
        for (method, path, body) in every_request(&hook) {
            let r = rest(&app, method.clone(), &path, &w.key_a, Some(customer), body).await;
            assert_error(&r, 403, &format!("{method} {path} for {customer}"));
        }
    }
    // B is installed for RPT, but that does not make A's key act for a customer of B only.
    app.install(&w.app_b, "BONLY").await;
    let r = rest(&app, Method::GET, "/resthooks", &w.key_a, Some("BONLY"), None).await;
    assert_error(&r, 403, "a customer of another application");
    assert_eq!(webhook_count(&app).await, 1);
}

#[tokio::test]
async fn the_sandbox_customer_works_without_installation() {
    let app = TestApp::spawn().await;
    let (a, key, _) = app.create_app("Sandboxed", &["contacts.read"]).await;
    let r = rest(&app, Method::GET, "/resthooks", &key, Some("SBOX"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalCount"], 0);
    let r = rest(&app, Method::POST, "/resthooks", &key, Some("SBOX"), Some(resthook_body())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["customerIds"], json!(["SBOX"]));
    assert_eq!(r.body["applicationId"], json!(a));
    let r = rest(&app, Method::GET, "/resthooks", &key, Some("SBOX"), None).await;
    assert_eq!(r.body["totalCount"], 1, "{}", r.body);
}

#[tokio::test]
async fn post_creates_a_webhook_for_the_keys_application_and_the_customer() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let body = json!({ "url": "https://example.com/rest", "topicIds": ["contacts.created", "contacts.modified"],
        "description": "mine", "active": false, "ignoreEtagOnlyChanges": false });
    let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["customerIds"], json!(["RPT"]));
    assert_eq!(r.body["applicationId"], json!(w.app_a));
    assert!(r.header("location").is_some_and(|l| l.ends_with(&id)), "Location header: {:?}", r.header("location"));
    let (status, stored) = app.client.get(&format!("/webhooks/subscriptions/{id}"), ADMIN).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["applicationId"], json!(w.app_a));
    assert_eq!(stored["customerIds"], json!(["RPT"]));
    assert_eq!(stored["url"], "https://example.com/rest");
    assert_eq!(stored["topicIds"], json!(["contacts.created", "contacts.modified"]));
    assert_eq!(stored["description"], "mine");
    assert_eq!(stored["active"], false);
    assert_eq!(stored["ignoreEtagOnlyChanges"], false);
    // Defaults as in §5.1.
    let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(resthook_body())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((r.body["active"].clone(), r.body["ignoreEtagOnlyChanges"].clone()), (json!(true), json!(true)));
    // B's key with the same customer creates B's webhook.
    let r = rest(&app, Method::POST, "/resthooks", &w.key_b, Some("RPT"), Some(resthook_body())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["applicationId"], json!(w.app_b));
}

#[tokio::test]
async fn post_applies_the_webhook_rules() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for (body, field) in [
        (json!({ "topicIds": ["contacts.created"] }), "url"),
        (json!({ "url": "ftp://example.com", "topicIds": ["contacts.created"] }), "url"),
        (json!({ "url": "https://example.com" }), "topicIds"),
        (json!({ "url": "https://example.com", "topicIds": [] }), "topicIds"),
        (json!({ "url": "https://example.com", "topicIds": ["properties.created"] }), "topicIds[0]"),
        (json!({ "url": "https://example.com", "topicIds": ["contacts.created"], "active": "yes" }), "active"),
    ] {
        let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(body.clone())).await;
        assert_422_naming(&r, field, &format!("POST /resthooks {body}"));
    }
    assert_eq!(webhook_count(&app).await, 0);
}

#[tokio::test]
async fn the_list_shows_only_the_applications_webhooks_for_exactly_that_customer() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    app.install(&w.app_a, "XYZ").await;
    let mut expected = Vec::new();
    let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(resthook_body())).await;
    expected.push(r.body["id"].as_str().unwrap().to_string());
    let hook = |app_id: &str, customers: Value| {
        json!({ "applicationId": app_id, "url": "https://example.com/x", "topicIds": ["contacts.created"],
            "customerIds": customers })
    };
    expected.push(admin_webhook(&app, hook(&w.app_a, json!(["RPT"]))).await);
    // None of these belongs to A's view of RPT.
    admin_webhook(&app, hook(&w.app_a, json!([]))).await;
    admin_webhook(&app, hook(&w.app_a, json!(["RPT", "SBOX"]))).await;
    admin_webhook(&app, hook(&w.app_a, json!(["SBOX"]))).await;
    admin_webhook(&app, hook(&w.app_a, json!(["XYZ"]))).await;
    admin_webhook(&app, hook(&w.app_a, json!(["XYZ", "RPT"]))).await;
    admin_webhook(&app, hook(&w.app_b, json!(["RPT"]))).await;

    let r = rest(&app, Method::GET, "/resthooks", &w.key_a, Some("RPT"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalCount"], 2, "{}", r.body);
    let mut ids = embedded_ids(&r.body);
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    for item in r.body["_embedded"].as_array().unwrap() {
        assert_eq!(item["customerIds"], json!(["RPT"]));
        assert_eq!(item["applicationId"], json!(w.app_a));
    }
    assert!(r.body["_links"]["self"]["href"].as_str().is_some_and(|h| h.starts_with("/resthooks")), "{}", r.body);
    // B sees only its own one for RPT; A for SBOX only the SBOX-only webhook.
    let r = rest(&app, Method::GET, "/resthooks", &w.key_b, Some("RPT"), None).await;
    assert_eq!(r.body["totalCount"], 1, "{}", r.body);
    let r = rest(&app, Method::GET, "/resthooks", &w.key_a, Some("SBOX"), None).await;
    assert_eq!(r.body["totalCount"], 1, "{}", r.body);
    assert_eq!(r.body["_embedded"][0]["customerIds"], json!(["SBOX"]));
    // An applicationId in the query cannot widen the view.
    let r =
        rest(&app, Method::GET, &format!("/resthooks?applicationId={}", w.app_b), &w.key_a, Some("RPT"), None).await;
    assert_error(&r, 404, "another application's id on /resthooks");
}

#[tokio::test]
async fn a_webhook_outside_the_view_answers_404_and_stays_as_it_was() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = |app_id: &str, customers: Value| {
        json!({ "applicationId": app_id, "url": "https://example.com/outside", "topicIds": ["contacts.created"],
            "customerIds": customers })
    };
    let outside = vec![
        admin_webhook(&app, hook(&w.app_a, json!([]))).await,
        admin_webhook(&app, hook(&w.app_a, json!(["RPT", "SBOX"]))).await,
        admin_webhook(&app, hook(&w.app_a, json!(["SBOX"]))).await,
        admin_webhook(&app, hook(&w.app_b, json!(["RPT"]))).await,
        uuid::Uuid::now_v7().to_string(),
    ];
    for id in &outside {
        for (method, path, body) in every_request(id).into_iter().skip(2) {
            let r = rest(&app, method.clone(), &path, &w.key_a, Some("RPT"), body).await;
            assert_error(&r, 404, &format!("{method} {path}"));
        }
    }
    for id in &outside[..4] {
        let (status, got) = app.client.get(&format!("/webhooks/subscriptions/{id}"), ADMIN).await;
        assert_eq!(status, 200, "{id} was not deleted: {got}");
        assert_eq!(got["url"], "https://example.com/outside", "{id} was not changed");
    }
}

#[tokio::test]
async fn get_put_and_delete_work_on_a_webhook_in_the_view() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(resthook_body())).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/resthooks/{id}");
    let r = rest(&app, Method::GET, &path, &w.key_a, Some("RPT"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], json!(id));
    assert!(r.body.get("secret").is_none(), "GET does not show the secret: {}", r.body);
    let put = json!({ "url": "https://example.com/rest2", "topicIds": ["contacts.modified"], "active": false });
    let r = rest(&app, Method::PUT, &path, &w.key_a, Some("RPT"), Some(put)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (_, got) = app.client.get(&format!("/webhooks/subscriptions/{id}"), ADMIN).await;
    assert_eq!(got["url"], "https://example.com/rest2");
    assert_eq!(got["topicIds"], json!(["contacts.modified"]));
    assert_eq!(got["active"], false);
    assert_eq!(got["customerIds"], json!(["RPT"]), "PUT keeps the customer");
    assert_eq!(got["applicationId"], json!(w.app_a));
    let bad = json!({ "url": "https://example.com/rest3", "topicIds": ["properties.created"] });
    let r = rest(&app, Method::PUT, &path, &w.key_a, Some("RPT"), Some(bad)).await;
    assert_422_naming(&r, "topicIds[0]", "PUT with a topic outside the scopes");
    // The same webhook under another customer is outside that view.
    let r = rest(&app, Method::GET, &path, &w.key_a, Some("SBOX"), None).await;
    assert_error(&r, 404, "the webhook under another customer");
    let r = rest(&app, Method::DELETE, &path, &w.key_a, Some("RPT"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = rest(&app, Method::GET, &path, &w.key_a, Some("RPT"), None).await;
    assert_error(&r, 404, "GET after DELETE");
    let (status, _) = app.client.get(&format!("/webhooks/subscriptions/{id}"), ADMIN).await;
    assert_eq!(status, 404, "deleted for the admin too");
    let r = rest(&app, Method::GET, "/resthooks", &w.key_a, Some("RPT"), None).await;
    assert_eq!(r.body["totalCount"], 0, "{}", r.body);
}

#[tokio::test]
async fn sort_by_orders_the_list_and_refuses_unknown_values() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let mut created = Vec::new();
    for i in 0..3 {
        let body = json!({ "url": format!("https://example.com/{i}"), "topicIds": ["contacts.created"] });
        let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        created.push(r.body["id"].as_str().unwrap().to_string());
    }
    let list = |sort: &'static str| {
        let app = &app;
        let key = w.key_a.clone();
        async move {
            let r = rest(app, Method::GET, &format!("/resthooks?sortBy={sort}"), &key, Some("RPT"), None).await;
            assert_eq!(r.status, 200, "sortBy={sort}: {}", r.body);
            embedded_ids(&r.body)
        }
    };
    assert_eq!(list("created").await, created, "oldest first");
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(list("-created").await, reversed, "newest first");
    // Modify the oldest: it becomes the most recently modified.
    let r = rest(
        &app,
        Method::PUT,
        &format!("/resthooks/{}", created[0]),
        &w.key_a,
        Some("RPT"),
        Some(json!({ "url": "https://example.com/zero", "topicIds": ["contacts.created"] })),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(list("-modified").await, vec![created[0].clone(), created[2].clone(), created[1].clone()]);
    assert_eq!(list("modified").await, vec![created[1].clone(), created[2].clone(), created[0].clone()]);
    for bad in ["name", "created,modified", "+created", "CREATED"] {
        let r = rest(&app, Method::GET, &format!("/resthooks?sortBy={bad}"), &w.key_a, Some("RPT"), None).await;
        assert_422_naming(&r, "sortBy", &format!("sortBy={bad}"));
    }
}

#[tokio::test]
async fn the_active_filter_and_paging_apply_to_resthooks() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for active in [true, false, true] {
        let body = json!({ "url": "https://example.com/a", "topicIds": ["contacts.created"], "active": active });
        let r = rest(&app, Method::POST, "/resthooks", &w.key_a, Some("RPT"), Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = rest(&app, Method::GET, "/resthooks?active=false", &w.key_a, Some("RPT"), None).await;
    assert_eq!(r.body["totalCount"], 1, "{}", r.body);
    assert_eq!(r.body["_embedded"][0]["active"], false);
    let r = rest(&app, Method::GET, "/resthooks?active=true&pageSize=1", &w.key_a, Some("RPT"), None).await;
    assert_eq!((r.body["totalCount"].clone(), r.body["totalPageCount"].clone()), (json!(2), json!(2)), "{}", r.body);
    let r = rest(&app, Method::GET, "/resthooks?pageSize=0", &w.key_a, Some("RPT"), None).await;
    assert_422_naming(&r, "pageSize", "pageSize=0 on /resthooks");
    let r = rest(&app, Method::GET, "/resthooks?active=maybe", &w.key_a, Some("RPT"), None).await;
    assert_422_naming(&r, "active", "active=maybe on /resthooks");
}
