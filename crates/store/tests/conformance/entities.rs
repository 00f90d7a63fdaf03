//! Entity state (contract §9.5): stored with the events it causes, each write only if the entity is still at the
//! version read.

use std::sync::Arc;

use herald_store::*;

use crate::fixtures::*;

fn entity(id: &str) -> EntityKey {
    EntityKey { customer_id: "RPT".into(), entity_type: "contacts".into(), entity_id: id.into() }
}

fn write(id: &str, read_version: i64, record: Option<&str>) -> EntityWrite {
    EntityWrite { key: entity(id), read_version, record: record.map(str::to_string) }
}

async fn state(store: &dyn Store, id: &str) -> Option<EntityState> {
    store.get_entities(&[entity(id)]).await.unwrap().remove(0)
}

pub async fn entity_state_is_written_with_its_events_only_at_the_version_read(store: Arc<dyn Store>) {
    let (_, hook) = seed(store.as_ref()).await;
    assert_eq!(state(store.as_ref(), "C1").await, None);
    let created = event("RPT", "contacts.created", vec![pending(&hook, t(5))]);
    store.insert_entity_events(&[created], &[write("C1", 0, Some(r#"{"a":1}"#))], None, t(1)).await.unwrap();
    assert_eq!(state(store.as_ref(), "C1").await, Some(EntityState { record: Some(r#"{"a":1}"#.into()), version: 1 }));

    // A writer that read nothing (or an older version) is stale, and nothing of its request is stored.
    for read in [0, 2] {
        let late = event("RPT", "contacts.modified", vec![pending(&hook, t(5))]);
        let err = store
            .insert_entity_events(
                std::slice::from_ref(&late),
                &[write("C1", read, Some("{}"))],
                Some(key(&format!("k{read}"), "h", "{}", t(0))),
                t(2),
            )
            .await;
        assert!(matches!(err, Err(StoreError::Stale(_))), "{err:?}");
        assert!(matches!(store.get_delivery(late.deliveries[0].id).await, Err(StoreError::NotFound)));
        assert_eq!(stored_response(store.as_ref(), &format!("k{read}"), t(0)).await, None, "nor its key");
    }

    // Deleted: the row stays with its version; several writes of one request are all kept or none.
    store.insert_entity_events(&[], &[write("C1", 1, None)], None, t(3)).await.unwrap();
    assert_eq!(state(store.as_ref(), "C1").await, Some(EntityState { record: None, version: 2 }));
    let both = [write("C2", 0, Some("{}")), write("C1", 1, Some("{}"))];
    let err = store.insert_entity_events(&[], &both, None, t(4)).await;
    assert!(matches!(err, Err(StoreError::Stale(_))), "{err:?}");
    assert_eq!(state(store.as_ref(), "C2").await, None, "the first write of a stale request is undone");
    let both = [write("C2", 0, Some("{}")), write("C1", 2, Some(r#"{"b":2}"#))];
    store.insert_entity_events(&[], &both, None, t(4)).await.unwrap();
    let states = store.get_entities(&[entity("C1"), entity("C2"), entity("C3")]).await.unwrap();
    assert_eq!(
        states,
        [
            Some(EntityState { record: Some(r#"{"b":2}"#.into()), version: 3 }),
            Some(EntityState { record: Some("{}".into()), version: 1 }),
            None
        ]
    );
}

pub async fn concurrent_writers_of_one_version_succeed_once(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        writers.spawn(async move {
            let record = format!("{{\"writer\":{i}}}");
            store.insert_entity_events(&[], &[write("C1", 0, Some(&record))], None, t(1)).await
        });
    }
    let outcomes = writers.join_all().await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(StoreError::Stale(_)))), "{outcomes:?}");
    assert_eq!(state(store.as_ref(), "C1").await.map(|s| s.version), Some(1));
}

pub async fn concurrent_writers_of_distinct_entities_are_applied_or_stale_each_alone(store: Arc<dyn Store>) {
    seed(store.as_ref()).await;
    for i in 0..32 {
        store.insert_entity_events(&[], &[write(&format!("E{i}"), 0, Some("{}"))], None, t(1)).await.unwrap();
    }
    // Writers of distinct entities, stored together when the group commit groups them: the odd ones read a
    // version that is not the stored one.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        writers.spawn(async move {
            let read = if i % 2 == 0 { 1 } else { 7 };
            let keyed = format!("w{i}");
            let outcome = store
                .insert_entity_events(
                    &[],
                    &[write(&format!("E{i}"), read, Some("[1]"))],
                    Some(key(&keyed, "h", "{}", t(0))),
                    t(2),
                )
                .await;
            (i, outcome)
        });
    }
    for (i, outcome) in writers.join_all().await {
        let entity = state(store.as_ref(), &format!("E{i}")).await.expect("stored");
        let answer = stored_response(store.as_ref(), &format!("w{i}"), t(0)).await;
        if i % 2 == 0 {
            assert!(outcome.is_ok(), "{i}: {outcome:?}");
            assert_eq!((entity.version, entity.record.as_deref(), answer.is_some()), (2, Some("[1]"), true), "{i}");
        } else {
            assert!(matches!(outcome, Err(StoreError::Stale(_))), "{i}: {outcome:?}");
            assert_eq!((entity.version, entity.record.as_deref(), answer), (1, Some("{}"), None), "{i}");
        }
    }
}
