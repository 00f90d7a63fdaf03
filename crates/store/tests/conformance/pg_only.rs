//! What only PostgreSQL has: several nodes migrating one database at once, and a server that may be away.

use herald_store::postgres::PgStore;
use herald_store::{Store, StoreError};

use crate::harness::postgres_database;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_once_and_all_open() {
    let Some((_db, url)) = postgres_database().await else { return };

    let opened = futures::future::join_all((0..6).map(|_| PgStore::open(&url, 2))).await;

    let stores: Vec<PgStore> = opened.into_iter().map(|s| s.expect("every node opens")).collect();
    assert_eq!(stores[0].routing_version().await.unwrap(), 0, "the schema is there, seeded once");
    PgStore::migrate(&url).await.expect("migrating again is a no-op");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM routing_version").fetch_one(&mut conn).await.unwrap();
    let embedded = sqlx::migrate!("./migrations/postgres").iter().count() as i64;
    assert_eq!((applied, rows), (embedded, 1));
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::open("postgres://postgres@127.0.0.1:1/postgres", 1).await.err().expect("no server there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_are_sealed_at_rest_and_reseal_with_a_new_key() {
    let Some((_db, url)) = postgres_database().await else { return };
    let open = |keys: Vec<[u8; 32]>| {
        let url = url.clone();
        async move {
            let store = PgStore::open(&url, 2).await.unwrap().sealed(herald_store::Sealer::new(&keys));
            std::sync::Arc::new(store) as std::sync::Arc<dyn Store>
        }
    };
    let raw = |id: String| {
        let url = url.clone();
        async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let id: uuid::Uuid = id.parse().unwrap();
            let secret: String = sqlx::query_scalar("SELECT secret FROM webhooks WHERE id = $1")
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let seed: Vec<u8> = sqlx::query_scalar(
                "SELECT a.signing_seed FROM applications a JOIN webhooks w ON w.application_id = a.id WHERE w.id = $1",
            )
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            (secret, seed)
        }
    };
    crate::sealing::secrets_are_sealed_at_rest_and_reseal_with_a_new_key(open, raw).await;
}
