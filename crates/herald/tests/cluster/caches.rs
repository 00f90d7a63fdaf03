//! Caches across nodes: a webhook created, changed or deleted on node A (and an installation ended or made again)
//! routes correctly on node B within a second, and deliveries go to the new URL whichever node sends them.

use std::time::{Duration, Instant};

use herald_testkit::{pg, Behaviour, Receiver};
use serde_json::json;

use crate::support::*;

/// The contract of this issue: every node routes by the new state within this long.
const WITHIN: Duration = Duration::from_secs(1);

/// Publishes probes of `topic` on `node` until its event gets `want` deliveries; returns how long that took from
/// `since` (the moment the change on the other node was answered). The caller asserts on that time; this gives up
/// only after five times [`WITHIN`], so that a failure reports how late the node was.
async fn routes(node: &Node, topic: &str, want: u64, since: Instant, probe: &mut usize) -> Duration {
    loop {
        *probe += 1;
        let entity = format!("PROBE{probe:05}");
        let change = if topic == "contacts.created" { created(&entity) } else { modified(&entity) };
        if publish(&node.client, change, topic).await == want {
            return since.elapsed();
        }
        assert!(since.elapsed() < WITHIN * 5, "node still routes {topic} the old way after {:?}", since.elapsed());
        // Real I/O: the other node notices the routing version on its next check.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_changes_on_one_node_route_on_the_other_within_a_second() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts::default()).await;
    let (a, b) = (&cluster.a, &cluster.b);
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let (app, inst) = app_installed(&a.client).await;
    // Node B has built its routing table (no webhook yet) before the changes start.
    let mut probe = 0;
    assert_eq!(publish(&b.client, modified("WARM"), TOPIC).await, 0);

    let mut timings = Vec::new();
    // Created on A.
    let hook = webhook(&a.client, &app, &format!("http://{}/v1", receiver.addr), &[TOPIC]).await;
    let t = Instant::now();
    assert_eq!(publish(&a.client, modified("ON-A"), TOPIC).await, 1, "the node that wrote routes at once");
    timings.push(("create", routes(b, TOPIC, 1, t, &mut probe).await));

    // Changed on A: another topic and another URL.
    let (s, out) = a
        .client
        .put(
            &format!("/webhooks/subscriptions/{hook}"),
            ADMIN,
            json!({ "url": format!("http://{}/v2", receiver.addr), "topicIds": ["contacts.created"],
                    "customerIds": [CUSTOMER] }),
        )
        .await;
    assert_eq!(s, 204, "{out}");
    let t = Instant::now();
    timings.push(("update", routes(b, "contacts.created", 1, t, &mut probe).await));
    assert_eq!(publish(&b.client, modified("OLD-TOPIC"), TOPIC).await, 0, "the old topic no longer routes");
    // Deliveries made from now on go to the new URL, whichever node attempts them.
    for i in 0..10 {
        let node = if i % 2 == 0 { a } else { b };
        assert_eq!(publish(&node.client, created(&format!("NEW-URL-{i}")), "contacts.created").await, 1);
    }

    // The installation ended on A, then made again.
    let (s, out) = a.client.delete(&format!("/installations/{inst}"), ADMIN).await;
    assert_eq!(s, 204, "{out}");
    let t = Instant::now();
    timings.push(("uninstall", routes(b, "contacts.created", 0, t, &mut probe).await));
    install(&a.client, &app).await;
    let t = Instant::now();
    timings.push(("reinstall", routes(b, "contacts.created", 1, t, &mut probe).await));

    // Deleted on A.
    let (s, out) = a.client.delete(&format!("/webhooks/subscriptions/{hook}"), ADMIN).await;
    assert_eq!(s, 204, "{out}");
    let t = Instant::now();
    timings.push(("delete", routes(b, "contacts.created", 0, t, &mut probe).await));

    println!("routing on node B caught up with node A's changes after: {timings:?}");
    for (what, took) in &timings {
        assert!(*took < WITHIN, "{what} on node A took {took:?} to route on node B");
    }
    wait_settled(a.store(), Duration::from_secs(30)).await;
    let received = receiver.received();
    let new_url: Vec<_> =
        received.iter().filter(|r| r.json()["entityId"].as_str().is_some_and(|e| e.starts_with("NEW-URL"))).collect();
    assert_eq!(new_url.len(), 10, "every change after the update was delivered once");
    assert!(new_url.iter().all(|r| r.path == "/v2"), "{:?}", new_url.iter().map(|r| &r.path).collect::<Vec<_>>());
    cluster.stop().await;
}
