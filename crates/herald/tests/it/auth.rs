//! Smoke test of authentication in the end-to-end binary (the full matrix is in tests/api).

use crate::support::*;

#[tokio::test]
async fn the_platform_api_needs_the_admin_token() {
    let app = TestApp::spawn().await;
    let (_, key, _) = app.create_app("A", &["contacts.read"]).await;
    let (s, body) = app.client.call(reqwest::Method::GET, "/apps", None, None).await;
    assert_eq!(s, 401);
    assert_eq!(body["statusCode"], 401);
    let (s, _) = app.client.get("/apps", &key).await;
    assert_eq!(s, 403);
    app.stop().await;
}
