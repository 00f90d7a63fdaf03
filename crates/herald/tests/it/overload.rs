//! Load shedding (docs/OPERATIONS.md, "Overload"): past `--max-pending-publishes` publishing requests being
//! handled, the next is answered `503` with `Retry-After` and the error body at once, unread and unstored; the other
//! endpoints and the health checks still answer; room comes back as requests are answered; and every change answered
//! `202` is delivered while none answered `503` is.

use std::time::{Duration, Instant};

use herald_testkit::{Behaviour, Receiver};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{seed_contact_change, Opts, TestApp, ADMIN};

async fn app(tune: fn(&mut herald_config::ServeArgs)) -> TestApp {
    TestApp::with(Opts { tune: Some(tune), ..Opts::default() }).await
}

/// An application of customer `customer` with one webhook on `contacts.modified` to `receiver`.
async fn subscribe(app: &TestApp, receiver: &Receiver, customer: &str) {
    let (app_id, _, _) = app.create_app("overload", &["contacts.read"]).await;
    app.install(&app_id, customer).await;
    app.create_webhook(&app_id, &receiver.url(), &["contacts.modified"], &[customer]).await;
}

/// A `POST /changes` whose headers and first half of its body are sent, the rest held back: Herald admits it and
/// waits for the body, so it counts as a publishing request being handled until [`Held::finish`].
struct Held {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Held {
    async fn start(app: &TestApp, change: &Value) -> Held {
        let body = serde_json::to_vec(change).unwrap();
        let mut stream = TcpStream::connect(app.running().addr).await.expect("connect");
        let head = format!(
            "POST /changes HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        Held { stream, rest: rest.to_vec() }
    }

    /// Sends the rest of the body; returns the answer's status line.
    async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), self.stream.read_to_end(&mut got))
            .await
            .expect("answered")
            .expect("read");
        String::from_utf8_lossy(&got).lines().next().unwrap_or_default().to_string()
    }
}

fn change(customer: &str, entity: &str) -> Value {
    let mut c = seed_contact_change(customer);
    c["entityId"] = json!(entity);
    c
}

#[tokio::test]
async fn past_the_bound_a_publishing_request_is_answered_503_with_retry_after_and_nothing_is_stored() {
    let app = app(|a| a.max_pending_publishes = Some("2".into())).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    subscribe(&app, &receiver, "OVL").await;
    let held = [Held::start(&app, &change("OVL", "held-1")).await, Held::start(&app, &change("OVL", "held-2")).await];

    // Both held requests are admitted as soon as Herald has read their headers: from then on the next is shed.
    let url = format!("{}/changes", app.client.base);
    let deadline = Instant::now() + Duration::from_secs(20);
    let shed = loop {
        let r = app.client.http.post(&url).bearer_auth(ADMIN).json(&change("OVL", "shed")).send().await.unwrap();
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 202, "not shed yet, so accepted");
        assert!(Instant::now() < deadline, "two held requests never filled a bound of 2");
    };
    let accepted_before = receiver_count_after_delivery(&app, &receiver).await;
    assert_eq!(shed.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(shed.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let body: Value = shed.json().await.unwrap();
    assert_eq!(body["statusCode"], 503, "{body}");
    assert_eq!(body["errors"], json!([]), "{body}");
    assert!(body["description"].as_str().unwrap().contains("Retry-After"), "{body}");

    // The entity writes publish too, and are shed alike; reads, management and health checks are not.
    let (status, body) = app.client.put("/entities/OVL/contacts/e1", ADMIN, json!({"id": "e1"})).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = app.client.post("/entities", ADMIN, json!({"entities": []})).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = app.client.get("/webhooks/subscriptions", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    let health = app.client.http.get(format!("{}/healthz", app.client.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = app.client.http.get(format!("{}/metrics", app.client.base)).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    let shed_total: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("herald_publishes_shed_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no herald_publishes_shed_total in {metrics}"));
    assert!(shed_total >= 3, "three requests were shed, the metric says {shed_total}");

    // Answering the held requests gives their room back: they were admitted, so they are accepted.
    for h in held {
        let status = h.finish().await;
        assert!(status.starts_with("HTTP/1.1 202"), "{status}");
    }
    app.publish(change("OVL", "after")).await;

    // Delivered: what was answered 202 (the held two, the one after, and any accepted before the bound filled),
    // never the shed ones.
    let delivered = receiver_count_after_delivery(&app, &receiver).await;
    assert_eq!(delivered, accepted_before + 3, "every 202 is delivered and no 503");
    let entities: Vec<String> =
        receiver.received().iter().map(|r| r.json()["entityId"].as_str().unwrap_or_default().to_string()).collect();
    for id in ["held-1", "held-2", "after"] {
        assert_eq!(entities.iter().filter(|e| *e == id).count(), 1, "{id} once in {entities:?}");
    }
    assert!(!entities.iter().any(|e| e == "e1"), "a shed entity write stored nothing: {entities:?}");
}

/// Delivers what is due and returns how many deliveries the receiver has had.
async fn receiver_count_after_delivery(app: &TestApp, receiver: &Receiver) -> usize {
    app.deliver_all(Duration::from_secs(20)).await;
    receiver.count()
}

#[tokio::test]
async fn under_a_flood_every_request_is_answered_202_or_503_and_exactly_the_accepted_are_delivered() {
    let app = app(|a| a.max_pending_publishes = Some("4".into())).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    subscribe(&app, &receiver, "FLD").await;
    let url = format!("{}/changes", app.client.base);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (http, url) = (app.client.http.clone(), url.clone());
        tasks.spawn(async move {
            let r = http.post(url).bearer_auth(ADMIN).json(&change("FLD", &format!("f{i}"))).send().await.unwrap();
            let retry_after = r.headers().get("retry-after").is_some();
            (r.status().as_u16(), retry_after, format!("f{i}"))
        });
    }
    let mut accepted = std::collections::BTreeSet::new();
    while let Some(r) = tasks.join_next().await {
        let (status, retry_after, id) = r.unwrap();
        match status {
            202 => {
                accepted.insert(id);
            }
            503 => assert!(retry_after, "a 503 without Retry-After"),
            other => panic!("answered {other}: every publishing request is accepted or shed"),
        }
    }
    app.deliver_all(Duration::from_secs(60)).await;
    let delivered: std::collections::BTreeSet<String> =
        receiver.received().iter().map(|r| r.json()["entityId"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(receiver.count(), accepted.len(), "each accepted change delivered once");
    assert_eq!(delivered, accepted, "exactly the accepted changes are delivered");
}
