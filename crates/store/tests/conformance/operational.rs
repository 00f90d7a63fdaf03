//! Operational events (contract §9.4): each transition of a webhook's failing streak is stored once, with its event
//! and deliveries, in the transaction that records the attempt (or disables the webhook); concurrent writers (several
//! PostgreSQL nodes) announce it once.

use std::sync::Arc;

use herald_store::*;

use crate::fixtures::*;

/// A webhook subscribed to the three operational topics, for every customer but the sandbox.
fn listener(app: &ApplicationRecord, active: bool) -> WebhookRecord {
    WebhookRecord {
        topic_ids: vec!["webhooks.disabled".into(), "webhooks.failing".into(), "webhooks.recovered".into()],
        active,
        ..webhook(app, &["SBOX"], t(2))
    }
}

/// The bodies of the operational events due to `hook` now, claimed and recorded as delivered.
async fn events_to(store: &dyn Store, hook: &WebhookRecord, node: &str, now: i64) -> Vec<String> {
    let claimed = store.claim_due(node, t(now), 100, &[]).await.unwrap();
    let mine: Vec<&ClaimedDelivery> = claimed.iter().filter(|c| c.webhook_id == hook.id).collect();
    let done: Vec<AttemptRecord> = mine.iter().map(|c| attempt(c, 1, t(now), Outcome::Delivered)).collect();
    store.record_attempts(&done).await.unwrap();
    let mut bodies: Vec<String> = mine.iter().map(|c| c.body.to_string()).collect();
    bodies.sort();
    bodies
}

/// Records each attempt in its own call, all at once.
async fn record_concurrently(store: &Arc<dyn Store>, attempts: Vec<AttemptRecord>) {
    let mut set = tokio::task::JoinSet::new();
    for a in attempts {
        let store = store.clone();
        set.spawn(async move { store.record_attempts(&[a]).await });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
}

pub async fn a_failing_streak_is_announced_once_and_its_end_once_whatever_the_concurrency(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let b = listener(&app, true);
    let off = listener(&app, false);
    store.insert_webhook(&b).await.unwrap();
    store.insert_webhook(&off).await.unwrap();
    // A retried failure starts no streak.
    for _ in 0..10 {
        due(store.as_ref(), &hook, t(5)).await;
    }
    let c = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    assert_eq!(c.len(), 10);
    store.record_attempts(&[attempt(&c[0], 1, t(10), Outcome::Retry(t(10_000)))]).await.unwrap();
    assert!(events_to(store.as_ref(), &b, "node-b", 20).await.is_empty());
    assert_eq!(store.get_webhook(hook.id).await.unwrap().failing_announced, None);

    // Six deliveries die at once, each recorded by its own writer: one webhooks.failing.
    let dead: Vec<AttemptRecord> = c[1..7].iter().map(|d| attempt(d, 1, t(30), Outcome::Dead)).collect();
    record_concurrently(&store, dead).await;
    let got = events_to(store.as_ref(), &b, "node-b", 40).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("\"topicId\":\"webhooks.failing\""), "{}", got[0]);
    assert!(got[0].contains(&format!("\"entityId\":\"{}\"", hook.id)), "{}", got[0]);
    assert!(got[0].contains("\"customerId\":null"), "{}", got[0]);
    assert!(got[0].contains("\"statusCode\":null,\"error\":\"timeout on attempt 1\""), "{}", got[0]);
    let announced = store.get_webhook(hook.id).await.unwrap();
    assert!(announced.failing_announced.is_some());
    let alerts = store.webhook_alerts(app.id).await.unwrap();
    assert_eq!(alerts.iter().map(|a| a.webhook_id).collect::<Vec<_>>(), vec![hook.id]);
    assert_eq!(alerts[0].last_attempt.as_ref().and_then(|l| l.2.clone()).as_deref(), Some("timeout on attempt 1"));

    // A rejection within the streak: nothing more.
    store.record_attempts(&[attempt(&c[7], 1, t(50), Outcome::Rejected)]).await.unwrap();
    assert!(events_to(store.as_ref(), &b, "node-b", 60).await.is_empty());

    // Two successes at once: one webhooks.recovered, and the banner goes.
    let ok: Vec<AttemptRecord> = c[8..10].iter().map(|d| attempt(d, 1, t(70), Outcome::Delivered)).collect();
    record_concurrently(&store, ok).await;
    let got = events_to(store.as_ref(), &b, "node-b", 80).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("\"topicId\":\"webhooks.recovered\""), "{}", got[0]);
    assert!(got[0].contains("\"failingSince\":null"), "{}", got[0]);
    assert_eq!(store.get_webhook(hook.id).await.unwrap().failing_announced, None);
    assert!(store.webhook_alerts(app.id).await.unwrap().is_empty());
    // The inactive listener got nothing.
    assert!(store.claim_due("node-c", t(90), 100, &[]).await.unwrap().iter().all(|d| d.webhook_id != off.id));
}

pub async fn disabling_a_webhook_announces_it_once_in_the_same_transaction(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let b = listener(&app, true);
    store.insert_webhook(&b).await.unwrap();
    due(store.as_ref(), &hook, t(5)).await;
    let c = store.claim_due("node-a", t(5), 10, &[]).await.unwrap();
    store.record_attempts(&[attempt(&c[0], 1, t(10), Outcome::Retry(t(1_000_000)))]).await.unwrap();
    let (first, second) = tokio::join!(
        store.disable_failing_webhooks(t(100), "failing for too long", t(200)),
        store.disable_failing_webhooks(t(100), "failing for too long", t(200)),
    );
    assert_eq!(first.unwrap().len() + second.unwrap().len(), 1, "disabled once");
    let got = events_to(store.as_ref(), &b, "node-b", 300).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("\"topicId\":\"webhooks.disabled\""), "{}", got[0]);
    assert!(got[0].contains("\"disabledReason\":\"failing for too long\""), "{}", got[0]);
    assert!(got[0].contains("\"statusCode\":503"), "the latest attempt: {}", got[0]);
    let alerts = store.webhook_alerts(app.id).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(!alerts[0].active);
    // The streak is announced: its later deaths announce nothing more, until a success ends it.
    assert!(store.get_webhook(hook.id).await.unwrap().failing_announced.is_some());
    // Edited after it was announced: out of the banner.
    let mut edited = store.get_webhook(hook.id).await.unwrap();
    edited.modified = t(400);
    store.update_webhook(&edited).await.unwrap();
    assert!(store.webhook_alerts(app.id).await.unwrap().is_empty());
}
