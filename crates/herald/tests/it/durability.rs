//! Nothing accepted is lost: a change answered 202 is delivered after `kill -9` and a restart. On PostgreSQL the
//! restarted process is a new node, which takes over the killed one's claims once its (short) lease has expired.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use herald_testkit::pg::TestDatabase;
use herald_testkit::{free_port, Behaviour, Client, HeraldProcess, Receiver};
use serde_json::json;

use crate::support::{seed_contact_change, Backend, ADMIN};

const BIN: &str = env!("CARGO_BIN_EXE_herald");
const FLAGS: &[&str] = &[
    "--allow-http-targets",
    "--allow-private-targets",
    "--retry-schedule",
    "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
];

async fn setup(client: &Client, url: &str) {
    let (s, app) = client.post("/apps", ADMIN, json!({"name": "Durable", "scopes": ["contacts.read"]})).await;
    assert_eq!(s, 201, "{app}");
    let app_id = app["id"].as_str().unwrap();
    // an installed customer, not the sandbox: sandbox events get one attempt only
    let (s, _) = client.post("/installations", ADMIN, json!({"applicationId": app_id, "customerId": "RPT"})).await;
    assert_eq!(s, 201);
    let (s, out) = client
        .post(
            "/webhooks/subscriptions",
            ADMIN,
            json!({"applicationId": app_id, "url": url, "topicIds": ["contacts.modified"], "customerIds": ["RPT"]}),
        )
        .await;
    assert_eq!(s, 201, "{out}");
}

async fn start(dir: &Path, db: &Option<TestDatabase>) -> HeraldProcess {
    let mut flags = FLAGS.to_vec();
    if let Some(db) = db {
        flags.extend([
            "--database-url",
            db.url(),
            "--lease",
            "1s",
            "--encryption-key",
            crate::support::TEST_ENCRYPTION_KEY,
        ]);
    }
    HeraldProcess::start(Path::new(BIN), dir, ADMIN, &flags).await
}

#[tokio::test]
async fn changes_answered_202_are_delivered_after_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut herald = start(dir.path(), &db).await;
    let client = Client::new(herald.base.clone());
    setup(&client, &url).await;

    // The receiver is down: every first attempt fails, retries are scheduled.
    let n = 50;
    for i in 0..n {
        let mut change = seed_contact_change("RPT");
        change["entityId"] = json!(format!("RPT{i:05}"));
        let (s, body) = client.post("/changes", ADMIN, change).await;
        assert_eq!(s, 202, "{body}");
    }
    herald.kill9();

    let receiver = Receiver::start_on(&format!("127.0.0.1:{port}"), Behaviour::Status(200)).await;
    let _herald = start(dir.path(), &db).await;
    let got = receiver.wait_for(n, Duration::from_secs(30)).await;
    let ids: HashSet<String> = got.iter().map(|r| r.header("webhook-id").unwrap()).collect();
    let entities: HashSet<String> = got.iter().map(|r| r.json()["entityId"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), n, "every accepted delivery arrived ({} requests)", got.len());
    assert_eq!(entities.len(), n);
}

#[tokio::test]
async fn deliveries_in_flight_at_a_crash_are_attempted_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let receiver = Receiver::start(Behaviour::Hang).await;
    let mut herald = start(dir.path(), &db).await;
    let client = Client::new(herald.base.clone());
    setup(&client, &receiver.url()).await;
    let (s, _) = client.post("/changes", ADMIN, seed_contact_change("RPT")).await;
    assert_eq!(s, 202);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    herald.kill9();
    receiver.set_behaviour(Behaviour::Status(200));
    let _herald = start(dir.path(), &db).await;
    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"), "the same delivery, attempted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_attempts_in_flight_finish_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let receiver = Receiver::start(Behaviour::Delay(Duration::from_millis(800))).await;
    let mut herald = start(dir.path(), &db).await;
    let client = Client::new(herald.base.clone());
    setup(&client, &receiver.url()).await;
    let (s, _) = client.post("/changes", ADMIN, seed_contact_change("RPT")).await;
    assert_eq!(s, 202);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let pid = herald.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = herald.child.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    // The attempt finished (200 after the delay) and was recorded: a restart does not send it again.
    let herald2 = start(dir.path(), &db).await;
    let client2 = Client::new(herald2.base.clone());
    let (_, logs) = client2.get("/webhooks/logs", ADMIN).await;
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs[0]["statusCode"], 200, "{logs}");
    receiver.expect_no_more_than(1, Duration::from_millis(800)).await;
}
