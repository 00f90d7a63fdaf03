//! Nodes of a cluster: Herald started in this process (`herald::start`, each node with its own listener and data
//! dir, the delivery worker running) on one PostgreSQL database; set-up helpers over the API; waiting on conditions.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_config::ServeArgs;
use herald_delivery::metrics::OutcomeLabel;
use herald_store::Store;
use herald_testkit::pg::TestDatabase;
use herald_testkit::Client;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const ADMIN: &str = "cluster-admin-token-0123456789";
/// The key every node seals secrets with: nodes sharing a database share it, as the operations notes say.
pub const ENCRYPTION_KEY: &str = "5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ffee5e1f0c0ff";
pub const BIN: &str = env!("CARGO_BIN_EXE_herald");

/// The topic and customer every test uses.
pub const TOPIC: &str = "contacts.modified";
pub const CUSTOMER: &str = "RPT";

/// Options of a node beyond what every test wants (http and loopback targets allowed, the worker running).
#[derive(Clone)]
pub struct NodeOpts {
    pub retry_schedule: &'static str,
    pub delivery_timeout: &'static str,
}

impl Default for NodeOpts {
    fn default() -> Self {
        // Short delays: a failed attempt shows up as a retry (and a duplicate at the receiver) within the test.
        Self { retry_schedule: "500ms,1s,2s", delivery_timeout: "10s" }
    }
}

/// One Herald node in this process.
pub struct Node {
    pub client: Client,
    pub running: Option<herald::Running>,
    _dir: TempDir,
}

impl Node {
    pub async fn start(database_url: &str, opts: &NodeOpts) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = ServeArgs {
            data_dir: Some(dir.path().display().to_string()),
            database_url: Some(database_url.to_string()),
            allow_http_targets: Some("true".into()),
            allow_private_targets: Some("true".into()),
            retry_schedule: Some(opts.retry_schedule.into()),
            delivery_timeout: Some(opts.delivery_timeout.into()),
            encryption_key: Some(ENCRYPTION_KEY.into()),
            ..ServeArgs::default()
        };
        let cfg = args.resolve_with_env(|_| None).expect("node configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let running = herald::start(&cfg, ADMIN, listener, true).await.expect("start the node");
        Node { client: Client::new(format!("http://{}", running.addr)), running: Some(running), _dir: dir }
    }

    pub fn running(&self) -> &herald::Running {
        self.running.as_ref().expect("running")
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.running().herald.store()
    }

    /// Attempts this node made that were delivered.
    pub fn delivered(&self) -> u64 {
        let metrics = self.running().engine.handle().metrics().clone();
        let count = metrics.attempts.get_or_create(&OutcomeLabel { outcome: "delivered".into() }).get();
        count
    }

    /// A clean stop: attempts in flight finish and are recorded, claims are released.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Two nodes on one fresh database. Fields drop in order: the nodes, then the database.
pub struct Cluster {
    pub a: Node,
    pub b: Node,
    pub db: TestDatabase,
}

impl Cluster {
    pub async fn start(opts: &NodeOpts) -> Cluster {
        let db = TestDatabase::create().await;
        // One after the other: the second also finds the migrations applied (the advisory lock is tested elsewhere).
        let a = Node::start(db.url(), opts).await;
        let b = Node::start(db.url(), opts).await;
        Cluster { a, b, db }
    }

    /// The base URL of node A and of node B.
    pub fn base_a(&self) -> String {
        self.a.client.base.clone()
    }

    pub fn base_b(&self) -> String {
        self.b.client.base.clone()
    }

    pub async fn stop(self) {
        let Cluster { a, b, db } = self;
        tokio::join!(a.stop(), b.stop());
        drop(db);
    }
}

/// Creates an application holding `contacts.read` and installs it for [`CUSTOMER`]; returns (app id, installation
/// id).
pub async fn app_installed(client: &Client) -> (String, String) {
    let (s, app) = client.post("/apps", ADMIN, json!({ "name": "Cluster", "scopes": ["contacts.read"] })).await;
    assert_eq!(s, 201, "{app}");
    let app_id = app["id"].as_str().expect("app id").to_string();
    let inst = install(client, &app_id).await;
    (app_id, inst)
}

pub async fn install(client: &Client, app_id: &str) -> String {
    let (s, inst) =
        client.post("/installations", ADMIN, json!({ "applicationId": app_id, "customerId": CUSTOMER })).await;
    assert_eq!(s, 201, "{inst}");
    inst["id"].as_str().expect("installation id").to_string()
}

/// A webhook of `app_id` for [`CUSTOMER`] on these topics; returns its id.
pub async fn webhook(client: &Client, app_id: &str, url: &str, topics: &[&str]) -> String {
    let body = json!({ "applicationId": app_id, "url": url, "topicIds": topics, "customerIds": [CUSTOMER] });
    let (s, hook) = client.post("/webhooks/subscriptions", ADMIN, body).await;
    assert_eq!(s, 201, "{hook}");
    hook["id"].as_str().expect("webhook id").to_string()
}

/// A modification of contact `entity` (one `contacts.modified` event).
pub fn modified(entity: &str) -> Value {
    json!({ "customerId": CUSTOMER, "entityType": "contacts", "entityId": entity,
            "old": { "id": entity, "surname": "Smith" }, "new": { "id": entity, "surname": "Smyth" } })
}

/// A creation of contact `entity` (one `contacts.created` event).
pub fn created(entity: &str) -> Value {
    json!({ "customerId": CUSTOMER, "entityType": "contacts", "entityId": entity,
            "old": null, "new": { "id": entity, "surname": "Smith" } })
}

/// Publishes a change, expects `202`, and returns how many deliveries its event of `topic` got.
pub async fn publish(client: &Client, change: Value, topic: &str) -> u64 {
    let (s, out) = client.post("/changes", ADMIN, change).await;
    assert_eq!(s, 202, "{out}");
    out["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["topicId"] == topic)
        .unwrap_or_else(|| panic!("no {topic} event in {out}"))["deliveries"]
        .as_u64()
        .expect("deliveries")
}

/// Polls `check` every 50 ms until it holds; panics after `timeout`, naming `what`. Returns how long it took.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        // Real I/O: another node (or process) acts on its own schedule; poll until the condition holds.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no delivery is pending any more (every one delivered, failed or dead): nothing more will be sent.
pub async fn wait_settled(store: &Arc<dyn Store>, timeout: Duration) -> Duration {
    wait_until("no delivery is pending", timeout, || async {
        match store.stats(chrono::Utc::now()).await {
            Ok(s) => s.due + s.scheduled == 0,
            Err(_) => false,
        }
    })
    .await
}
