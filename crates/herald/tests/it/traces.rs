//! One change followed through a node's log: the `request` span (with the request id echoed in `x-request-id`), the
//! `ingest` span inside it (with the event id), and the `attempt` span of its delivery (with the same event id, the
//! delivery id and the webhook id).

use std::path::Path;
use std::time::Duration;

use herald_testkit::{Behaviour, Client, HeraldProcess, Receiver};
use serde_json::{json, Value};

use crate::support::{seed_contact_change, ADMIN};

const BIN: &str = env!("CARGO_BIN_EXE_herald");

/// The JSON log lines of a Herald process.
fn log_lines(dir: &Path, port: u16) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("herald-{port}.log"))).expect("the log file");
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The span named `name` among a log line's spans.
fn span<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line["spans"].as_array()?.iter().find(|s| s["name"] == name)
}

#[tokio::test]
async fn one_changes_spans_lead_from_its_request_to_its_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--allow-http-targets",
        "--allow-private-targets",
        "--log-format",
        "json",
        "--log",
        "info,herald_service=debug,herald_delivery=debug",
    ];
    let herald = HeraldProcess::start(Path::new(BIN), dir.path(), ADMIN, &flags).await;
    let client = Client::new(herald.base.clone());
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let (s, app) = client.post("/apps", ADMIN, json!({"name": "Traced", "scopes": ["contacts.read"]})).await;
    assert_eq!(s, 201, "{app}");
    let body = json!({"applicationId": app["id"], "url": receiver.url(), "topicIds": ["contacts.modified"],
        "customerIds": ["SBOX"]});
    let (s, hook) = client.post("/webhooks/subscriptions", ADMIN, body).await;
    assert_eq!(s, 201, "{hook}");

    let r = client
        .http
        .post(format!("{}/changes", herald.base))
        .bearer_auth(ADMIN)
        .header("x-request-id", "trace-me-42")
        .json(&seed_contact_change("SBOX"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42", "the request id is echoed");
    let answer: Value = r.json().await.unwrap();
    let event_id = answer["eventId"].as_str().unwrap().to_string();
    receiver.wait_for(1, Duration::from_secs(10)).await;

    // Attempts are logged when they end, a moment after the receiver answered: wait on the log file (real I/O).
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = log_lines(dir.path(), herald.port);
        if lines.iter().any(|l| span(l, "attempt").is_some()) {
            break;
        }
        // Real I/O: the attempt's log line is written when the attempt ends.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accepted = lines
        .iter()
        .find(|l| l["fields"]["message"] == "changes accepted")
        .unwrap_or_else(|| panic!("no ingest line in {lines:?}"));
    assert_eq!(span(accepted, "request").expect("inside the request span")["request_id"], "trace-me-42");
    assert_eq!(span(accepted, "ingest").expect("inside the ingest span")["event_id"], event_id.as_str());

    let attempted = lines
        .iter()
        .find(|l| l["fields"]["message"] == "attempted")
        .unwrap_or_else(|| panic!("no attempt line in {lines:?}"));
    let attempt = span(attempted, "attempt").expect("inside the attempt span");
    assert_eq!(attempt["event_id"], event_id.as_str(), "the attempt names the change's event");
    assert_eq!(attempt["webhook_id"], hook["id"]);
    let delivery_id = attempt["delivery_id"].as_str().expect("a delivery id");
    assert_eq!(receiver.received()[0].header("webhook-id").as_deref(), Some(delivery_id));
}

#[tokio::test]
async fn with_an_otlp_endpoint_the_spans_go_to_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Receiver::start(Behaviour::Status(200)).await;
    let endpoint = collector.url();
    let flags = ["--allow-http-targets", "--allow-private-targets", "--otlp-endpoint", endpoint.as_str()];
    let herald = HeraldProcess::start(Path::new(BIN), dir.path(), ADMIN, &flags).await;
    let client = Client::new(herald.base.clone());
    let (s, _) = client.post("/changes", ADMIN, seed_contact_change("SBOX")).await;
    assert_eq!(s, 202);
    // The exporter sends a batch every few seconds (real I/O on the SDK's schedule).
    let got = collector.wait_for(1, Duration::from_secs(20)).await;
    assert!(!got.is_empty(), "no batch of spans reached the collector");
    let batch = &got[0];
    assert_eq!(batch.header("content-type").as_deref(), Some("application/x-protobuf"));
    let body = String::from_utf8_lossy(&batch.body);
    assert!(body.contains("herald"), "the service name");
    assert!(got.iter().any(|b| String::from_utf8_lossy(&b.body).contains("ingest")), "the ingest span");
}
