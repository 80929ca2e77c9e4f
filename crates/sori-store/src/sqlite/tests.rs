//! What only the SQLite backend has: files, pragmas, the in-memory store,
//! the room id high-water mark, and migrating a file written by an older
//! schema. Everything the traits promise is tested on both backends by the
//! suite (`src/suite/`).

use std::sync::Arc;

use tempfile::TempDir;

use super::SqliteStore;
use crate::{
    AccountStore, MessageStore, ModerationStore, NewAccount, NewRoom, Role, RoomId, RoomStore,
    Store, StoreError, TokenStore,
};

fn new_account(username: &str, display_name: &str) -> NewAccount {
    NewAccount {
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
    }
}

fn new_room(name: &str, owner: Option<i64>) -> NewRoom {
    NewRoom {
        name: name.to_owned(),
        topic: String::new(),
        invite_only: false,
        owner,
    }
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
async fn file_settings_favour_durability() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(dir.path().join("sori.db")).await.unwrap();
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

/// The server holds one `Arc<SqliteStore>` as each trait object.
#[tokio::test]
async fn is_usable_as_each_trait_object() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let accounts: Arc<dyn AccountStore> = store.clone();
    let rooms: Arc<dyn RoomStore> = store.clone();
    let _messages: Arc<dyn MessageStore> = store.clone();
    let _moderation: Arc<dyn ModerationStore> = store.clone();
    let _tokens: Arc<dyn TokenStore> = store.clone();
    let all: Arc<dyn Store> = store;
    let alice = accounts
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    let room = rooms
        .create_room(new_room("rust", Some(alice.id)))
        .await
        .unwrap();
    assert_eq!(all.load_rooms().await.unwrap(), vec![room]);
}

/// SQLite's rowid would hand the newest deleted room's id out again; the
/// high-water table of the 0004 migration keeps ids unique, without gaps
/// from refused creations, and its trigger refuses a reuse even by hand.
#[tokio::test]
async fn the_room_id_high_water_mark() {
    let store = SqliteStore::in_memory().await.unwrap();
    let alice = store
        .create_account(new_account("alice", "Alice"))
        .await
        .unwrap();
    let first = store
        .create_room(new_room("rust", Some(alice.id)))
        .await
        .unwrap();
    let res = store.create_room(new_room("Rust", Some(alice.id))).await;
    assert!(matches!(res, Err(StoreError::RoomNameTaken)), "{res:?}");
    let second = store
        .create_room(new_room("go", Some(alice.id)))
        .await
        .unwrap();
    assert_eq!(second.id, first.id + 1, "a refused creation uses up no id");

    store.delete_room(second.id).await.unwrap();
    let res = sqlx::query(
        "INSERT INTO rooms (name, name_key, topic, invite_only, created_at_ms) \
         VALUES ('hand', 'hand', '', FALSE, 0)",
    )
    .execute(&store.pool)
    .await;
    let err = res.expect_err("the trigger refuses a reused id");
    assert!(err.to_string().contains("room id reused"), "{err}");
}

/// A database written by the schema before the 0004 migration: the first
/// three migrations, applied from a copy of their files so sqlx records the
/// same checksums the store's migrator expects.
async fn pre_0004_database(dir: &TempDir) -> std::path::PathBuf {
    let sources = dir.path().join("migrations");
    std::fs::create_dir(&sources).unwrap();
    for name in ["0001_accounts.sql", "0002_rooms.sql", "0003_moderation.sql"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations/sqlite")
            .join(name);
        std::fs::copy(from, sources.join(name)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(sources.as_path())
        .await
        .unwrap();
    let path = dir.path().join("sori.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    migrator.run(&pool).await.unwrap();
    // Three accounts and two rooms, whose members joined in an order
    // unlike their account ids', and some history.
    sqlx::raw_sql(
        "INSERT INTO accounts \
         (id, username, username_key, display_name, display_name_key, password_hash, \
          created_at_ms) VALUES \
         (1, 'alice', 'alice', 'Alice', 'alice', 'x', 0), \
         (2, 'bob', 'bob', 'Bob', 'bob', 'x', 0), \
         (3, 'carol', 'carol', 'Carol', 'carol', 'x', 0); \
         INSERT INTO rooms (id, name, name_key, topic, invite_only, owner_id, created_at_ms) \
         VALUES (1, '', '', '', FALSE, NULL, 0), (2, 'rust', 'rust', '', FALSE, 3, 0); \
         INSERT INTO room_members (room_id, account_id, role, joined_at_ms) VALUES \
         (2, 3, 3, 0), (1, 3, 1, 0), (2, 2, 1, 0), (1, 1, 1, 0), (2, 1, 2, 0), (1, 2, 1, 0); \
         INSERT INTO messages \
         (room_id, seq, timestamp_ms, sender_id, sender_username, sender_display_name, text) \
         VALUES (2, 1, 0, 3, 'carol', 'Carol', 'hi'), (2, 2, 0, 3, 'carol', 'Carol', 'hey');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    path
}

#[tokio::test]
async fn migration_keeps_rooms_and_numbers_members_in_join_order() {
    let dir = TempDir::new().unwrap();
    let path = pre_0004_database(&dir).await;

    let store = SqliteStore::open(&path).await.unwrap();
    let rooms = store.load_rooms().await.unwrap();
    let joined: Vec<(RoomId, Vec<(i64, i64)>)> = rooms
        .iter()
        .map(|room| {
            let members = room.members.iter();
            let members = members.map(|m| (m.account_id, m.joined_seq)).collect();
            (room.id, members)
        })
        .collect();
    assert_eq!(
        joined,
        vec![
            (1, vec![(1, 2), (2, 3), (3, 1)]),
            (2, vec![(1, 3), (2, 2), (3, 1)]),
        ]
    );
    assert_eq!(
        rooms
            .iter()
            .map(|room| (room.last_seq, room.seq_reserved, room.next_seq()))
            .collect::<Vec<_>>(),
        vec![(0, 0, 1), (2, 0, 3)]
    );
    assert_eq!(rooms[1].members[2].role, Role::Owner);

    // The newest room's id is not handed out again once it is deleted.
    store.delete_room(2).await.unwrap();
    let carol = store.account_by_username("carol").await.unwrap().unwrap();
    let room = store
        .create_room(new_room("rust", Some(carol.id)))
        .await
        .unwrap();
    assert_eq!(room.id, 3);
    // And joins continue the order.
    store.put_member(1, carol.id, Role::Operator).await.unwrap();
    let alice = store.account_by_username("alice").await.unwrap().unwrap();
    store.remove_member(1, alice.id).await.unwrap();
    store.put_member(1, alice.id, Role::Member).await.unwrap();
    let rooms = store.load_rooms().await.unwrap();
    let lobby = rooms.iter().find(|room| room.id == 1).unwrap();
    let joined: Vec<i64> = lobby.members.iter().map(|m| m.joined_seq).collect();
    assert_eq!(
        joined,
        [4, 3, 1],
        "alice rejoined last; carol kept her place"
    );
}

/// The history writer's own connection keeps the promise the pool's do: a
/// batch is on disk, even across a power loss, once its write returns.
#[tokio::test]
async fn the_history_writers_connection_favours_durability() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sori.db");
    let _store = SqliteStore::open(&path).await.unwrap();
    let conn = super::history::open(&path).unwrap();
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
        })
        .map(|value| match value {
            rusqlite::types::Value::Integer(n) => n.to_string(),
            rusqlite::types::Value::Text(text) => text,
            other => format!("{other:?}"),
        })
        .unwrap()
    };
    // synchronous 2 is FULL.
    assert_eq!(
        (
            pragma("journal_mode"),
            pragma("synchronous"),
            pragma("foreign_keys")
        ),
        ("wal".to_owned(), "2".to_owned(), "1".to_owned())
    );
}

/// Batches go to the writer's thread packed (every row's strings in one
/// buffer) and come back out of the database as they went in: strings of
/// any length (none, multi-byte) in a batch cut into several statements,
/// and again after the thread closed its connection (as it does when idle).
#[tokio::test]
async fn the_history_writer_keeps_every_string_and_reopens() {
    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(dir.path().join("sori.db")).await.unwrap();
    let room = store.create_room(new_room("rust", None)).await.unwrap();
    let long = "x".repeat(3000);
    let texts = ["", "안녕하세요 👋", "a", long.as_str()];
    let batch = |from: u64, n: u64| {
        (from..from + n)
            .map(|seq| crate::StoredMessage {
                room_id: room.id,
                seq,
                timestamp_ms: 1_700_000_000_000 + seq as i64,
                sender_id: 7,
                sender_username: texts[(seq % 4) as usize].to_owned(),
                sender_display_name: texts[((seq + 1) % 4) as usize].to_owned(),
                text: texts[((seq + 2) % 4) as usize].to_owned(),
            })
            .collect::<Vec<_>>()
    };
    // 100 rows: statements of 64, 32 and 4.
    let first = batch(1, 100);
    store.append_messages(&first).await.unwrap();
    let super::Writer::Thread(writer) = &store.writer else {
        panic!("a file's store writes on its own thread");
    };
    writer.close().await;
    let second = batch(101, 3);
    store.append_messages(&second).await.unwrap();

    let stored = store.messages_after(room.id, 0, 1000).await.unwrap();
    assert_eq!(stored, [first, second].concat());
}
