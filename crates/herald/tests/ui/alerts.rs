//! The banner of failing webhooks (contract §9.4): on every page of the application, with the last error and a link
//! to the webhook's logs, until the webhook recovers or is edited.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};
use serde_json::json;

use crate::browser::Browser;
use crate::support::{seed_contact_change, TestApp, ADMIN};
use crate::Fixture;

#[tokio::test]
async fn a_failing_webhook_is_in_a_banner_on_every_page_until_it_recovers_or_is_edited() {
    let f = Fixture::new(TestApp::spawn().await).await;
    let failing = Receiver::start(Behaviour::Status(500)).await;
    let edited = Receiver::start(Behaviour::Status(503)).await;
    let healthy = Receiver::start(Behaviour::Status(200)).await;
    let a = f.app.create_webhook(&f.app_id, &failing.url(), &["contacts.modified"], &[]).await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let c = f.app.create_webhook(&f.app_id, &edited.url(), &["contacts.modified"], &[]).await;
    f.app.create_webhook(&f.app_id, &healthy.url(), &["contacts.modified"], &[]).await;
    f.app.publish(seed_contact_change("RPT")).await;
    f.app.deliver_all(Duration::from_secs(20)).await;
    assert_eq!(failing.count(), 3, "the delivery died");

    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;
    b.goto("/ui/webhooks").await;
    let banner = b.wait_text("#webhook-alerts", &failing.url()).await;
    assert!(banner.contains(&edited.url()), "{banner}");
    assert!(!banner.contains(&healthy.url()), "a healthy webhook is not in the banner: {banner}");
    let row = b.find(&format!("#webhook-alerts [data-webhook='{a_id}']")).await.text().await.unwrap();
    assert!(row.contains("Failing") && row.contains("500"), "the last error: {row}");
    b.screenshot("failing-banner").await;
    // Every page of the application shows it.
    for path in ["/ui/logs", "/ui/about"] {
        b.goto(path).await;
        b.wait_text("#webhook-alerts", &failing.url()).await;
    }
    // Its link opens the webhook's logs.
    b.click(&format!("#webhook-alerts [data-webhook='{a_id}'] a")).await;
    b.until("the webhook's logs", || async {
        let path = b.path().await;
        (path.starts_with("/ui/logs") && path.contains(&a_id)).then_some(())
    })
    .await;

    // Editing a webhook takes it out of the banner.
    let c_id = c["id"].as_str().unwrap();
    let (s, out) = f
        .app
        .client
        .put(
            &format!("/webhooks/subscriptions/{c_id}"),
            ADMIN,
            json!({"url": edited.url(), "topicIds": ["contacts.modified"], "description": "looking into it"}),
        )
        .await;
    assert_eq!(s, 204, "{out}");
    b.goto("/ui/webhooks").await;
    let banner = b.wait_text("#webhook-alerts", &failing.url()).await;
    assert!(!banner.contains(&edited.url()), "an edited webhook leaves the banner: {banner}");

    // A success: the webhook recovered, the banner goes.
    failing.set_behaviour(Behaviour::Status(200));
    f.app.publish(seed_contact_change("RPT")).await;
    f.app.deliver_all(Duration::from_secs(20)).await;
    b.goto("/ui/webhooks").await;
    b.until("no banner", || async { b.find_all("#webhook-alerts").await.is_empty().then_some(()) }).await;
    b.close().await;
}
