//! The OpenAPI document (`GET /openapi.json`): served without a token, equal to the committed `docs/openapi.json`,
//! covering every route of the API with its security and error answers.
//!
//! After changing the API, regenerate the committed copy with
//! `HERALD_UPDATE_OPENAPI=1 cargo test -p herald --test openapi`.

#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::TestApp;

/// The committed copy of the document.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
/// Where the API's routes are declared.
const ROUTES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/src/api/mod.rs");
/// What needs no token (contract §2).
const PUBLIC: &[&str] = &["/openapi.json", "/healthz", "/readyz", "/metrics"];
const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

/// The document as served: its text and its JSON.
async fn served(app: &TestApp) -> (String, Value) {
    let url = format!("http://{}/openapi.json", app.running().addr);
    let resp = reqwest::get(&url).await.expect("GET /openapi.json");
    assert_eq!(resp.status(), 200, "GET /openapi.json without a token");
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let text = resp.text().await.expect("body");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    (text, doc)
}

/// Every (METHOD, path) the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every (METHOD, path) routed in `crates/web/src/api/mod.rs`: `.route("/path", get(..).post(..))`.
fn routed() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(ROUTES).expect("read the routes");
    let mut out = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let rest = &line[".route(\"".len()..];
        let Some(end) = rest.find('"') else { continue };
        let (path, handlers) = (&rest[..end], &rest[end..]);
        for m in METHODS {
            if [" ", ".", "("].iter().any(|before| handlers.contains(&format!("{before}{m}("))) {
                out.insert((m.to_uppercase(), path.to_string()));
            }
        }
    }
    assert!(out.len() > 20, "found too few routes in {ROUTES}: {out:?}");
    out
}

#[tokio::test]
async fn the_served_document_is_the_committed_docs_openapi_json() {
    let app = TestApp::spawn().await;
    let (text, _) = served(&app).await;
    let text = format!("{}\n", text.trim_end());
    if std::env::var("HERALD_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &text).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == text,
        "docs/openapi.json differs from the document Herald serves at /openapi.json.\n\
         Regenerate it with: HERALD_UPDATE_OPENAPI=1 cargo test -p herald --test openapi"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_route_of_the_api_is_documented_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (_, doc) = served(&app).await;
    let documented = operations(&doc);
    let routed = routed();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes without an OpenAPI operation: {undocumented:?}");
    assert!(unrouted.is_empty(), "OpenAPI operations without a route: {unrouted:?}");
    let mut ids = BTreeSet::new();
    for (method, path) in &documented {
        let id = doc["paths"][path][method.to_lowercase()]["operationId"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty() && ids.insert(id.clone()), "{method} {path}: missing or repeated operationId {id:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_operation_but_health_metrics_and_the_document_needs_the_bearer_token() {
    let app = TestApp::spawn().await;
    let (_, doc) = served(&app).await;
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let client = reqwest::Client::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let public = PUBLIC.contains(&path.as_str());
        let url =
            format!("http://{}{}", app.running().addr, path.replace("{id}", "0190c3a1-0000-7000-8000-000000000000"));
        let status =
            client.request(method.parse().expect("method"), &url).send().await.expect("request").status().as_u16();
        if public {
            assert!(op.get("security").is_none(), "{method} {path} declares security");
            assert_ne!(status, 401, "{method} {path} asked for a token");
        } else {
            assert_eq!(op["security"], serde_json::json!([{ "bearer": [] }]), "{method} {path}");
            assert!(op["responses"].get("401").is_some(), "{method} {path} does not document 401");
            assert_eq!(status, 401, "{method} {path} without a token");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn every_error_answer_is_documented_with_the_error_body() {
    let app = TestApp::spawn().await;
    let (_, doc) = served(&app).await;
    let error_model = serde_json::json!({ "$ref": "#/components/schemas/ErrorModel" });
    let schema_of = |response: &Value| -> Value {
        let response = match response.get("$ref").and_then(Value::as_str) {
            Some(r) => &doc["components"]["responses"][r.trim_start_matches("#/components/responses/")],
            None => response,
        };
        response["content"]["application/json"]["schema"].clone()
    };
    for (method, path) in operations(&doc) {
        let responses = doc["paths"][&path][method.to_lowercase()]["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(schema_of(response), error_model, "{method} {path} {status}");
            }
        }
    }
    let required: Vec<&str> = doc["components"]["schemas"]["ErrorModel"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, ["statusCode", "dateTime", "description", "errors"]);
    app.stop().await;
}

#[tokio::test]
async fn an_id_that_is_not_utf8_answers_the_documented_400_with_the_error_body() {
    let app = TestApp::spawn().await;
    let url = format!("http://{}/webhooks/subscriptions/%FF%FE", app.running().addr);
    let resp = reqwest::Client::new().get(&url).bearer_auth(support::ADMIN).send().await.expect("request");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(body["statusCode"], 400, "{body}");
    app.stop().await;
}
