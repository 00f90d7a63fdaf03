//! The scenarios every broker goes through, written once: a Herald child process with `--source`, a webhook on
//! `contacts.created` for the sandbox customer at a real receiver, and changes creating one contact each.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use herald_testkit::pg::TestDatabase;
use herald_testkit::{Behaviour, Client, HeraldProcess, Receiver};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::brokers::{Broker, Message, WITHIN};
use crate::proxy::Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_herald");
const ADMIN: &str = "test-admin-token-0123456789";
const ENCRYPTION_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A test's Herald setting: its data dir, its database (PostgreSQL when asked), the receiver.
struct Setup {
    dir: TempDir,
    db: Option<TestDatabase>,
    receiver: Receiver,
    /// A prefix making this test's idempotency keys its own.
    run: String,
}

impl Setup {
    async fn new(postgres: bool) -> Setup {
        let postgres = postgres || std::env::var("HERALD_TEST_BACKEND").as_deref() == Ok("postgres");
        Setup {
            dir: tempfile::tempdir().unwrap(),
            db: if postgres { Some(TestDatabase::create().await) } else { None },
            receiver: Receiver::start(Behaviour::Status(200)).await,
            run: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// Starts a node consuming `source`.
    async fn start(&self, source: &str) -> HeraldProcess {
        let mut flags = vec!["--allow-http-targets", "--allow-private-targets", "--lease", "2s", "--source", source];
        if let Some(db) = &self.db {
            flags.extend(["--database-url", db.url(), "--encryption-key", ENCRYPTION_KEY]);
        }
        HeraldProcess::start(Path::new(BIN), self.dir.path(), ADMIN, &flags).await
    }

    /// An application with a webhook on `contacts.created` for `SBOX` at the receiver.
    async fn subscribe(&self, node: &HeraldProcess) {
        let client = Client::new(node.base.clone());
        let (s, app) = client.post("/apps", ADMIN, json!({"name": "Broker", "scopes": ["contacts.read"]})).await;
        assert_eq!(s, 201, "{app}");
        let body = json!({"applicationId": app["id"], "url": self.receiver.url(), "topicIds": ["contacts.created"],
            "customerIds": ["SBOX"]});
        let (s, hook) = client.post("/webhooks/subscriptions", ADMIN, body).await;
        assert_eq!(s, 201, "{hook}");
    }

    /// Changes `from..to`, each creating contact `C<i>`, with an idempotency key of this test's own.
    fn changes(&self, from: usize, to: usize) -> Vec<Message> {
        (from..to)
            .map(|i| Message {
                body: serde_json::to_vec(&json!({"customerId": "SBOX", "entityType": "contacts",
                    "entityId": format!("C{i:05}"), "old": null, "new": {"id": format!("C{i:05}"), "forename": "Ada"}}))
                .unwrap(),
                key: Some(format!("{}-{i}", self.run)),
            })
            .collect()
    }

    /// The contacts delivered so far, and the events they came in (a change ingested twice has two events).
    fn delivered(&self) -> (HashSet<String>, HashSet<String>) {
        let received = self.receiver.received();
        let entities = received.iter().map(|r| r.json()["entityId"].as_str().unwrap_or_default().to_string()).collect();
        let events = received.iter().map(|r| r.json()["eventId"].as_str().unwrap_or_default().to_string()).collect();
        (entities, events)
    }

    /// Waits until `n` distinct contacts were delivered; then each came in its own event, once.
    async fn expect_delivered(&self, n: usize) {
        let deadline = Instant::now() + WITHIN;
        loop {
            let (entities, events) = self.delivered();
            if entities.len() >= n {
                assert_eq!(entities.len(), n, "only the changes published were delivered");
                assert_eq!(events.len(), n, "each change was ingested once (one event per contact)");
                return;
            }
            if Instant::now() >= deadline {
                let missing: Vec<String> =
                    (0..n).map(|i| format!("C{i:05}")).filter(|e| !entities.contains(e)).take(20).collect();
                panic!(
                    "{} of {n} changes delivered within {WITHIN:?}; missing {missing:?}\n{}",
                    entities.len(),
                    self.logs()
                );
            }
            // Real time: a child process delivers on its own.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of every node's log, for a failure's message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                out.push_str(&format!("--- {name}\n{}\n", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
            }
        }
        out
    }

    /// Waits until the receiver has seen `n` requests (deliveries may repeat after a kill; that is not counted).
    async fn wait_requests(&self, n: usize) {
        self.receiver.wait_for(n, WITHIN).await;
    }
}

async fn readyz(node: &HeraldProcess) -> Value {
    let (status, body) = Client::new(node.base.clone()).raw(http::Method::GET, "/readyz", None, Vec::new()).await;
    assert_eq!(status, 200, "a broker outage does not make the node unready: {body}");
    body
}

/// Waits until `/readyz` names `source` as down (`down`) or names no source.
async fn wait_readyz(node: &HeraldProcess, source_name: &str, down: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = readyz(node).await;
        let named = body["sourcesDown"].as_array().is_some_and(|l| l.iter().any(|s| s == source_name));
        if named == down {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not {} the source in time: {body}",
            if down { "name" } else { "stop naming" }
        );
        // Real time: the process notices the broker's state on its own.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The source's name: its URL without credentials.
fn name_of(url: &str) -> String {
    url.replace("guest:guest@", "")
}

/// The value of `herald_source_messages_<name>_total<label>` in a metrics text (0 when absent).
fn counter(metrics: &str, name: &str, label: &str) -> u64 {
    let prefix = format!("herald_source_messages_{name}_total{label} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// 1,000 changes published → 1,000 deliveries; a body that is not JSON and a change that breaks a rule are kept as
/// dead letters with their errors, and the changes after them still flow.
pub async fn a_thousand_changes_and_two_dead_letters(mut broker: Broker) {
    let setup = Setup::new(false).await;
    let source = broker.source_url(broker.address());
    let node = setup.start(&source).await;
    setup.subscribe(&node).await;
    broker.publish(&setup.changes(0, 500)).await;
    let bad = vec![
        Message { body: b"{not json".to_vec(), key: Some(format!("{}-bad-json", setup.run)) },
        Message {
            body: br#"{"customerId": "SBOX", "entityType": "spaceships", "entityId": "X1", "new": {}}"#.to_vec(),
            key: None,
        },
    ];
    broker.publish(&bad).await;
    broker.publish(&setup.changes(500, 1000)).await;
    setup.expect_delivered(1000).await;

    let client = Client::new(node.base.clone());
    let (s, page) = client.get("/sources/dead-letters", ADMIN).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["totalCount"], 2, "{page}");
    let letters = page["_embedded"].as_array().unwrap();
    let of = |status: u64| letters.iter().find(|l| l["statusCode"] == status).unwrap_or_else(|| panic!("{page}"));
    assert_eq!(of(400)["body"], "{not json");
    assert_eq!(of(400)["messageId"], format!("{}-bad-json", setup.run));
    assert_eq!(of(422)["errors"][0]["field"], "entityType", "{page}");
    assert!(letters.iter().all(|l| l["source"] == name_of(&source)), "{page}");
    let (s, _) = client.get("/sources/dead-letters", "not-the-admin-token").await;
    assert_eq!(s, 401);

    // The last acknowledgements may complete a moment after their deliveries; a message whose acknowledgement was
    // slow may have come again (counted again, deduplicated by its key).
    let label = format!("{{source=\"{}\"}}", name_of(&source));
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (_, metrics) = client.raw(http::Method::GET, "/metrics", None, Vec::new()).await;
        let metrics = metrics.as_str().map(str::to_string).unwrap_or_else(|| metrics.to_string());
        if counter(&metrics, "acknowledged", &label) >= 1002 || Instant::now() > deadline {
            break metrics;
        }
        // Real time: the node acknowledges on its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(counter(&metrics, "acknowledged", &label) >= 1002, "{metrics}");
    assert!(counter(&metrics, "consumed", &label) >= 1002, "{metrics}");
    assert!(counter(&metrics, "dead_lettered", &label) >= 2, "{metrics}");
    assert!(metrics.contains(&format!("herald_source_up{label} 1")), "{metrics}");
    drop(node);
    broker.delete().await;
}

/// `kill -9` of Herald mid-stream, then a restart: every change is delivered, each ingested once (what was not
/// acknowledged comes again and is deduplicated by its key).
pub async fn a_node_killed_mid_stream_loses_nothing(mut broker: Broker) {
    let setup = Setup::new(false).await;
    let source = broker.source_url(broker.address());
    let mut node = setup.start(&source).await;
    setup.subscribe(&node).await;
    broker.publish(&setup.changes(0, 1000)).await;
    setup.wait_requests(150).await;
    node.kill9();
    let node = setup.start(&source).await;
    setup.expect_delivered(1000).await;
    drop(node);
    broker.delete().await;
}

/// SIGTERM mid-stream: the node stops cleanly (exit code 0), what it was ingesting stored and acknowledged, the rest
/// handed back; after a restart every change is delivered, each ingested once.
pub async fn a_node_stopped_mid_stream_loses_nothing(mut broker: Broker) {
    let setup = Setup::new(false).await;
    let source = broker.source_url(broker.address());
    let mut node = setup.start(&source).await;
    setup.subscribe(&node).await;
    broker.publish(&setup.changes(0, 1000)).await;
    setup.wait_requests(150).await;
    // SAFETY: kill(2) on the child's pid, which this test started and has not reaped.
    let sent = unsafe { libc::kill(node.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM sent");
    // Polled, not `wait()`: the receiver runs on this test's thread, and the node's shutdown waits for the attempts
    // it has in flight to it.
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "a clean stop: {status}");
    let node = setup.start(&source).await;
    setup.expect_delivered(1000).await;
    drop(node);
    broker.delete().await;
}

/// The broker made unreachable mid-stream (a proxy cut): `/readyz` names the source meanwhile and the API keeps
/// serving; once it is back, Herald reconnects and every change is delivered, each ingested once.
pub async fn a_broker_outage_is_reported_and_survived(mut broker: Broker) {
    let setup = Setup::new(false).await;
    let proxy = Proxy::start(broker.address()).await;
    let source = broker.source_url(&proxy.addr.to_string());
    let node = setup.start(&source).await;
    setup.subscribe(&node).await;
    wait_readyz(&node, &name_of(&source), false).await;
    broker.publish(&setup.changes(0, 500)).await;
    setup.wait_requests(100).await;
    proxy.cut();
    wait_readyz(&node, &name_of(&source), true).await;
    // The API keeps serving meanwhile.
    let (s, _) = Client::new(node.base.clone()).get("/apps", ADMIN).await;
    assert_eq!(s, 200);
    broker.publish(&setup.changes(500, 1000)).await;
    proxy.restore();
    wait_readyz(&node, &name_of(&source), false).await;
    setup.expect_delivered(1000).await;
    drop(node);
    broker.delete().await;
}

/// Two nodes on one PostgreSQL database consuming one queue (competing consumers): each change is ingested once.
pub async fn two_nodes_ingest_each_change_once(mut broker: Broker) {
    let setup = Setup::new(true).await;
    let source = broker.source_url(broker.address());
    let first = setup.start(&source).await;
    let second = setup.start(&source).await;
    setup.subscribe(&first).await;
    broker.publish(&setup.changes(0, 1000)).await;
    setup.expect_delivered(1000).await;
    let db = setup.db.as_ref().expect("a PostgreSQL database");
    assert_eq!(db.scalar("SELECT count(*) FROM events").await, 1000, "one event per change, across both nodes");
    drop((first, second));
    broker.delete().await;
}
