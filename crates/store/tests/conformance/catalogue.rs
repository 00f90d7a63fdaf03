//! Applications, installations, webhooks and the routing snapshot.

use std::sync::Arc;

use herald_domain::{ApplicationId, InstallationId, WebhookId};
use herald_store::*;
use uuid::Uuid;

use crate::fixtures::*;

pub async fn an_application_round_trips_and_is_found_by_its_key_hash(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();

    assert_eq!(store.get_application(app.id).await.unwrap(), app);
    assert_eq!(store.find_application_by_key_hash(&app.api_key_hash, t(1)).await.unwrap(), Some(app.clone()));
    assert_eq!(store.find_application_by_key_hash("no-such-hash", t(1)).await.unwrap(), None);
    assert!(matches!(store.get_application(ApplicationId(Uuid::new_v4())).await, Err(StoreError::NotFound)));
}

pub async fn applications_are_listed_in_pages_oldest_first_with_a_total(store: Arc<dyn Store>) {
    let apps: Vec<_> = (0..5).map(|i| app_at(t(10 - i))).collect();
    for a in &apps {
        store.insert_application(a).await.unwrap();
    }
    let oldest_first: Vec<_> = apps.iter().rev().map(|a| a.id).collect();

    let (first, total) = store.list_applications(page(1, 2)).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(first.iter().map(|a| a.id).collect::<Vec<_>>(), oldest_first[..2]);
    let (last, _) = store.list_applications(page(3, 2)).await.unwrap();
    assert_eq!(last.iter().map(|a| a.id).collect::<Vec<_>>(), oldest_first[4..]);
    let (past, total) = store.list_applications(page(4, 2)).await.unwrap();
    assert!(past.is_empty());
    assert_eq!(total, 5);
}

pub async fn updating_an_application_changes_its_name_scopes_and_modified(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let scopes = vec!["offers.read".to_string()];

    let updated = store.update_application(app.id, "Renamed", &scopes, t(60)).await.unwrap();

    let expected = ApplicationRecord { name: "Renamed".into(), scopes, modified: t(60), ..app.clone() };
    assert_eq!(updated, expected);
    assert_eq!(store.get_application(app.id).await.unwrap(), expected);
    let missing = store.update_application(ApplicationId(Uuid::new_v4()), "x", &[], t(60)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

pub async fn a_duplicate_client_id_or_key_hash_is_a_conflict(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();

    let same_client = ApplicationRecord { client_id: app.client_id.clone(), ..app_at(t(1)) };
    let err = store.insert_application(&same_client).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("client id")), "{err:?}");
    let same_key = ApplicationRecord { api_key_hash: app.api_key_hash.clone(), ..app_at(t(1)) };
    assert!(matches!(store.insert_application(&same_key).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.list_applications(page(1, 10)).await.unwrap().1, 1);
}

pub async fn a_rotated_api_key_replaces_the_old_one_which_may_live_on_until_it_expires(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let find = |hash: &str, at: i64| {
        let (store, hash) = (store.clone(), hash.to_string());
        async move { store.find_application_by_key_hash(&hash, t(at)).await.unwrap().map(|a| a.id) }
    };
    let first = app.api_key_hash.as_str();

    let rotated = store.rotate_api_key(app.id, "hash-second", Some(t(100)), t(10)).await.unwrap();

    assert_eq!((rotated.api_key_hash.as_str(), rotated.modified), ("hash-second", t(10)));
    assert_eq!(find("hash-second", 11).await, Some(app.id));
    assert_eq!(find(first, 99).await, Some(app.id), "the old key works until it expires");
    assert_eq!(find(first, 100).await, None, "and not from then on");

    // Without a grace period the key it replaces stops at once, and a key kept from before is dropped.
    store.rotate_api_key(app.id, "hash-third", None, t(20)).await.unwrap();
    assert_eq!(find("hash-third", 21).await, Some(app.id));
    assert_eq!(find("hash-second", 21).await, None);
    assert_eq!(find(first, 21).await, None);
    let unknown = ApplicationId(Uuid::new_v4());
    assert!(matches!(store.rotate_api_key(unknown, "hash-x", None, t(20)).await, Err(StoreError::NotFound)));
}

pub async fn a_deleted_application_is_gone_with_its_webhooks_but_its_logs_stay(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let (other, other_hook) = seed(store.as_ref()).await;
    store.insert_installation(&installation(&app, "RPT", t(1)), None).await.unwrap();
    let sent = event("RPT", "contacts.created", vec![pending(&hook, t(2)), pending(&other_hook, t(2))]);
    let waiting = event("RPT", "contacts.created", vec![pending(&hook, t(50))]);
    store.insert_events(&[sent.clone(), waiting.clone()], None, t(2)).await.unwrap();
    let claimed = store.claim_due("node-a", t(2), 10, &[]).await.unwrap();
    let attempts: Vec<_> = claimed.iter().map(|c| attempt(c, 1, t(3), Outcome::Delivered)).collect();
    store.record_attempts(&attempts).await.unwrap();
    store.rotate_api_key(app.id, "hash-next", Some(t(1_000)), t(4)).await.unwrap();
    let version = store.routing_version().await.unwrap();

    store.delete_application(app.id, t(5)).await.unwrap();

    assert!(matches!(store.get_application(app.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.find_application_by_key_hash("hash-next", t(6)).await.unwrap(), None, "its key stops");
    assert_eq!(store.find_application_by_key_hash(&app.api_key_hash, t(6)).await.unwrap(), None, "so does the old");
    let (listed, total) = store.list_applications(page(1, 10)).await.unwrap();
    assert_eq!((listed.iter().map(|a| a.id).collect::<Vec<_>>(), total), (vec![other.id], 1));
    assert!(matches!(store.get_webhook(hook.id).await, Err(StoreError::NotFound)), "its webhooks are deleted");
    assert_eq!(store.get_webhook(other_hook.id).await.unwrap().id, other_hook.id);
    assert_eq!(store.get_delivery(waiting.deliveries[0].id).await.unwrap().state, DeliveryState::Cancelled);
    assert!(store.claim_due("node-a", t(60), 10, &[]).await.unwrap().is_empty(), "nothing more is attempted");
    assert!(!store.is_installed(app.id, "RPT").await.unwrap(), "its installations end");
    assert!(store.routing_version().await.unwrap() > version);
    let snapshot = store.routing_snapshot().await.unwrap();
    assert!(snapshot.webhooks.iter().all(|w| w.application_id != app.id));
    assert!(snapshot.scopes.iter().all(|(a, _)| *a != app.id));
    let logs = AttemptFilter { application_id: Some(app.id), limit: 10, ..Default::default() };
    assert_eq!(store.list_attempts(&logs).await.unwrap().len(), 1, "its logs stay");
    assert!(matches!(store.delete_application(app.id, t(7)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.update_application(app.id, "x", &[], t(7)).await, Err(StoreError::NotFound)));
}

pub async fn an_installation_round_trips_and_is_terminated_once(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let inst = installation(&app, "RPT", t(1));
    store.insert_installation(&inst, None).await.unwrap();
    assert_eq!(store.get_installation(inst.id).await.unwrap(), inst);

    let terminated = store.terminate_installation(inst.id, t(5), None).await.unwrap();

    assert_eq!(terminated, InstallationRecord { terminated: Some(t(5)), ..inst.clone() });
    assert_eq!(store.get_installation(inst.id).await.unwrap(), terminated);
    assert!(matches!(store.terminate_installation(inst.id, t(6), None).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_installation(inst.id).await.unwrap().terminated, Some(t(5)));
    let unknown = InstallationId(Uuid::new_v4());
    assert!(matches!(store.terminate_installation(unknown, t(6), None).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_installation(unknown).await, Err(StoreError::NotFound)));
}

pub async fn an_installation_and_its_event_are_stored_in_one_transaction(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let inst = installation(&app, "RPT", t(2));
    let install = event("RPT", "application.install", vec![pending(&hook, t(2))]);

    store.insert_installation(&inst, Some(&install)).await.unwrap();

    assert_eq!(store.get_installation(inst.id).await.unwrap(), inst);
    let d = store.get_delivery(install.deliveries[0].id).await.unwrap();
    assert_eq!((d.event, d.topic_id.as_str(), d.state), (install.id, "application.install", DeliveryState::Pending));
    let claimed = store.claim_due("node-a", t(3), 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![install.deliveries[0].id], "due at once");

    let uninstall = event("RPT", "application.uninstall", vec![pending(&hook, t(4))]);
    let ended = store.terminate_installation(inst.id, t(4), Some(&uninstall)).await.unwrap();
    assert_eq!(ended.terminated, Some(t(4)));
    let d = store.get_delivery(uninstall.deliveries[0].id).await.unwrap();
    assert_eq!((d.event, d.topic_id.as_str()), (uninstall.id, "application.uninstall"));
    let again = event("RPT", "application.uninstall", vec![pending(&hook, t(5))]);
    assert!(matches!(store.terminate_installation(inst.id, t(5), Some(&again)).await, Err(StoreError::Conflict(_))));
    assert!(
        matches!(store.get_delivery(again.deliveries[0].id).await, Err(StoreError::NotFound)),
        "a refused termination stores no event"
    );
}

pub async fn an_installation_whose_event_cannot_be_stored_is_not_stored_either(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    // An event row that exists already makes the event's insert fail inside the installation's transaction.
    let taken = event("RPT", "contacts.created", vec![]);
    store.insert_events(std::slice::from_ref(&taken), None, t(1)).await.unwrap();
    let inst = installation(&app, "RPT", t(2));
    let install = NewEvent { id: taken.id, ..event("RPT", "application.install", vec![pending(&hook, t(2))]) };

    assert!(store.insert_installation(&inst, Some(&install)).await.is_err());

    assert!(
        matches!(store.get_installation(inst.id).await, Err(StoreError::NotFound)),
        "no installation without event"
    );
    assert!(!store.is_installed(app.id, "RPT").await.unwrap());

    store.insert_installation(&inst, None).await.unwrap();
    let uninstall = NewEvent { id: taken.id, ..event("RPT", "application.uninstall", vec![pending(&hook, t(3))]) };
    assert!(store.terminate_installation(inst.id, t(3), Some(&uninstall)).await.is_err());
    assert_eq!(store.get_installation(inst.id).await.unwrap().terminated, None, "no termination without event");
    assert!(store.is_installed(app.id, "RPT").await.unwrap());
}

pub async fn installations_are_listed_by_application_customer_and_state(store: Arc<dyn Store>) {
    let a = app_at(t(0));
    let b = app_at(t(0));
    store.insert_application(&a).await.unwrap();
    store.insert_application(&b).await.unwrap();
    let a_rpt = installation(&a, "RPT", t(1));
    let a_abc = installation(&a, "ABC", t(2));
    let b_rpt = installation(&b, "RPT", t(3));
    for i in [&a_rpt, &a_abc, &b_rpt] {
        store.insert_installation(i, None).await.unwrap();
    }
    store.terminate_installation(a_abc.id, t(4), None).await.unwrap();
    let ids = |v: (Vec<InstallationRecord>, u64)| (v.0.iter().map(|i| i.id).collect::<Vec<_>>(), v.1);
    let list = |f: InstallationFilter| {
        let store = store.clone();
        async move { ids(store.list_installations(&f, page(1, 10)).await.unwrap()) }
    };

    assert_eq!(list(InstallationFilter::default()).await, (vec![a_rpt.id, a_abc.id, b_rpt.id], 3));
    let of_a = InstallationFilter { application_id: Some(a.id), ..Default::default() };
    assert_eq!(list(of_a.clone()).await, (vec![a_rpt.id, a_abc.id], 2));
    let rpt = InstallationFilter { customer_id: Some("RPT".into()), ..Default::default() };
    assert_eq!(list(rpt).await, (vec![a_rpt.id, b_rpt.id], 2));
    assert_eq!(list(InstallationFilter { installed: Some(true), ..of_a.clone() }).await, (vec![a_rpt.id], 1));
    assert_eq!(list(InstallationFilter { installed: Some(false), ..of_a }).await, (vec![a_abc.id], 1));
    let (second, total) = ids(store.list_installations(&InstallationFilter::default(), page(2, 2)).await.unwrap());
    assert_eq!((second, total), (vec![b_rpt.id], 3));
}

pub async fn is_installed_follows_installation_and_termination(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    assert!(!store.is_installed(app.id, "RPT").await.unwrap());
    let inst = installation(&app, "RPT", t(1));
    store.insert_installation(&inst, None).await.unwrap();

    assert!(store.is_installed(app.id, "RPT").await.unwrap());
    assert!(!store.is_installed(app.id, "ABC").await.unwrap());
    assert!(!store.is_installed(ApplicationId(Uuid::new_v4()), "RPT").await.unwrap());
    store.terminate_installation(inst.id, t(2), None).await.unwrap();
    assert!(!store.is_installed(app.id, "RPT").await.unwrap());
    store.insert_installation(&installation(&app, "RPT", t(3)), None).await.unwrap();
    assert!(store.is_installed(app.id, "RPT").await.unwrap());
}

pub async fn a_webhook_round_trips_and_updates(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let hook = WebhookRecord {
        previous_secret: Some("whsec_b2xk".into()),
        previous_secret_expires: Some(t(86_400)),
        filter: Some(r#"{"required":["diff"]}"#.into()),
        ..webhook(&app, &["RPT", "SBOX"], t(1))
    };
    store.insert_webhook(&hook).await.unwrap();
    assert_eq!(store.get_webhook(hook.id).await.unwrap(), hook);

    let changed = WebhookRecord {
        url: "https://example.org/other".into(),
        description: None,
        topic_ids: vec!["offers.accepted".into()],
        customer_ids: vec![],
        active: false,
        ignore_etag_only_changes: false,
        rate_limit: Some(50),
        secret: "whsec_bmV3".into(),
        previous_secret: None,
        previous_secret_expires: None,
        disabled_reason: Some("failing for 5 days".into()),
        modified: t(30),
        filter: None,
        ..hook.clone()
    };
    store.update_webhook(&changed).await.unwrap();

    assert_eq!(store.get_webhook(hook.id).await.unwrap(), changed);
    let unknown = WebhookRecord { id: WebhookId(Uuid::new_v4()), ..changed };
    assert!(matches!(store.update_webhook(&unknown).await, Err(StoreError::NotFound)));
    assert!(matches!(store.get_webhook(unknown.id).await, Err(StoreError::NotFound)));
}

pub async fn a_deleted_webhook_is_not_found_listed_updated_or_deleted_again(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;

    store.delete_webhook(hook.id, t(10)).await.unwrap();

    assert!(matches!(store.get_webhook(hook.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.update_webhook(&hook).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_webhook(hook.id, t(11)).await, Err(StoreError::NotFound)));
    let filter = WebhookFilter { application_id: Some(app.id), ..Default::default() };
    assert_eq!(store.list_webhooks(&filter, page(1, 10)).await.unwrap().1, 0);
    assert!(matches!(store.delete_webhook(WebhookId(Uuid::new_v4()), t(11)).await, Err(StoreError::NotFound)));
}

pub async fn webhooks_are_listed_by_application_activity_and_exact_customer(store: Arc<dyn Store>) {
    let a = app_at(t(0));
    let b = app_at(t(0));
    store.insert_application(&a).await.unwrap();
    store.insert_application(&b).await.unwrap();
    let all = webhook(&a, &[], t(1));
    let rpt = webhook(&a, &["RPT"], t(2));
    let rpt_and_abc = webhook(&a, &["RPT", "ABC"], t(3));
    let inactive_rpt = WebhookRecord { active: false, ..webhook(&a, &["RPT"], t(4)) };
    let other_app = webhook(&b, &["RPT"], t(5));
    for h in [&all, &rpt, &rpt_and_abc, &inactive_rpt, &other_app] {
        store.insert_webhook(h).await.unwrap();
    }
    let list = |f: WebhookFilter| {
        let store = store.clone();
        async move {
            let (hooks, total) = store.list_webhooks(&f, page(1, 10)).await.unwrap();
            (hooks.iter().map(|h| h.id).collect::<Vec<_>>(), total)
        }
    };
    let of_a = WebhookFilter { application_id: Some(a.id), ..Default::default() };

    assert_eq!(list(WebhookFilter::default()).await.1, 5);
    assert_eq!(list(of_a.clone()).await, (vec![all.id, rpt.id, rpt_and_abc.id, inactive_rpt.id], 4));
    let active = WebhookFilter { active: Some(true), ..of_a.clone() };
    assert_eq!(list(active).await, (vec![all.id, rpt.id, rpt_and_abc.id], 3));
    assert_eq!(list(WebhookFilter { active: Some(false), ..of_a.clone() }).await, (vec![inactive_rpt.id], 1));
    let exact = WebhookFilter { exact_customer: Some("RPT".into()), ..of_a.clone() };
    assert_eq!(list(exact).await, (vec![rpt.id, inactive_rpt.id], 2));
    let exact_abc = WebhookFilter { exact_customer: Some("ABC".into()), ..of_a };
    assert_eq!(list(exact_abc).await, (vec![], 0));
}

pub async fn webhooks_sort_by_created_or_modified_in_either_direction(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    // Created 1, 2, 3; modified in the other order.
    let first = WebhookRecord { modified: t(30), ..webhook(&app, &[], t(1)) };
    let second = WebhookRecord { modified: t(20), ..webhook(&app, &[], t(2)) };
    let third = WebhookRecord { modified: t(10), ..webhook(&app, &[], t(3)) };
    for h in [&second, &third, &first] {
        store.insert_webhook(h).await.unwrap();
    }
    let order = |by_modified: bool, descending: bool| {
        let store = store.clone();
        async move {
            let f = WebhookFilter { application_id: Some(app.id), by_modified, descending, ..Default::default() };
            store.list_webhooks(&f, page(1, 10)).await.unwrap().0.iter().map(|h| h.id).collect::<Vec<_>>()
        }
    };

    assert_eq!(order(false, false).await, vec![first.id, second.id, third.id]);
    assert_eq!(order(false, true).await, vec![third.id, second.id, first.id]);
    assert_eq!(order(true, false).await, vec![third.id, second.id, first.id]);
    assert_eq!(order(true, true).await, vec![first.id, second.id, third.id]);
    let f = WebhookFilter { application_id: Some(app.id), descending: true, ..Default::default() };
    let (page_two, total) = store.list_webhooks(&f, page(2, 2)).await.unwrap();
    assert_eq!((page_two.iter().map(|h| h.id).collect::<Vec<_>>(), total), (vec![first.id], 3));
}

pub async fn deleting_a_webhook_cancels_its_pending_deliveries_only(store: Arc<dyn Store>) {
    let (app, hook) = seed(store.as_ref()).await;
    let other = webhook(&app, &[], t(2));
    store.insert_webhook(&other).await.unwrap();
    let later = pending(&hook, t(3600));
    let sent = NewDelivery { state: DeliveryState::Delivered, next_attempt_at: None, ..pending(&hook, t(0)) };
    let elsewhere = pending(&other, t(10));
    let e = event("RPT", "contacts.created", vec![later.clone(), sent.clone(), elsewhere.clone()]);
    store.insert_events(&[e], None, t(0)).await.unwrap();
    let held = due(store.as_ref(), &hook, t(5)).await;
    let claimed = store.claim_due("node-a", t(5), 10, &[other.id]).await.unwrap();
    assert_eq!(claimed.len(), 1);

    store.delete_webhook(hook.id, t(20)).await.unwrap();

    for id in [later.id, held.deliveries[0].id] {
        let d = store.get_delivery(id).await.unwrap();
        assert_eq!((d.state, d.next_attempt_at), (DeliveryState::Cancelled, None));
    }
    assert_eq!(store.get_delivery(sent.id).await.unwrap().state, DeliveryState::Delivered);
    assert_eq!(store.get_delivery(elsewhere.id).await.unwrap().state, DeliveryState::Pending);
    let now_due: Vec<_> = store.claim_due("node-b", t(9_999), 10, &[]).await.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(now_due, vec![elsewhere.id]);
}

pub async fn every_routing_write_moves_the_routing_version(store: Arc<dyn Store>) {
    let mut seen = vec![store.routing_version().await.unwrap()];
    let mut check = |v: i64, what: &str| {
        assert!(!seen.contains(&v), "the routing version did not move on {what}: {v} after {seen:?}");
        seen.push(v);
    };
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    check(store.routing_version().await.unwrap(), "insert_application");
    store.update_application(app.id, "n", &[], t(1)).await.unwrap();
    check(store.routing_version().await.unwrap(), "update_application");
    let inst = installation(&app, "RPT", t(1));
    store.insert_installation(&inst, None).await.unwrap();
    check(store.routing_version().await.unwrap(), "insert_installation");
    store.terminate_installation(inst.id, t(2), None).await.unwrap();
    check(store.routing_version().await.unwrap(), "terminate_installation");
    let hook = webhook(&app, &[], t(2));
    store.insert_webhook(&hook).await.unwrap();
    check(store.routing_version().await.unwrap(), "insert_webhook");
    store.update_webhook(&WebhookRecord { active: false, ..hook.clone() }).await.unwrap();
    check(store.routing_version().await.unwrap(), "update_webhook");
    store.delete_webhook(hook.id, t(3)).await.unwrap();
    check(store.routing_version().await.unwrap(), "delete_webhook");

    let before = store.routing_version().await.unwrap();
    store.insert_events(&[event("RPT", "contacts.created", vec![])], None, t(4)).await.unwrap();
    assert_eq!(store.routing_version().await.unwrap(), before, "events do not change routing");
}

pub async fn the_routing_snapshot_holds_live_webhooks_scopes_and_current_installations(store: Arc<dyn Store>) {
    let app = app_at(t(0));
    store.insert_application(&app).await.unwrap();
    let live = WebhookRecord {
        ignore_etag_only_changes: false,
        filter: Some(r#"{"properties":{"new":{"type":"object"}}}"#.into()),
        ..webhook(&app, &["RPT", "SBOX"], t(1))
    };
    let inactive = WebhookRecord { active: false, ..webhook(&app, &[], t(2)) };
    let deleted = webhook(&app, &[], t(3));
    for h in [&live, &inactive, &deleted] {
        store.insert_webhook(h).await.unwrap();
    }
    store.delete_webhook(deleted.id, t(4)).await.unwrap();
    let current = installation(&app, "RPT", t(5));
    let ended = installation(&app, "ABC", t(6));
    store.insert_installation(&current, None).await.unwrap();
    store.insert_installation(&ended, None).await.unwrap();
    store.terminate_installation(ended.id, t(7), None).await.unwrap();

    let snap = store.routing_snapshot().await.unwrap();

    assert_eq!(snap.version, store.routing_version().await.unwrap());
    assert_eq!(snap.webhooks.len(), 1);
    let w = &snap.webhooks[0];
    assert_eq!((w.id, w.application_id), (live.id, app.id));
    assert_eq!((&w.topic_ids, &w.customer_ids), (&live.topic_ids, &live.customer_ids));
    assert!(w.active && !w.ignore_etag_only_changes);
    assert_eq!(w.filter, live.filter);
    assert_eq!(snap.scopes, vec![(app.id, app.scopes.clone())]);
    assert_eq!(snap.installations, vec![(app.id, "RPT".to_string())]);
}
