//! `herald listen` receiving real deliveries from a Herald in the same test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald::listen::{fetch_public_keys, run, ListenOptions};
use serde_json::json;

use crate::support::*;

async fn listener_with(opts: ListenOptions) -> (String, Arc<Mutex<Vec<String>>>, tokio::sync::oneshot::Sender<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", socket.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(opts, socket, Arc::new(move |l: String| sink.lock().unwrap().push(l)), async move {
        let _ = rx.await;
    }));
    (url, lines, tx)
}

async fn wait_lines(lines: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
    for _ in 0..100 {
        if lines.lock().unwrap().len() >= n {
            break;
        }
        // Real I/O: `herald listen` prints each report after it answered the request.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lines.lock().unwrap().clone()
}

#[tokio::test]
async fn listen_reports_every_signature_valid_with_the_right_secrets_and_invalid_with_a_wrong_one() {
    let app = TestApp::spawn().await;
    let (app_id, key, client_id) = app.create_app("A", &["contacts.read"]).await;
    let keys = fetch_public_keys(&format!("{}/webhooks/signing?applicationId={app_id}", app.client.base), Some(&key))
        .await
        .unwrap();
    let (url_ok, lines_ok, _stop_ok) = listener_with(ListenOptions {
        public_keys: keys.clone(),
        client_id: Some(client_id.clone()),
        status: 200,
        ..ListenOptions::default()
    })
    .await;
    let hook = app.create_webhook(&app_id, &url_ok, &["contacts.modified"], &["SBOX"]).await;
    // the secret is known only once the webhook exists: a second listener gets it, a third a wrong one
    let (url_secret, lines_secret, _s2) = listener_with(ListenOptions {
        secret: Some(hook["secret"].as_str().unwrap().parse().unwrap()),
        status: 200,
        ..ListenOptions::default()
    })
    .await;
    let (url_wrong, lines_wrong, _s3) = listener_with(ListenOptions {
        secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap()),
        client_id: Some("someone-else".into()),
        status: 200,
        ..ListenOptions::default()
    })
    .await;
    let id = hook["id"].as_str().unwrap();
    let put = json!({"url": url_secret, "topicIds": ["contacts.modified"], "customerIds": ["SBOX"]});
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver().await;
    let ok = wait_lines(&lines_ok, 1).await;
    if ok.is_empty() {
        let (_, logs) = app.client.get("/webhooks/logs", ADMIN).await;
        panic!("nothing reached the listener: {logs}");
    }
    assert!(ok[0].contains("contacts.modified"), "{}", ok[0]);
    assert!(ok[0].contains("x-signature: valid"), "{}", ok[0]);
    assert!(ok[0].contains("reapit-webhook-signature: valid"), "{}", ok[0]);
    assert!(ok[0].contains("mobilePhone: null → \"07123 456789\""), "the diff is laid out: {}", ok[0]);

    let (s, _) = app.client.put(&format!("/webhooks/subscriptions/{id}"), ADMIN, put).await;
    assert_eq!(s, 204);
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver().await;
    let secret = wait_lines(&lines_secret, 1).await;
    assert!(secret[0].contains("webhook-signature: valid"), "{}", secret[0]);

    let put = json!({"url": url_wrong, "topicIds": ["contacts.modified"], "customerIds": ["SBOX"]});
    app.client.put(&format!("/webhooks/subscriptions/{id}"), ADMIN, put).await;
    app.publish(seed_contact_change("SBOX")).await;
    app.deliver().await;
    let wrong = wait_lines(&lines_wrong, 1).await;
    assert!(wrong[0].contains("webhook-signature: INVALID"), "{}", wrong[0]);
    assert!(wrong[0].contains("reapit-webhook-signature: INVALID"), "{}", wrong[0]);
    app.stop().await;
}
