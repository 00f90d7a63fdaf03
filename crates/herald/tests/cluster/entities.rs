//! Entity state across nodes (contract §9.5): concurrent `PUT`s of one entity sent to two nodes are applied one
//! after the other, each diffing against the record before it, by the store's compare-and-set alone (the
//! in-process lock of each node does not see the other node's writers).

use std::time::Duration;

use herald_testkit::{pg, Behaviour, Receiver};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_puts_of_one_entity_on_two_nodes_chain_their_diffs() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts::default()).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let (app, _) = app_installed(&cluster.a.client).await;
    webhook(&cluster.a.client, &app, &format!("http://{}/hook", receiver.addr), &[TOPIC]).await;
    let path = format!("/entities/{CUSTOMER}/contacts/C1");
    let base = json!({"id": "C1", "surname": "Smith"});
    let (s, out) = cluster.a.client.put(&path, ADMIN, base.clone()).await;
    assert_eq!(s, 202, "{out}");
    // Node B routes to the webhook before the writes start.
    wait_until("node B routes to the webhook", Duration::from_secs(5), || {
        let client = cluster.b.client.clone();
        async move { publish(&client, modified("PROBE"), TOPIC).await == 1 }
    })
    .await;

    let mut puts = JoinSet::new();
    for i in 0..50 {
        let client = if i % 2 == 0 { cluster.a.client.clone() } else { cluster.b.client.clone() };
        let (path, mut record) = (path.clone(), base.clone());
        record[format!("field{i:02}")] = json!(i);
        puts.spawn(async move { client.put(&path, ADMIN, record).await });
    }
    for (s, out) in puts.join_all().await {
        assert_eq!(s, 202, "{out}");
        assert_eq!(out["events"][0]["deliveries"], 1, "{out}");
    }
    // Probe deliveries may still be arriving: count the entity's own.
    let of_c1 = |r: &Receiver| -> Vec<Value> {
        r.received().iter().map(|g| g.json()).filter(|p| p["entityId"] == "C1" && p["topicId"] == TOPIC).collect()
    };
    wait_until("the 50 modifications delivered", Duration::from_secs(30), || async { of_c1(&receiver).len() >= 50 })
        .await;
    let payloads = of_c1(&receiver);
    assert_eq!(payloads.len(), 50);
    let order = herald_testkit::entities::chain(&base, &payloads).unwrap_or_else(|e| panic!("no chain: {e}"));
    let last = &payloads[*order.last().expect("a chain")]["new"];
    assert_eq!(&cluster.b.client.get(&path, ADMIN).await.1, last, "the state is the last record applied");
    cluster.stop().await;
}
