//! Deleting a room: everything in it goes with it, the lobby stays, and
//! its id is never given out again.

use crate::suite::room::{loaded, member, new_room};
use crate::suite::support::{TestDb, TestStore, register, store_tests, with_pool};
use crate::{Role, RoomId, StoreError, StoredMessage};

store_tests!(
    delete_room_takes_everything_with_it,
    deleted_room_ids_are_never_reused,
);

/// How many rows of `table` belong to the room.
async fn n_rows(store: &TestStore, table: &str, room_id: RoomId) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE room_id = $1");
    with_pool!(store, |pool| sqlx::query_scalar(&sql)
        .bind(room_id)
        .fetch_one(pool)
        .await
        .unwrap())
}

const ROOM_CHILD_TABLES: [&str; 4] = ["room_members", "room_bans", "room_invites", "messages"];

async fn delete_room_takes_everything_with_it(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let lobby = store.create_room(new_room("", None)).await.unwrap();
    let kept = store
        .create_room(new_room("go", Some(&alice)))
        .await
        .unwrap();
    let doomed = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    for room in [kept.id, doomed.id] {
        store
            .put_member(room, bob.id, Role::Operator)
            .await
            .unwrap();
        store.put_ban(room, carol.id, bob.id, "spam").await.unwrap();
        store.put_invite(room, carol.id).await.unwrap();
        let messages: Vec<StoredMessage> = (1..=3)
            .map(|seq| StoredMessage {
                room_id: room,
                seq,
                timestamp_ms: 1_700_000_000_000,
                sender_id: bob.id,
                sender_username: bob.username.clone(),
                sender_display_name: bob.display_name.clone(),
                text: format!("message {seq}"),
            })
            .collect();
        store
            .append_messages_reserving(&messages, &[(room, 10)])
            .await
            .unwrap();
    }
    let kept = loaded(&store, kept.id).await;

    store.delete_room(doomed.id).await.unwrap();
    assert_eq!(store.load_rooms().await.unwrap(), vec![lobby.clone(), kept]);
    for table in ROOM_CHILD_TABLES {
        assert_eq!(n_rows(&store, table, doomed.id).await, 0, "{table}");
    }
    assert!(
        store
            .messages_after(doomed.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Again, or a room that never was: nothing to do.
    store.delete_room(doomed.id).await.unwrap();
    store.delete_room(doomed.id + 1000).await.unwrap();

    // The lobby stays, with everything in it.
    store
        .put_member(lobby.id, bob.id, Role::Member)
        .await
        .unwrap();
    let res = store.delete_room(lobby.id).await;
    assert!(matches!(res, Err(StoreError::LobbyNotDeletable)), "{res:?}");
    assert_eq!(res.unwrap_err().to_string(), "the lobby cannot be deleted");
    assert_eq!(
        loaded(&store, lobby.id).await.members,
        vec![member(&bob, Role::Member, 1)]
    );
}

async fn deleted_room_ids_are_never_reused(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    store.create_room(new_room("", None)).await.unwrap();
    let first = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();

    // The newest room, whose id a plain SQLite rowid would hand out again.
    store.delete_room(first.id).await.unwrap();
    let second = store
        .create_room(new_room("RUST", Some(&alice)))
        .await
        .unwrap();
    assert!(second.id > first.id, "{} > {}", second.id, first.id);
    assert_eq!(second.members, vec![member(&alice, Role::Owner, 1)]);
    assert_eq!((second.last_seq, second.seq_reserved), (0, 0));

    // Across a restart too.
    store.delete_room(second.id).await.unwrap();
    drop(store);
    let store = db.open().await;
    let third = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    assert!(third.id > second.id, "{} > {}", third.id, second.id);

    // A refused creation may use up an id (a PostgreSQL sequence does not
    // roll back), but never makes one be given twice.
    let res = store.create_room(new_room("Rust", Some(&alice))).await;
    assert!(matches!(res, Err(StoreError::RoomNameTaken)), "{res:?}");
    let fourth = store
        .create_room(new_room("go", Some(&alice)))
        .await
        .unwrap();
    assert!(fourth.id > third.id, "{} > {}", fourth.id, third.id);
}
