//! Session tokens: stored by hash, expiring, revoked one or all at a time.

use std::ops::Deref;

use super::support::{TestDb, register, store_tests, with_pool};
use crate::{AccountId, NewToken, Store, StoreError, StoredToken, TokenHash};

store_tests!(
    create_and_find_by_the_hash_of_the_text,
    the_table_holds_the_hash_never_the_token,
    a_token_expires_at_its_expiry_not_a_millisecond_later,
    revoke_one_leaves_the_others,
    revoke_a_batch_in_one_go,
    revoke_a_batch_larger_than_a_statement,
    revoke_all_of_one_account,
    delete_expired_keeps_the_valid,
    a_token_needs_its_account_and_goes_with_it,
    the_same_hash_twice_is_refused,
    tokens_survive_a_restart,
);

/// A fixed "now", so expiry is decided by the times the tests pass.
const NOW: i64 = 1_700_000_000_000;

/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Makes a token for `account`, valid until `expires_at_ms`, and stores it.
async fn token(
    store: &impl Deref<Target = dyn Store>,
    account: AccountId,
    expires_at_ms: i64,
) -> NewToken {
    let new = NewToken::generate().expect("the OS RNG works");
    store
        .create_token(account, &new.hash, NOW, expires_at_ms)
        .await
        .expect("create token");
    new
}

/// The account a token logs in to at `now_ms`, if it is valid then.
async fn owner(
    store: &impl Deref<Target = dyn Store>,
    token: &NewToken,
    now_ms: i64,
) -> Option<AccountId> {
    store
        .find_token(&TokenHash::of(&token.token), now_ms)
        .await
        .expect("find token")
        .map(|found| found.account_id)
}

async fn create_and_find_by_the_hash_of_the_text(db: TestDb) {
    let store = db.open().await;
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

async fn the_table_holds_the_hash_never_the_token(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    let rows: Vec<(i64, String, i64, i64)> = with_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT account_id, token_hash, created_at_ms, expires_at_ms FROM session_tokens",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    assert_eq!(
        rows,
        vec![(alice.id, new.hash.to_hex(), NOW, NOW + DAY_MS)],
        "one row, keyed by the SHA-256 in hex"
    );
    assert_ne!(rows[0].1, new.token);
    assert!(!rows[0].1.contains(&new.token));
}

async fn a_token_expires_at_its_expiry_not_a_millisecond_later(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + 1000).await;
    assert_eq!(owner(&store, &new, NOW + 999).await, Some(alice.id));
    assert_eq!(owner(&store, &new, NOW + 1000).await, None);
    // Reads do not delete: an earlier time still finds it.
    assert_eq!(owner(&store, &new, NOW).await, Some(alice.id));
}

async fn revoke_one_leaves_the_others(db: TestDb) {
    let store = db.open().await;
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

async fn revoke_a_batch_in_one_go(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let alice_1 = token(&store, alice.id, NOW + DAY_MS).await;
    let alice_2 = token(&store, alice.id, NOW + DAY_MS).await;
    let expired = token(&store, bob.id, NOW - 1).await;
    let kept = token(&store, bob.id, NOW + DAY_MS).await;
    let unknown = TokenHash::of("never stored");

    assert_eq!(store.revoke_token_hashes(&[]).await.unwrap(), 0);
    let batch = [
        alice_1.hash,
        unknown,
        alice_2.hash,
        expired.hash,
        alice_1.hash,
    ];
    assert_eq!(
        store.revoke_token_hashes(&batch).await.unwrap(),
        3,
        "an unknown hash counts nothing, a repeated one once, an expired one counts"
    );
    for gone in [&alice_1, &alice_2, &expired] {
        assert_eq!(owner(&store, gone, NOW - DAY_MS).await, None);
    }
    assert_eq!(owner(&store, &kept, NOW).await, Some(bob.id));
    assert_eq!(store.revoke_token_hashes(&batch).await.unwrap(), 0);
}

async fn revoke_a_batch_larger_than_a_statement(db: TestDb) {
    // 1000 = 7 × 128 + 64 + 32 + 8: on SQLite, full chunks and every
    // shorter statement text but a few, all in one transaction.
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let mut tokens = Vec::new();
    for _ in 0..1001 {
        tokens.push(token(&store, alice.id, NOW + DAY_MS).await);
    }
    let kept = tokens.pop().expect("1001 made");
    let hashes: Vec<TokenHash> = tokens.iter().map(|new| new.hash).collect();
    assert_eq!(store.revoke_token_hashes(&hashes).await.unwrap(), 1000);
    let left: i64 = with_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM session_tokens")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(left, 1);
    assert_eq!(owner(&store, &kept, NOW).await, Some(alice.id));
}

async fn revoke_all_of_one_account(db: TestDb) {
    let store = db.open().await;
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

async fn delete_expired_keeps_the_valid(db: TestDb) {
    let store = db.open().await;
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

async fn a_token_needs_its_account_and_goes_with_it(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let hash = TokenHash::of("not a real token");
    let res = store
        .create_token(alice.id + 100, &hash, NOW, NOW + 1)
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");

    let new = token(&store, alice.id, NOW + DAY_MS).await;
    // The store has no account deletion yet; the schema must be ready for it.
    with_pool!(store, |pool| {
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(alice.id)
            .execute(pool)
            .await
            .unwrap();
    });
    assert_eq!(owner(&store, &new, NOW).await, None);
}

async fn the_same_hash_twice_is_refused(db: TestDb) {
    let store = db.open().await;
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

async fn tokens_survive_a_restart(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let new = token(&store, alice.id, NOW + DAY_MS).await;
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = db.open().await;
    assert_eq!(owner(&store, &new, NOW).await, Some(alice.id));
}
