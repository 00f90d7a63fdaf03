//! The Logs page in the browser: find a delivery, open its payload and response, download it, redeliver it.

use std::time::Duration;

use herald_testkit::{Behaviour, Receiver};

use crate::browser::{Browser, PHONE};
use crate::support::{seed_contact_change, TestApp};
use crate::Fixture;

#[tokio::test]
async fn a_delivery_is_found_in_the_logs_opened_downloaded_and_redelivered() {
    let f = Fixture::new(TestApp::spawn_with_worker().await).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    receiver.set_body("thanks from the receiver");
    let other = Receiver::start(Behaviour::Status(200)).await;
    f.app.create_webhook(&f.app_id, &receiver.url(), &["contacts.modified"], &["RPT"]).await;
    f.app.create_webhook(&f.app_id, &other.url(), &["contacts.modified"], &[]).await;
    // Two changes: the one we look for and another entity, which the entity filter leaves out.
    let published = f.app.publish(seed_contact_change("RPT")).await;
    let event_id = published["eventId"].as_str().unwrap().to_string();
    let mut second = seed_contact_change("RPT");
    second["entityId"] = "RPT99999999".into();
    f.app.publish(second).await;
    let first = receiver.wait_for(2, Duration::from_secs(10)).await;
    other.wait_for(2, Duration::from_secs(10)).await;
    let sent = first.iter().find(|r| r.json()["eventId"] == event_id.as_str()).expect("the event arrived").clone();

    let mut b = Browser::start(&f.base()).await;
    b.sign_in(&f.key).await;
    b.click("header nav a[href='/ui/logs']").await;
    b.wait_path("/ui/logs").await;
    // Defaults: the last 7 days.
    let from = b.value("#from").await;
    let today = chrono::Utc::now().date_naive();
    assert_eq!(from, (today - chrono::Duration::days(7)).to_string());
    assert_eq!(b.value("#to").await, today.to_string());
    assert_eq!(b.find_all("#log-table tbody tr").await.len(), 4, "every attempt is listed");
    b.screenshot("logs").await;

    b.fill("#entity", "RPT20000029").await;
    b.find("#webhook").await.select_by_label(&receiver.url()).await.unwrap();
    b.find("#status").await.select_by_value("success").await.unwrap();
    b.click("#apply-filters").await;
    b.until("one matching attempt", || async {
        let rows = b.find_all("#log-table tbody tr").await;
        (rows.len() == 1 && b.path().await.contains("entity=RPT20000029")).then_some(())
    })
    .await;
    let row = b.find("#log-table tbody tr").await.text().await.unwrap();
    for needle in [receiver.url().as_str(), "contacts.modified", "RPT20000029", "RPT", "200"] {
        assert!(row.contains(needle), "the row shows {needle}: {row}");
    }
    // A filter the service refuses is reported next to its field.
    b.fill("#event", "not-a-uuid").await;
    b.click("#apply-filters").await;
    b.wait_text("#event-error", "UUID").await;
    b.fill("#event", &event_id).await;
    b.click("#apply-filters").await;
    b.until("the attempt of the event", || async {
        (b.find_all("#log-table tbody tr").await.len() == 1).then_some(())
    })
    .await;

    // Open it: the exact payload sent and the response received.
    b.click("#log-table tbody tr td a").await;
    b.wait_path("/ui/logs/attempt").await;
    b.wait_text("#payload", "RPT20000029").await;
    let exact = b.find("#payload-exact").await.prop("textContent").await.unwrap().unwrap_or_default();
    assert_eq!(exact.as_bytes(), &sent.body[..], "the page shows the exact bytes sent");
    b.wait_text("#response", "thanks from the receiver").await;
    b.screenshot("log-attempt").await;

    // Download payload: a JSON attachment with the exact bytes.
    let href = b.find("#download-payload").await.attr("href").await.unwrap().expect("a download link");
    let resp = reqwest::Client::new()
        .get(format!("{}{href}", f.base()))
        .header("cookie", b.session_cookie().await)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"payload-"));
    assert_eq!(&resp.bytes().await.unwrap()[..], &sent.body[..]);

    // Redeliver: a new delivery of the same event reaches the receiver and shows in the logs.
    b.click("#redeliver").await;
    b.wait_text(".flash.ok", "Redelivered").await;
    let all = receiver.wait_for(3, Duration::from_secs(10)).await;
    let again = all.last().unwrap();
    assert_eq!(again.json()["eventId"], event_id.as_str());
    assert_eq!(again.json()["entityId"], "RPT20000029");
    assert_ne!(again.header("webhook-id"), sent.header("webhook-id"), "a new delivery");
    b.until("the new attempt in the logs", || async {
        b.client.refresh().await.ok()?;
        (b.find_all("#log-table tbody tr").await.len() == 2).then_some(())
    })
    .await;
    b.resize(PHONE).await;
    b.screenshot("logs-phone").await;
    b.close().await;
    f.app.stop().await;
}
