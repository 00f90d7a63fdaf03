//! Signing in and out in the browser, and the About page.

use crate::browser::{Browser, PHONE};
use crate::support::{TestApp, ADMIN};
use crate::Fixture;

#[tokio::test]
async fn an_application_key_signs_in_sees_its_application_and_signs_out() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let mut b = Browser::start(&f.base()).await;

    b.goto("/").await;
    b.wait_path("/signin").await;
    b.screenshot("signin").await;

    // A wrong token is reported next to the field, and no session starts.
    b.fill("#token", "hk_not-a-key").await;
    b.click("#signin-form button[type=submit]").await;
    let error = b.wait_text("#token-error", "not an application API key").await;
    assert!(error.contains("admin token"), "{error}");
    assert_eq!(b.find("#token").await.attr("aria-describedby").await.unwrap().as_deref(), Some("token-error"));

    b.sign_in(&f.key).await;
    b.wait_text("header .app-name", "Acme Lettings").await;
    assert!(b.find_all("#app-picker").await.is_empty(), "an application key has no application picker");
    b.wait_text("main", "This application has no webhooks yet").await;

    b.click("form.signout button").await;
    b.wait_path("/signin").await;
    // The session is over: pages send the visitor back to sign in.
    b.goto("/ui/webhooks").await;
    b.wait_path("/signin").await;
    b.close().await;
    f.app.stop().await;
}

#[tokio::test]
async fn the_admin_picks_an_application_and_reads_the_about_page() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let (other_id, _, _) = f.app.create_app("Other Agency", &["offers.read"]).await;
    let mut b = Browser::start(&f.base()).await;
    b.sign_in(ADMIN).await;
    b.wait_text("header .badge", "Admin").await;

    b.find("#app-picker").await.select_by_value(&other_id).await.expect("pick the application");
    b.click("form.picker button").await;
    b.wait_text("main h1", "Other Agency").await;
    // The choice is remembered for the next pages.
    b.goto("/ui/webhooks/new").await;
    b.wait_text("main h1", "Other Agency").await;
    let topics = b.source().await;
    assert!(topics.contains("offers.created"), "topics of the application's scopes are offered");
    assert!(!topics.contains("contacts.created"), "topics outside its scopes are not offered");

    b.goto("/ui/about").await;
    b.wait_text("main h1", "About webhooks").await;
    let about = b.find("main").await.text().await.unwrap();
    for needle in ["webhook-signature", "X-Signature", "Reapit-Webhook-Signature", "Retry policy", "60 s"] {
        assert!(about.contains(needle), "the About page explains {needle}");
    }
    b.screenshot("about").await;
    b.resize(PHONE).await;
    b.screenshot("about-phone").await;
    b.close().await;
    f.app.stop().await;
}
