//! Operational events across nodes (contract §9.4): both nodes record failures and successes of one webhook at once,
//! and each transition of its failing streak is announced once.

use std::time::Duration;

use herald_testkit::{pg, Behaviour, Receiver};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_announce_each_transition_of_a_failing_webhook_once() {
    if pg::skipped() {
        return;
    }
    let cluster = Cluster::start(&NodeOpts::default()).await;
    let failing = Receiver::start(Behaviour::Status(410)).await;
    let told = Receiver::start(Behaviour::Status(200)).await;
    let (app, _) = app_installed(&cluster.a.client).await;
    webhook(&cluster.a.client, &app, &failing.url(), &[TOPIC]).await;
    webhook(&cluster.b.client, &app, &told.url(), &["webhooks.failing", "webhooks.recovered"]).await;
    // Both nodes route to the failing webhook before the count starts.
    for node in [&cluster.a, &cluster.b] {
        let mut probe = 0;
        wait_until("the node routes to the webhook", Duration::from_secs(5), || {
            probe += 1;
            let change = modified(&format!("PROBE-{probe}"));
            async move { publish(&node.client, change, TOPIC).await == 1 }
        })
        .await;
    }

    // Many final failures, attempted and recorded by both nodes: one webhooks.failing.
    for i in 0..40 {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        publish(&node.client, modified(&format!("F{i}")), TOPIC).await;
    }
    wait_until("every failure attempted", Duration::from_secs(30), || async { failing.count() >= 42 }).await;
    wait_settled(cluster.a.store(), Duration::from_secs(30)).await;
    told.expect_no_more_than(1, Duration::from_millis(500)).await;
    let got = told.received();
    assert_eq!(got.len(), 1, "one announcement of the streak");
    assert_eq!(got[0].json()["topicId"], "webhooks.failing");

    // The endpoint is fixed: many successes on both nodes, one webhooks.recovered.
    failing.set_behaviour(Behaviour::Status(200));
    for i in 0..40 {
        let node = if i % 2 == 0 { &cluster.b } else { &cluster.a };
        publish(&node.client, modified(&format!("S{i}")), TOPIC).await;
    }
    let got = told.wait_for(2, Duration::from_secs(30)).await;
    wait_settled(cluster.a.store(), Duration::from_secs(30)).await;
    told.expect_no_more_than(2, Duration::from_millis(500)).await;
    assert_eq!(got[1].json()["topicId"], "webhooks.recovered");
    assert!(cluster.a.delivered() + cluster.b.delivered() >= 42, "both nodes delivered");
    cluster.stop().await;
}
