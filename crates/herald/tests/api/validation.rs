//! Contract §3 and §5.1: every rule of a webhook body answers 422 naming its field; malformed JSON 400, oversized
//! bodies 413, unknown paths 404 and wrong methods 405, all with the JSON error body. Also the rules of
//! `POST /changes` (§4.3), and the defaults and replace semantics of webhooks.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Opts, TestApp, ADMIN};
use crate::{assert_422_naming, assert_error, embedded_ids, error_fields, send, send_json, webhook_body};

/// An application holding `contacts.read`, installed for RPT.
async fn contacts_app(app: &TestApp) -> String {
    let (id, _, _) = app.create_app("Contacts", &["contacts.read"]).await;
    app.install(&id, "RPT").await;
    id
}

/// Creating this webhook answers 422 naming `field`; nothing is created.
async fn rejects(app: &TestApp, body: Value, field: &str) {
    let r = send_json(app, Method::POST, "/webhooks/subscriptions", Some(ADMIN), &[], body.clone()).await;
    assert_422_naming(&r, field, &format!("POST {body}"));
    let (_, list) = app.client.get("/webhooks/subscriptions", ADMIN).await;
    assert_eq!(list["totalCount"], 0, "a refused webhook is not stored: {list}");
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().expect("object").remove(key);
    body
}

#[tokio::test]
async fn a_webhook_without_url_is_refused_naming_url() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    rejects(&app, without(webhook_body(&a, "contacts.created"), "url"), "url").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "url", Value::Null), "url").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!("")), "url").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(42)), "url").await;
}

#[tokio::test]
async fn a_webhook_url_that_is_not_absolute_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    for url in ["/hook", "example.com/hook", "https//example.com", "not a url"] {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(url)), "url").await;
    }
}

#[tokio::test]
async fn a_webhook_url_with_another_scheme_than_https_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    for url in ["ftp://example.com/hook", "file:///etc/passwd", "mailto:a@example.com"] {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(url)), "url").await;
    }
}

#[tokio::test]
async fn a_url_with_an_upper_case_scheme_is_normalised_then_checked_on_create_and_update() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let bad =
        ["HTTPS://[::7f00:1]/", "HTTPS://user:pw@vm/x", "https:vm/x", "HTTPS://vm/x#frag", "Https://exa_mple.com/"];
    for url in bad {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(url)), "url").await;
    }
    let created = app
        .client
        .post(
            "/webhooks/subscriptions",
            ADMIN,
            with(webhook_body(&a, "contacts.created"), "url", json!("HTTPS://example.com/Hook")),
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["url"], "https://example.com/Hook", "the scheme is stored in lower case");
    let path = format!("/webhooks/subscriptions/{}", created.1["id"].as_str().unwrap());
    for url in bad {
        let body = json!({ "url": url, "topicIds": ["contacts.created"] });
        let r = send_json(&app, Method::PUT, &path, Some(ADMIN), &[], body.clone()).await;
        assert_422_naming(&r, "url", &format!("PUT {body}"));
    }
}

#[tokio::test]
async fn an_http_url_is_refused_unless_http_targets_are_allowed() {
    let app = TestApp::with(Opts { strict_targets: true, ..Opts::default() }).await;
    let a = contacts_app(&app).await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!("http://example.com/hook")), "url").await;
    let created = app.create_webhook(&a, "https://example.com/hook", &["contacts.created"], &[]).await;
    assert_eq!(created["url"], "https://example.com/hook", "https is accepted");
}

#[tokio::test]
async fn loopback_and_private_address_literals_are_refused_unless_private_targets_are_allowed() {
    let app = TestApp::with(Opts { strict_targets: true, ..Opts::default() }).await;
    let a = contacts_app(&app).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://127.1.2.3:8443/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
    ] {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(url)), "url").await;
    }
    let created = app.create_webhook(&a, "https://93.184.216.34/hook", &["contacts.created"], &[]).await;
    assert_eq!(created["url"], "https://93.184.216.34/hook", "a public address literal is accepted");
}

#[tokio::test]
async fn a_url_longer_than_300_characters_is_refused_and_300_is_accepted() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let base = "https://example.com/";
    let at_limit = format!("{base}{}", "a".repeat(300 - base.len()));
    let over = format!("{at_limit}a");
    assert_eq!((at_limit.len(), over.len()), (300, 301));
    rejects(&app, with(webhook_body(&a, "contacts.created"), "url", json!(over)), "url").await;
    let created = app.create_webhook(&a, &at_limit, &["contacts.created"], &[]).await;
    assert_eq!(created["url"], json!(at_limit));
}

#[tokio::test]
async fn topic_ids_missing_or_empty_are_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    rejects(&app, without(webhook_body(&a, "contacts.created"), "topicIds"), "topicIds").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "topicIds", json!([])), "topicIds").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "topicIds", json!("contacts.created")), "topicIds").await;
}

#[tokio::test]
async fn an_unknown_topic_is_refused_naming_its_index() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let body = with(webhook_body(&a, "contacts.created"), "topicIds", json!(["contacts.created", "contacts.exploded"]));
    rejects(&app, body, "topicIds[1]").await;
}

#[tokio::test]
async fn a_topic_whose_scope_the_application_lacks_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let body =
        with(webhook_body(&a, "contacts.created"), "topicIds", json!(["contacts.modified", "properties.created"]));
    rejects(&app, body, "topicIds[1]").await;
    // tenancies.modified needs tenancies.write, not tenancies.read.
    let (t, _, _) = app.create_app("Tenancies", &["tenancies.read"]).await;
    rejects(&app, webhook_body(&t, "tenancies.modified"), "topicIds[0]").await;
    // A topic without scope is fine for every application.
    let created =
        app.create_webhook(&t, "https://example.com/i", &["tenancies.created", "application.install"], &[]).await;
    assert_eq!(created["topicIds"], json!(["tenancies.created", "application.install"]));
}

#[tokio::test]
async fn a_duplicate_topic_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let body = with(webhook_body(&a, "contacts.created"), "topicIds", json!(["contacts.created", "contacts.created"]));
    rejects(&app, body, "topicIds[1]").await;
}

#[tokio::test]
async fn a_customer_without_a_current_installation_is_refused_naming_its_index() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let body = with(webhook_body(&a, "contacts.created"), "customerIds", json!(["NOPE"]));
    rejects(&app, body, "customerIds[0]").await;
    let body = with(webhook_body(&a, "contacts.created"), "customerIds", json!(["RPT", "NOPE"]));
    rejects(&app, body, "customerIds[1]").await;
    // Installed for another application does not count.
    let (b, _, _) = app.create_app("Other", &["contacts.read"]).await;
    app.install(&b, "OTH").await;
    let body = with(webhook_body(&a, "contacts.created"), "customerIds", json!(["OTH"]));
    rejects(&app, body, "customerIds[0]").await;
}

#[tokio::test]
async fn the_customer_of_a_terminated_installation_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let inst = app.install(&a, "OLD").await;
    let (status, out) = app.client.delete(&format!("/installations/{inst}"), ADMIN).await;
    assert_eq!(status, 204, "{out}");
    let body = with(webhook_body(&a, "contacts.created"), "customerIds", json!(["OLD"]));
    rejects(&app, body, "customerIds[0]").await;
}

#[tokio::test]
async fn the_sandbox_customer_needs_no_installation() {
    let app = TestApp::spawn().await;
    let (a, _, _) = app.create_app("Sandbox only", &["contacts.read"]).await;
    let created = app.create_webhook(&a, "https://example.com/s", &["contacts.created"], &["SBOX"]).await;
    assert_eq!(created["customerIds"], json!(["SBOX"]));
}

#[tokio::test]
async fn active_and_ignore_etag_only_changes_must_be_booleans() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    for bad in [json!("true"), json!(1), json!([]), json!({})] {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "active", bad.clone()), "active").await;
        rejects(
            &app,
            with(webhook_body(&a, "contacts.created"), "ignoreEtagOnlyChanges", bad),
            "ignoreEtagOnlyChanges",
        )
        .await;
    }
}

#[tokio::test]
async fn rate_limit_is_an_integer_from_1_to_10000_or_null() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    for bad in [json!(0), json!(10_001), json!(-1), json!(2.5), json!("50"), json!(true), json!([])] {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "rateLimit", bad), "rateLimit").await;
    }
    for good in [json!(1), json!(10_000), Value::Null] {
        let (status, body) = app
            .client
            .post(
                "/webhooks/subscriptions",
                ADMIN,
                with(webhook_body(&a, "contacts.created"), "rateLimit", good.clone()),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["rateLimit"], good);
    }
}

#[tokio::test]
async fn a_filter_must_be_a_valid_local_json_schema_object_of_at_most_16_kib() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let bad = [
        json!(true),
        json!("{}"),
        json!(7),
        json!([{"type": "object"}]),
        json!({"type": "no-such-type"}),
        json!({"required": "diff"}),
        json!({"$ref": "https://example.com/schema.json"}),
        json!({"$defs": {"x": {"$ref": "file:///etc/passwd"}}}),
        json!({"description": "d".repeat(16 * 1024)}),
    ];
    for filter in bad {
        rejects(&app, with(webhook_body(&a, "contacts.created"), "filter", filter), "filter").await;
    }
    // Just under the cap, a local $ref, and null are fine; the model returns the filter as given.
    let near_cap = json!({"description": "d".repeat(16 * 1024 - 20)});
    let local = json!({"$defs": {"id": {"type": "string"}}, "properties": {"entityId": {"$ref": "#/$defs/id"}}});
    for filter in [near_cap, local, Value::Null] {
        let created =
            app.create_webhook_with(with(webhook_body(&a, "contacts.created"), "filter", filter.clone())).await;
        assert_eq!(created["filter"], filter);
    }
}

#[tokio::test]
async fn a_description_that_is_too_long_or_not_text_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "description", json!("d".repeat(501))), "description")
        .await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "description", json!(7)), "description").await;
    let created = app.create_webhook_with(with(webhook_body(&a, "contacts.created"), "description", json!("ok"))).await;
    assert_eq!(created["description"], "ok");
}

#[tokio::test]
async fn a_missing_malformed_or_unknown_application_id_is_refused() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    rejects(&app, without(webhook_body(&a, "contacts.created"), "applicationId"), "applicationId").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "applicationId", json!("not-an-id")), "applicationId")
        .await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "applicationId", json!(12)), "applicationId").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    rejects(&app, with(webhook_body(&a, "contacts.created"), "applicationId", json!(unknown)), "applicationId").await;
}

#[tokio::test]
async fn every_broken_rule_of_one_body_is_reported() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let body = json!({
        "applicationId": a, "url": "ftp://x", "topicIds": ["nope"], "customerIds": ["NOPE"],
        "active": "yes", "ignoreEtagOnlyChanges": 0, "description": 5,
    });
    let r = send_json(&app, Method::POST, "/webhooks/subscriptions", Some(ADMIN), &[], body).await;
    assert_error(&r, 422, "a body breaking every rule");
    let mut fields = error_fields(&r.body);
    fields.sort();
    let expected = ["active", "customerIds[0]", "description", "ignoreEtagOnlyChanges", "topicIds[0]", "url"];
    assert_eq!(fields, expected, "{}", r.body);
}

#[tokio::test]
async fn absent_optional_fields_take_their_defaults() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let created = app.create_webhook_with(webhook_body(&a, "contacts.created")).await;
    for model in [
        created.clone(),
        app.client.get(&format!("/webhooks/subscriptions/{}", created["id"].as_str().unwrap()), ADMIN).await.1,
    ] {
        assert_eq!(model["active"], true, "{model}");
        assert_eq!(model["ignoreEtagOnlyChanges"], true, "{model}");
        assert_eq!(model["customerIds"], json!([]), "{model}");
        assert_eq!(model["applicationId"], json!(a), "{model}");
        assert_eq!(model["topicIds"], json!(["contacts.created"]), "{model}");
    }
    assert!(created["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "{created}");
    for key in ["created", "modified"] {
        let t = created[key].as_str().unwrap_or_default();
        assert!(t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{key} is RFC 3339 UTC: {t:?}");
    }
    let r = send_json(
        &app,
        Method::POST,
        "/webhooks/subscriptions",
        Some(ADMIN),
        &[],
        webhook_body(&a, "contacts.created"),
    )
    .await;
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.header("location"), Some(format!("/webhooks/subscriptions/{id}").as_str()), "Location header");
}

#[tokio::test]
async fn malformed_json_answers_400_with_the_error_body() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let hook = app.create_webhook(&a, "https://example.com/h", &["contacts.created"], &[]).await;
    let hook = hook["id"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/webhooks/subscriptions".to_string()),
        (Method::PUT, format!("/webhooks/subscriptions/{hook}")),
        (Method::POST, "/changes".to_string()),
        (Method::POST, "/apps".to_string()),
        (Method::POST, "/installations".to_string()),
    ] {
        for bytes in [&b"{not json"[..], b"", b"{\"url\": "] {
            let r = send(&app, method.clone(), &path, Some(ADMIN), &[], Some(bytes.to_vec())).await;
            assert_error(&r, 400, &format!("{method} {path} with {:?}", String::from_utf8_lossy(bytes)));
        }
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_answers_422() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let hook = app.create_webhook(&a, "https://example.com/h", &["contacts.created"], &[]).await;
    let hook = hook["id"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/webhooks/subscriptions".to_string()),
        (Method::PUT, format!("/webhooks/subscriptions/{hook}")),
        (Method::POST, "/changes".to_string()),
        (Method::POST, "/apps".to_string()),
    ] {
        for body in [json!([1, 2]), json!("text"), json!(3), Value::Null] {
            let r = send_json(&app, method.clone(), &path, Some(ADMIN), &[], body.clone()).await;
            assert_error(&r, 422, &format!("{method} {path} with {body}"));
        }
    }
}

#[tokio::test]
async fn a_changes_body_over_one_mebibyte_answers_413_with_the_error_body() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(1024 * 1024);
    let body = json!({ "customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null,
        "new": { "notes": big } });
    let r = send_json(&app, Method::POST, "/changes", Some(ADMIN), &[], body).await;
    assert_error(&r, 413, "a change over 1 MiB");
    // Just under the limit is accepted.
    let fits = "x".repeat(1024 * 1024 - 200);
    let body = json!({ "customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null,
        "new": { "notes": fits } });
    let r = send_json(&app, Method::POST, "/changes", Some(ADMIN), &[], body).await;
    assert_eq!(r.status, 202, "a change just under 1 MiB is accepted: {}", r.body);
}

#[tokio::test]
async fn an_unknown_path_answers_404_with_the_error_body() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/webhooks", "/webhooks/subscriptions/x/y/z", "/apps/a/b"] {
        let r = send(&app, Method::GET, path, Some(ADMIN), &[], None).await;
        assert_error(&r, 404, path);
    }
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_the_error_body() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::DELETE, "/apps"),
        (Method::PATCH, "/webhooks/subscriptions"),
        (Method::GET, "/changes"),
        (Method::PUT, "/webhooks/topics"),
        (Method::GET, "/webhooks/subscriptions/0190c0de-0000-7000-8000-000000000000/ping"),
        (Method::DELETE, "/webhooks/logs"),
    ] {
        let r = send(&app, method.clone(), path, Some(ADMIN), &[], None).await;
        assert_error(&r, 405, &format!("{method} {path}"));
    }
}

#[tokio::test]
async fn put_replaces_url_and_topics_and_keeps_absent_optional_fields() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let created = app
        .create_webhook_with(json!({
            "applicationId": a, "url": "https://example.com/old", "topicIds": ["contacts.created", "contacts.optedout"],
            "customerIds": ["RPT"], "description": "kept", "active": false, "ignoreEtagOnlyChanges": false,
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/webhooks/subscriptions/{id}");
    let r = send_json(
        &app,
        Method::PUT,
        &path,
        Some(ADMIN),
        &[],
        json!({ "url": "https://example.com/new", "topicIds": ["contacts.modified"] }),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, Value::Null, "204 has no body");
    let (_, got) = app.client.get(&path, ADMIN).await;
    assert_eq!(got["url"], "https://example.com/new");
    assert_eq!(got["topicIds"], json!(["contacts.modified"]));
    assert_eq!(got["description"], "kept");
    assert_eq!(got["active"], false);
    assert_eq!(got["ignoreEtagOnlyChanges"], false);
    assert_eq!(got["customerIds"], json!(["RPT"]));
    assert_eq!(got["applicationId"], json!(a));
    assert_eq!(got["created"], created["created"]);
    // Optional fields given are replaced.
    let (status, _) = app
        .client
        .put(
            &path,
            ADMIN,
            json!({ "url": "https://example.com/new", "topicIds": ["contacts.modified"], "customerIds": [],
                "active": true, "ignoreEtagOnlyChanges": true, "description": null }),
        )
        .await;
    assert_eq!(status, 204);
    let (_, got) = app.client.get(&path, ADMIN).await;
    assert_eq!((got["customerIds"].clone(), got["active"].clone()), (json!([]), json!(true)), "{got}");
    assert_eq!((got["ignoreEtagOnlyChanges"].clone(), got["description"].clone()), (json!(true), Value::Null), "{got}");
}

#[tokio::test]
async fn put_applies_the_rules_of_create() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let created = app.create_webhook(&a, "https://example.com/h", &["contacts.created"], &[]).await;
    let path = format!("/webhooks/subscriptions/{}", created["id"].as_str().unwrap());
    let good = json!({ "url": "https://example.com/h2", "topicIds": ["contacts.modified"] });
    for (body, field) in [
        (without(good.clone(), "url"), "url"),
        (without(good.clone(), "topicIds"), "topicIds"),
        (with(good.clone(), "topicIds", json!(["properties.created"])), "topicIds[0]"),
        (with(good.clone(), "customerIds", json!(["NOPE"])), "customerIds[0]"),
        (with(good.clone(), "active", json!("no")), "active"),
        (with(good.clone(), "url", json!("ftp://example.com")), "url"),
    ] {
        let r = send_json(&app, Method::PUT, &path, Some(ADMIN), &[], body.clone()).await;
        assert_422_naming(&r, field, &format!("PUT {body}"));
    }
    let (_, got) = app.client.get(&path, ADMIN).await;
    assert_eq!(got["url"], "https://example.com/h", "a refused PUT changes nothing");
    assert_eq!(got["topicIds"], json!(["contacts.created"]));
}

#[tokio::test]
async fn delete_answers_204_then_the_webhook_is_gone() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let keep = app.create_webhook(&a, "https://example.com/keep", &["contacts.created"], &[]).await;
    let gone = app.create_webhook(&a, "http://127.0.0.1:9/gone", &["contacts.created"], &[]).await;
    let gone = gone["id"].as_str().unwrap();
    let path = format!("/webhooks/subscriptions/{gone}");
    let (status, out) = app.client.post(&format!("{path}/ping"), ADMIN, json!({ "topicId": "contacts.created" })).await;
    assert_eq!(status, 200, "{out}");
    let r = send(&app, Method::DELETE, &path, Some(ADMIN), &[], None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, Value::Null, "204 has no body");
    assert_error(&send(&app, Method::GET, &path, Some(ADMIN), &[], None).await, 404, "GET after DELETE");
    assert_error(&send(&app, Method::DELETE, &path, Some(ADMIN), &[], None).await, 404, "DELETE twice");
    let put = json!({ "url": "https://example.com/x", "topicIds": ["contacts.created"] });
    assert_error(&send_json(&app, Method::PUT, &path, Some(ADMIN), &[], put).await, 404, "PUT after DELETE");
    let ping = json!({ "topicId": "contacts.created" });
    let r = send_json(&app, Method::POST, &format!("{path}/ping"), Some(ADMIN), &[], ping).await;
    assert_error(&r, 404, "ping after DELETE");
    assert_error(&send(&app, Method::GET, &format!("{path}/secret"), Some(ADMIN), &[], None).await, 404, "secret");
    let r = send(&app, Method::POST, &format!("{path}/secret/rotate"), Some(ADMIN), &[], None).await;
    assert_error(&r, 404, "rotate after DELETE");
    let (_, logs) = app.client.get(&format!("/webhooks/logs?webhookId={gone}"), ADMIN).await;
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "the logs keep a deleted webhook's attempts: {logs}");
    let out = app.publish(created_contact("RPT", "AFTER")).await;
    assert_eq!(out["events"][0]["deliveries"], 1, "only the kept webhook receives events: {out}");
    for list in ["/webhooks/subscriptions".to_string(), format!("/webhooks/subscriptions?applicationId={a}")] {
        let (_, body) = app.client.get(&list, ADMIN).await;
        assert_eq!(embedded_ids(&body), vec![keep["id"].as_str().unwrap().to_string()], "{list}");
        assert_eq!(body["totalCount"], 1, "{list}");
    }
}

/// A valid change of contact `entity` for `customer`, created.
fn created_contact(customer: &str, entity: &str) -> Value {
    json!({ "customerId": customer, "entityType": "contacts", "entityId": entity, "old": null,
        "new": { "id": entity, "forename": "Jo" } })
}

/// `POST /changes` with this body answers 422 naming `field`.
async fn change_rejected(app: &TestApp, body: Value, field: &str) {
    let r = send_json(app, Method::POST, "/changes", Some(ADMIN), &[], body.clone()).await;
    assert_422_naming(&r, field, &format!("POST /changes {body}"));
}

#[tokio::test]
async fn a_change_breaking_a_rule_answers_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let good = created_contact("RPT", "C1");
    change_rejected(&app, with(good.clone(), "entityType", json!("unicorns")), "entityType").await;
    change_rejected(&app, without(good.clone(), "entityType"), "entityType").await;
    change_rejected(&app, without(good.clone(), "entityId"), "entityId").await;
    change_rejected(&app, with(good.clone(), "entityId", json!("")), "entityId").await;
    change_rejected(&app, without(good.clone(), "customerId"), "customerId").await;
    change_rejected(&app, with(good.clone(), "new", json!([1])), "new").await;
    change_rejected(&app, with(good.clone(), "old", json!("x")), "old").await;
    change_rejected(&app, with(good.clone(), "eventId", json!("not-a-uuid")), "eventId").await;
    change_rejected(&app, with(good.clone(), "eventTime", json!("yesterday")), "eventTime").await;
    change_rejected(&app, with(good.clone(), "eventTime", json!(1_700_000_000)), "eventTime").await;
    change_rejected(&app, with(good.clone(), "eventTime", json!("2020-05-13T09:33:16")), "eventTime").await;
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs, json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_change_with_both_sides_null_answers_422() {
    let app = TestApp::spawn().await;
    let body = json!({ "customerId": "RPT", "entityType": "contacts", "entityId": "C1", "old": null, "new": null });
    let r = send_json(&app, Method::POST, "/changes", Some(ADMIN), &[], body).await;
    assert_error(&r, 422, "both sides null");
    let fields = error_fields(&r.body);
    assert!(fields.iter().any(|f| f == "old" || f == "new"), "names old or new: {}", r.body);
}

#[tokio::test]
async fn a_batch_names_the_field_of_the_change_that_broke_a_rule() {
    let app = TestApp::spawn().await;
    let r = send_json(&app, Method::POST, "/changes", Some(ADMIN), &[], json!({ "changes": [] })).await;
    assert_422_naming(&r, "changes", "an empty batch");
    let body = json!({ "changes": [created_contact("RPT", "C1"), without(created_contact("RPT", "C2"), "entityId")] });
    change_rejected(&app, body, "changes[1].entityId").await;
    let body = json!({ "changes": [with(created_contact("RPT", "C1"), "entityType", json!("x")), created_contact("RPT", "C2")] });
    change_rejected(&app, body, "changes[0].entityType").await;
    let body =
        json!({ "changes": [created_contact("RPT", "C1"), with(created_contact("RPT", "C2"), "new", json!(3))] });
    change_rejected(&app, body, "changes[1].new").await;
    let body = json!({ "changes": [created_contact("RPT", "C1"), with(created_contact("RPT", "C2"), "eventTime", json!("noon"))] });
    change_rejected(&app, body, "changes[1].eventTime").await;
    let body = json!({ "eventId": "nope", "changes": [created_contact("RPT", "C1")] });
    change_rejected(&app, body, "eventId").await;
    change_rejected(&app, json!({ "changes": {} }), "changes").await;
}

#[tokio::test]
async fn a_change_for_a_customer_nobody_serves_is_accepted_and_routed_to_nobody() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&a, &receiver.url(), &["contacts.created", "contacts.modified"], &[]).await;
    let out = app.publish(created_contact("UNKNOWN", "C9")).await;
    let events = out["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!(events[0]["topicId"], "contacts.created");
    assert_eq!(events[0]["deliveries"], 0, "{out}");
    assert!(out["eventId"].as_str().is_some_and(|e| uuid::Uuid::parse_str(e).is_ok()), "{out}");
    assert_eq!(app.deliver().await, 0, "nothing to deliver");
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn a_refused_batch_stores_nothing_and_a_later_change_yields_only_its_own_events() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&a, &receiver.url(), &["contacts.created", "contacts.modified"], &[]).await;
    let batch = json!({ "changes": [created_contact("RPT", "HALF1"), created_contact("RPT", "HALF2"),
        without(created_contact("RPT", "HALF3"), "entityType")] });
    change_rejected(&app, batch, "changes[2].entityType").await;
    assert_eq!(app.deliver().await, 0, "the refused batch left no delivery");
    let (status, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!((status.as_u16(), logs.clone()), (200, json!([])), "logs stay empty");

    let out = app.publish(created_contact("RPT", "GOOD")).await;
    let events = out["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!((events[0]["entityId"].clone(), events[0]["deliveries"].clone()), (json!("GOOD"), json!(1)), "{out}");
    assert_eq!(app.deliver_all(Duration::from_secs(5)).await, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["entityId"], "GOOD");
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    let logs = logs.as_array().expect("logs").clone();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["entityId"], "GOOD");
}

#[tokio::test]
async fn list_and_log_filters_that_break_a_rule_answer_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("/webhooks/subscriptions?active=maybe", "active"),
        ("/webhooks/subscriptions?applicationId=nope", "applicationId"),
        ("/webhooks/logs?from=yesterday", "from"),
        ("/webhooks/logs?to=2020-01-01", "to"),
        ("/webhooks/logs?eventId=nope", "eventId"),
        ("/webhooks/logs?webhookId=nope", "webhookId"),
        ("/webhooks/logs?applicationId=nope", "applicationId"),
        ("/webhooks/signing?applicationId=nope", "applicationId"),
    ] {
        let r = send(&app, Method::GET, query, Some(ADMIN), &[], None).await;
        assert_422_naming(&r, field, query);
    }
    let (status, logs) = app.client.get("/webhooks/logs?customerId=NOBODY", ADMIN).await;
    assert_eq!((status.as_u16(), logs), (200, json!([])), "empty logs are an empty array, never 404");
}

#[tokio::test]
async fn log_bounds_outside_the_years_0001_to_9999_answer_422_naming_the_bound() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("/webhooks/logs?to=%2B262142-12-31T00:00:00Z", "to"),
        ("/webhooks/logs?from=9999-12-31T23:59:59-23:59", "from"),
        ("/webhooks/logs?to=0000-01-01T00:00:00%2B23:59", "to"),
        ("/webhooks/logs?from=0000-01-01T00:00:00Z", "from"),
    ] {
        let r = send(&app, Method::GET, query, Some(ADMIN), &[], None).await;
        assert_422_naming(&r, field, query);
    }
    let (status, logs) =
        app.client.get("/webhooks/logs?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", ADMIN).await;
    assert_eq!((status.as_u16(), logs), (200, json!([])), "the widest range is fine");
}

#[tokio::test]
async fn a_ping_for_a_topic_the_webhook_lacks_answers_422_naming_topic_id() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let hook = app.create_webhook(&a, "http://127.0.0.1:9/h", &["contacts.created"], &[]).await;
    let path = format!("/webhooks/subscriptions/{}/ping", hook["id"].as_str().unwrap());
    for body in [json!({ "topicId": "contacts.modified" }), json!({ "topicId": "nope" }), json!({})] {
        let r = send_json(&app, Method::POST, &path, Some(ADMIN), &[], body.clone()).await;
        assert_422_naming(&r, "topicId", &format!("ping {body}"));
    }
    let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs, json!([]), "a refused ping makes no attempt");
}

#[tokio::test]
async fn strange_input_never_answers_500() {
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let hook = app.create_webhook(&a, "https://example.com/h", &["contacts.created"], &[]).await;
    let hook = hook["id"].as_str().unwrap().to_string();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        br#"{"url": "\ud800"}"#.to_vec(),
        br#"{"customerId": "RPT", "entityType": "contacts", "entityId": "X", "old": null, "new": {"n": 1e400}}"#
            .to_vec(),
        serde_json::to_vec(&json!({ "applicationId": a, "url": "https://example.com/h",
            "topicIds": vec!["contacts.created"; 5000] }))
        .unwrap(),
        serde_json::to_vec(&json!({ "applicationId": a, "url": "https://example.com/h",
            "topicIds": ["contacts.created"], "customerIds": vec!["C"; 5000] }))
        .unwrap(),
        serde_json::to_vec(&json!({ "applicationId": a, "url": "https://\u{0}.example.com/h",
            "topicIds": ["contacts.created"] }))
        .unwrap(),
        serde_json::to_vec(&json!({ "applicationId": a, "url": format!("https://{}.com/", "a".repeat(280)),
            "topicIds": ["contacts.created"] }))
        .unwrap(),
    ];
    let targets = [
        (Method::POST, "/webhooks/subscriptions".to_string()),
        (Method::PUT, format!("/webhooks/subscriptions/{hook}")),
        (Method::POST, "/changes".to_string()),
        (Method::POST, "/apps".to_string()),
        (Method::POST, "/installations".to_string()),
        (Method::POST, format!("/webhooks/subscriptions/{hook}/ping")),
    ];
    for (method, path) in &targets {
        for body in &bodies {
            let r = send(&app, method.clone(), path, Some(ADMIN), &[], Some(body.clone())).await;
            let what = format!("{method} {path} with {}", String::from_utf8_lossy(&body[..body.len().min(80)]));
            assert!(r.status < 500, "{what}: {} {}", r.status, r.body);
            if r.status >= 400 {
                assert_error(&r, r.status, &what);
            }
        }
    }
    for path in [
        "/webhooks/subscriptions/%00".to_string(),
        format!("/webhooks/subscriptions/{}", "9".repeat(5000)),
        "/webhooks/topics/%FF%FE".to_string(),
        "/apps/..%2F..%2Fetc".to_string(),
        "/installations/-1".to_string(),
        "/webhooks/subscriptions?pageNumber=4294967296&pageSize=100".to_string(),
        "/webhooks/topics?pageNumber=1000000&pageSize=100".to_string(),
        "/webhooks/logs?limit=99999999999999999999".to_string(),
        "/webhooks/subscriptions?pageSize=%ZZ".to_string(),
    ] {
        let r = send(&app, Method::GET, &path, Some(ADMIN), &[], None).await;
        assert!(r.status < 500, "GET {path}: {} {}", r.status, r.body);
        if r.status >= 400 {
            assert_error(&r, r.status, &path);
        }
    }
}

#[tokio::test]
async fn text_with_a_nul_character_is_refused_on_every_backend() {
    // PostgreSQL refuses NUL in text: it must be a 4xx naming the field there too, never a 500.
    let app = TestApp::spawn().await;
    let a = contacts_app(&app).await;
    let r = send_json(&app, Method::POST, "/apps", Some(ADMIN), &[], json!({"name": "a\u{0}b", "scopes": []})).await;
    assert_422_naming(&r, "name", "an application name with NUL");
    rejects(&app, with(webhook_body(&a, "contacts.created"), "description", json!("x\u{0}")), "description").await;
    rejects(&app, with(webhook_body(&a, "contacts.created"), "customerIds", json!(["R\u{0}T"])), "customerIds[0]")
        .await;
    let change = json!({"customerId": "RPT", "entityType": "contacts", "entityId": "A\u{0}", "new": {"id": "A"}});
    let r = send_json(&app, Method::POST, "/changes", Some(ADMIN), &[], change).await;
    assert_422_naming(&r, "entityId", "a change id with NUL");
    for path in ["/installations?customerId=R%00T", "/webhooks/subscriptions?customerId=%00", "/apps/%00"] {
        let r = send(&app, Method::GET, path, Some(ADMIN), &[], None).await;
        assert_error(&r, 400, path);
    }
}
