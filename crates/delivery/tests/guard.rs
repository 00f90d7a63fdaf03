//! The target guard against real sockets: refused targets never receive a request.

use std::time::Duration;

use bytes::Bytes;
use herald_delivery::{AttemptOutcome, HttpSender};
use herald_testkit::{Behaviour, Receiver};
use reqwest::header::HeaderMap;

async fn send(sender: &HttpSender, url: &str) -> AttemptOutcome {
    sender.send(&url.into(), HeaderMap::new(), Bytes::from_static(b"{}")).await.outcome
}

#[tokio::test]
async fn private_targets_are_refused_without_the_flag() {
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let port = receiver.addr.port();
    let guarded = HttpSender::new(Duration::from_secs(2), false, true).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        "http://10.0.0.1/hook".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        format!("http://[::1]:{port}/hook"),
        // a host name that resolves to loopback: checked after resolution, connected to only if allowed
        format!("http://localhost:{port}/hook"),
    ] {
        match send(&guarded, &url).await {
            AttemptOutcome::Blocked { reason } => assert!(!reason.is_empty(), "{url}"),
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(receiver.count(), 0, "a refused target must receive nothing");

    let open = HttpSender::new(Duration::from_secs(2), true, true).unwrap();
    assert_eq!(send(&open, &format!("http://localhost:{port}/hook")).await, AttemptOutcome::Delivered { status: 200 });
    assert_eq!(receiver.count(), 1);
}

#[tokio::test]
async fn a_url_that_does_not_parse_is_refused_and_recorded_as_stored() {
    let sender = HttpSender::new(Duration::from_secs(2), true, true).unwrap();
    let endpoint = herald_delivery::Endpoint::new("http://[not an address]/hook");
    assert_eq!(endpoint.as_str(), "http://[not an address]/hook");
    match sender.send(&endpoint, HeaderMap::new(), Bytes::from_static(b"{}")).await.outcome {
        AttemptOutcome::Blocked { reason } => assert!(reason.starts_with("invalid URL: "), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn http_targets_are_refused_unless_allowed() {
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let https_only = HttpSender::new(Duration::from_secs(2), true, false).unwrap();
    assert!(matches!(send(&https_only, &receiver.url()).await, AttemptOutcome::Blocked { .. }));
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn outcomes_are_classified_from_real_answers() {
    let sender = HttpSender::new(Duration::from_millis(300), true, true).unwrap();
    let r = Receiver::start(Behaviour::Status(204)).await;
    assert_eq!(send(&sender, &r.url()).await, AttemptOutcome::Delivered { status: 204 });
    r.set_behaviour(Behaviour::Status(410));
    assert_eq!(send(&sender, &r.url()).await, AttemptOutcome::Rejected { status: 410 });
    r.set_behaviour(Behaviour::Status(503));
    assert_eq!(send(&sender, &r.url()).await, AttemptOutcome::Failed { status: 503 });
    r.set_behaviour(Behaviour::Redirect("http://example.invalid/".into()));
    assert_eq!(send(&sender, &r.url()).await, AttemptOutcome::Failed { status: 302 });
    r.set_behaviour(Behaviour::Hang);
    assert_eq!(send(&sender, &r.url()).await, AttemptOutcome::Timeout);
    let closed = format!("http://127.0.0.1:{}/hook", herald_testkit::free_port());
    assert!(matches!(send(&sender, &closed).await, AttemptOutcome::Connect { .. }));
}

#[tokio::test]
async fn only_the_first_4_kib_of_a_response_is_kept() {
    let sender = HttpSender::new(Duration::from_secs(2), true, true).unwrap();
    let r = Receiver::start(Behaviour::Status(200)).await;
    r.set_body(&"x".repeat(10_000));
    let result = sender.send(&r.url().as_str().into(), HeaderMap::new(), Bytes::from_static(b"{}")).await;
    assert_eq!(result.response.map(|b| b.len()), Some(4096));
}
