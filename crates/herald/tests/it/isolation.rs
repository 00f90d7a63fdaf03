//! A dead endpoint must not slow a healthy one.

use std::time::{Duration, Instant};

use herald_testkit::{Behaviour, Receiver};

use crate::support::*;

#[tokio::test]
async fn a_hanging_endpoint_flooded_with_events_does_not_delay_a_healthy_one() {
    // No hanging attempt times out while the test runs, however loaded the machine: the bound below counts attempts
    // in flight, not attempts made after the first ones gave up.
    let app = TestApp::with(Opts { worker: true, delivery_timeout: Some("20s"), ..Opts::default() }).await;
    let (app_id, _, _) = app.create_app("A", &["contacts.read", "offers.read"]).await;
    app.install(&app_id, "RPT").await;
    let hanging = Receiver::start(Behaviour::Hang).await;
    let healthy = Receiver::start(Behaviour::Status(200)).await;
    app.create_webhook(&app_id, &hanging.url(), &["contacts.modified"], &[]).await;
    app.create_webhook(&app_id, &healthy.url(), &["offers.modified"], &[]).await;
    for _ in 0..300 {
        app.publish(seed_contact_change("RPT")).await;
    }
    hanging.wait_for(1, Duration::from_secs(5)).await;
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let sent = Instant::now();
        app.publish(serde_json::json!({"customerId": "RPT", "entityType": "offers", "entityId": format!("O{i}"),
            "old": {"id": "O", "amount": i}, "new": {"id": "O", "amount": i + 1}}))
            .await;
        let got = healthy.wait_for(i + 1, Duration::from_secs(5)).await;
        worst = worst.max(got[i].at.duration_since(sent));
    }
    println!("worst healthy latency behind a hanging endpoint: {worst:?}");
    assert!(worst < Duration::from_millis(1000), "healthy deliveries waited {worst:?}");
    assert!(hanging.count() <= 16, "attempts in flight to one webhook are bounded: {}", hanging.count());
    app.stop().await;
}
