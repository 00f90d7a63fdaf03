//! Shared work in steady state: changes published alternately to two nodes are delivered exactly once per webhook,
//! whichever node claims them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_testkit::{pg, Behaviour, Receiver};
use tokio::task::JoinSet;

use crate::support::*;

const CHANGES: usize = 2_000;
/// Requests to Herald in flight at once while publishing.
const PUBLISHERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_2000_changes_exactly_once_per_webhook() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts::default()).await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let (app, _) = app_installed(&cluster.a.client).await;
    // One webhook created on each node; each change goes to both.
    let paths = ["/hook/a", "/hook/b"];
    webhook(&cluster.a.client, &app, &format!("http://{}{}", receiver.addr, paths[0]), &[TOPIC]).await;
    webhook(&cluster.b.client, &app, &format!("http://{}{}", receiver.addr, paths[1]), &[TOPIC]).await;
    // Both nodes route to both webhooks before the count starts (the cross-node cache test times this).
    for (i, node) in [&cluster.a, &cluster.b].into_iter().enumerate() {
        let mut probe = 0;
        wait_until("both nodes route to both webhooks", Duration::from_secs(5), || {
            probe += 1;
            let change = modified(&format!("PROBE-{i}-{probe}"));
            async move { publish(&node.client, change, TOPIC).await == 2 }
        })
        .await;
    }

    let started = Instant::now();
    let clients = Arc::new([cluster.a.client.clone(), cluster.b.client.clone()]);
    let mut publishers = JoinSet::new();
    for p in 0..PUBLISHERS {
        let clients = clients.clone();
        publishers.spawn(async move {
            for i in (p..CHANGES).step_by(PUBLISHERS) {
                // Alternately to node A and node B.
                let n = publish(&clients[i % 2], modified(&format!("C{i:05}")), TOPIC).await;
                assert_eq!(n, 2, "change {i} is routed to both webhooks");
            }
        });
    }
    while let Some(done) = publishers.join_next().await {
        done.expect("a publisher failed");
    }
    let published = started.elapsed();

    let expected = CHANGES * paths.len();
    let key = |r: &herald_testkit::Received| (r.path.clone(), r.json()["entityId"].as_str().unwrap_or("").to_string());
    wait_until("every delivery arrived", Duration::from_secs(120), || {
        let got: HashSet<_> = receiver.received().iter().map(key).filter(|(_, e)| e.starts_with('C')).collect();
        async move { got.len() >= expected }
    })
    .await;
    let delivered_in = started.elapsed();
    // Nothing pending any more: no later request can arrive, so the counts below are final.
    wait_settled(cluster.a.store(), Duration::from_secs(30)).await;

    let received: Vec<_> = receiver.received().into_iter().filter(|r| key(r).1.starts_with('C')).collect();
    let mut per_delivery: HashMap<(String, String), usize> = HashMap::new();
    let mut entities: HashMap<String, HashSet<String>> = HashMap::new();
    for r in &received {
        let id = r.header("webhook-id").expect("webhook-id");
        *per_delivery.entry((r.path.clone(), id)).or_default() += 1;
        entities.entry(r.path.clone()).or_default().insert(key(r).1);
    }
    let duplicates: usize = per_delivery.values().map(|n| n - 1).sum();
    let mut lost = Vec::new();
    for path in paths {
        let got = entities.get(path).cloned().unwrap_or_default();
        lost.extend(
            (0..CHANGES).map(|i| format!("C{i:05}")).filter(|e| !got.contains(e)).map(|e| format!("{path}:{e}")),
        );
    }
    let (by_a, by_b) = (cluster.a.delivered(), cluster.b.delivered());
    println!(
        "steady state: {CHANGES} changes published alternately to 2 nodes in {published:?}, {expected} deliveries \
         arrived within {delivered_in:?}; requests {}, distinct deliveries {}, duplicates {duplicates}, lost {}; \
         delivered by node A {by_a}, by node B {by_b} (probes included)",
        received.len(),
        per_delivery.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost deliveries: {:?}", &lost[..lost.len().min(20)]);
    assert_eq!(per_delivery.len(), expected, "one webhook-id per (change, webhook)");
    assert_eq!(duplicates, 0, "no delivery is sent twice in steady state");
    assert!(by_a > 0 && by_b > 0, "both nodes took a share of the work: A {by_a}, B {by_b}");
    cluster.stop().await;
}
