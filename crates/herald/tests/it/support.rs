//! A Herald per test: its own data dir and database, the app on port 0, helpers to set up applications and
//! webhooks.
//!
//! `HERALD_TEST_BACKEND` picks the database: `sqlite` (the default, a file in the data dir) or `postgres` (a fresh
//! database per test on the server of `HERALD_TEST_DATABASE_URL`, dropped after the test).

use std::time::Duration;

use herald_config::ServeArgs;
use herald_testkit::pg::TestDatabase;
use herald_testkit::Client;
use serde_json::{json, Value};
use tempfile::TempDir;

pub const ADMIN: &str = "test-admin-token-0123456789";
/// The key PostgreSQL test nodes seal secrets with.
pub const TEST_ENCRYPTION_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The database the tests of this run use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// From `HERALD_TEST_BACKEND`; an unknown value fails the test rather than silently testing SQLite.
    pub fn from_env() -> Backend {
        match std::env::var("HERALD_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") => Backend::Postgres,
            Ok(other) => panic!("HERALD_TEST_BACKEND={other:?}: expected sqlite or postgres"),
        }
    }

    /// A fresh database for one test: `None` for SQLite (Herald's default file in the data dir), or a PostgreSQL
    /// database, dropped with the guard.
    pub async fn database(self) -> Option<TestDatabase> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create().await),
        }
    }
}

pub struct TestApp {
    pub client: Client,
    pub running: Option<herald::Running>,
    /// The data dir, removed when the test ends.
    #[allow(dead_code)] // held for its Drop
    pub dir: TempDir,
    /// The PostgreSQL database of this test, dropped after everything above.
    #[allow(dead_code)] // held for its Drop
    pub db: Option<TestDatabase>,
}

/// Options of a test Herald, beyond the defaults tests want (http and loopback targets allowed).
#[derive(Default, Clone)]
pub struct Opts {
    pub retry_schedule: Option<&'static str>,
    pub delivery_timeout: Option<&'static str>,
    pub worker: bool,
    pub strict_targets: bool,
    pub auto_disable_after: Option<&'static str>,
    pub retention: Option<&'static str>,
    /// Any other options, set on the arguments before they are resolved.
    pub tune: Option<fn(&mut ServeArgs)>,
    /// How long `Idempotency-Key`s are remembered (default 24 hours).
    pub idempotency_ttl: Option<Duration>,
    pub public_url: Option<&'static str>,
    pub trusted_proxy: bool,
    pub logs_page_bytes: Option<&'static str>,
}

impl TestApp {
    /// A Herald whose delivery loop does not run: tests drive it with `deliver()`.
    pub async fn spawn() -> TestApp {
        Self::with(Opts::default()).await
    }

    /// A Herald whose delivery loop runs in the background.
    pub async fn spawn_with_worker() -> TestApp {
        Self::with(Opts { worker: true, ..Opts::default() }).await
    }

    pub async fn with(opts: Opts) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Backend::from_env().database().await;
        let flag = |b: bool| Some(if b { "false" } else { "true" }.to_string());
        let args = ServeArgs {
            data_dir: Some(dir.path().display().to_string()),
            database_url: db.as_ref().map(|d| d.url().to_string()),
            // PostgreSQL takes no generated key (nodes must share one); SQLite generates one in the data dir.
            encryption_key: db.as_ref().map(|_| TEST_ENCRYPTION_KEY.to_string()),
            allow_http_targets: flag(opts.strict_targets),
            allow_private_targets: flag(opts.strict_targets),
            retry_schedule: Some(opts.retry_schedule.unwrap_or("50ms,100ms").to_string()),
            delivery_timeout: Some(opts.delivery_timeout.unwrap_or("2s").to_string()),
            auto_disable_after: opts.auto_disable_after.map(str::to_string),
            retention: opts.retention.map(str::to_string),
            public_url: opts.public_url.map(str::to_string),
            trusted_proxy: Some(opts.trusted_proxy.to_string()),
            logs_page_bytes: opts.logs_page_bytes.map(str::to_string),
            ..ServeArgs::default()
        };
        let mut args = args;
        if let Some(tune) = opts.tune {
            tune(&mut args);
        }
        let cfg = args.resolve_with_env(|_| None).expect("test configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let idempotency_ttl = opts.idempotency_ttl;
        let running = herald::start_tuned(&cfg, ADMIN, listener, opts.worker, |service| {
            if let Some(ttl) = idempotency_ttl {
                service.idempotency_ttl = ttl;
            }
        })
        .await
        .expect("start herald");
        let client = Client::new(format!("http://{}", running.addr));
        TestApp { client, running: Some(running), dir, db }
    }

    pub fn running(&self) -> &herald::Running {
        self.running.as_ref().expect("running")
    }

    /// Attempts every delivery due now (and records them); returns how many.
    pub async fn deliver(&self) -> usize {
        self.running().engine.run_once().await.expect("run_once")
    }

    /// Delivers until nothing is pending, moving the engine's clock to each retry's due time instead of waiting for
    /// it; `within` bounds the real time spent (attempts against slow receivers take real time).
    pub async fn deliver_all(&self, within: Duration) -> usize {
        let deadline = std::time::Instant::now() + within;
        let clock = self.running().herald.clock().clone();
        let mut total = 0;
        while std::time::Instant::now() < deadline {
            let n = self.deliver().await;
            total += n;
            if n == 0 {
                match self.running().herald.store().next_due_at(&[]).await.expect("next due") {
                    None => return total,
                    Some(due) => clock.advance((due - clock.now()).to_std().unwrap_or_default()),
                }
            }
        }
        total
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Creates an application with these scopes; returns (id, api key, client id).
    pub async fn create_app(&self, name: &str, scopes: &[&str]) -> (String, String, String) {
        let (status, body) = self.client.post("/apps", ADMIN, json!({ "name": name, "scopes": scopes })).await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_string(),
            body["apiKey"].as_str().unwrap().to_string(),
            body["clientId"].as_str().unwrap().to_string(),
        )
    }

    pub async fn install(&self, app: &str, customer: &str) -> String {
        let (status, body) = self
            .client
            .post(
                "/installations",
                ADMIN,
                json!({ "applicationId": app, "customerId": customer, "customerName": format!("{customer} Estates") }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Creates a webhook and returns its model (with `secret`).
    pub async fn create_webhook(&self, app: &str, url: &str, topics: &[&str], customers: &[&str]) -> Value {
        self.create_webhook_with(
            json!({ "applicationId": app, "url": url, "topicIds": topics, "customerIds": customers }),
        )
        .await
    }

    pub async fn create_webhook_with(&self, body: Value) -> Value {
        let (status, out) = self.client.post("/webhooks/subscriptions", ADMIN, body).await;
        assert_eq!(status, 201, "{out}");
        out
    }

    pub async fn publish(&self, change: Value) -> Value {
        let (status, body) = self.client.post("/changes", ADMIN, change).await;
        assert_eq!(status, 202, "{body}");
        body
    }
}

/// Whether the request's Standard Webhooks signature verifies with `secret`, checked by the independent
/// `standardwebhooks` crate.
pub fn standard_signature_ok(secret: &str, r: &herald_testkit::Received) -> bool {
    let wh = standardwebhooks::Webhook::new(secret).expect("secret");
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, r.headers.get(name).expect(name).clone());
    }
    wh.verify(&r.body, &headers).is_ok()
}

/// The seed's contacts.modified example change (old/new exactly as in the seed).
pub fn seed_contact_change(customer: &str) -> Value {
    let example: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
    json!({
        "customerId": customer,
        "entityType": "contacts",
        "entityId": "RPT20000029",
        "eventTime": "2020-05-13T09:33:16.8811358Z",
        "old": example["old"],
        "new": example["new"],
    })
}

/// The seed's example payload, verbatim.
pub const SEED_EXAMPLE: &str = r#"{
  "SendAttempts": 1,
	"eventId": "9e7e4181-6210-49ea-abf5-d5ce16d23647",
	"entityId": "RPT20000029",
	"customerId": "webhook-test",
	"eventTime": "2020-05-13T09:33:16.8811358Z",
	"topicId": "contacts.modified",
	"new": {
		"id": "RPT20000029",
		"created": "2020-05-13T09:32:24Z",
		"modified": "2020-05-13T09:33:10Z",
		"title": "Mr",
		"forename": "John",
		"surname": "Smith",
		"dateOfBirth": null,
		"active": true,
		"marketingConsent": "notAsked",
		"identityCheck": "unchecked",
		"source": null,
		"homePhone": null,
		"workPhone": null,
		"mobilePhone": "07123 456789",
		"email": "john.smith@reapitestates.net",
		"primaryAddress": {
			"type": "primary",
			"buildingName": "",
			"buildingNumber": "12",
			"line1": "High Street",
			"line2": "Clacton-On-Sea",
			"line3": "Essex",
			"line4": "",
			"postcode": "CO15 1AE",
			"countryId": "GB"
		},
		"secondaryAddress": null,
		"workAddress": null,
		"officeIds": ["RPT"],
		"negotiatorIds": ["RPT"],
		"_eTag": "\"4DF107A6EB05D792EEAFDF1432F6E275\""
	},
	"old": {
		"id": "RPT20000029",
		"created": "2020-05-13T09:32:24Z",
		"modified": null,
		"title": "Mr",
		"forename": "John",
		"surname": "Smith",
		"dateOfBirth": null,
		"active": true,
		"marketingConsent": "notAsked",
		"identityCheck": "unchecked",
		"source": null,
		"homePhone": null,
		"workPhone": null,
		"mobilePhone": null,
		"email": "john.smith@reapitestates.net",
		"primaryAddress": {
			"type": "primary",
			"buildingName": "",
			"buildingNumber": "1",
			"line1": "High Street",
			"line2": "Clacton-On-Sea",
			"line3": "Essex",
			"line4": "",
			"postcode": "CO15 1AE",
			"countryId": "GB"
		},
		"secondaryAddress": null,
		"workAddress": null,
		"officeIds": ["RPT"],
		"negotiatorIds": ["RPT"],
		"_eTag": "\"65D680519E9762519D203891A694B85B\""
	},
	"diff": {
		"modified": [null, "2020-05-13T09:33:10Z"],
		"mobilePhone": [null, "07123 456789"],
		"primaryAddress": {
			"buildingNumber": ["1", "12"]
		},
		"_eTag": ["\"65D680519E9762519D203891A694B85B\"", "\"4DF107A6EB05D792EEAFDF1432F6E275\""]
	}
}"#;
