//! A node killed (`kill -9`) while it holds claims: the other node leaves them alone while the first one lives,
//! and takes them over once its lease has expired, completing every delivery.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use herald_testkit::pg::{self, TestDatabase};
use herald_testkit::{Behaviour, Client, HeraldProcess, Receiver};

use crate::support::*;

/// Deliveries node 1 holds when it dies: 16 in flight (the per-webhook bound) and the rest claimed and queued.
const DELIVERIES: i64 = 24;
const LEASE: Duration = Duration::from_secs(2);

async fn node(dir: &Path, db: &TestDatabase) -> HeraldProcess {
    let flags = [
        "--database-url",
        db.url(),
        "--lease",
        "2s",
        "--allow-http-targets",
        "--allow-private-targets",
        // Node 1's attempts hang until it is killed; none of them times out first.
        "--delivery-timeout",
        "60s",
        "--retry-schedule",
        "500ms,500ms,500ms",
        "--encryption-key",
        ENCRYPTION_KEY,
    ];
    HeraldProcess::start(Path::new(BIN), dir, ADMIN, &flags).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_holding_claims_has_its_deliveries_completed_by_the_other() {
    if pg::skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let db = &db;
    let (dir1, dir2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let receiver = Receiver::start(Behaviour::Hang).await;
    let mut node1 = node(dir1.path(), db).await;
    let client1 = Client::new(node1.base.clone());
    let (app, _) = app_installed(&client1).await;
    webhook(&client1, &app, &receiver.url(), &[TOPIC]).await;
    for i in 0..DELIVERIES {
        assert_eq!(publish(&client1, modified(&format!("K{i:03}")), TOPIC).await, 1);
    }
    // Node 1, alone so far, holds every delivery: some in flight (hanging), the rest queued behind them.
    const HELD: &str = "SELECT count(*) FROM deliveries WHERE state = 0 AND owner IS NOT NULL";
    wait_until("node 1 holds every delivery", Duration::from_secs(10), move || async move {
        db.scalar(HELD).await == DELIVERIES
    })
    .await;
    receiver.wait_for(1, Duration::from_secs(10)).await;

    // Node 2 joins. While node 1 lives (and heartbeats), its claims stay its own, even for longer than a lease.
    let node2 = node(dir2.path(), db).await;
    let client2 = Client::new(node2.base.clone());
    let requests_before = receiver.count();
    wait_until("node 2 is seen alive", Duration::from_secs(10), move || async move {
        db.scalar("SELECT count(*) FROM nodes").await == 2
    })
    .await;
    let watch = Instant::now();
    while watch.elapsed() < LEASE * 2 {
        assert_eq!(db.scalar(HELD).await, DELIVERIES, "claims of a live node are never taken");
        // Real time on purpose: the live node is another process on the system clock; its claims outlast two leases.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(receiver.count(), requests_before, "node 2 sent nothing that node 1 holds");
    let held_by_node1 = receiver.count();

    node1.kill9();
    receiver.set_behaviour(Behaviour::Status(200));
    const DELIVERED: &str = "SELECT count(*) FROM deliveries WHERE state = 1";
    let took = wait_until("node 2 delivered everything", Duration::from_secs(30), move || async move {
        db.scalar(DELIVERED).await == DELIVERIES
    })
    .await;

    let received = receiver.received();
    let ids: HashSet<_> = received.iter().filter_map(|r| r.header("webhook-id")).collect();
    let entities: HashSet<_> =
        received.iter().filter_map(|r| r.json()["entityId"].as_str().map(str::to_string)).collect();
    assert_eq!(ids.len() as i64, DELIVERIES, "one webhook-id per delivery");
    assert_eq!(entities.len() as i64, DELIVERIES, "every change arrived");
    let duplicates = received.len() - ids.len();
    println!(
        "kill -9: node 1 held {DELIVERIES} deliveries ({held_by_node1} in flight at the receiver); node 2 completed \
         them all {took:?} after the kill (lease {LEASE:?}); requests {}, duplicates {duplicates} (the attempts node 1 \
         had in flight, sent again)",
        received.len()
    );
    assert!(duplicates <= held_by_node1, "only attempts in flight at the kill are sent twice");
    // Node 2 shows them delivered in the logs, each by one successful attempt.
    let (s, logs) = client2.get("/webhooks/logs", ADMIN).await;
    assert_eq!(s, 200);
    let ok = logs.as_array().expect("logs").iter().filter(|l| l["statusCode"] == 200).count();
    assert_eq!(ok as i64, DELIVERIES, "{logs}");
}
