use std::sync::Arc;

use tempfile::TempDir;

use super::SqliteStore;
use crate::{Account, AccountStore, NewAccount, StoreError};

pub(super) fn new_account(username: &str, display_name: &str) -> NewAccount {
    NewAccount {
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
    }
}

/// A store in a fresh database file, nested in a directory that does not
/// exist yet, so every test also exercises creating it. Keep the `TempDir`
/// alive for the test's length.
pub(super) async fn file_store() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().expect("create temp dir");
    let store = SqliteStore::open(dir.path().join("data/sori.db"))
        .await
        .expect("open store");
    (store, dir)
}

/// Registers `username`, with its upper-case form as the display name.
pub(super) async fn register(store: &SqliteStore, username: &str) -> Account {
    store
        .create_account(new_account(username, &username.to_uppercase()))
        .await
        .expect("register")
}

#[tokio::test]
async fn create_then_look_up_in_any_case() {
    let (store, _dir) = file_store().await;
    let created = store
        .create_account(new_account("Alice_1", "앨리스"))
        .await
        .unwrap();
    assert!(created.id > 0);
    assert_eq!(created.username, "Alice_1");
    assert_eq!(created.display_name, "앨리스");
    assert!(created.created_at_ms > 1_600_000_000_000, "ms since epoch");

    for name in ["Alice_1", "alice_1", "ALICE_1"] {
        let found = store.account_by_username(name).await.unwrap();
        assert_eq!(found.as_ref(), Some(&created), "lookup of {name:?}");
    }
    assert_eq!(store.account_by_username("bob").await.unwrap(), None);
}

#[tokio::test]
async fn taken_username_in_any_case() {
    let (store, _dir) = file_store().await;
    store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    for name in ["alice", "ALICE", "aLiCe"] {
        let res = store
            .create_account(new_account(name, "Someone Else"))
            .await;
        assert!(
            matches!(res, Err(StoreError::UsernameTaken)),
            "{name:?}: {res:?}"
        );
    }
}

#[tokio::test]
async fn taken_display_name_in_any_case() {
    let (store, _dir) = file_store().await;
    store
        .create_account(new_account("alice", "Ünïcode Ålice"))
        .await
        .unwrap();
    store
        .create_account(new_account("kim", "김철수"))
        .await
        .unwrap();
    for (username, display_name) in [
        ("bob", "Ünïcode Ålice"),
        ("carol", "üNÏCODE åLICE"),
        ("dave", "김철수"),
    ] {
        let res = store
            .create_account(new_account(username, display_name))
            .await;
        assert!(
            matches!(res, Err(StoreError::DisplayNameTaken)),
            "{display_name:?}: {res:?}"
        );
    }
}

#[tokio::test]
async fn set_display_name() {
    let (store, _dir) = file_store().await;
    let alice = store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    let bob = store
        .create_account(new_account("bob", "Bob"))
        .await
        .unwrap();

    store
        .set_display_name(alice.id, "Queen Alice")
        .await
        .unwrap();
    let alice_now = store.account_by_username("alice").await.unwrap().unwrap();
    assert_eq!(alice_now.display_name, "Queen Alice");

    let res = store.set_display_name(alice.id, "BOB").await;
    assert!(matches!(res, Err(StoreError::DisplayNameTaken)), "{res:?}");

    // Alice's old name is free again; once Bob has it, it is his.
    store.set_display_name(bob.id, "alice").await.unwrap();
    let res = store.set_display_name(alice.id, "ALICE").await;
    assert!(matches!(res, Err(StoreError::DisplayNameTaken)), "{res:?}");

    // Re-casing your own name is not a conflict.
    store
        .set_display_name(alice.id, "QUEEN alice")
        .await
        .unwrap();
    let alice_now = store.account_by_username("alice").await.unwrap().unwrap();
    assert_eq!(alice_now.display_name, "QUEEN alice");

    let res = store
        .set_display_name(alice.id + bob.id + 100, "Nobody")
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}

#[tokio::test]
async fn set_password_hash() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let new_hash = "$argon2id$v=19$m=1024,t=1,p=1$bmV3c2FsdA$bmV3aGFzaA";

    store.set_password_hash(alice.id, new_hash).await.unwrap();
    let alice_now = store.account_by_username("alice").await.unwrap().unwrap();
    assert_eq!(alice_now.password_hash, new_hash);
    assert_eq!(
        Account {
            password_hash: alice.password_hash.clone(),
            ..alice_now
        },
        alice,
        "nothing else changed"
    );
    let bob_now = store.account_by_username("bob").await.unwrap().unwrap();
    assert_eq!(bob_now, bob, "only that account");

    let res = store
        .set_password_hash(alice.id + bob.id + 100, new_hash)
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}

#[tokio::test]
async fn accounts_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sori.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let created = store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    let found = store.account_by_username("alice").await.unwrap();
    assert_eq!(found, Some(created));
    let res = store.create_account(new_account("ALICE", "Other")).await;
    assert!(matches!(res, Err(StoreError::UsernameTaken)), "{res:?}");
}

#[tokio::test]
async fn open_failure_names_its_cause() {
    let dir = TempDir::new().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"").unwrap();
    let res = SqliteStore::open(not_a_dir.join("sori.db")).await;
    let Err(err @ StoreError::Backend(_)) = res else {
        panic!("expected a backend error, got {res:?}");
    };
    let message = err.to_string();
    assert!(message.starts_with("database error: "), "{message}");
    assert!(message.len() > "database error: ".len(), "{message}");
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sori.db");
    let first = SqliteStore::open(&path).await.unwrap();
    first
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    first.close().await;

    let second = SqliteStore::open(&path).await.unwrap();
    let third = SqliteStore::open(&path).await.unwrap();
    assert!(second.account_by_username("alice").await.unwrap().is_some());
    assert!(third.account_by_username("alice").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_have_one_winner() {
    const N_TASKS: usize = 16;
    let (store, _dir) = file_store().await;
    let store: Arc<dyn AccountStore> = Arc::new(store);

    let mut tasks = Vec::with_capacity(N_TASKS);
    for task_idx in 0..N_TASKS {
        let store = Arc::clone(&store);
        // Same username in different cases, distinct display names, so the
        // only possible conflict is the username.
        let username = if task_idx % 2 == 0 { "racer" } else { "RACER" };
        let display_name = format!("Racer {task_idx}");
        tasks.push(tokio::spawn(async move {
            store
                .create_account(new_account(username, &display_name))
                .await
        }));
    }

    let (mut n_ok, mut n_taken) = (0, 0);
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok(_) => n_ok += 1,
            Err(StoreError::UsernameTaken) => n_taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((n_ok, n_taken), (1, N_TASKS - 1));
}

#[tokio::test]
async fn in_memory_store_is_shared_by_the_pool() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let created = store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();

    // Many concurrent readers: all must see the one database.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.account_by_username("ALICE").await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_ref(), Some(&created));
    }
    let res = store.create_account(new_account("bob", "alice")).await;
    assert!(matches!(res, Err(StoreError::DisplayNameTaken)), "{res:?}");
}

#[tokio::test]
async fn debug_does_not_print_the_password_hash() {
    let store = SqliteStore::in_memory().await.unwrap();
    let new = new_account("alice", "Alice");
    let hash = new.password_hash.clone();
    assert!(!format!("{new:?}").contains(&hash));
    let account = store.create_account(new).await.unwrap();
    let printed = format!("{account:?}");
    assert!(!printed.contains(&hash), "{printed}");
    assert!(printed.contains("alice"), "{printed}");
}

#[tokio::test]
async fn file_settings_favour_durability() {
    let (store, _dir) = file_store().await;
    let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    // synchronous 2 is FULL.
    assert_eq!(
        (journal_mode.as_str(), synchronous, foreign_keys),
        ("wal", 2, 1)
    );
}
