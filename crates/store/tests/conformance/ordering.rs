//! Ordered delivery per entity (contract §9.1): sequences, the one claimable head per entity, and what happens
//! when the head ends.

use std::sync::Arc;

use herald_domain::DeliveryId;
use herald_store::*;

use crate::fixtures::*;

/// An ordered delivery to `hook` about `entity`, due at `at`.
fn ordered(hook: &WebhookRecord, entity: &str, at: chrono::DateTime<chrono::Utc>) -> NewDelivery {
    NewDelivery { entity_key: Some(entity.to_string()), ..pending(hook, at) }
}

fn claimed_ids(claimed: &[ClaimedDelivery]) -> Vec<DeliveryId> {
    let mut ids: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<DeliveryId>) -> Vec<DeliveryId> {
    ids.sort();
    ids
}

pub async fn only_the_head_of_each_entity_is_claimable_and_its_end_releases_the_next(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let (a1, a2, a3, b1) =
        (ordered(&hook, "A", t(1)), ordered(&hook, "A", t(1)), ordered(&hook, "A", t(1)), ordered(&hook, "B", t(1)));
    let plain = pending(&hook, t(1));
    let events = vec![
        event("RPT", "contacts.modified", vec![a1.clone(), plain.clone()]),
        event("RPT", "contacts.modified", vec![a2.clone()]),
        event("RPT", "contacts.modified", vec![b1.clone()]),
        event("RPT", "contacts.modified", vec![a3.clone()]),
    ];
    let placed = store.insert_events(&events, None, t(1)).await.unwrap();
    let seq = |d: &NewDelivery, sequence: i64, waiting: bool| Sequenced { delivery: d.id, sequence, waiting };
    assert_eq!(
        placed,
        vec![seq(&a1, 1, false), seq(&a2, 2, true), seq(&b1, 1, false), seq(&a3, 3, true)],
        "sequences per entity in acceptance order; only the first of each entity is the head"
    );
    assert_eq!(store.get_delivery(a2.id).await.unwrap().state, DeliveryState::Waiting);
    assert_eq!(store.stats(t(1)).await.unwrap().waiting, 2, "a2 and a3 wait");

    let first = store.claim_due("node-a", t(2), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&first), sorted(vec![a1.id, b1.id, plain.id]));
    let head = first.iter().find(|c| c.id == a1.id).unwrap();
    assert_eq!(head.order, Some(EntityOrder { key: "A".into(), sequence: 1 }));
    assert_eq!(first.iter().find(|c| c.id == plain.id).unwrap().order, None);

    // The head retried: its entity keeps waiting.
    store.record_attempts(&[attempt(head, 1, t(3), Outcome::Retry(t(10)))]).await.unwrap();
    assert!(store.claim_due("node-a", t(5), 10, &[]).await.unwrap().is_empty());
    let again = store.claim_due("node-a", t(10), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&again), vec![a1.id]);

    // The head delivered: the next of its entity is due when the attempt ended, with its own sequence.
    store.record_attempts(&[attempt(&again[0], 2, t(11), Outcome::Delivered)]).await.unwrap();
    let next = store.claim_due("node-a", t(12), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&next), vec![a2.id]);
    assert_eq!(next[0].order, Some(EntityOrder { key: "A".into(), sequence: 2 }));

    // A head that fails for good or dies lets the next one go too.
    store.record_attempts(&[attempt(&next[0], 1, t(13), Outcome::Rejected)]).await.unwrap();
    let last = store.claim_due("node-a", t(14), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&last), vec![a3.id]);
    store.record_attempts(&[attempt(&last[0], 1, t(15), Outcome::Dead)]).await.unwrap();
    assert_eq!(store.stats(t(15)).await.unwrap().waiting, 0);

    // Entity A idle again: its next delivery is the head at once, and its sequence goes on.
    let a4 = ordered(&hook, "A", t(16));
    let placed =
        store.insert_events(&[event("RPT", "contacts.modified", vec![a4.clone()])], None, t(16)).await.unwrap();
    assert_eq!(placed, vec![seq(&a4, 4, false)]);
}

pub async fn a_waiting_delivery_is_stored_unheld_whatever_its_owner(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let head = NewDelivery { owner: Some("node-a".into()), ..ordered(&hook, "A", t(1)) };
    let behind = NewDelivery { owner: Some("node-a".into()), ..ordered(&hook, "A", t(1)) };
    let e = event("RPT", "contacts.modified", vec![head.clone(), behind.clone()]);
    let placed = store.insert_events(std::slice::from_ref(&e), None, t(1)).await.unwrap();
    assert_eq!(placed.iter().map(|s| s.waiting).collect::<Vec<_>>(), vec![false, true]);

    // The head is node-a's (handed over in memory); the waiting one is nobody's and not due.
    assert!(store.claim_due("node-b", t(2), 10, &[]).await.unwrap().is_empty());
    assert_eq!(store.next_due_at(&[]).await.unwrap(), None);
    let held = ClaimedDelivery {
        id: head.id,
        event: e.id,
        webhook_id: hook.id,
        application_id: hook.application_id,
        sandbox: false,
        attempts: 0,
        body: "".into(),
        order: Some(EntityOrder { key: "A".into(), sequence: 1 }),
    };
    store.record_attempts(&[attempt(&held, 1, t(3), Outcome::Delivered)]).await.unwrap();
    assert_eq!(claimed_ids(&store.claim_due("node-b", t(4), 10, &[]).await.unwrap()), vec![behind.id]);
}

pub async fn entities_are_per_webhook_and_unordered_deliveries_never_wait(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let mine = [ordered(&hook, "A", t(1)), ordered(&hook, "A", t(1))];
    let theirs = ordered(&other, "A", t(1));
    let plain = [pending(&hook, t(1)), pending(&hook, t(1))];
    let e = event("RPT", "contacts.modified", vec![mine[0].clone(), theirs.clone(), plain[0].clone()]);
    let f = event("RPT", "contacts.modified", vec![mine[1].clone(), plain[1].clone()]);
    store.insert_events(&[e, f], None, t(1)).await.unwrap();
    let claimed = store.claim_due("node-a", t(2), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&claimed), sorted(vec![mine[0].id, theirs.id, plain[0].id, plain[1].id]));
}

pub async fn deleting_a_webhook_cancels_its_waiting_deliveries(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let (head, behind) = (ordered(&hook, "A", t(1)), ordered(&hook, "A", t(1)));
    store
        .insert_events(&[event("RPT", "contacts.modified", vec![head.clone(), behind.clone()])], None, t(1))
        .await
        .unwrap();
    store.delete_webhook(hook.id, t(2)).await.unwrap();
    for id in [head.id, behind.id] {
        assert_eq!(store.get_delivery(id).await.unwrap().state, DeliveryState::Cancelled);
    }
}

/// Many writers adding deliveries of one entity at once (on PostgreSQL, in concurrent transactions; on SQLite,
/// through the one writer): every sequence is given once, and the entity has exactly one head at any time.
pub async fn concurrent_inserts_of_one_entity_keep_one_head_and_dense_sequences(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (store, d) = (store.clone(), ordered(&hook, "A", t(1)));
        tasks.spawn(async move {
            let placed = store.insert_events(&[event("RPT", "contacts.modified", vec![d])], None, t(1)).await.unwrap();
            placed[0]
        });
    }
    let mut placed = tasks.join_all().await;
    placed.sort_by_key(|p| p.sequence);
    assert_eq!(placed.iter().map(|p| p.sequence).collect::<Vec<_>>(), (1..=16).collect::<Vec<_>>());
    assert_eq!(placed.iter().filter(|p| !p.waiting).count(), 1, "one head: {placed:?}");

    // Ending each head in turn releases the next sequence, one at a time.
    for (i, expected) in placed.iter().enumerate() {
        let now = t(10 + 2 * i as i64);
        let claimed = store.claim_due("node-a", now, 10, &[]).await.unwrap();
        assert_eq!(claimed_ids(&claimed), vec![expected.delivery], "turn {i}");
        assert_eq!(claimed[0].order.as_ref().map(|o| o.sequence), Some(expected.sequence));
        store.record_attempts(&[attempt(&claimed[0], 1, now, Outcome::Delivered)]).await.unwrap();
    }
    assert!(store.claim_due("node-a", t(1_000), 10, &[]).await.unwrap().is_empty());
}

pub async fn retention_keeps_the_payload_of_a_waiting_delivery(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let (head, behind) = (ordered(&hook, "A", t(1)), ordered(&hook, "A", t(1)));
    let (first, second) = (
        event("RPT", "contacts.modified", vec![head.clone()]),
        event("RPT", "contacts.modified", vec![behind.clone()]),
    );
    store.insert_events(&[first, second.clone()], None, t(1)).await.unwrap();
    let claimed = store.claim_due("node-a", t(2), 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&claimed[0], 1, t(3), Outcome::Retry(t(9_000)))]).await.unwrap();

    // Long after the retention window: the waiting delivery's event keeps its payload.
    store.prune(t(8_000), t(8_000)).await.unwrap();
    let again = store.claim_due("node-a", t(9_000), 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&again[0], 2, t(9_001), Outcome::Delivered)]).await.unwrap();
    let next = store.claim_due("node-a", t(9_002), 10, &[]).await.unwrap();
    assert_eq!(claimed_ids(&next), vec![behind.id]);
    assert_eq!(&*next[0].body, second.body.as_str());
}
