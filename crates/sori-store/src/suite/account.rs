//! Accounts: names unique in any letter case, also under concurrent
//! registrations, and kept across restarts.

use super::support::{TestDb, new_account, register, store_tests};
use crate::{Account, StoreError};

store_tests!(
    create_then_look_up_in_any_case,
    taken_username_in_any_case,
    taken_display_name_in_any_case,
    both_names_taken_reports_the_username,
    set_display_name,
    set_password_hash,
    accounts_survive_a_restart,
    migrations_are_idempotent,
    concurrent_registrations_have_one_winner,
    concurrent_display_name_changes_have_one_winner,
    debug_does_not_print_the_password_hash,
);

async fn create_then_look_up_in_any_case(db: TestDb) {
    let store = db.open().await;
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

async fn taken_username_in_any_case(db: TestDb) {
    let store = db.open().await;
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

async fn taken_display_name_in_any_case(db: TestDb) {
    let store = db.open().await;
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

/// Whichever constraint the database checks first, the username is the
/// one reported.
async fn both_names_taken_reports_the_username(db: TestDb) {
    let store = db.open().await;
    store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    let res = store.create_account(new_account("ALICE", "alice")).await;
    assert!(matches!(res, Err(StoreError::UsernameTaken)), "{res:?}");
}

async fn set_display_name(db: TestDb) {
    let store = db.open().await;
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

async fn set_password_hash(db: TestDb) {
    let store = db.open().await;
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

async fn accounts_survive_a_restart(db: TestDb) {
    let store = db.open().await;
    let created = store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = db.open().await;
    let found = store.account_by_username("alice").await.unwrap();
    assert_eq!(found, Some(created));
    let res = store.create_account(new_account("ALICE", "Other")).await;
    assert!(matches!(res, Err(StoreError::UsernameTaken)), "{res:?}");
}

async fn migrations_are_idempotent(db: TestDb) {
    let first = db.open().await;
    first
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    first.close().await;

    // Two at once, as two servers starting against one database.
    let (second, third) = tokio::join!(db.open(), db.open());
    assert!(second.account_by_username("alice").await.unwrap().is_some());
    assert!(third.account_by_username("alice").await.unwrap().is_some());
}

async fn concurrent_registrations_have_one_winner(db: TestDb) {
    const N_TASKS: usize = 16;
    let store = db.open().await.into_arc();

    let mut tasks = Vec::with_capacity(N_TASKS);
    for task_idx in 0..N_TASKS {
        let store = store.clone();
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

async fn concurrent_display_name_changes_have_one_winner(db: TestDb) {
    const N_TASKS: usize = 16;
    let store = db.open().await;
    let mut accounts = Vec::with_capacity(N_TASKS);
    for account_idx in 0..N_TASKS {
        accounts.push(register(&store, &format!("user{account_idx}")).await);
    }
    let store = store.into_arc();

    let mut tasks = Vec::with_capacity(N_TASKS);
    for (task_idx, account) in accounts.iter().enumerate() {
        let store = store.clone();
        let account_id = account.id;
        let name = if task_idx % 2 == 0 {
            "Winner"
        } else {
            "WINNER"
        };
        tasks.push(tokio::spawn(async move {
            store.set_display_name(account_id, name).await
        }));
    }
    let (mut n_ok, mut n_taken) = (0, 0);
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok(()) => n_ok += 1,
            Err(StoreError::DisplayNameTaken) => n_taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((n_ok, n_taken), (1, N_TASKS - 1));
}

async fn debug_does_not_print_the_password_hash(db: TestDb) {
    let store = db.open().await;
    let new = new_account("alice", "Alice");
    let hash = new.password_hash.clone();
    assert!(!format!("{new:?}").contains(&hash));
    let account = store.create_account(new).await.unwrap();
    let printed = format!("{account:?}");
    assert!(!printed.contains(&hash), "{printed}");
    assert!(printed.contains("alice"), "{printed}");
}
