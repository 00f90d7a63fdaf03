//! Dead letters of the broker sources: kept once per source and message id, listed newest first in pages.

use std::sync::Arc;

use herald_store::*;
use uuid::Uuid;

use crate::fixtures::*;

fn letter(source: &str, message_id: Option<&str>, received: i64) -> DeadLetterRecord {
    DeadLetterRecord {
        id: Uuid::now_v7(),
        source: source.into(),
        message_id: message_id.map(str::to_string),
        status: 422,
        description: "One or more validation failures have occurred.".into(),
        errors: r#"[{"field":"entityType","message":"must be one of …"}]"#.into(),
        body: "{\"entityType\": \"spaceships\"}".into(),
        received: t(received),
    }
}

pub async fn a_dead_letter_is_kept_once_per_source_and_message_id(store: Arc<dyn Store>) {
    let first = letter("amqp://h/?queue=q", Some("m-1"), 10);
    assert!(store.insert_dead_letter(&first).await.unwrap());
    assert!(!store.insert_dead_letter(&letter("amqp://h/?queue=q", Some("m-1"), 11)).await.unwrap(), "redelivered");
    assert!(store.insert_dead_letter(&letter("redis://h/?stream=s&group=g", Some("m-1"), 12)).await.unwrap());
    assert!(store.insert_dead_letter(&letter("amqp://h/?queue=q", None, 13)).await.unwrap());
    assert!(store.insert_dead_letter(&letter("amqp://h/?queue=q", None, 14)).await.unwrap(), "no id: each is kept");
    let (page, total) = store.list_dead_letters(Page { number: 1, size: 3 }).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(page.iter().map(|d| d.received).collect::<Vec<_>>(), [t(14), t(13), t(12)], "newest first");
    let (rest, _) = store.list_dead_letters(Page { number: 2, size: 3 }).await.unwrap();
    assert_eq!(rest, [first]);
}
