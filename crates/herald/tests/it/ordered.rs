//! Ordered delivery per entity (contract §9.1), end to end: a webhook with `ordered: true` gets each entity's
//! events one after the other in the order Herald accepted them, with `herald-entity-sequence`, while other
//! entities (and unordered webhooks) keep flowing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald_testkit::order::{by_entity, folded};
use herald_testkit::pg::TestDatabase;
use herald_testkit::{free_port, Behaviour, Client, HeraldProcess, Receiver};
use serde_json::{json, Value};

use crate::support::*;

/// The `version`-th change of contact `entity`: its surname goes from `S{version-1}` to `S{version}`.
fn change(entity: &str, version: u32) -> Value {
    json!({ "customerId": "RPT", "entityType": "contacts", "entityId": entity,
            "old": { "id": entity, "surname": format!("S{}", version - 1) },
            "new": { "id": entity, "surname": format!("S{version}") } })
}

/// An application holding contacts.read, installed for RPT, with a webhook per `(url, ordered)`; returns their ids.
async fn setup(client: &Client, hooks: &[(&str, bool)]) -> Vec<String> {
    let (s, app) = client.post("/apps", ADMIN, json!({ "name": "Ordered", "scopes": ["contacts.read"] })).await;
    assert_eq!(s, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_string();
    let (s, inst) = client.post("/installations", ADMIN, json!({ "applicationId": app, "customerId": "RPT" })).await;
    assert_eq!(s, 201, "{inst}");
    let mut ids = Vec::new();
    for (url, ordered) in hooks {
        let body = json!({ "applicationId": app, "url": url, "topicIds": ["contacts.modified"],
                           "customerIds": ["RPT"], "ordered": ordered });
        let (s, hook) = client.post("/webhooks/subscriptions", ADMIN, body).await;
        assert_eq!(s, 201, "{hook}");
        assert_eq!(hook["ordered"], json!(ordered), "{hook}");
        ids.push(hook["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Every entity's successful sequence is 1..=`per_entity` in order, and the change carried at sequence `k` is
/// the entity's `k`-th (its surname `S{k}`).
fn assert_in_order(receiver: &Receiver, entities: usize, per_entity: u32) {
    let seen = by_entity(&receiver.received());
    assert_eq!(seen.len(), entities, "every entity arrived");
    for (entity, arrivals) in &seen {
        let sequences = folded(arrivals).unwrap_or_else(|e| panic!("{entity}: {e}"));
        assert_eq!(sequences, (1..=i64::from(per_entity)).collect::<Vec<_>>(), "{entity} in order, each once");
        for a in arrivals {
            assert_eq!(a.payload["new"]["surname"], json!(format!("S{}", a.sequence)), "{entity}: the k-th change");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_entity_arrives_in_order_under_concurrent_publishers_and_failures() {
    const ENTITIES: usize = 200;
    const PER_ENTITY: u32 = 50;
    const PUBLISHERS: usize = 16;
    let app = TestApp::with(Opts { worker: true, ..Opts::default() }).await;
    // The ordered receiver fails a random fifth of first attempts; the unordered one takes everything.
    let ordered = Receiver::start(Behaviour::FailFirstOf(20)).await;
    let unordered = Receiver::start(Behaviour::Status(200)).await;
    setup(&app.client, &[(&ordered.url(), true), (&unordered.url(), false)]).await;

    // Each publisher owns every 16th entity and publishes its changes in turn: version 1 of each, then 2, …, so
    // that each entity's changes are accepted in version order while the publishers race each other.
    let client = Arc::new(app.client.clone());
    let mut publishers = tokio::task::JoinSet::new();
    for p in 0..PUBLISHERS {
        let client = client.clone();
        publishers.spawn(async move {
            for version in 1..=PER_ENTITY {
                for e in (p..ENTITIES).step_by(PUBLISHERS) {
                    let (s, out) = client.post("/changes", ADMIN, change(&format!("E{e:04}"), version)).await;
                    assert_eq!(s, 202, "{out}");
                }
            }
        });
    }
    publishers.join_all().await;

    let total = ENTITIES * PER_ENTITY as usize;
    unordered.wait_for(total, Duration::from_secs(120)).await;
    // Every delivery arrives once, plus the failed first attempts that were retried.
    let failed_first = |r: &Receiver| by_entity(&r.received()).values().flatten().count() - total;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let seen = by_entity(&ordered.received());
        let distinct: usize = seen.values().map(|a| folded(a).map(|s| s.len()).unwrap_or(0)).sum();
        if distinct >= total || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_in_order(&ordered, ENTITIES, PER_ENTITY);
    let retried = failed_first(&ordered);
    assert!(retried > total / 10, "about a fifth of first attempts failed and were retried: {retried}");
    // The unordered webhook on the same run: everything once, no sequence header.
    let plain = unordered.received();
    assert_eq!(plain.len(), total);
    assert!(plain.iter().all(|r| r.header("herald-entity-sequence").is_none()));
    app.stop().await;
}

fn sequences(receiver: &Receiver) -> Vec<String> {
    receiver.received().iter().map(|r| r.header("herald-entity-sequence").expect("a sequence")).collect()
}

#[tokio::test]
async fn a_head_that_fails_for_good_or_dies_lets_the_next_go_and_leaves_a_gap() {
    let app = TestApp::spawn().await;
    // Sequence 1 is refused for good (404): sequence 2 goes next.
    let first = Receiver::start(Behaviour::Sequence(vec![404, 200])).await;
    let ids = setup(&app.client, &[(&first.url(), true)]).await;
    app.publish(change("GAP1", 1)).await;
    app.publish(change("GAP1", 2)).await;
    app.deliver_all(Duration::from_secs(10)).await;
    assert_eq!(sequences(&first), ["1", "2"]);

    // Sequence 3 dies (the schedule's three attempts, all 500) while 4 waits behind it; then 4 is delivered, and
    // the receiver, which last got 2, sees the gap.
    let second = Receiver::start(Behaviour::Sequence(vec![500, 500, 500, 200])).await;
    let path = format!("/webhooks/subscriptions/{}", ids[0]);
    let hook = put(&app.client, &path, json!({ "url": second.url(), "topicIds": ["contacts.modified"] })).await;
    assert_eq!(hook["ordered"], json!(true), "kept when absent: {hook}");
    app.publish(change("GAP1", 3)).await;
    app.publish(change("GAP1", 4)).await;
    app.deliver_all(Duration::from_secs(10)).await;
    assert_eq!(sequences(&second), ["3", "3", "3", "4"]);
    assert_eq!(second.received()[3].json()["new"]["surname"], "S4");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_entity_hanging_does_not_delay_the_others() {
    let app = TestApp::with(Opts { worker: true, delivery_timeout: Some("20s"), ..Opts::default() }).await;
    let receiver = Receiver::start(Behaviour::HangIf("STUCK".into())).await;
    setup(&app.client, &[(&receiver.url(), true)]).await;
    app.publish(change("STUCK", 1)).await;
    app.publish(change("STUCK", 2)).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    for e in 0..20 {
        app.publish(change(&format!("FREE{e:02}"), 1)).await;
        app.publish(change(&format!("FREE{e:02}"), 2)).await;
    }
    // The other 20 entities' 40 deliveries arrive long before the stuck head's 20 s timeout; the stuck entity's
    // second change is still waiting.
    let got = receiver.wait_for(41, Duration::from_secs(10)).await;
    let stuck: Vec<_> = got.iter().filter(|r| r.json()["entityId"] == "STUCK").collect();
    assert_eq!(stuck.len(), 1, "only the stuck head went out");
    let free = by_entity(&got.into_iter().filter(|r| r.json()["entityId"] != "STUCK").collect::<Vec<_>>());
    assert_eq!(free.len(), 20);
    for (entity, arrivals) in free {
        assert_eq!(folded(&arrivals).unwrap(), vec![1, 2], "{entity}");
    }
    app.stop().await;
}

/// Replaces the webhook's settings and reads it back.
async fn put(client: &Client, path: &str, body: Value) -> Value {
    let (s, out) = client.put(path, ADMIN, body).await;
    assert_eq!(s, 204, "{out}");
    let (s, hook) = client.get(path, ADMIN).await;
    assert_eq!(s, 200, "{hook}");
    hook
}

#[tokio::test]
async fn ordered_can_be_turned_on_and_off_and_is_validated() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Behaviour::Status(200)).await;
    let ids = setup(&app.client, &[(&receiver.url(), false)]).await;
    let path = format!("/webhooks/subscriptions/{}", ids[0]);
    let (s, hook) = app.client.get(&path, ADMIN).await;
    assert_eq!((s.as_u16(), &hook["ordered"]), (200, &json!(false)), "{hook}");

    let (s, err) = app
        .client
        .put(&path, ADMIN, json!({ "url": receiver.url(), "topicIds": ["contacts.modified"], "ordered": "yes" }))
        .await;
    assert_eq!(s, 422, "{err}");
    assert_eq!(err["errors"][0]["field"], "ordered", "{err}");

    let hook =
        put(&app.client, &path, json!({ "url": receiver.url(), "topicIds": ["contacts.modified"], "ordered": true }))
            .await;
    assert_eq!(hook["ordered"], json!(true), "{hook}");
    app.publish(change("ON", 1)).await;
    app.deliver_all(Duration::from_secs(10)).await;
    assert_eq!(receiver.received()[0].header("herald-entity-sequence").as_deref(), Some("1"));

    // Absent on update: kept.
    let hook = put(&app.client, &path, json!({ "url": receiver.url(), "topicIds": ["contacts.modified"] })).await;
    assert_eq!(hook["ordered"], json!(true), "kept when absent: {hook}");
    let hook =
        put(&app.client, &path, json!({ "url": receiver.url(), "topicIds": ["contacts.modified"], "ordered": false }))
            .await;
    assert_eq!(hook["ordered"], json!(false), "{hook}");
    app.publish(change("ON", 2)).await;
    app.deliver_all(Duration::from_secs(10)).await;
    assert_eq!(receiver.received()[1].header("herald-entity-sequence"), None);
    app.stop().await;
}

/// A Herald process on this test's data dir (and PostgreSQL database), with a short retry schedule.
async fn process(dir: &Path, db: &Option<TestDatabase>) -> HeraldProcess {
    let mut flags =
        vec!["--allow-http-targets", "--allow-private-targets", "--retry-schedule", "200ms,200ms,200ms,200ms"];
    if let Some(db) = db {
        flags.extend(["--database-url", db.url(), "--lease", "1s", "--encryption-key", TEST_ENCRYPTION_KEY]);
    }
    HeraldProcess::start(Path::new(env!("CARGO_BIN_EXE_herald")), dir, ADMIN, &flags).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_and_completeness_hold_across_kill_9_and_restart() {
    const ENTITIES: usize = 20;
    const PER_ENTITY: u32 = 10;
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::from_env().database().await;
    let port = free_port();
    // Slow answers, so that the kill lands while deliveries are in flight and others wait behind them.
    let receiver = Receiver::start_on(&format!("127.0.0.1:{port}"), Behaviour::Delay(Duration::from_millis(200))).await;
    let mut herald = process(dir.path(), &db).await;
    let client = Client::new(herald.base.clone());
    setup(&client, &[(&receiver.url(), true)]).await;
    // One batch per version: accepted in a moment, delivered in seconds (each entity's ten one after the other).
    for version in 1..=PER_ENTITY {
        let changes: Vec<Value> = (0..ENTITIES).map(|e| change(&format!("K{e:03}"), version)).collect();
        let (s, out) = client.post("/changes", ADMIN, json!({ "changes": changes })).await;
        assert_eq!(s, 202, "{out}");
    }
    receiver.wait_for(20, Duration::from_secs(30)).await;
    herald.kill9();
    let before = receiver.count();
    assert!(before < ENTITIES * PER_ENTITY as usize, "killed mid-run ({before} delivered)");

    let _herald = process(dir.path(), &db).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: usize =
            by_entity(&receiver.received()).values().map(|a| folded(a).map(|s| s.len()).unwrap_or(0)).sum();
        if distinct >= ENTITIES * PER_ENTITY as usize || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_in_order(&receiver, ENTITIES, PER_ENTITY);
}
