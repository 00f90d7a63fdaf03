//! Web UI sessions: stored by token hash, capped per principal, touched, changed, deleted and expired.

use std::sync::Arc;

use herald_domain::ApplicationId;
use herald_store::*;
use uuid::Uuid;

use crate::fixtures::*;

fn session(hash: &str, principal: &str, created: i64) -> SessionRecord {
    SessionRecord {
        token_hash: hash.into(),
        principal: principal.into(),
        csrf: format!("csrf-{hash}"),
        picked_app: None,
        flash: None,
        created: t(created),
        last_seen: t(created),
    }
}

pub async fn a_session_round_trips_and_is_deleted(store: Arc<dyn Store>) {
    let s = session("h1", "admin", 10);
    store.insert_session(&s, 100).await.unwrap();
    assert_eq!(store.get_session("h1").await.unwrap(), Some(s.clone()));
    assert_eq!(store.get_session("h2").await.unwrap(), None);
    assert!(matches!(store.insert_session(&s, 100).await, Err(StoreError::Conflict(_))), "a token hash is unique");

    let app = ApplicationId::from(Uuid::now_v7());
    store.set_session_app("h1", app).await.unwrap();
    store.set_session_flash("h1", Some("1|Saved")).await.unwrap();
    let got = store.get_session("h1").await.unwrap().unwrap();
    assert_eq!((got.picked_app, got.flash.as_deref()), (Some(app), Some("1|Saved")));
    // Clearing a message that was replaced meanwhile keeps the newer one.
    store.clear_session_flash("h1", "1|Older").await.unwrap();
    assert_eq!(store.get_session("h1").await.unwrap().unwrap().flash.as_deref(), Some("1|Saved"));
    store.clear_session_flash("h1", "1|Saved").await.unwrap();
    assert_eq!(store.get_session("h1").await.unwrap().unwrap().flash, None);

    assert!(store.touch_session("h1", t(50)).await.unwrap());
    assert!(store.touch_session("h1", t(20)).await.unwrap());
    assert_eq!(store.get_session("h1").await.unwrap().unwrap().last_seen, t(50), "last_seen never moves back");
    assert!(!store.touch_session("h2", t(50)).await.unwrap());

    assert!(store.delete_session("h1").await.unwrap());
    assert!(!store.delete_session("h1").await.unwrap());
    assert_eq!(store.get_session("h1").await.unwrap(), None);
}

pub async fn a_new_session_drops_the_oldest_of_its_principal_beyond_the_cap(store: Arc<dyn Store>) {
    for (i, hash) in ["a1", "a2", "a3"].iter().enumerate() {
        store.insert_session(&session(hash, "app-1", i as i64), 3).await.unwrap();
    }
    store.insert_session(&session("other", "admin", 0), 3).await.unwrap();
    store.insert_session(&session("a4", "app-1", 10), 3).await.unwrap();
    assert_eq!(store.get_session("a1").await.unwrap(), None, "the oldest went");
    for hash in ["a2", "a3", "a4", "other"] {
        assert!(store.get_session(hash).await.unwrap().is_some(), "{hash} stays");
    }
    store.insert_session(&session("a5", "app-1", 11), 1).await.unwrap();
    for hash in ["a2", "a3", "a4"] {
        assert_eq!(store.get_session(hash).await.unwrap(), None, "{hash} went");
    }
    assert!(store.get_session("a5").await.unwrap().is_some());
    assert!(store.get_session("other").await.unwrap().is_some(), "other principals keep theirs");
}

pub async fn expired_sessions_are_deleted_by_idleness_or_age(store: Arc<dyn Store>) {
    let idle = SessionRecord { last_seen: t(100), ..session("idle", "admin", 100) };
    let old = SessionRecord { last_seen: t(1000), ..session("old", "admin", 5) };
    let live = SessionRecord { last_seen: t(1000), ..session("live", "admin", 500) };
    for s in [&idle, &old, &live] {
        store.insert_session(s, 100).await.unwrap();
    }
    assert_eq!(store.delete_expired_sessions(t(200), t(10)).await.unwrap(), 2);
    assert_eq!(store.get_session("idle").await.unwrap(), None);
    assert_eq!(store.get_session("old").await.unwrap(), None);
    assert!(store.get_session("live").await.unwrap().is_some());
    assert_eq!(store.delete_expired_sessions(t(200), t(10)).await.unwrap(), 0);
}
