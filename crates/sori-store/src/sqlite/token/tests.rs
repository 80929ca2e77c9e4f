use tempfile::TempDir;

use super::super::tests::{file_store, register};
use crate::{AccountId, NewToken, SqliteStore, StoreError, StoredToken, TokenHash, TokenStore};

/// A fixed "now", so expiry is decided by the times the tests pass.
const NOW: i64 = 1_700_000_000_000;

/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Makes a token for `account`, valid until `expires_at_ms`, and stores it.
async fn token(store: &SqliteStore, account: AccountId, expires_at_ms: i64) -> NewToken {
    let new = NewToken::generate().expect("the OS RNG works");
    store
        .create_token(account, &new.hash, NOW, expires_at_ms)
        .await
        .expect("create token");
    new
}

/// The account a token logs in to at `now_ms`, if it is valid then.
async fn owner(store: &SqliteStore, token: &NewToken, now_ms: i64) -> Option<AccountId> {
    store
        .find_token(&TokenHash::of(&token.token), now_ms)
        .await
        .expect("find token")
        .map(|found| found.account_id)
}

#[tokio::test]
async fn create_and_find_by_the_hash_of_the_text() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    let found = store.find_token(&TokenHash::of(&new.token), NOW).await;
    assert_eq!(
        found.unwrap(),
        Some(StoredToken {
            account_id: alice.id,
            created_at_ms: NOW,
            expires_at_ms: NOW + DAY_MS,
        })
    );
    // Any other text finds nothing, however close.
    let mut other = new.token.clone();
    other.pop();
    assert_eq!(
        store.find_token(&TokenHash::of(&other), NOW).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn the_table_holds_the_hash_never_the_token() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT account_id, token_hash, created_at_ms, expires_at_ms FROM session_tokens",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![(alice.id, new.hash.to_hex(), NOW, NOW + DAY_MS)],
        "one row, keyed by the SHA-256 in hex"
    );
    assert_ne!(rows[0].1, new.token);
    assert!(!rows[0].1.contains(&new.token));
}

#[tokio::test]
async fn a_token_expires_at_its_expiry_not_a_millisecond_later() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + 1000).await;
    assert_eq!(owner(&store, &new, NOW + 999).await, Some(alice.id));
    assert_eq!(owner(&store, &new, NOW + 1000).await, None);
    // Reads do not delete: an earlier time still finds it.
    assert_eq!(owner(&store, &new, NOW).await, Some(alice.id));
}

#[tokio::test]
async fn revoke_one_leaves_the_others() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let tab_a = token(&store, alice.id, NOW + DAY_MS).await;
    let tab_b = token(&store, alice.id, NOW + DAY_MS).await;
    assert!(store.revoke_token(&tab_a.hash).await.unwrap());
    assert!(
        !store.revoke_token(&tab_a.hash).await.unwrap(),
        "gone already"
    );
    assert_eq!(owner(&store, &tab_a, NOW).await, None);
    assert_eq!(owner(&store, &tab_b, NOW).await, Some(alice.id));
}

#[tokio::test]
async fn revoke_all_of_one_account() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let alice_1 = token(&store, alice.id, NOW + DAY_MS).await;
    let alice_2 = token(&store, alice.id, NOW + DAY_MS).await;
    let expired = token(&store, alice.id, NOW - 1).await;
    let bobs = token(&store, bob.id, NOW + DAY_MS).await;

    assert_eq!(store.revoke_tokens(alice.id).await.unwrap(), 3);
    for gone in [&alice_1, &alice_2, &expired] {
        assert_eq!(owner(&store, gone, NOW - DAY_MS).await, None);
    }
    assert_eq!(owner(&store, &bobs, NOW).await, Some(bob.id));
    assert_eq!(store.revoke_tokens(alice.id).await.unwrap(), 0);
    // A new login after the revocation gets a working token.
    let after = token(&store, alice.id, NOW + DAY_MS).await;
    assert_eq!(owner(&store, &after, NOW).await, Some(alice.id));
}

#[tokio::test]
async fn delete_expired_keeps_the_valid() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let old = token(&store, alice.id, NOW - DAY_MS).await;
    let at_now = token(&store, alice.id, NOW).await;
    let valid = token(&store, alice.id, NOW + 1).await;
    assert_eq!(store.delete_expired_tokens(NOW).await.unwrap(), 2);
    assert_eq!(owner(&store, &old, NOW - 2 * DAY_MS).await, None, "deleted");
    assert_eq!(owner(&store, &at_now, NOW - 1).await, None, "deleted");
    assert_eq!(owner(&store, &valid, NOW).await, Some(alice.id));
    assert_eq!(store.delete_expired_tokens(NOW).await.unwrap(), 0);
}

#[tokio::test]
async fn a_token_needs_its_account_and_goes_with_it() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let hash = TokenHash::of("not a real token");
    let res = store
        .create_token(alice.id + 100, &hash, NOW, NOW + 1)
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");

    let new = token(&store, alice.id, NOW + DAY_MS).await;
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(alice.id)
        .execute(&store.pool)
        .await
        .unwrap();
    assert_eq!(owner(&store, &new, NOW).await, None);
}

#[tokio::test]
async fn the_same_hash_twice_is_refused() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    let res = store
        .create_token(alice.id, &new.hash, NOW, NOW + 2 * DAY_MS)
        .await;
    assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
    assert_eq!(
        store
            .find_token(&new.hash, NOW)
            .await
            .unwrap()
            .map(|t| t.expires_at_ms),
        Some(NOW + DAY_MS),
        "the first one stands"
    );
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sori.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(owner(&store, &new, NOW).await, Some(alice.id));
}
