//! What only the PostgreSQL backend has: the URL, TLS, the connection's
//! name, and identity ids. Everything the traits promise is tested on both
//! backends by the suite (`src/suite/`); these run on the same test server,
//! each in a fresh schema, and skip the same way when there is none.

use std::sync::Arc;

use super::PgStore;
use crate::{
    AccountStore, MessageStore, ModerationStore, RoomStore, Store, StoreError, TokenStore,
    suite::support::{TestDb, on_postgres, with_database, with_param},
};

/// The test database's URL; the harness only runs these on PostgreSQL.
fn url_of(db: &TestDb) -> String {
    db.postgres_url()
        .expect("a PostgreSQL test database")
        .to_owned()
}

#[tokio::test]
async fn connect_failure_names_its_cause() {
    on_postgres(|db| async move {
        let url = with_database(&url_of(&db), "sori_no_such_database");
        let res = PgStore::connect(&url).await;
        let Err(err @ StoreError::Backend(_)) = res else {
            panic!("expected a backend error, got {res:?}");
        };
        let message = err.to_string();
        assert!(message.contains("sori_no_such_database"), "{message}");

        // (An unreachable server fails too, but only after `CONNECT_TIMEOUT`
        // of retries, too long for a test.)
        let res = PgStore::connect("not a url").await;
        assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
    })
    .await;
}

/// `sslmode=require` makes the connection TLS, which needs sqlx's rustls
/// feature; without it sqlx refuses such a URL outright.
#[tokio::test]
async fn sslmode_require_speaks_tls() {
    on_postgres(|db| async move {
        let url = with_param(&url_of(&db), "sslmode=require");
        match PgStore::connect(&url).await {
            Ok(store) => {
                let ssl: bool =
                    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                        .fetch_one(store.pool())
                        .await
                        .unwrap();
                assert!(ssl, "the session is encrypted");
            }
            // A server without TLS refuses; the client must have tried.
            Err(err) => {
                let message = err.to_string();
                assert!(!message.contains("without TLS support"), "{message}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn sessions_are_named_sori_unless_the_url_says_otherwise() {
    on_postgres(|db| async move {
        let url = url_of(&db);
        let app_name = "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()";
        let store = PgStore::connect(&url).await.unwrap();
        let name: String = sqlx::query_scalar(app_name)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(name, "sori");

        let store = PgStore::connect(&with_param(&url, "application_name=sori-node-2"))
            .await
            .unwrap();
        let name: String = sqlx::query_scalar(app_name)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(name, "sori-node-2");
    })
    .await;
}

/// Ids come from identity columns, GENERATED ALWAYS: nobody, not even by
/// hand, can insert a row under an id of their choosing and so reuse one.
#[tokio::test]
async fn ids_cannot_be_given_by_hand() {
    on_postgres(|db| async move {
        let store = PgStore::connect(&url_of(&db)).await.unwrap();
        for sql in [
            "INSERT INTO rooms (id, name, name_key, topic, invite_only, created_at_ms) \
             VALUES (1, 'hand', 'hand', '', FALSE, 0)",
            "INSERT INTO accounts \
             (id, username, username_key, display_name, display_name_key, password_hash, \
             created_at_ms) VALUES (1, 'a', 'a', 'a', 'a', 'x', 0)",
        ] {
            let res = sqlx::query(sql).execute(store.pool()).await;
            let err = res.expect_err("an identity column refuses a given id");
            assert!(err.to_string().contains("non-DEFAULT"), "{err}");
        }
    })
    .await;
}

/// The server holds one `Arc<PgStore>` as each trait object.
#[test]
fn is_usable_as_each_trait_object() {
    fn coerce(store: Arc<PgStore>) {
        let _: Arc<dyn AccountStore> = store.clone();
        let _: Arc<dyn RoomStore> = store.clone();
        let _: Arc<dyn MessageStore> = store.clone();
        let _: Arc<dyn ModerationStore> = store.clone();
        let _: Arc<dyn TokenStore> = store.clone();
        let _: Arc<dyn Store> = store;
    }
    let _ = coerce;
}
