//! Ordered delivery across nodes (contract §9.1): each entity's changes, accepted alternately by two nodes, arrive
//! at an ordered webhook one after the other in acceptance order, whichever node claims each delivery.

use std::time::Duration;

use herald_testkit::order::{by_entity, folded};
use herald_testkit::{pg, Behaviour, Receiver};
use serde_json::{json, Value};

use crate::support::*;

const ENTITIES: usize = 50;
const VERSIONS: u32 = 20;

/// The `version`-th change of contact `entity`: its surname goes from `S{version-1}` to `S{version}`.
fn change(entity: &str, version: u32) -> Value {
    json!({ "customerId": CUSTOMER, "entityType": "contacts", "entityId": entity,
            "old": { "id": entity, "surname": format!("S{}", version - 1) },
            "new": { "id": entity, "surname": format!("S{version}") } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_keep_each_entitys_order() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts { retry_schedule: "200ms,200ms,200ms", ..NodeOpts::default() }).await;
    // A tenth of first attempts fail: retries must keep their entity waiting on whichever node holds them.
    let receiver = Receiver::start(Behaviour::FailFirstOf(10)).await;
    let (app, _) = app_installed(&cluster.a.client).await;
    let body = json!({ "applicationId": app, "url": receiver.url(), "topicIds": [TOPIC], "customerIds": [CUSTOMER],
                       "ordered": true });
    let (s, hook) = cluster.a.client.post("/webhooks/subscriptions", ADMIN, body).await;
    assert_eq!(s, 201, "{hook}");
    // Node B routes to the webhook before publishing starts.
    wait_until("node B routes to the ordered webhook", Duration::from_secs(5), || async {
        publish(&cluster.b.client, change("PROBE", 1), TOPIC).await == 1
    })
    .await;

    // Version k of every entity, as one batch, to node A for odd k and node B for even k.
    for version in 1..=VERSIONS {
        let node = if version % 2 == 1 { &cluster.a } else { &cluster.b };
        let changes: Vec<Value> = (0..ENTITIES).map(|e| change(&format!("N{e:03}"), version)).collect();
        let (s, out) = node.client.post("/changes", ADMIN, json!({ "changes": changes })).await;
        assert_eq!(s, 202, "{out}");
    }
    let total = ENTITIES * VERSIONS as usize;
    wait_until("every change delivered", Duration::from_secs(60), || async {
        let seen = by_entity(&receiver.received());
        seen.iter().filter(|(e, _)| e.as_str() != "PROBE").map(|(_, a)| folded(a).map_or(0, |s| s.len())).sum::<usize>()
            >= total
    })
    .await;
    for (entity, arrivals) in by_entity(&receiver.received()).iter().filter(|(e, _)| e.as_str() != "PROBE") {
        let sequences = folded(arrivals).unwrap_or_else(|e| panic!("{entity}: {e}"));
        assert_eq!(sequences, (1..=i64::from(VERSIONS)).collect::<Vec<_>>(), "{entity}");
        for a in arrivals {
            assert_eq!(a.payload["new"]["surname"], json!(format!("S{}", a.sequence)), "{entity}");
        }
    }
    assert!(cluster.a.delivered() > 0 && cluster.b.delivered() > 0, "both nodes took part");
    cluster.stop().await;
}
