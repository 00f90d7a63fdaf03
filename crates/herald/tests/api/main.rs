//! Contract tests of Herald's HTTP API (contract §2 auth, §3 errors, §4 platform API, §5 webhook management,
//! §6.1 paging): the real app on 127.0.0.1:0 with a fresh SQLite file per test, driven over HTTP only.

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

mod apps;
mod auth;
mod lifecycle;
mod paging;
mod resthooks;
mod topics;
mod validation;

use reqwest::Method;
use serde_json::{json, Value};

use support::{TestApp, ADMIN};

/// An answer with what the contract says about it: status, `Content-Type`, headers and the JSON body.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request with an optional bearer token, extra headers and raw body bytes (sent as JSON).
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut req = app.client.http.request(method, format!("{}{}", app.client.base, path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b);
    }
    let resp = req.send().await.expect("request to Herald");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, headers, body }
}

/// Sends a JSON value.
pub async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    send(app, method, path, token, headers, Some(serde_json::to_vec(&body).expect("json"))).await
}

/// Asserts the error answer of contract §3: the status, `Content-Type: application/json` and the body
/// `{ statusCode, dateTime, description, errors: [] }`.
pub fn assert_error(reply: &Reply, status: u16, context: &str) {
    assert_eq!(reply.status, status, "{context}: status; body {}", reply.body);
    let ct = reply.content_type().unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{context}: Content-Type is {ct:?}");
    assert_error_body(&reply.body, status, context);
}

/// Asserts the JSON error body of contract §3.
pub fn assert_error_body(body: &Value, status: u16, context: &str) {
    assert_eq!(body["statusCode"], json!(status), "{context}: statusCode in {body}");
    let description = body["description"].as_str().unwrap_or_default();
    assert!(!description.trim().is_empty(), "{context}: description in {body}");
    assert!(body["errors"].is_array(), "{context}: errors array in {body}");
    let when = body["dateTime"].as_str().unwrap_or_default();
    assert!(
        when.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(when).is_ok(),
        "{context}: dateTime {when:?} is not RFC 3339 UTC"
    );
}

/// The `field` of every error in an error body.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errs| errs.iter().map(|e| e["field"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

/// Asserts a 422 with the §3 body whose errors name `field`.
pub fn assert_422_naming(reply: &Reply, field: &str, context: &str) {
    assert_error(reply, 422, context);
    let fields = error_fields(&reply.body);
    assert!(fields.iter().any(|f| f == field), "{context}: expected an error naming {field:?}, got {}", reply.body);
}

/// The ids of the items of a paged answer.
pub fn embedded_ids(body: &Value) -> Vec<String> {
    body["_embedded"]
        .as_array()
        .unwrap_or_else(|| panic!("no _embedded array in {body}"))
        .iter()
        .map(|i| i["id"].as_str().expect("item id").to_string())
        .collect()
}

/// A webhook body for `app` with one topic, every optional field absent.
pub fn webhook_body(app: &str, topic: &str) -> Value {
    json!({ "applicationId": app, "url": "https://example.com/hook", "topicIds": [topic] })
}

/// Creates a webhook with the admin token, asserting 201; returns its id.
pub async fn admin_webhook(app: &TestApp, body: Value) -> String {
    let r = send_json(app, Method::POST, "/webhooks/subscriptions", Some(ADMIN), &[], body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().expect("webhook id").to_string()
}
