//! Replay, webhook health, metrics, retention and analytics.

use std::sync::Arc;

use chrono::Duration;
use herald_domain::{ApplicationId, WebhookId};
use herald_store::*;
use uuid::Uuid;

use crate::fixtures::*;

/// A delivery to `hook` in `state`: due at `t(10_000)` when pending, unscheduled otherwise.
fn in_state(hook: &WebhookRecord, state: DeliveryState) -> NewDelivery {
    let next_attempt_at = (state == DeliveryState::Pending).then(|| t(10_000));
    NewDelivery { state, next_attempt_at, ..pending(hook, t(0)) }
}

fn count(key: &str, attempts: u64, successes: u64) -> AttemptCount {
    AttemptCount { key: key.into(), attempts, successes, failures: attempts - successes }
}

pub async fn replay_candidates_are_one_per_event_oldest_first_within_the_window_and_states(store: Arc<dyn Store>) {
    use DeliveryState::*;
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let early = event("RPT", "contacts.created", vec![in_state(&hook, Failed)]);
    let delivered = event("RPT", "contacts.created", vec![in_state(&hook, Delivered)]);
    let failed = event("RPT", "contacts.modified", vec![in_state(&hook, Failed)]);
    let dead = event("SBOX", "contacts.created", vec![NewDelivery { sandbox: true, ..in_state(&hook, Dead) }]);
    let waiting = event("RPT", "contacts.created", vec![in_state(&hook, Pending)]);
    let elsewhere = event("RPT", "contacts.created", vec![in_state(&other, Failed)]);
    // Stored out of order; deliveries are created when stored.
    for (e, at) in [(&dead, 300), (&delivered, 100), (&waiting, 400), (&elsewhere, 500), (&failed, 200), (&early, 50)] {
        store.insert_events(std::slice::from_ref(e), None, t(at)).await.unwrap();
    }
    // `delivered` was sent again later: still one candidate, placed by its earliest delivery.
    store.insert_deliveries(&[(delivered.id, in_state(&hook, Delivered))], t(600)).await.unwrap();
    let finished = [Delivered, Failed, Dead];
    let events = |from: Option<i64>, to: Option<i64>, states: &'static [DeliveryState], limit: u32| {
        let store = store.clone();
        async move {
            let found = store.replay_candidates(hook.id, from.map(t), to.map(t), states, limit).await.unwrap();
            found.iter().map(|c| c.event).collect::<Vec<_>>()
        }
    };

    let all = store.replay_candidates(hook.id, Some(t(100)), None, &finished, 10).await.unwrap();

    let plain = |e: &NewEvent| ReplayCandidate {
        event: e.id,
        application_id: app.id,
        sandbox: false,
        topic_id: e.topic_id.clone(),
        customer_id: e.customer_id.clone(),
    };
    let sandboxed = ReplayCandidate { sandbox: true, ..plain(&dead) };
    assert_eq!(all, vec![plain(&delivered), plain(&failed), sandboxed]);
    assert_eq!(
        events(None, None, &[Delivered, Failed, Dead], 10).await,
        vec![early.id, delivered.id, failed.id, dead.id]
    );
    // The window applies to deliveries: from 150 on, `delivered` has only its later one.
    assert_eq!(events(Some(150), None, &[Delivered, Failed, Dead], 10).await, vec![failed.id, dead.id, delivered.id]);
    assert_eq!(events(Some(200), Some(300), &[Delivered, Failed, Dead], 10).await, vec![failed.id, dead.id]);
    assert_eq!(events(None, None, &[Failed], 10).await, vec![early.id, failed.id]);
    assert_eq!(events(None, None, &[Pending], 10).await, vec![waiting.id]);
    assert_eq!(events(None, None, &[Delivered, Failed, Dead, Pending], 2).await, vec![early.id, delivered.id]);
    assert!(events(None, None, &[], 10).await.is_empty(), "no states, no events");
    let unknown = store.replay_candidates(WebhookId(Uuid::new_v4()), None, None, &finished, 10).await.unwrap();
    assert!(unknown.is_empty());
}

pub async fn insert_deliveries_adds_deliveries_to_stored_events(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let e = event("RPT", "contacts.created", vec![in_state(&hook, DeliveryState::Delivered)]);
    store.insert_events(std::slice::from_ref(&e), None, t(0)).await.unwrap();
    let again = pending(&hook, t(50));
    let to_other = NewDelivery { sandbox: true, ..pending(&other, t(60)) };
    let cancelled = in_state(&other, DeliveryState::Cancelled);

    store
        .insert_deliveries(&[(e.id, again.clone()), (e.id, to_other.clone()), (e.id, cancelled.clone())], t(40))
        .await
        .unwrap();

    let d = store.get_delivery(again.id).await.unwrap();
    assert_eq!((d.event, d.event_id, d.webhook_id, d.application_id), (e.id, e.event_id, hook.id, app.id));
    assert_eq!((d.state, d.attempts, d.next_attempt_at, d.sandbox), (DeliveryState::Pending, 0, Some(t(50)), false));
    let c = store.get_delivery(cancelled.id).await.unwrap();
    assert_eq!((c.state, c.attempts, c.next_attempt_at), (DeliveryState::Cancelled, 0, None));
    // Created at `now`.
    let created = store.replay_candidates(other.id, Some(t(40)), Some(t(40)), &[DeliveryState::Cancelled], 10).await;
    assert_eq!(created.unwrap().iter().map(|c| c.event).collect::<Vec<_>>(), vec![e.id]);
    // Earliest due first.
    let claimed = store.claim_due("node-a", t(60), 10, &[]).await.unwrap();
    let got: Vec<_> = claimed.iter().map(|c| (c.id, c.sandbox, c.attempts, &*c.body)).collect();
    assert_eq!(got, vec![(again.id, false, 0, e.body.as_str()), (to_other.id, true, 0, e.body.as_str())]);

    // An unknown event: nothing of the call is stored.
    let fine = pending(&hook, t(70));
    let orphan = pending(&hook, t(70));
    let err = store.insert_deliveries(&[(e.id, fine.clone()), (Uuid::new_v4(), orphan.clone())], t(41)).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    assert!(matches!(store.get_delivery(fine.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_delivery(orphan.id).await, Err(StoreError::NotFound)));
    let err = store.insert_deliveries(&[(e.id, again.clone())], t(42)).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    store.insert_deliveries(&[], t(43)).await.unwrap();
}

pub async fn many_deliveries_are_added_in_one_call(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let events: Vec<_> = (0..25).map(|_| event("RPT", "contacts.modified", vec![])).collect();
    store.insert_events(&events, None, t(0)).await.unwrap();
    let deliveries: Vec<_> =
        (0..2_500).map(|i| (events[i / 100].id, pending(if i % 2 == 0 { &hook } else { &other }, t(1)))).collect();

    store.insert_deliveries(&deliveries, t(1)).await.unwrap();

    assert_eq!(store.claim_due("node-a", t(1), 5_000, &[]).await.unwrap().len(), 2_500);
    let (event, last) = &deliveries[2_499];
    let d = store.get_delivery(last.id).await.unwrap();
    assert_eq!((d.event, d.webhook_id), (*event, other.id));
}

pub async fn webhooks_failing_since_before_the_cutoff_are_disabled_once(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let failing = |since: Option<i64>| WebhookRecord { failing_since: since.map(t), ..webhook(&app, &[], t(1)) };
    let long_failing = failing(Some(100));
    let also_long = failing(Some(999));
    let at_the_cutoff = failing(Some(1_000));
    let recently = failing(Some(2_000));
    let healthy = WebhookRecord { last_success: Some(t(3_000)), ..failing(None) };
    let inactive = WebhookRecord { active: false, disabled_reason: Some("by hand".into()), ..failing(Some(100)) };
    let deleted = failing(Some(100));
    let kept = [&at_the_cutoff, &recently, &healthy, &inactive];
    for h in kept.iter().copied().chain([&long_failing, &also_long, &deleted]) {
        store.insert_webhook(h).await.unwrap();
    }
    store.delete_webhook(deleted.id, t(5)).await.unwrap();
    let version = store.routing_version().await.unwrap();

    let disabled = store.disable_failing_webhooks(t(1_000), "failing for 5 days", t(4_000)).await.unwrap();

    let mut expected = vec![long_failing.id, also_long.id];
    expected.sort();
    assert_eq!(disabled, expected);
    for h in [&long_failing, &also_long] {
        let off = WebhookRecord {
            active: false,
            disabled_reason: Some("failing for 5 days".into()),
            modified: t(4_000),
            // Announced by `webhooks.disabled` (contract §9.4).
            failing_announced: Some(t(4_000)),
            ..(*h).clone()
        };
        assert_eq!(store.get_webhook(h.id).await.unwrap(), off);
    }
    for h in kept {
        assert_eq!(&store.get_webhook(h.id).await.unwrap(), h);
    }
    let moved = store.routing_version().await.unwrap();
    assert_ne!(moved, version, "disabling webhooks changes routing");
    let mut routed: Vec<_> = store.routing_snapshot().await.unwrap().webhooks.iter().map(|w| w.id).collect();
    routed.sort();
    let mut live = vec![at_the_cutoff.id, recently.id, healthy.id];
    live.sort();
    assert_eq!(routed, live);
    // Nothing left to disable: no change, and routing stays.
    assert!(store.disable_failing_webhooks(t(1_000), "again", t(5_000)).await.unwrap().is_empty());
    assert_eq!(store.routing_version().await.unwrap(), moved);
    assert_eq!(
        store.get_webhook(long_failing.id).await.unwrap().disabled_reason.as_deref(),
        Some("failing for 5 days")
    );
}

pub async fn stats_count_due_and_scheduled_deliveries_and_failing_webhooks(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    assert_eq!(store.stats(t(100)).await.unwrap(), StoreStats::default());
    let deliveries = vec![
        pending(&hook, t(50)),
        pending(&hook, t(100)),
        pending(&hook, t(101)),
        pending(&hook, t(500)),
        NewDelivery { next_attempt_at: None, ..pending(&hook, t(0)) },
        // Only pending deliveries count, whatever their `next_attempt_at`.
        NewDelivery { state: DeliveryState::Delivered, ..pending(&hook, t(50)) },
        NewDelivery { state: DeliveryState::Dead, ..pending(&hook, t(200)) },
    ];
    store.insert_events(&[event("RPT", "contacts.created", deliveries)], None, t(0)).await.unwrap();
    let failing = |active: bool| WebhookRecord { active, failing_since: Some(t(5)), ..webhook(&app, &[], t(1)) };
    let (failing_on, failing_off, failing_gone) = (failing(true), failing(false), failing(true));
    for h in [&failing_on, &failing_off, &failing_gone] {
        store.insert_webhook(h).await.unwrap();
    }
    store.delete_webhook(failing_gone.id, t(6)).await.unwrap();
    // A held delivery is still due.
    let held = store.claim_due("node-a", t(60), 1, &[]).await.unwrap();
    assert_eq!(held.len(), 1);

    assert_eq!(
        store.stats(t(100)).await.unwrap(),
        StoreStats { due: 2, scheduled: 2, waiting: 0, failing_webhooks: 1 }
    );
    // A held delivery is being attempted: due, whatever the time asked about.
    assert_eq!(store.stats(t(0)).await.unwrap(), StoreStats { due: 1, scheduled: 3, waiting: 0, failing_webhooks: 1 });
    assert_eq!(
        store.stats(t(500)).await.unwrap(),
        StoreStats { due: 4, scheduled: 0, waiting: 0, failing_webhooks: 1 }
    );

    store.record_attempts(&[attempt(&held[0], 1, t(61), Outcome::Retry(t(300)))]).await.unwrap();

    assert_eq!(
        store.stats(t(100)).await.unwrap(),
        StoreStats { due: 1, scheduled: 3, waiting: 0, failing_webhooks: 2 }
    );
}

pub async fn prune_drops_old_bodies_responses_and_keys_but_keeps_rows(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let finished = event("RPT", "contacts.created", vec![pending(&hook, t(150))]);
    let waiting = event("RPT", "contacts.created", vec![pending(&hook, t(20_000))]);
    let bare = event("RPT", "contacts.modified", vec![]);
    let old = [finished.clone(), waiting.clone(), bare];
    store.insert_events(&old, Some(key("old-key", "h", "{}", t(0))), t(100)).await.unwrap();
    let young = event("ABC", "contacts.created", vec![pending(&hook, t(10_050))]);
    store
        .insert_events(std::slice::from_ref(&young), Some(key("young-key", "h", "{}", t(0))), t(10_000))
        .await
        .unwrap();
    let c = store.claim_due("node-a", t(150), 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&c[0], 1, t(150), Outcome::Retry(t(300)))]).await.unwrap();
    let c = store.claim_due("node-a", t(300), 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&c[0], 2, t(300), Outcome::Delivered)]).await.unwrap();
    let y = store.claim_due("node-a", t(10_050), 10, &[]).await.unwrap();
    assert_eq!(y.iter().map(|c| c.event).collect::<Vec<_>>(), vec![young.id]);
    store.record_attempts(&[attempt(&y[0], 1, t(10_060), Outcome::Delivered)]).await.unwrap();
    let counts = CountFilter { application_id: Some(app.id), from: None, to: None, group_by: CountGroup::Day };
    let counted = store.attempt_counts(&counts).await.unwrap();
    assert_eq!(counted, vec![count("2030-01-01", 3, 2)]);

    // Keys have their own cutoff.
    let report = store.prune(t(5_000), t(50)).await.unwrap();

    assert_eq!(report, PruneReport { event_bodies: 2, responses: 2, idempotency_keys: 0 });
    let log = |delivery| {
        let store = store.clone();
        async move {
            let f = AttemptFilter { delivery_id: Some(delivery), limit: 10, bodies: true, ..Default::default() };
            let found = store.list_attempts(&f).await.unwrap();
            found.into_iter().map(|a| (a.attempt, a.body, a.response)).collect::<Vec<_>>()
        }
    };
    assert_eq!(log(finished.deliveries[0].id).await, vec![(2, None, None), (1, None, None)]);
    assert_eq!(log(y[0].id).await, vec![(1, Some(young.body.clone()), Some("answer 200".to_string()))]);
    // The event still pending keeps its body for its attempt.
    let w = store.claim_due("node-b", t(20_000), 10, &[]).await.unwrap();
    assert_eq!((w[0].event, &*w[0].body), (waiting.id, waiting.body.as_str()));
    assert_eq!(stored_response(store.as_ref(), "old-key", t(0)).await.as_deref(), Some("{}"));
    // Rows and counts stay.
    assert_eq!(store.get_delivery(finished.deliveries[0].id).await.unwrap().attempts, 2);
    assert_eq!(store.attempt_counts(&counts).await.unwrap(), counted);

    assert_eq!(
        store.prune(t(5_000), t(5_000)).await.unwrap(),
        PruneReport { event_bodies: 0, responses: 0, idempotency_keys: 1 }
    );
    assert_eq!(stored_response(store.as_ref(), "old-key", t(0)).await, None);
    assert_eq!(stored_response(store.as_ref(), "young-key", t(0)).await.as_deref(), Some("{}"));
    assert_eq!(store.prune(t(5_000), t(5_000)).await.unwrap(), PruneReport::default());
}

pub async fn prune_goes_through_more_rows_than_one_batch(store: Arc<dyn Store>) {
    let n = 2 * PRUNE_BATCH as usize + 7;
    let events: Vec<_> = (0..n).map(|_| event("RPT", "contacts.created", vec![])).collect();
    store.insert_events(&events, None, t(0)).await.unwrap();

    let report = store.prune(t(1), t(1)).await.unwrap();

    assert_eq!(report, PruneReport { event_bodies: n as u64, responses: 0, idempotency_keys: 0 });
    assert_eq!(store.prune(t(1), t(1)).await.unwrap(), PruneReport::default());
}

pub async fn attempt_counts_group_by_day_customer_topic_and_webhook(store: Arc<dyn Store>) {
    let a = app_at(t(0));
    let b = app_at(t(0));
    store.insert_application(&a).await.unwrap();
    store.insert_application(&b).await.unwrap();
    let (a1, a2, b1) = (webhook(&a, &[], t(1)), webhook(&a, &[], t(1)), webhook(&b, &[], t(1)));
    for h in [&a1, &a2, &b1] {
        store.insert_webhook(h).await.unwrap();
    }
    let rpt = event("RPT", "contacts.created", vec![pending(&a1, t(5)), pending(&a2, t(5)), pending(&b1, t(5))]);
    let abc = event("ABC", "contacts.modified", vec![pending(&a1, t(5))]);
    // Lower case sorts after upper case, byte by byte, whatever the database's collation.
    let low = event("abd", "contacts.created", vec![pending(&a2, t(5))]);
    store.insert_events(&[rpt.clone(), abc.clone(), low.clone()], None, t(0)).await.unwrap();
    let claimed = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    let of = |d: &NewDelivery| claimed.iter().find(|c| c.id == d.id).unwrap().clone();
    let midnight = t(86_400);
    store
        .record_attempts(&[
            attempt(&of(&rpt.deliveries[0]), 1, midnight - Duration::microseconds(1), Outcome::Retry(midnight)),
            attempt(&of(&rpt.deliveries[1]), 1, t(100), Outcome::Rejected),
            attempt(&of(&low.deliveries[0]), 1, t(200), Outcome::Dead),
            attempt(&of(&rpt.deliveries[2]), 1, t(300), Outcome::Delivered),
            attempt(&of(&abc.deliveries[0]), 1, midnight + Duration::seconds(50), Outcome::Delivered),
        ])
        .await
        .unwrap();
    let again = store.claim_due("node-a", midnight, 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&again[0], 2, midnight, Outcome::Delivered)]).await.unwrap();
    let counts = |application_id: Option<_>, from: Option<_>, to: Option<_>, group_by: CountGroup| {
        let store = store.clone();
        async move { store.attempt_counts(&CountFilter { application_id, from, to, group_by }).await.unwrap() }
    };
    let of_a = |group_by| counts(Some(a.id), None, None, group_by);
    let mut by_webhook = vec![(a1.id.to_string(), count("", 3, 2)), (a2.id.to_string(), count("", 2, 0))];
    by_webhook.sort_by(|x, y| x.0.cmp(&y.0));
    let by_webhook: Vec<_> = by_webhook.into_iter().map(|(k, c)| AttemptCount { key: k, ..c }).collect();

    assert_eq!(of_a(CountGroup::Day).await, vec![count("2030-01-01", 3, 0), count("2030-01-02", 2, 2)]);
    assert_eq!(of_a(CountGroup::Customer).await, vec![count("ABC", 1, 1), count("RPT", 3, 1), count("abd", 1, 0)]);
    assert_eq!(of_a(CountGroup::Topic).await, vec![count("contacts.created", 4, 1), count("contacts.modified", 1, 1)]);
    assert_eq!(of_a(CountGroup::Webhook).await, by_webhook);
    // Both bounds are inclusive.
    assert_eq!(counts(Some(a.id), Some(midnight), None, CountGroup::Day).await, vec![count("2030-01-02", 2, 2)]);
    assert_eq!(
        counts(Some(a.id), None, Some(midnight), CountGroup::Day).await,
        vec![count("2030-01-01", 3, 0), count("2030-01-02", 1, 1)]
    );
    assert_eq!(counts(None, None, None, CountGroup::Customer).await[1], count("RPT", 4, 2));
    assert_eq!(counts(Some(ApplicationId(Uuid::new_v4())), None, None, CountGroup::Day).await, vec![]);

    // Retention drops bodies, never counts.
    let pruned = store.prune(t(1_000_000), t(1_000_000)).await.unwrap();
    assert_eq!((pruned.event_bodies, pruned.responses), (3, 5));
    assert_eq!(of_a(CountGroup::Day).await, vec![count("2030-01-01", 3, 0), count("2030-01-02", 2, 2)]);
    assert_eq!(of_a(CountGroup::Customer).await, vec![count("ABC", 1, 1), count("RPT", 3, 1), count("abd", 1, 0)]);
    assert_eq!(of_a(CountGroup::Webhook).await, by_webhook);
}
