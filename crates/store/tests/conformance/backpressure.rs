//! Backpressure (contract §9.3): a webhook's hold, its rate limit, and the send slots nodes reserve.

use std::sync::Arc;
use std::time::Duration;

use herald_store::*;

use crate::fixtures::*;

pub async fn a_hold_only_grows_and_is_listed_until_it_ends(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let plain = webhook(&app, &[], t(1));
    let limited = WebhookRecord { rate_limit: Some(20), ..webhook(&app, &[], t(1)) };
    store.insert_webhook(&plain).await.unwrap();
    store.insert_webhook(&limited).await.unwrap();
    let version = store.routing_version().await.unwrap();

    let gates = store.webhook_gates(t(10)).await.unwrap();
    assert_eq!(gates, vec![WebhookGate { webhook_id: limited.id, hold_until: None, rate_limit: Some(20) }]);

    store.hold_webhook(plain.id, t(100)).await.unwrap();
    store.hold_webhook(plain.id, t(50)).await.unwrap();
    let mut gates = store.webhook_gates(t(10)).await.unwrap();
    gates.sort_by_key(|g| g.rate_limit);
    assert_eq!(gates[0], WebhookGate { webhook_id: plain.id, hold_until: Some(t(100)), rate_limit: None }, "kept");
    assert_eq!(store.webhook_gates(t(100)).await.unwrap().len(), 1, "a hold that ended is not listed");
    assert_eq!(store.routing_version().await.unwrap(), version, "holds do not change routing");
    assert_eq!(store.get_webhook(limited.id).await.unwrap().rate_limit, Some(20));

    store.delete_webhook(limited.id, t(20)).await.unwrap();
    assert_eq!(store.webhook_gates(t(10)).await.unwrap().len(), 1, "a deleted webhook is not listed");
}

pub async fn send_slots_follow_one_another_and_never_start_in_the_past(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let hook = WebhookRecord { rate_limit: Some(10), ..webhook(&app, &[], t(1)) };
    store.insert_webhook(&hook).await.unwrap();
    let every = Duration::from_millis(100);
    assert_eq!(store.reserve_send_slots(hook.id, 3, every, t(10)).await.unwrap(), t(10));
    let next = store.reserve_send_slots(hook.id, 2, every, t(10)).await.unwrap();
    assert_eq!(next, t(10) + chrono::Duration::milliseconds(300), "after the three taken");
    // Much later: unused time is not saved up (no burst), the slots start now.
    assert_eq!(store.reserve_send_slots(hook.id, 1, every, t(60)).await.unwrap(), t(60));

    // Concurrent reservations (nodes) never get the same slot.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.reserve_send_slots(hook.id, 2, every, t(100)).await.unwrap() }));
    }
    let mut firsts = Vec::new();
    for task in tasks {
        firsts.push(task.await.unwrap());
    }
    firsts.sort();
    for pair in firsts.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::milliseconds(200), "{firsts:?}");
    }
    assert_eq!(firsts[0], t(100));
}
