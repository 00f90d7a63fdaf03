//! The Manage page and the webhook form in the browser: create, validation errors, edit, ping, secret, delete.

use herald_testkit::{Behaviour, Receiver};
use serde_json::Value;

use crate::browser::{Browser, PHONE};
use crate::support::{TestApp, ADMIN};
use crate::Fixture;

/// The `<tbody>` of a webhook in the Manage table.
fn row(id: &str) -> String {
    format!("tbody.webhook[data-id='{id}']")
}

/// Expands a webhook's row.
async fn open_details(b: &Browser, id: &str) {
    let details = format!("#details-{id}");
    if b.find(&details).await.attr("hidden").await.unwrap().is_some() {
        b.click(&format!("{} button.toggle", row(id))).await;
    }
    b.until("the details to open", || async {
        let shown = b.find(&details).await.is_displayed().await.ok()?;
        shown.then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_webhook_created_through_the_form_is_listed_and_seen_by_the_api() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;

    b.click("#add-webhook").await;
    b.wait_path("/ui/webhooks/new").await;
    // Defaults: active, eTag-only changes ignored, all customers.
    assert!(b.is_checked("#active").await);
    assert!(b.is_checked("#ignoreEtagOnlyChanges").await);
    assert!(!b.is_checked("#ordered").await, "unordered by default");
    assert!(b.is_checked("#customer-all").await);

    b.fill("#url", &receiver.url()).await;
    b.fill("#description", "CRM sync").await;
    // The topic search narrows the list; descriptions are shown.
    b.fill("#topic-search", "contacts created").await;
    b.until("the topic list to filter", || async {
        let shown = b.find("#topic-contacts-created").await.is_displayed().await.ok()?;
        let hidden = !b.find("#topic-offers-created").await.is_displayed().await.ok()?;
        (shown && hidden).then_some(())
    })
    .await;
    b.wait_text("#topic-list", "Occurs when a new").await;
    b.check("#topic-contacts-created", true).await;
    b.fill("#topic-search", "").await;
    b.check("#topic-offers-created", true).await;
    b.screenshot("webhook-form").await;
    b.click("#submit").await;

    b.wait_path("/ui/webhooks").await;
    b.wait_text(".flash.ok", "Webhook created").await;
    let hooks = f.api_webhooks().await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook = &hooks[0];
    assert_eq!(hook["url"], receiver.url());
    assert_eq!(hook["description"], "CRM sync");
    assert_eq!(hook["topicIds"], serde_json::json!(["contacts.created", "offers.created"]));
    assert_eq!(hook["customerIds"], serde_json::json!([]));
    assert_eq!(hook["active"], true);
    assert_eq!(hook["ignoreEtagOnlyChanges"], true);
    assert_eq!(hook["ordered"], false);

    let id = hook["id"].as_str().unwrap();
    let summary = b.find(&format!("{} tr.summary", row(id))).await.text().await.unwrap();
    for needle in [receiver.url().as_str(), "contacts.created", "offers.created", "All customers", "Active", "Never"] {
        assert!(summary.contains(needle), "the row shows {needle}: {summary}");
    }
    b.find(&format!("{} svg[role=img]", row(id))).await;
    b.screenshot("manage").await;
    b.resize(PHONE).await;
    b.screenshot("manage-phone").await;
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn validation_errors_are_shown_next_to_their_fields() {
    let f =
        Fixture::new(TestApp::with(crate::support::Opts { strict_targets: true, ..Default::default() }).await).await;
    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;
    b.goto("/ui/webhooks/new").await;

    // The same rule as the API: https only (this Herald does not allow http targets).
    b.fill("#url", "http://example.com/hook").await;
    b.click("#submit").await;
    let url_error = b.wait_text("#url-error", "must use the https scheme").await;
    assert!(!url_error.is_empty());
    assert_eq!(b.find("#url").await.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    b.wait_text("#topicIds-error", "at least one topic").await;
    // What was typed is kept.
    assert_eq!(b.value("#url").await, "http://example.com/hook");
    b.screenshot("webhook-form-errors").await;
    assert!(f.api_webhooks().await.is_empty(), "nothing was created");

    b.fill("#url", "not a url").await;
    b.check("#topic-contacts-created", true).await;
    b.click("#submit").await;
    b.wait_text("#url-error", "must be an absolute URL").await;
    assert!(b.find_all("#topicIds-error").await.is_empty(), "the topics are fine now");
    assert!(b.is_checked("#topic-contacts-created").await, "the chosen topic stays chosen");
    b.resize(PHONE).await;
    b.screenshot("webhook-form-errors-phone").await;
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn editing_a_webhook_changes_its_topics_and_customers() {
    let f = Fixture::new(TestApp::spawn().await).await;
    f.app.install(&f.app_id, "ABC").await;
    let hook = f.app.create_webhook(&f.app_id, "https://example.com/hook", &["contacts.created"], &[]).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let b = Browser::start(&f.base()).await;
    b.sign_in(ADMIN).await;

    open_details(&b, &id).await;
    b.click(&format!("#details-{id} a[href$='/edit']")).await;
    b.wait_path(&format!("/ui/webhooks/{id}/edit")).await;
    assert!(b.is_checked("#topic-contacts-created").await);
    b.check("#topic-contacts-created", false).await;
    b.check("#topic-contacts-modified", true).await;
    b.check("#topic-offers-accepted", true).await;
    // Customers: the sandbox and each installed customer, by name and id.
    let customers = b.find("#customer-list").await.text().await.unwrap();
    for needle in ["All customers", "Sandbox (SBOX)", "RPT Estates (RPT)", "ABC Estates (ABC)"] {
        assert!(customers.contains(needle), "{needle} is offered: {customers}");
    }
    let sbox = "#customer-list input[value='SBOX']";
    b.check(sbox, true).await;
    assert!(!b.is_checked("#customer-all").await, "choosing a customer clears All customers");
    b.check("#customer-list input[value='ABC']", true).await;
    b.check("#ignoreEtagOnlyChanges", false).await;
    b.check("#ordered", true).await;
    assert_eq!(b.value("#rateLimit").await, "", "no rate limit by default");
    b.fill("#rateLimit", "50").await;
    b.check("#active", false).await;
    b.click("#submit").await;

    b.wait_text(".flash.ok", "saved").await;
    let hooks = f.api_webhooks().await;
    let h: &Value = &hooks[0];
    assert_eq!(h["topicIds"], serde_json::json!(["contacts.modified", "offers.accepted"]));
    assert_eq!(h["customerIds"], serde_json::json!(["SBOX", "ABC"]));
    assert_eq!(h["ignoreEtagOnlyChanges"], false);
    assert_eq!(h["ordered"], true);
    assert_eq!(h["rateLimit"], 50);
    assert_eq!(h["active"], false);
    let summary = b.find(&format!("{} tr.summary", row(&id))).await.text().await.unwrap();
    assert!(summary.contains("Sandbox (SBOX), ABC Estates (ABC)"), "{summary}");
    assert!(summary.contains("Ordered"), "the table marks an ordered webhook: {summary}");
    assert!(summary.contains("Inactive"), "{summary}");

    // Back to all customers.
    b.goto(&format!("/ui/webhooks/{id}/edit")).await;
    b.check("#customer-all", true).await;
    assert!(!b.is_checked(sbox).await, "All customers clears particular customers");
    assert_eq!(b.value("#rateLimit").await, "50", "the form shows the rate limit");
    b.fill("#rateLimit", "").await;
    b.click("#submit").await;
    b.wait_text(".flash.ok", "saved").await;
    assert_eq!(f.api_webhooks().await[0]["customerIds"], serde_json::json!([]));
    assert!(f.api_webhooks().await[0]["rateLimit"].is_null(), "emptied: no limit");
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn ping_shows_success_and_failure_with_status_code_and_duration() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let live = Receiver::start(Behaviour::Status(200)).await;
    let failing = Receiver::start(Behaviour::Status(500)).await;
    let ok_hook = f.app.create_webhook(&f.app_id, &live.url(), &["contacts.created", "offers.created"], &[]).await;
    let bad_hook = f.app.create_webhook(&f.app_id, &failing.url(), &["contacts.created"], &[]).await;
    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;

    let ok_id = ok_hook["id"].as_str().unwrap();
    open_details(&b, ok_id).await;
    b.find(&format!("#ping-topic-{ok_id}")).await.select_by_value("offers.created").await.unwrap();
    b.click(&format!("#details-{ok_id} form[action$='/ping'] button")).await;
    let result = b.wait_text("#ping-result", "Success").await;
    assert!(result.contains("HTTP 200"), "{result}");
    assert!(result.contains("offers.created"), "{result}");
    assert!(result.contains(" ms"), "{result}");
    let got = live.wait_for(1, std::time::Duration::from_secs(5)).await;
    assert_eq!(got[0].json()["topicId"], "offers.created");
    assert_eq!(got[0].json()["customerId"], "webhook-test");
    b.screenshot("ping-success").await;

    let bad_id = bad_hook["id"].as_str().unwrap();
    b.goto(&format!("/ui/webhooks/{bad_id}/ping")).await;
    b.click("#send-ping").await;
    let result = b.wait_text("#ping-result", "Failure").await;
    assert!(result.contains("HTTP 500"), "{result}");
    assert_eq!(failing.count(), 1);
    b.screenshot("ping-failure").await;

    // The Manage page now shows each ping as the last delivery, in the 24-hour chart too.
    b.goto("/ui/webhooks").await;
    b.wait_text(&format!("{} td.last", row(ok_id)), "200").await;
    b.wait_text(&format!("{} td.last", row(bad_id)), "500").await;
    let chart = b.find(&format!("{} svg[role=img]", row(bad_id))).await.attr("aria-label").await.unwrap();
    assert_eq!(chart.as_deref(), Some("Last 24 hours: 0 delivered, 1 failed"));
    open_details(&b, ok_id).await;
    b.screenshot("manage-expanded").await;
    b.resize(PHONE).await;
    b.screenshot("manage-expanded-phone").await;
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn the_secret_can_be_revealed_and_rotated_and_delete_asks_first() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let hook = f.app.create_webhook(&f.app_id, "https://example.com/hook", &["contacts.created"], &[]).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let secret = hook["secret"].as_str().unwrap().to_string();
    let b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;

    open_details(&b, &id).await;
    let field = format!("#secret-{id}");
    assert_eq!(b.find(&field).await.attr("type").await.unwrap().as_deref(), Some("password"));
    assert_eq!(b.value(&field).await, secret, "the field holds the secret the Copy button copies");
    b.click(&format!("#details-{id} button[data-reveal]")).await;
    assert_eq!(b.find(&field).await.attr("type").await.unwrap().as_deref(), Some("text"));

    b.click(&format!("#details-{id} form[action$='/secret/rotate'] button")).await;
    b.wait_text(".flash.ok", "New signing secret").await;
    let (_, now) = f.app.client.get(&format!("/webhooks/subscriptions/{id}/secret"), ADMIN).await;
    let rotated = now["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, secret);
    // The row comes back open, showing the new secret.
    assert_eq!(b.value(&field).await, rotated);

    b.click(&format!("#details-{id} a.danger")).await;
    b.wait_text("main h1", "Delete webhook?").await;
    assert_eq!(f.api_webhooks().await.len(), 1, "nothing is deleted before confirming");
    b.click("#confirm-delete").await;
    b.wait_text(".flash.ok", "deleted").await;
    assert!(b.find_all(&row(&id)).await.is_empty());
    let (status, _) = f.app.client.get(&format!("/webhooks/subscriptions/{id}"), ADMIN).await;
    assert_eq!(status, 404);
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn the_filter_is_tested_against_the_topics_example_and_saved_with_the_webhook() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let hook = f.app.create_webhook(&f.app_id, "https://example.com/hook", &["contacts.modified"], &[]).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;
    b.goto(&format!("/ui/webhooks/{id}/edit")).await;
    assert_eq!(b.value("#filter").await, "", "no filter yet");
    assert_eq!(b.value("#filterTopic").await, "contacts.modified", "the webhook's first topic is tested by default");

    // The contract's example matches the example payload of contacts.modified (its mobile phone changed).
    let mobile = r#"{"properties": {"diff": {"type": "object", "required": ["mobilePhone"]}}, "required": ["diff"]}"#;
    b.fill("#filter", mobile).await;
    b.click("#test-filter").await;
    let shown = b.wait_text("#filter-result", "Match").await;
    assert!(shown.contains("contacts.modified"), "{shown}");
    assert_eq!(b.value("#filter").await, mobile, "the form keeps what was typed");
    b.screenshot("webhook-filter-match").await;

    // A filter on the surname does not: the validator's first reason is shown.
    let surname = r#"{"properties": {"diff": {"required": ["surname"]}}, "required": ["diff"]}"#;
    b.fill("#filter", surname).await;
    b.click("#test-filter").await;
    let shown = b.wait_text("#filter-result", "No match").await;
    assert!(shown.contains("/diff") && shown.contains("surname"), "{shown}");
    b.screenshot("webhook-filter-no-match").await;
    assert!(f.api_webhooks().await[0]["filter"].is_null(), "testing saves nothing");

    // Text that is not JSON is an error next to the field; a valid filter is saved with the webhook.
    b.fill("#filter", "{not json").await;
    b.click("#test-filter").await;
    b.wait_text("#filter-error", "is not valid JSON").await;
    b.fill("#filter", mobile).await;
    // Enter in a field saves: the Test filter button is not the form's default.
    b.find("#url").await.send_keys("\u{E007}").await.expect("press Enter");
    b.wait_text(".flash.ok", "saved").await;
    assert_eq!(f.api_webhooks().await[0]["filter"], serde_json::from_str::<Value>(mobile).unwrap());
    b.wait_text(&format!("#details-{id} pre.filter"), "mobilePhone").await;

    // Edit shows the saved filter; emptying the box removes it.
    b.goto(&format!("/ui/webhooks/{id}/edit")).await;
    assert!(b.value("#filter").await.contains("mobilePhone"));
    b.fill("#filter", "").await;
    b.click("#submit").await;
    b.wait_text(".flash.ok", "saved").await;
    assert!(f.api_webhooks().await[0]["filter"].is_null());
    b.close().await;
    f.app.stop().await;
}
