//! Secrets at rest, on each backend: webhook secrets and signing seeds are stored sealed, open with any key of the
//! ring, fail clearly with a wrong key, and are resealed with a new key. Written once; `sqlite_only` and `pg_only`
//! run it with their way of opening a store and of reading the raw columns.

use std::future::Future;
use std::sync::Arc;

use herald_store::{Sealer, Store, StoreError};

use crate::fixtures::{app_at, t, webhook};

/// `open(keys)` opens the test database with that key ring; `raw(webhook id)` reads the stored `(secret, seed)`.
pub async fn secrets_are_sealed_at_rest_and_reseal_with_a_new_key<O, OF, R, RF>(open: O, raw: R)
where
    O: Fn(Vec<[u8; 32]>) -> OF,
    OF: Future<Output = Arc<dyn Store>>,
    R: Fn(String) -> RF,
    RF: Future<Output = (String, Vec<u8>)>,
{
    let (old, new) = ([11u8; 32], [22u8; 32]);
    let store = open(vec![old]).await;
    let app = app_at(t(0));
    let mut hook = webhook(&app, &[], t(1));
    hook.previous_secret = Some("whsec_b2xkZXI=".into());
    store.insert_application(&app).await.unwrap();
    store.insert_webhook(&hook).await.unwrap();

    let (secret, seed) = raw(hook.id.to_string()).await;
    assert!(secret.starts_with("enc:v1:") && !secret.contains(&hook.secret), "stored secret {secret}");
    assert!(seed.starts_with(b"HSEAL1") && !seed.windows(16).any(|w| w == &app.signing_seed[..16]), "stored seed");
    let got = store.get_webhook(hook.id).await.unwrap();
    assert_eq!((got.secret.as_str(), got.previous_secret.as_deref()), (hook.secret.as_str(), Some("whsec_b2xkZXI=")));
    assert_eq!(store.get_application(app.id).await.unwrap().signing_seed, app.signing_seed);
    assert_eq!(store.reseal_secrets().await.unwrap(), 0, "everything is sealed with the current key");

    let wrong = open(vec![new]).await;
    assert!(matches!(wrong.get_webhook(hook.id).await, Err(StoreError::Corrupt(_))), "a wrong key is an error");
    assert!(matches!(wrong.get_application(app.id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(wrong.reseal_secrets().await, Err(StoreError::Corrupt(_))));

    let rotating = open(vec![new, old]).await;
    assert_eq!(rotating.reseal_secrets().await.unwrap(), 2, "one application and one webhook resealed");
    let after = open(vec![new]).await;
    assert_eq!(after.get_webhook(hook.id).await.unwrap().secret, hook.secret);
    assert_eq!(after.get_application(app.id).await.unwrap().signing_seed, app.signing_seed);
    assert_ne!(raw(hook.id.to_string()).await.0, secret, "the stored value changed");

    // A plain store's secrets (from before sealing) are read as they are and sealed by a reseal.
    let plain = open(vec![]).await;
    let app2 = app_at(t(2));
    plain.insert_application(&app2).await.unwrap();
    let sealing = open(vec![new]).await;
    assert_eq!(sealing.get_application(app2.id).await.unwrap().signing_seed, app2.signing_seed);
    assert_eq!(sealing.reseal_secrets().await.unwrap(), 1);
    let _ = Sealer::plain();
}
