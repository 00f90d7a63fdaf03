//! Events, deliveries, claims, node leases, attempts and their logs, idempotency keys.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_domain::{DeliveryId, WebhookId};
use herald_store::*;
use uuid::Uuid;

use crate::fixtures::*;

fn ids(claimed: &[ClaimedDelivery]) -> Vec<DeliveryId> {
    claimed.iter().map(|c| c.id).collect()
}

pub async fn claim_due_takes_only_pending_deliveries_that_are_due(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let now_due = pending(&hook, t(10));
    let exactly_due = pending(&hook, t(20));
    let later = pending(&hook, t(21));
    let unscheduled = NewDelivery { next_attempt_at: None, ..pending(&hook, t(0)) };
    let finished = NewDelivery { state: DeliveryState::Delivered, ..pending(&hook, t(0)) };
    let deliveries = vec![now_due.clone(), exactly_due.clone(), later.clone(), unscheduled, finished];
    store.insert_events(&[event("RPT", "contacts.created", deliveries)], None, t(0)).await.unwrap();

    let mut claimed = ids(&store.claim_due("node-a", t(20), 10, &[]).await.unwrap());

    claimed.sort();
    let mut expected = vec![now_due.id, exactly_due.id];
    expected.sort();
    assert_eq!(claimed, expected);
    assert_eq!(ids(&store.claim_due("node-a", t(21), 10, &[]).await.unwrap()), vec![later.id]);
    // Released, and asked much later: the same three, never the unscheduled or the finished one.
    store.release_claims("node-a").await.unwrap();
    assert_eq!(store.claim_due("node-a", t(1_000_000), 10, &[]).await.unwrap().len(), 3);
}

pub async fn claim_due_takes_the_earliest_due_up_to_the_limit(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let deliveries: Vec<_> = (0..5).map(|i| pending(&hook, t(50 - i * 10))).collect();
    store.insert_events(&[event("RPT", "contacts.created", deliveries.clone())], None, t(0)).await.unwrap();

    let first = store.claim_due("node-a", t(100), 2, &[]).await.unwrap();

    let mut got = ids(&first);
    got.sort();
    let mut earliest = vec![deliveries[4].id, deliveries[3].id];
    earliest.sort();
    assert_eq!(got, earliest);
    assert_eq!(store.claim_due("node-a", t(100), 2, &[]).await.unwrap().len(), 2);
    assert_eq!(store.claim_due("node-a", t(100), 2, &[]).await.unwrap().len(), 1);
    assert!(store.claim_due("node-a", t(100), 2, &[]).await.unwrap().is_empty());
}

pub async fn claim_due_skips_excluded_webhooks(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    let third = webhook(&app, &[], t(3));
    store.insert_webhook(&other).await.unwrap();
    store.insert_webhook(&third).await.unwrap();
    let mine = pending(&hook, t(5));
    let theirs = pending(&other, t(5));
    let third_one = pending(&third, t(5));
    let e = event("RPT", "contacts.created", vec![mine.clone(), theirs.clone(), third_one.clone()]);
    store.insert_events(&[e], None, t(0)).await.unwrap();

    let claimed = store.claim_due("node-a", t(5), 10, &[other.id, third.id]).await.unwrap();

    assert_eq!(ids(&claimed), vec![mine.id]);
    assert_eq!(ids(&store.claim_due("node-a", t(5), 10, &[other.id]).await.unwrap()), vec![third_one.id]);
    let unknown = WebhookId(Uuid::new_v4());
    assert_eq!(ids(&store.claim_due("node-a", t(5), 10, &[unknown]).await.unwrap()), vec![theirs.id]);
}

pub async fn claim_due_finds_other_webhooks_behind_an_excluded_backlog(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let (second, third) = (webhook(&app, &[], t(2)), webhook(&app, &[], t(3)));
    store.insert_webhook(&second).await.unwrap();
    store.insert_webhook(&third).await.unwrap();
    // A backlog of the first webhook, due before anything else, longer than a claim walks in time order.
    let backlog: Vec<NewDelivery> = (0..1_100).map(|_| pending(&hook, t(1))).collect();
    store.insert_events(&[event("RPT", "contacts.created", backlog)], None, t(0)).await.unwrap();
    let (b, c) = (pending(&second, t(5)), pending(&third, t(6)));
    store.insert_events(&[event("RPT", "contacts.created", vec![b.clone(), c.clone()])], None, t(0)).await.unwrap();

    // The first webhook excluded: the others' earliest work is found all the same, earliest first.
    assert_eq!(ids(&store.claim_due("node-a", t(10), 1, &[hook.id]).await.unwrap()), vec![b.id]);
    assert_eq!(ids(&store.claim_due("node-a", t(10), 10, &[hook.id]).await.unwrap()), vec![c.id]);
    assert!(store.claim_due("node-a", t(10), 10, &[hook.id]).await.unwrap().is_empty());
    // Not excluded, the backlog comes first.
    let claimed = store.claim_due("node-a", t(10), 3, &[]).await.unwrap();
    assert!(claimed.iter().all(|d| d.webhook_id == hook.id) && claimed.len() == 3);
}

pub async fn a_claimed_delivery_carries_what_the_attempt_needs(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let sandbox = NewDelivery { sandbox: true, ..pending(&hook, t(5)) };
    let e = event("SBOX", "contacts.created", vec![sandbox.clone()]);
    store.insert_events(std::slice::from_ref(&e), None, t(0)).await.unwrap();

    let claimed = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();

    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!((c.id, c.event, c.webhook_id, c.application_id), (sandbox.id, e.id, hook.id, app.id));
    assert!(c.sandbox);
    assert_eq!((c.attempts, &*c.body), (0, e.body.as_str()));
}

pub async fn a_claimed_delivery_is_not_claimed_again_within_the_default_lease(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let d = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    let lease = DEFAULT_NODE_LEASE.as_secs() as i64;

    assert_eq!(ids(&store.claim_due("node-a", t(5), 10, &[]).await.unwrap()), vec![d]);

    assert!(store.claim_due("node-b", t(6), 10, &[]).await.unwrap().is_empty());
    assert!(store.claim_due("node-a", t(6), 10, &[]).await.unwrap().is_empty(), "nor by its own owner");
    assert!(store.claim_due("node-b", t(5 + lease), 10, &[]).await.unwrap().is_empty());
    // node-a was last seen claiming at t(6): one lease later, its claim lapses.
    assert_eq!(ids(&store.claim_due("node-b", t(7 + lease), 10, &[]).await.unwrap()), vec![d]);
}

pub async fn concurrent_claims_never_return_the_same_delivery(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let deliveries: Vec<_> = (0..300).map(|i| pending(if i % 2 == 0 { &hook } else { &other }, t(i % 17))).collect();
    let events: Vec<_> = deliveries.chunks(10).map(|c| event("RPT", "contacts.created", c.to_vec())).collect();
    store.insert_events(&events, None, t(0)).await.unwrap();

    // Eight tasks, two per owner: distinct owners race, and so do two tasks of one owner.
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            let owner = format!("node-{}", task / 2);
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_due(&owner, t(100), 7, &[]).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(ids(&claimed));
                tokio::task::yield_now().await;
            }
        });
    }
    let mut all = Vec::new();
    while let Some(claimed) = tasks.join_next().await {
        all.extend(claimed.unwrap());
    }

    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a delivery was claimed twice");
    assert_eq!(distinct, deliveries.iter().map(|d| d.id).collect::<HashSet<_>>());
}

pub async fn many_deliveries_are_stored_in_one_call(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let events: Vec<_> = (0..25)
        .map(|_| {
            let ds = (0..100).map(|i| pending(if i % 2 == 0 { &hook } else { &other }, t(1))).collect();
            event("RPT", "contacts.modified", ds)
        })
        .collect();

    store.insert_events(&events, None, t(0)).await.unwrap();

    let claimed = store.claim_due("node-a", t(1), 5_000, &[]).await.unwrap();
    assert_eq!(claimed.len(), 2_500);
    let last = events[24].deliveries[99].id;
    let d = store.get_delivery(last).await.unwrap();
    assert_eq!((d.event, d.webhook_id, d.topic_id.as_str()), (events[24].id, other.id, "contacts.modified"));
}

/// Claims and attempt records of every size from one to nine: each claimed delivery carries its own event's body,
/// each record moves its own delivery and no other (SQLite writes batch statements for a size class, padded).
pub async fn batches_of_every_size_keep_each_row_apart(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    for n in 1..=9u32 {
        let events: Vec<_> = (0..n)
            .map(|i| {
                let mut e = event(&format!("C{n}-{i}"), "contacts.created", vec![pending(&hook, t(n as i64))]);
                e.body = format!("{{\"n\":{n},\"i\":{i}}}");
                e
            })
            .collect();
        let bystander = event("BYSTANDER", "contacts.created", vec![pending(&hook, t(1_000))]);
        store.insert_events(&events, None, t(0)).await.unwrap();
        store.insert_events(std::slice::from_ref(&bystander), None, t(0)).await.unwrap();

        let claimed = store.claim_due("node-a", t(n as i64), 100, &[]).await.unwrap();
        assert_eq!(claimed.len(), n as usize, "batch of {n}");
        for c in &claimed {
            let e = events.iter().find(|e| e.id == c.event).unwrap();
            assert_eq!((c.id, &*c.body), (e.deliveries[0].id, e.body.as_str()), "batch of {n}");
        }
        let records: Vec<_> = claimed.iter().map(|c| attempt(c, 1, t(n as i64), Outcome::Delivered)).collect();
        store.record_attempts(&records).await.unwrap();
        for e in &events {
            assert_eq!(store.get_delivery(e.deliveries[0].id).await.unwrap().state, DeliveryState::Delivered);
        }
        let b = store.get_delivery(bystander.deliveries[0].id).await.unwrap();
        assert_eq!((b.state, b.attempts), (DeliveryState::Pending, 0), "batch of {n}");
    }
}

pub async fn record_attempts_moves_deliveries_through_their_states(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let ds: Vec<_> = (0..4).map(|_| pending(&hook, t(10))).collect();
    store.insert_events(&[event("RPT", "contacts.created", ds.clone())], None, t(0)).await.unwrap();
    let claimed = store.claim_due("node-a", t(10), 10, &[]).await.unwrap();
    let by_id = |id: DeliveryId| claimed.iter().find(|c| c.id == id).unwrap().clone();
    let (retried, delivered, rejected, dead) = (by_id(ds[0].id), by_id(ds[1].id), by_id(ds[2].id), by_id(ds[3].id));

    store
        .record_attempts(&[
            attempt(&retried, 1, t(11), Outcome::Retry(t(80))),
            attempt(&delivered, 1, t(11), Outcome::Delivered),
            attempt(&rejected, 1, t(11), Outcome::Rejected),
            attempt(&dead, 1, t(11), Outcome::Dead),
        ])
        .await
        .unwrap();

    let r = store.get_delivery(retried.id).await.unwrap();
    assert_eq!((r.state, r.attempts, r.next_attempt_at), (DeliveryState::Pending, 1, Some(t(80))));
    for (id, state) in
        [(delivered.id, DeliveryState::Delivered), (rejected.id, DeliveryState::Failed), (dead.id, DeliveryState::Dead)]
    {
        let d = store.get_delivery(id).await.unwrap();
        assert_eq!((d.state, d.attempts, d.next_attempt_at), (state, 1, None));
    }
    // The retried delivery was released: due again at its next attempt, for any node, with its attempt count.
    assert!(store.claim_due("node-b", t(79), 10, &[]).await.unwrap().is_empty());
    let again = store.claim_due("node-b", t(80), 10, &[]).await.unwrap();
    assert_eq!((ids(&again), again[0].attempts), (vec![retried.id], 1));
    store.record_attempts(&[attempt(&again[0], 2, t(81), Outcome::Delivered)]).await.unwrap();
    let r = store.get_delivery(retried.id).await.unwrap();
    assert_eq!((r.state, r.attempts, r.next_attempt_at), (DeliveryState::Delivered, 2, None));
    // A late record never revives a finished delivery.
    store.record_attempts(&[attempt(&again[0], 2, t(82), Outcome::Retry(t(90)))]).await.unwrap();
    assert_eq!(store.get_delivery(retried.id).await.unwrap().state, DeliveryState::Delivered);
    assert!(store.claim_due("node-b", t(1000), 10, &[]).await.unwrap().is_empty());
}

pub async fn attempts_of_one_delivery_in_one_batch_apply_in_order(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let d = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    let claimed = store.claim_due("node-a", t(5), 1, &[]).await.unwrap();

    store
        .record_attempts(&[
            attempt(&claimed[0], 1, t(6), Outcome::Retry(t(10))),
            attempt(&claimed[0], 2, t(10), Outcome::Retry(t(20))),
            attempt(&claimed[0], 3, t(20), Outcome::Dead),
        ])
        .await
        .unwrap();

    let r = store.get_delivery(d).await.unwrap();
    assert_eq!((r.state, r.attempts, r.next_attempt_at), (DeliveryState::Dead, 3, None));
    assert_eq!(
        store
            .list_attempts(&AttemptFilter { delivery_id: Some(d), limit: 10, ..Default::default() })
            .await
            .unwrap()
            .len(),
        3
    );
}

pub async fn record_attempts_keeps_the_webhook_health(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    for _ in 0..5 {
        due(store.as_ref(), &hook, t(5)).await;
    }
    let c = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    let health = || {
        let store = store.clone();
        async move {
            let h = store.get_webhook(hook.id).await.unwrap();
            (h.last_success, h.failing_since)
        }
    };
    assert_eq!(health().await, (None, None));

    store.record_attempts(&[attempt(&c[0], 1, t(10), Outcome::Retry(t(100)))]).await.unwrap();
    assert_eq!(health().await, (None, Some(t(10))));
    store.record_attempts(&[attempt(&c[1], 1, t(20), Outcome::Rejected)]).await.unwrap();
    assert_eq!(health().await, (None, Some(t(10))), "failing since the first failure");
    store.record_attempts(&[attempt(&c[2], 1, t(30), Outcome::Delivered)]).await.unwrap();
    assert_eq!(health().await, (Some(t(30)), None));
    // In one batch: a failure, then a success, then a failure.
    store
        .record_attempts(&[
            attempt(&c[3], 1, t(40), Outcome::Dead),
            attempt(&c[4], 1, t(50), Outcome::Delivered),
            attempt(&c[0], 2, t(60), Outcome::Retry(t(200))),
        ])
        .await
        .unwrap();
    assert_eq!(health().await, (Some(t(50)), Some(t(60))));
    // The latest success is kept, whatever order successes are recorded in.
    store.record_attempts(&[attempt(&c[0], 3, t(45), Outcome::Delivered)]).await.unwrap();
    assert_eq!(health().await, (Some(t(50)), None));
}

pub async fn next_due_at_is_the_earliest_pending_delivery_nobody_holds(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    assert_eq!(store.next_due_at(&[]).await.unwrap(), None);
    let finished = NewDelivery { state: DeliveryState::Delivered, ..pending(&hook, t(1)) };
    let deliveries = vec![finished, pending(&hook, t(30)), pending(&hook, t(20)), pending(&hook, t(500))];
    store.insert_events(&[event("RPT", "contacts.created", deliveries)], None, t(0)).await.unwrap();

    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(t(20)));
    store.claim_due("node-a", t(25), 1, &[]).await.unwrap();
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(t(30)));
    store.claim_due("node-a", t(30), 10, &[]).await.unwrap();
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(t(500)));
    store.release_claims("node-a").await.unwrap();
    assert_eq!(store.next_due_at(&[]).await.unwrap(), Some(t(20)));

    // A webhook whose owner has enough queued is left out; another webhook's work still counts.
    assert_eq!(store.next_due_at(&[hook.id]).await.unwrap(), None);
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let e = event("RPT", "contacts.created", vec![pending(&other, t(40))]);
    store.insert_events(&[e], None, t(0)).await.unwrap();
    assert_eq!(store.next_due_at(&[hook.id]).await.unwrap(), Some(t(40)));
    assert_eq!(store.next_due_at(&[hook.id, other.id]).await.unwrap(), None);
}

pub async fn release_claims_frees_one_owner_and_release_all_claims_every_owner(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let ds: Vec<_> = (0..6).map(|_| pending(&hook, t(5))).collect();
    store.insert_events(&[event("RPT", "contacts.created", ds)], None, t(0)).await.unwrap();
    let a = store.claim_due("node-a", t(5), 2, &[]).await.unwrap();
    let b = store.claim_due("node-b", t(5), 2, &[]).await.unwrap();
    let c = store.claim_due("node-c", t(5), 2, &[]).await.unwrap();
    store.record_attempts(&[attempt(&a[0], 1, t(6), Outcome::Delivered)]).await.unwrap();

    assert_eq!(store.release_claims("node-a").await.unwrap(), 1, "only what node-a still holds");
    assert_eq!(store.release_claims("node-a").await.unwrap(), 0);

    assert_eq!(ids(&store.claim_due("node-d", t(7), 10, &[]).await.unwrap()), vec![a[1].id]);
    assert_eq!(store.release_all_claims().await.unwrap(), 5);
    let mut freed = ids(&store.claim_due("node-e", t(7), 10, &[]).await.unwrap());
    freed.sort();
    let mut expected: Vec<_> = b.iter().chain(&c).map(|d| d.id).chain([a[1].id]).collect();
    expected.sort();
    assert_eq!(freed, expected);
}

pub async fn get_delivery_returns_the_delivery_and_its_event(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let e = due(store.as_ref(), &hook, t(5)).await;

    let d = store.get_delivery(e.deliveries[0].id).await.unwrap();

    assert_eq!(
        (d.id, d.event, d.event_id, d.topic_id.as_str(), d.customer_id.as_str()),
        (e.deliveries[0].id, e.id, e.event_id, "contacts.created", e.customer_id.as_str())
    );
    assert_eq!((d.webhook_id, d.application_id, d.sandbox), (hook.id, app.id, false));
    assert_eq!((d.state, d.attempts, d.next_attempt_at), (DeliveryState::Pending, 0, Some(t(5))));
    assert!(matches!(store.get_delivery(DeliveryId(Uuid::new_v4())).await, Err(StoreError::NotFound)));
}

pub async fn list_attempts_filters_and_shows_the_newest_first(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other_app = app_at(t(0));
    store.insert_application(&other_app).await.unwrap();
    let other_hook = webhook(&other_app, &[], t(1));
    store.insert_webhook(&other_hook).await.unwrap();
    let rpt = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    let abc = event("ABC", "contacts.modified", vec![pending(&hook, t(5)), pending(&other_hook, t(5))]);
    store.insert_events(&[rpt.clone(), abc.clone()], None, t(0)).await.unwrap();
    let claimed = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    let of = |id: DeliveryId| claimed.iter().find(|c| c.id == id).unwrap().clone();
    let (r, a1, a2) = (of(rpt.deliveries[0].id), of(abc.deliveries[0].id), of(abc.deliveries[1].id));
    store
        .record_attempts(&[
            attempt(&r, 1, t(10), Outcome::Retry(t(1000))),
            attempt(&a1, 1, t(20), Outcome::Delivered),
            attempt(&a2, 1, t(30), Outcome::Rejected),
        ])
        .await
        .unwrap();
    // Two attempts at one instant: the one recorded last is the newer.
    store.record_attempts(&[attempt(&r, 2, t(30), Outcome::Delivered)]).await.unwrap();
    let list = |f: AttemptFilter| {
        let store = store.clone();
        async move {
            let f = AttemptFilter { limit: 100, ..f };
            store.list_attempts(&f).await.unwrap().iter().map(|a| (a.delivery_id, a.attempt)).collect::<Vec<_>>()
        }
    };

    let all = list(AttemptFilter::default()).await;
    assert_eq!(all, vec![(r.id, 2), (a2.id, 1), (a1.id, 1), (r.id, 1)]);
    let newest = store.list_attempts(&AttemptFilter { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(newest.iter().map(|a| (a.delivery_id, a.attempt)).collect::<Vec<_>>(), all[..2]);
    let of_app = AttemptFilter { application_id: Some(app.id), ..Default::default() };
    assert_eq!(list(of_app).await, vec![(r.id, 2), (a1.id, 1), (r.id, 1)]);
    let window = AttemptFilter { from: Some(t(20)), to: Some(t(29)), ..Default::default() };
    assert_eq!(list(window).await, vec![(a1.id, 1)]);
    assert_eq!(list(AttemptFilter { topic_id: Some("contacts.modified".into()), ..Default::default() }).await.len(), 2);
    assert_eq!(
        list(AttemptFilter { entity_id: rpt.entity_id.clone(), ..Default::default() }).await,
        vec![(r.id, 2), (r.id, 1)]
    );
    assert_eq!(
        list(AttemptFilter { event_id: Some(abc.event_id), ..Default::default() }).await,
        vec![(a2.id, 1), (a1.id, 1)]
    );
    assert_eq!(list(AttemptFilter { webhook_id: Some(other_hook.id), ..Default::default() }).await, vec![(a2.id, 1)]);
    assert_eq!(
        list(AttemptFilter { customer_id: Some("RPT".into()), ..Default::default() }).await,
        vec![(r.id, 2), (r.id, 1)]
    );
    assert_eq!(list(AttemptFilter { delivery_id: Some(a1.id), ..Default::default() }).await, vec![(a1.id, 1)]);
    assert_eq!(list(AttemptFilter { success: Some(true), ..Default::default() }).await, vec![(r.id, 2), (a1.id, 1)]);
    assert_eq!(list(AttemptFilter { success: Some(false), ..Default::default() }).await, vec![(a2.id, 1), (r.id, 1)]);

    let one = &store
        .list_attempts(&AttemptFilter { delivery_id: Some(a2.id), limit: 1, bodies: true, ..Default::default() })
        .await
        .unwrap()[0];
    assert_eq!((one.started, one.application_id, one.webhook_id), (t(30), other_app.id, other_hook.id));
    assert_eq!(
        (one.topic_id.as_str(), one.customer_id.as_str(), &one.entity_id),
        ("contacts.modified", "ABC", &abc.entity_id)
    );
    assert_eq!(
        (one.event_id, one.outcome.as_str(), one.status_code, one.duration_ms),
        (abc.event_id, "rejected", Some(404), 250)
    );
    assert_eq!((one.url.as_str(), one.error.as_deref()), ("https://example.com/hook", Some("rejected on attempt 1")));
    assert_eq!((one.body.as_deref(), one.response.as_deref()), (Some(abc.body.as_str()), Some("answer 404")));
    let bare = &store
        .list_attempts(&AttemptFilter { delivery_id: Some(a2.id), limit: 1, ..Default::default() })
        .await
        .unwrap()[0];
    assert_eq!(
        (bare.body.as_deref(), bare.response.as_deref(), bare.id),
        (None, None, one.id),
        "no bodies unless asked"
    );
}

pub async fn attempt_pages_follow_the_cursor_and_stop_at_the_byte_budget(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    // Five events whose bodies are 1,000 bytes each, one attempt each, at t(10)..t(14) (the last two at one instant).
    let mut events = Vec::new();
    for i in 0..5 {
        let mut e = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
        e.body = format!("{:<1000}", i);
        events.push(e);
    }
    store.insert_events(&events, None, t(0)).await.unwrap();
    let claimed = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    for (i, e) in events.iter().enumerate() {
        let c = claimed.iter().find(|c| c.id == e.deliveries[0].id).unwrap();
        let mut a = attempt(c, 1, t(10 + (i as i64).min(3)), Outcome::Delivered);
        a.response = None;
        store.record_attempts(&[a]).await.unwrap();
    }
    let newest_first: Vec<DeliveryId> = events.iter().rev().map(|e| e.deliveries[0].id).collect();

    // By count: two per page, the cursor of each page's last record leads to the next.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_attempt_page(&AttemptFilter { limit: 2, cursor, ..Default::default() }).await.unwrap();
        seen.extend(page.records.iter().map(|r| r.delivery_id));
        if !page.more {
            break;
        }
        cursor = page.records.last().map(AttemptLogRecord::cursor);
    }
    assert_eq!(seen, newest_first, "every record once, newest first");

    // By bytes: 2,500 bytes of bodies take two records per page; a budget below one record still takes one.
    let paged = |budget: u64, cursor: Option<AttemptCursor>| {
        let store = store.clone();
        async move {
            let f = AttemptFilter { limit: 100, cursor, bodies: true, byte_budget: Some(budget), ..Default::default() };
            store.list_attempt_page(&f).await.unwrap()
        }
    };
    let first = paged(2_500, None).await;
    assert_eq!(first.records.len(), 2);
    assert!(first.more);
    assert!(first.records.iter().all(|r| r.body.as_deref().map(str::len) == Some(1000)));
    let second = paged(2_500, first.records.last().map(AttemptLogRecord::cursor)).await;
    assert_eq!(second.records.iter().map(|r| r.delivery_id).collect::<Vec<_>>(), newest_first[2..4]);
    let last = paged(2_500, second.records.last().map(AttemptLogRecord::cursor)).await;
    assert_eq!((last.records.len(), last.more), (1, false));
    let tiny = paged(10, None).await;
    assert_eq!((tiny.records.len(), tiny.more), (1, true), "the first record comes even over the budget");
}

pub async fn an_idempotency_key_keeps_its_answer_and_cannot_be_used_twice(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let first = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    store.insert_events(&[first], Some(key("key-1", "hash-1", "{\"eventId\":\"one\"}", t(0))), t(100)).await.unwrap();

    let answer = IdempotentAnswer { response: "{\"eventId\":\"one\"}".into(), body_hash: Some("hash-1".into()) };
    assert_eq!(store.get_idempotent_response("key-1", t(100)).await.unwrap(), Some(answer.clone()));
    assert_eq!(store.get_idempotent_response("key-1", t(101)).await.unwrap(), None, "older than `since`");
    assert_eq!(store.get_idempotent_response("key-2", t(0)).await.unwrap(), None);

    // Within its time to live (keys stored before t(100) expired), the key cannot be stored again.
    let retry = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    let err =
        store.insert_events(std::slice::from_ref(&retry), Some(key("key-1", "hash-2", "{}", t(100))), t(200)).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    // Nothing of the refused request was stored.
    assert!(matches!(store.get_delivery(retry.deliveries[0].id).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_idempotent_response("key-1", t(0)).await.unwrap(), Some(answer));
    assert_eq!(store.claim_due("node-a", t(5), 10, &[]).await.unwrap().len(), 1);
}

pub async fn an_expired_idempotency_key_is_replaced_at_once(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let first = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    store.insert_events(&[first], Some(key("key-1", "hash-1", "first", t(0))), t(100)).await.unwrap();

    // Keys stored before t(101) have expired: the key is new again, without waiting for `prune`.
    let later = event("RPT", "contacts.created", vec![pending(&hook, t(500))]);
    store
        .insert_events(std::slice::from_ref(&later), Some(key("key-1", "hash-2", "second", t(101))), t(500))
        .await
        .unwrap();

    let answer = IdempotentAnswer { response: "second".into(), body_hash: Some("hash-2".into()) };
    assert_eq!(store.get_idempotent_response("key-1", t(500)).await.unwrap(), Some(answer), "replaced, created anew");
    assert_eq!(store.get_delivery(later.deliveries[0].id).await.unwrap().state, DeliveryState::Pending);
    let again = event("RPT", "contacts.created", vec![]);
    let err = store.insert_events(&[again], Some(key("key-1", "hash-3", "third", t(101))), t(600)).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "the replacement is live again: {err:?}");
}

/// Requests in flight together (one group commit on SQLite) whose keys repeat: of those sharing a key, the first
/// stored gets it and the others are refused with nothing of them stored, an expired key is replaced once, and the
/// requests with keys of their own are stored.
pub async fn of_requests_sharing_an_idempotency_key_at_once_exactly_one_is_stored(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let old = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    store.insert_events(&[old], Some(key("expired", "hash-0", "old", t(0))), t(100)).await.unwrap();
    // Keys stored before t(101) have expired.
    let names: Vec<String> = (0..24)
        .map(|n| match n % 3 {
            0 => "shared".into(),
            1 => "expired".into(),
            _ => format!("own-{n}"),
        })
        .collect();
    let tasks: Vec<_> = names
        .into_iter()
        .enumerate()
        .map(|(n, name)| {
            let (store, hook) = (store.clone(), hook.clone());
            tokio::spawn(async move {
                let e = event("RPT", "contacts.created", vec![pending(&hook, t(500))]);
                let response = format!("answer-{n}");
                let stored = store
                    .insert_events(std::slice::from_ref(&e), Some(key(&name, "h", &response, t(101))), t(500))
                    .await;
                (name, response, e.deliveries[0].id, stored)
            })
        })
        .collect();
    let mut won: std::collections::HashMap<String, Vec<String>> = Default::default();
    for task in tasks {
        let (name, response, delivery, stored) = task.await.expect("the request's task");
        match stored {
            Ok(_) => {
                assert!(store.get_delivery(delivery).await.is_ok(), "{name}: stored with its rows");
                won.entry(name).or_default().push(response);
            }
            Err(StoreError::Conflict(_)) => {
                assert!(
                    matches!(store.get_delivery(delivery).await, Err(StoreError::NotFound)),
                    "{name}: nothing stored"
                );
            }
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
    for shared in ["shared", "expired"] {
        let winners = won.get(shared).cloned().unwrap_or_default();
        assert_eq!(winners.len(), 1, "one request stores {shared}: {winners:?}");
        assert_eq!(stored_response(store.as_ref(), shared, t(101)).await, Some(winners[0].clone()));
    }
    assert_eq!(won.keys().filter(|k| k.starts_with("own-")).count(), 8, "every key of its own is stored");
}

const LEASE: Duration = Duration::from_secs(30);

pub async fn a_delivery_held_by_a_node_with_a_stale_heartbeat_goes_to_another(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let d = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    store.heartbeat("node-a", t(5)).await.unwrap();
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(5), 10, &[], LEASE).await.unwrap()), vec![d]);

    // node-a falls silent: within its lease the delivery stays its own, after it another node may take it.
    assert!(store.claim_due_with_lease("node-b", t(35), 10, &[], LEASE).await.unwrap().is_empty());
    let taken = store.claim_due_with_lease("node-b", t(36), 10, &[], LEASE).await.unwrap();
    assert_eq!((ids(&taken), taken[0].attempts), (vec![d], 0));

    // Now node-b holds it, and node-a coming back does not take it back.
    assert!(store.claim_due_with_lease("node-a", t(37), 10, &[], LEASE).await.unwrap().is_empty());
    assert!(store.claim_due_with_lease("node-c", t(60), 10, &[], LEASE).await.unwrap().is_empty());
}

pub async fn a_node_that_heartbeats_keeps_its_claims_past_the_lease(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let d = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(5), 10, &[], LEASE).await.unwrap()), vec![d]);

    for s in [20, 40, 60, 80] {
        store.heartbeat("node-a", t(s)).await.unwrap();
    }
    // A heartbeat from the past does not shorten the lease.
    store.heartbeat("node-a", t(10)).await.unwrap();

    assert!(store.claim_due_with_lease("node-b", t(100), 10, &[], LEASE).await.unwrap().is_empty());
    assert_eq!(ids(&store.claim_due_with_lease("node-b", t(111), 10, &[], LEASE).await.unwrap()), vec![d]);
}

pub async fn a_delivery_stored_held_by_a_node_is_claimed_by_it(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    store.heartbeat("node-a", t(5)).await.unwrap();
    let held = NewDelivery { owner: Some("node-a".into()), ..pending(&hook, t(5)) };
    let also_held = NewDelivery { owner: Some("node-a".into()), ..pending(&hook, t(5)) };
    let free = pending(&hook, t(5));
    let e = event("RPT", "contacts.created", vec![held.clone(), also_held.clone(), free.clone()]);
    store.insert_events(std::slice::from_ref(&e), None, t(5)).await.unwrap();

    // Held from the moment it was stored: neither its holder nor another node claims it, and it is not due work
    // anybody should wake up for; the unheld one is.
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(6), 10, &[], LEASE).await.unwrap()), vec![free.id]);
    assert_eq!(store.next_due_at(&[]).await.unwrap(), None);
    assert!(store.claim_due_with_lease("node-b", t(34), 10, &[], LEASE).await.unwrap().is_empty());

    // Recording its attempt releases it like any claimed delivery.
    let claimed = ClaimedDelivery {
        id: held.id,
        event: e.id,
        webhook_id: hook.id,
        application_id: hook.application_id,
        sandbox: false,
        attempts: 0,
        body: e.body.as_str().into(),
        order: None,
    };
    store.record_attempts(&[attempt(&claimed, 1, t(7), Outcome::Retry(t(8)))]).await.unwrap();
    assert_eq!(store.get_delivery(held.id).await.unwrap().attempts, 1);
    let mut got = ids(&store.claim_due_with_lease("node-b", t(9), 10, &[], LEASE).await.unwrap());
    assert_eq!(got, vec![held.id], "released by the record; the other is still node-a's");

    // node-a falls silent: one lease after its last sign of life (t(6)), what it held goes to node-b.
    got = ids(&store.claim_due_with_lease("node-b", t(37), 10, &[], LEASE).await.unwrap());
    got.sort();
    let mut want = vec![also_held.id, free.id];
    want.sort();
    assert_eq!(got, want);
}

pub async fn a_node_gets_its_own_deliveries_back_after_a_lease(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let d = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(5), 10, &[], LEASE).await.unwrap()), vec![d]);
    store.heartbeat("node-a", t(30)).await.unwrap();

    // Within the lease it is node-a's and not returned again; one lease after the claim, node-a gets it back (it
    // may have lost it), and holds it anew: nobody else takes it.
    assert!(store.claim_due_with_lease("node-a", t(34), 10, &[], LEASE).await.unwrap().is_empty());
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(36), 10, &[], LEASE).await.unwrap()), vec![d]);
    assert!(store.claim_due_with_lease("node-b", t(40), 10, &[], LEASE).await.unwrap().is_empty());
    assert!(store.claim_due_with_lease("node-a", t(40), 10, &[], LEASE).await.unwrap().is_empty());
}

pub async fn a_refused_request_does_not_fail_the_requests_stored_with_it(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    // Twenty good requests and one the database refuses (two deliveries with one id), all at once: whether or not
    // they share a transaction, only the bad one fails.
    let good: Vec<NewEvent> = (0..20).map(|_| event("RPT", "contacts.created", vec![pending(&hook, t(5))])).collect();
    let twice = pending(&hook, t(5));
    let bad = event("RPT", "contacts.created", vec![twice.clone(), twice]);
    let mut calls = Vec::new();
    for e in good.iter().chain(std::iter::once(&bad)) {
        let (store, e) = (store.clone(), e.clone());
        calls.push(tokio::spawn(async move { store.insert_events(std::slice::from_ref(&e), None, t(1)).await }));
    }
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("no panic"));
    }
    let (bad_result, good_results) = results.split_last().expect("21 results");
    assert!(good_results.iter().all(|r| r.is_ok()), "{good_results:?}");
    assert!(bad_result.is_err(), "{bad_result:?}");
    for e in &good {
        assert_eq!(store.get_delivery(e.deliveries[0].id).await.unwrap().event, e.id);
    }
}

pub async fn claiming_counts_as_a_heartbeat(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    let first = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(5), 10, &[], LEASE).await.unwrap()), vec![first]);

    // node-a's later claim (of nothing) keeps what it holds.
    assert!(store.claim_due_with_lease("node-a", t(30), 10, &[], LEASE).await.unwrap().is_empty());

    assert!(store.claim_due_with_lease("node-b", t(50), 10, &[], LEASE).await.unwrap().is_empty());
    assert_eq!(ids(&store.claim_due_with_lease("node-b", t(61), 10, &[], LEASE).await.unwrap()), vec![first]);
}

pub async fn a_node_claiming_every_second_keeps_its_claims_with_no_other_heartbeat(store: Arc<dyn Store>) {
    // Claims write the heartbeat only now and then (a tenth of a lease apart at most): the claims in between must
    // still leave the node seen recently enough to keep what it holds.
    let (_, hook) = seed(store.as_ref()).await;
    let first = due(store.as_ref(), &hook, t(5)).await.deliveries[0].id;
    assert_eq!(ids(&store.claim_due_with_lease("node-a", t(5), 10, &[], LEASE).await.unwrap()), vec![first]);
    // Every second until just before its own claim is a lease old (then it would take it back).
    for s in 6..=34 {
        assert!(store.claim_due_with_lease("node-a", t(s), 10, &[], LEASE).await.unwrap().is_empty(), "at {s}");
    }
    // The claim is 57 s old; node-a was seen at 32 or later (within a tenth of a lease of its last claim, at 34):
    // its claim stays its own until a lease after that.
    assert!(store.claim_due_with_lease("node-b", t(62), 10, &[], LEASE).await.unwrap().is_empty());
    assert_eq!(ids(&store.claim_due_with_lease("node-b", t(65), 10, &[], LEASE).await.unwrap()), vec![first]);
}
