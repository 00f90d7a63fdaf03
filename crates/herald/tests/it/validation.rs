//! Smoke test of validation in the end-to-end binary (the full matrix is in tests/api).

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_webhook_without_topics_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read"]).await;
    let (s, body) = app
        .client
        .post(
            "/webhooks/subscriptions",
            ADMIN,
            json!({"applicationId": app_id, "url": "https://example.com/h", "topicIds": []}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["errors"][0]["field"], "topicIds");
    app.stop().await;
}
