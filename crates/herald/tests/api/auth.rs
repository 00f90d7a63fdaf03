//! Contract §2: who may call what. Missing or unknown tokens get 401, application keys 403 on the platform API and
//! 404 on another application's resources, the admin token everything.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{TestApp, ADMIN};
use crate::{assert_error, send, send_json, webhook_body};

/// What one test needs: two applications (A and B) with their keys, B installed for RPT, and a webhook of each.
struct World {
    app_a: String,
    key_a: String,
    hook_a: String,
    app_b: String,
    key_b: String,
    hook_b: String,
    secret_b: String,
    installation_b: String,
}

async fn world(app: &TestApp) -> World {
    let (app_a, key_a, _) = app.create_app("App A", &["contacts.read"]).await;
    let (app_b, key_b, _) = app.create_app("App B", &["contacts.read"]).await;
    let installation_b = app.install(&app_b, "RPT").await;
    let hook_a = app.create_webhook(&app_a, "http://127.0.0.1:9/a", &["contacts.created"], &[]).await;
    let hook_b = app.create_webhook(&app_b, "http://127.0.0.1:9/b", &["contacts.created"], &["RPT"]).await;
    World {
        app_a,
        key_a,
        hook_a: hook_a["id"].as_str().unwrap().to_string(),
        app_b,
        key_b,
        hook_b: hook_b["id"].as_str().unwrap().to_string(),
        secret_b: hook_b["secret"].as_str().unwrap().to_string(),
        installation_b,
    }
}

/// Pings `hook` with the admin token and returns the id of the delivery that attempt belongs to.
async fn delivery_of(app: &TestApp, hook: &str) -> String {
    let (status, out) = app
        .client
        .post(&format!("/webhooks/subscriptions/{hook}/ping"), ADMIN, json!({ "topicId": "contacts.created" }))
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, logs) = app.client.get(&format!("/webhooks/logs?webhookId={hook}"), ADMIN).await;
    logs[0]["deliveryId"].as_str().unwrap_or_else(|| panic!("a delivery id in {logs}")).to_string()
}

/// Every endpoint of the API with a request that would succeed for the admin (or an application key on its own
/// resources), so that a 401 can only come from the token. `delivery` is one of B's deliveries.
fn every_endpoint(w: &World, delivery: &str) -> Vec<(Method, String, Option<Value>)> {
    let hook = &w.hook_b;
    let put_hook = json!({ "url": "https://example.com/changed", "topicIds": ["contacts.created"] });
    vec![
        (Method::GET, "/apps".into(), None),
        (Method::POST, "/apps".into(), Some(json!({ "name": "X", "scopes": [] }))),
        (Method::GET, format!("/apps/{}", w.app_b), None),
        (Method::PUT, format!("/apps/{}", w.app_b), Some(json!({ "name": "Y", "scopes": [] }))),
        (Method::GET, "/installations".into(), None),
        (Method::POST, "/installations".into(), Some(json!({ "applicationId": w.app_a, "customerId": "ABC" }))),
        (Method::GET, format!("/installations/{}", w.installation_b), None),
        (Method::DELETE, format!("/installations/{}", w.installation_b), None),
        (
            Method::POST,
            "/changes".into(),
            Some(json!({ "customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null, "new": {} })),
        ),
        (Method::GET, "/webhooks/topics".into(), None),
        (Method::GET, "/webhooks/topics/contacts.created".into(), None),
        (Method::GET, "/webhooks/subscriptions".into(), None),
        (Method::POST, "/webhooks/subscriptions".into(), Some(webhook_body(&w.app_b, "contacts.created"))),
        (Method::GET, format!("/webhooks/subscriptions/{hook}"), None),
        (Method::PUT, format!("/webhooks/subscriptions/{hook}"), Some(put_hook.clone())),
        (Method::DELETE, format!("/webhooks/subscriptions/{hook}"), None),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/ping"), Some(json!({ "topicId": "contacts.created" }))),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/replay"), Some(json!({ "status": "all" }))),
        (Method::GET, format!("/webhooks/subscriptions/{hook}/secret"), None),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/secret/rotate"), None),
        (Method::GET, "/webhooks/logs".into(), None),
        (Method::POST, format!("/webhooks/deliveries/{delivery}/redeliver"), None),
        (Method::GET, format!("/webhooks/signing?applicationId={}", w.app_b), None),
        (Method::GET, "/analytics/deliveries".into(), None),
        (Method::GET, "/resthooks".into(), None),
        (
            Method::POST,
            "/resthooks".into(),
            Some(json!({ "url": "https://example.com/r", "topicIds": ["contacts.created"] })),
        ),
        (Method::GET, format!("/resthooks/{hook}"), None),
        (Method::PUT, format!("/resthooks/{hook}"), Some(put_hook)),
        (Method::DELETE, format!("/resthooks/{hook}"), None),
    ]
}

async fn call(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> crate::Reply {
    let headers = [("reapit-customer", "RPT")];
    match body {
        Some(b) => send_json(app, method, path, token, &headers, b).await,
        None => send(app, method, path, token, &headers, None).await,
    }
}

/// Asserts that B's webhook, app and installation are exactly as `world` left them.
async fn assert_b_untouched(app: &TestApp, w: &World) {
    let (status, hook) = app.client.get(&format!("/webhooks/subscriptions/{}", w.hook_b), ADMIN).await;
    assert_eq!(status, 200, "B's webhook still exists: {hook}");
    assert_eq!(hook["url"], "http://127.0.0.1:9/b", "B's webhook url is unchanged");
    let (_, secret) = app.client.get(&format!("/webhooks/subscriptions/{}/secret", w.hook_b), ADMIN).await;
    assert_eq!(secret["secret"], json!(w.secret_b), "B's secret was not rotated");
    let (_, b) = app.client.get(&format!("/apps/{}", w.app_b), ADMIN).await;
    assert_eq!(b["name"], "App B", "B's name is unchanged");
    let (_, inst) = app.client.get(&format!("/installations/{}", w.installation_b), ADMIN).await;
    assert_eq!(inst["terminated"], Value::Null, "B's installation is not terminated");
}

/// How many attempts the logs hold (a ping, replay or redelivery that ran would add some).
async fn attempts(app: &TestApp) -> usize {
    app.deliver().await;
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    logs.as_array().map(Vec::len).expect("logs are an array")
}

#[tokio::test]
async fn every_endpoint_answers_401_with_the_error_body_without_a_token() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let delivery = delivery_of(&app, &w.hook_b).await;
    for (method, path, body) in every_endpoint(&w, &delivery) {
        let r = call(&app, method.clone(), &path, None, body).await;
        assert_error(&r, 401, &format!("{method} {path} without a token"));
    }
    assert_b_untouched(&app, &w).await;
    assert_eq!(attempts(&app).await, 1, "only the setup's ping was attempted");
}

#[tokio::test]
async fn every_endpoint_answers_401_with_the_error_body_for_an_unknown_token() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let delivery = delivery_of(&app, &w.hook_b).await;
    let unknown_app_key = format!("{}x", w.key_a);
    for token in ["not-a-token", unknown_app_key.as_str(), "hk_unknown"] {
        for (method, path, body) in every_endpoint(&w, &delivery) {
            let r = call(&app, method.clone(), &path, Some(token), body).await;
            assert_error(&r, 401, &format!("{method} {path} with the unknown token {token:?}"));
        }
    }
    assert_b_untouched(&app, &w).await;
    assert_eq!(attempts(&app).await, 1, "only the setup's ping was attempted");
}

#[tokio::test]
async fn a_malformed_authorization_header_answers_401() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for value in ["Basic dXNlcjpwYXNz".to_string(), ADMIN.to_string(), "Bearer".to_string(), "Bearer ".to_string()] {
        let r = send(&app, Method::GET, "/webhooks/topics", None, &[("authorization", &value)], None).await;
        assert_error(&r, 401, &format!("Authorization: {value:?}"));
    }
    let r =
        send(&app, Method::GET, "/webhooks/topics", None, &[("authorization", &format!("Bearer {}", w.key_a))], None)
            .await;
    assert_eq!(r.status, 200, "a well-formed header with a good key works: {}", r.body);
}

#[tokio::test]
async fn an_application_key_gets_403_on_the_platform_api() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let platform: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/apps".into(), None),
        (Method::POST, "/apps".into(), Some(json!({ "name": "X", "scopes": [] }))),
        (Method::GET, format!("/apps/{}", w.app_b), None),
        (Method::GET, format!("/apps/{}", w.app_a), None),
        (Method::PUT, format!("/apps/{}", w.app_b), Some(json!({ "name": "Y", "scopes": [] }))),
        (Method::PUT, format!("/apps/{}", w.app_a), Some(json!({ "name": "Y", "scopes": ["tenancies.write"] }))),
        (Method::GET, "/installations".into(), None),
        (Method::POST, "/installations".into(), Some(json!({ "applicationId": w.app_a, "customerId": "ABC" }))),
        (Method::GET, format!("/installations/{}", w.installation_b), None),
        (Method::DELETE, format!("/installations/{}", w.installation_b), None),
        (
            Method::POST,
            "/changes".into(),
            Some(json!({ "customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null, "new": {} })),
        ),
    ];
    for key in [&w.key_a, &w.key_b] {
        for (method, path, body) in platform.clone() {
            let r = call(&app, method.clone(), &path, Some(key), body).await;
            assert_error(&r, 403, &format!("{method} {path} with an application key"));
        }
    }
    assert_b_untouched(&app, &w).await;
    let (_, a) = app.client.get(&format!("/apps/{}", w.app_a), ADMIN).await;
    assert_eq!(a["scopes"], json!(["contacts.read"]), "A could not widen its own scopes");
    let (_, apps) = app.client.get("/apps", ADMIN).await;
    assert_eq!(apps["totalCount"], 2, "no application was created with a key: {apps}");
    let (_, insts) = app.client.get("/installations", ADMIN).await;
    assert_eq!(insts["totalCount"], 1, "no installation was created with a key: {insts}");
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs, json!([]), "no change was published with a key");
}

#[tokio::test]
async fn an_application_key_cannot_touch_another_applications_webhooks() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let delivery = delivery_of(&app, &w.hook_b).await;
    let hook = &w.hook_b;
    let put_hook = json!({ "url": "https://example.com/stolen", "topicIds": ["contacts.created"] });
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/webhooks/subscriptions/{hook}"), None),
        (Method::PUT, format!("/webhooks/subscriptions/{hook}"), Some(put_hook)),
        (Method::DELETE, format!("/webhooks/subscriptions/{hook}"), None),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/ping"), Some(json!({ "topicId": "contacts.created" }))),
        (Method::GET, format!("/webhooks/subscriptions/{hook}/secret"), None),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/secret/rotate"), None),
        (Method::GET, format!("/webhooks/subscriptions?applicationId={}", w.app_b), None),
        (Method::GET, format!("/webhooks/logs?applicationId={}", w.app_b), None),
        (Method::GET, format!("/webhooks/signing?applicationId={}", w.app_b), None),
        (Method::GET, format!("/webhooks/topics?applicationId={}", w.app_b), None),
        (Method::GET, format!("/analytics/deliveries?applicationId={}", w.app_b), None),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/replay"), Some(json!({ "status": "all" }))),
        (Method::POST, format!("/webhooks/deliveries/{delivery}/redeliver"), None),
        (Method::POST, "/webhooks/subscriptions".into(), Some(webhook_body(&w.app_b, "contacts.created"))),
    ];
    for (method, path, body) in requests {
        let r = call(&app, method.clone(), &path, Some(&w.key_a), body).await;
        assert_error(&r, 404, &format!("{method} {path} with A's key"));
    }
    assert_b_untouched(&app, &w).await;
    let (_, b_hooks) = app.client.get(&format!("/webhooks/subscriptions?applicationId={}", w.app_b), ADMIN).await;
    assert_eq!(b_hooks["totalCount"], 1, "A created no webhook for B: {b_hooks}");
    assert_eq!(attempts(&app).await, 1, "A's ping, replay and redelivery of B's webhook made no attempt");
}

#[tokio::test]
async fn another_applications_id_answers_like_an_id_that_does_not_exist() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    for (theirs, none) in [
        (format!("/webhooks/subscriptions/{}", w.hook_b), format!("/webhooks/subscriptions/{nobody}")),
        (format!("/webhooks/signing?applicationId={}", w.app_b), format!("/webhooks/signing?applicationId={nobody}")),
        (
            format!("/webhooks/subscriptions?applicationId={}", w.app_b),
            format!("/webhooks/subscriptions?applicationId={nobody}"),
        ),
    ] {
        let a = send(&app, Method::GET, &theirs, Some(&w.key_a), &[], None).await;
        let b = send(&app, Method::GET, &none, Some(&w.key_a), &[], None).await;
        assert_error(&a, 404, &theirs);
        assert_error(&b, 404, &none);
        assert_eq!(a.body["description"], b.body["description"], "{theirs} and {none} must not be told apart");
    }
}

#[tokio::test]
async fn an_application_key_lists_reads_logs_and_keys_of_its_own_application_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // An attempt for each application, so that the logs have something to leak.
    for (id, hook) in [(&w.app_a, &w.hook_a), (&w.app_b, &w.hook_b)] {
        let (status, out) = app
            .client
            .post(&format!("/webhooks/subscriptions/{hook}/ping"), ADMIN, json!({ "topicId": "contacts.created" }))
            .await;
        assert_eq!(status, 200, "ping for {id}: {out}");
    }
    let (status, list) = app.client.get("/webhooks/subscriptions", &w.key_a).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(crate::embedded_ids(&list), vec![w.hook_a.clone()], "A's key lists A's webhooks only");
    let (status, logs) = app.client.get("/webhooks/logs", &w.key_a).await;
    assert_eq!(status, 200, "{logs}");
    let logs = logs.as_array().expect("logs are an array").clone();
    assert_eq!(logs.len(), 1, "A sees its own ping only: {logs:?}");
    assert_eq!(logs[0]["applicationId"], json!(w.app_a));
    assert_eq!(logs[0]["webhookId"], json!(w.hook_a));
    let (status, keys_a) = app.client.get("/webhooks/signing", &w.key_a).await;
    assert_eq!(status, 200, "{keys_a}");
    let (_, keys_b) = app.client.get(&format!("/webhooks/signing?applicationId={}", w.app_b), ADMIN).await;
    assert_ne!(keys_a["keys"], keys_b["keys"], "A's key shows A's signing key, not B's");
    let (status, own) = app.client.get(&format!("/webhooks/signing?applicationId={}", w.app_a), &w.key_a).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own, keys_a);
}

#[tokio::test]
async fn an_application_key_manages_its_own_webhooks() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let key = Some(w.key_a.as_str());
    let hook = &w.hook_a;
    let r = send(&app, Method::GET, &format!("/webhooks/subscriptions/{hook}"), key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        send(&app, Method::GET, &format!("/webhooks/subscriptions?applicationId={}", w.app_a), key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let put = json!({ "url": "http://127.0.0.1:9/a2", "topicIds": ["contacts.modified"] });
    let r = send_json(&app, Method::PUT, &format!("/webhooks/subscriptions/{hook}"), key, &[], put).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = send_json(
        &app,
        Method::POST,
        &format!("/webhooks/subscriptions/{hook}/ping"),
        key,
        &[],
        json!({ "topicId": "contacts.modified" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, Method::GET, &format!("/webhooks/subscriptions/{hook}/secret"), key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let old = r.body["secret"].clone();
    let r = send(&app, Method::POST, &format!("/webhooks/subscriptions/{hook}/secret/rotate"), key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.body["secret"], old, "rotation gives a new secret");
    let r = send(&app, Method::GET, "/webhooks/logs", key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let delivery = r.body[0]["deliveryId"].as_str().expect("the ping's delivery").to_string();
    let r = send(&app, Method::POST, &format!("/webhooks/deliveries/{delivery}/redeliver"), key, &[], None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = send_json(
        &app,
        Method::POST,
        &format!("/webhooks/subscriptions/{hook}/replay"),
        key,
        &[],
        json!({ "dryRun": true }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, Method::GET, &format!("/analytics/deliveries?applicationId={}", w.app_a), key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(&app, Method::GET, "/webhooks/topics", key, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        send_json(&app, Method::POST, "/webhooks/subscriptions", key, &[], webhook_body(&w.app_a, "contacts.created"))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["applicationId"], json!(w.app_a));
    let r = send(&app, Method::DELETE, &format!("/webhooks/subscriptions/{hook}"), key, &[], None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = send(&app, Method::GET, &format!("/webhooks/subscriptions/{hook}"), key, &[], None).await;
    assert_error(&r, 404, "a deleted webhook");
}

#[tokio::test]
async fn the_admin_can_act_on_any_applications_webhooks() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = &w.hook_b;
    let (status, got) = app.client.get(&format!("/webhooks/subscriptions/{hook}"), ADMIN).await;
    assert_eq!((status.as_u16(), got["applicationId"].clone()), (200, json!(w.app_b)), "{got}");
    let (status, list) = app.client.get(&format!("/webhooks/subscriptions?applicationId={}", w.app_b), ADMIN).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(crate::embedded_ids(&list), vec![hook.clone()]);
    let (status, all) = app.client.get("/webhooks/subscriptions", ADMIN).await;
    assert_eq!((status.as_u16(), all["totalCount"].clone()), (200, json!(2)), "the admin lists every webhook: {all}");
    let (status, out) = app
        .client
        .put(
            &format!("/webhooks/subscriptions/{hook}"),
            ADMIN,
            json!({ "url": "http://127.0.0.1:9/b2", "topicIds": ["contacts.created"] }),
        )
        .await;
    assert_eq!(status, 204, "{out}");
    let (status, out) = app
        .client
        .post(&format!("/webhooks/subscriptions/{hook}/ping"), ADMIN, json!({ "topicId": "contacts.created" }))
        .await;
    assert_eq!(status, 200, "{out}");
    let (status, secret) = app.client.get(&format!("/webhooks/subscriptions/{hook}/secret"), ADMIN).await;
    assert_eq!((status.as_u16(), secret["secret"].clone()), (200, json!(w.secret_b)));
    let (status, rotated) = app
        .client
        .call(Method::POST, &format!("/webhooks/subscriptions/{hook}/secret/rotate"), Some(ADMIN), None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["secret"], json!(w.secret_b));
    let (status, logs) = app.client.get(&format!("/webhooks/logs?applicationId={}", w.app_b), ADMIN).await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "the admin reads B's logs: {logs}");
    let delivery = logs[0]["deliveryId"].as_str().expect("deliveryId");
    let (status, out) =
        app.client.call(Method::POST, &format!("/webhooks/deliveries/{delivery}/redeliver"), Some(ADMIN), None).await;
    assert_eq!(status, 202, "the admin redelivers B's delivery: {out}");
    let (status, out) =
        app.client.post(&format!("/webhooks/subscriptions/{hook}/replay"), ADMIN, json!({ "dryRun": true })).await;
    assert_eq!(status, 200, "the admin replays B's webhook: {out}");
    let (status, out) = app.client.get(&format!("/analytics/deliveries?applicationId={}", w.app_b), ADMIN).await;
    assert_eq!(status, 200, "the admin reads B's analytics: {out}");
    let (status, keys) = app.client.get(&format!("/webhooks/signing?applicationId={}", w.app_b), ADMIN).await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["keys"][0]["crv"], "Ed25519");
    let (status, created) =
        app.client.post("/webhooks/subscriptions", ADMIN, webhook_body(&w.app_b, "contacts.created")).await;
    assert_eq!((status.as_u16(), created["applicationId"].clone()), (201, json!(w.app_b)), "{created}");
    let (status, out) = app.client.delete(&format!("/webhooks/subscriptions/{hook}"), ADMIN).await;
    assert_eq!(status, 204, "{out}");
    let (status, _) = app.client.get(&format!("/webhooks/subscriptions/{hook}"), ADMIN).await;
    assert_eq!(status, 404);
    // B's own key still works on its own webhooks.
    let (status, list) = app.client.get("/webhooks/subscriptions", &w.key_b).await;
    assert_eq!((status.as_u16(), list["totalCount"].clone()), (200, json!(1)), "{list}");
}

#[tokio::test]
async fn health_readiness_metrics_and_the_openapi_document_need_no_token() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let r = send(&app, Method::GET, path, None, &[], None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let r = send(&app, Method::GET, path, Some("garbage"), &[], None).await;
        assert_eq!(r.status, 200, "{path} ignores a bad token: {}", r.body);
    }
}
