//! History: batches of messages, paged forward and backward, and the last
//! seq, also across restarts.

use std::ops::Deref;

use crate::suite::message::{create_room, message, seqs};
use crate::suite::support::{TestDb, register, store_tests};
use crate::{RoomId, Store, StoreError, StoredMessage};

store_tests!(
    history_pages_across_a_restart,
    last_seq_follows_appends_and_restarts,
    a_duplicate_seq_fails_the_whole_batch,
    bad_batches_store_nothing,
    large_batches,
);

/// The room's `last_seq` from a fresh `load_rooms`.
async fn last_seq(store: &impl Deref<Target = dyn Store>, room_id: RoomId) -> u64 {
    let rooms = store.load_rooms().await.unwrap();
    let room = rooms.iter().find(|room| room.id == room_id).unwrap();
    room.last_seq
}

async fn history_pages_across_a_restart(db: TestDb) {
    const N_MESSAGES: u64 = 250;
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let other = create_room(&store, "go").await;
    let quiet = create_room(&store, "quiet").await;

    // Batches of 7 that interleave two rooms, as the server's writer sends
    // them.
    let all: Vec<StoredMessage> = (1..=N_MESSAGES)
        .flat_map(|seq| [message(room, seq, &alice), message(other, seq, &alice)])
        .collect();
    for batch in all.chunks(7) {
        store.append_messages(batch).await.unwrap();
    }
    store.append_messages(&[]).await.unwrap();
    drop(store);

    let store = db.open().await;
    let want: Vec<StoredMessage> = (1..=N_MESSAGES)
        .map(|seq| message(room, seq, &alice))
        .collect();

    // Forward, as resume does.
    let first = store.messages_after(room, 0, 100).await.unwrap();
    assert_eq!(first, want[..100]);
    let second = store.messages_after(room, 100, 100).await.unwrap();
    assert_eq!(second, want[100..200]);
    let rest = store.messages_after(room, 200, 100).await.unwrap();
    assert_eq!(rest, want[200..]);
    for after in [N_MESSAGES, N_MESSAGES + 1, i64::MAX as u64, u64::MAX] {
        let res = store.messages_after(room, after, 100).await.unwrap();
        assert!(res.is_empty(), "after {after}: {:?}", seqs(&res));
    }
    assert!(store.messages_after(room, 0, 0).await.unwrap().is_empty());
    assert!(
        store
            .messages_after(quiet, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Backward, as history does: the newest first, then back to the start
    // with no gap and no duplicate.
    let newest = store.messages_before(room, u64::MAX, 30).await.unwrap();
    assert_eq!(newest, want[220..]);
    let mut paged = newest;
    loop {
        let before = paged[0].seq;
        let page = store.messages_before(room, before, 30).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 30);
        assert_eq!(page.last().unwrap().seq, before - 1, "no gap");
        paged.splice(0..0, page);
    }
    assert_eq!(paged, want);
    assert_eq!(
        seqs(&store.messages_before(room, 4, 10).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(
        seqs(
            &store
                .messages_before(room, N_MESSAGES + 1, 2)
                .await
                .unwrap()
        ),
        [N_MESSAGES - 1, N_MESSAGES]
    );
    for before in [0, 1] {
        let res = store.messages_before(room, before, 10).await.unwrap();
        assert!(res.is_empty(), "before {before}: {:?}", seqs(&res));
    }
    assert!(
        store
            .messages_before(room, u64::MAX, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .messages_before(quiet, u64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let other_newest = store.messages_before(other, u64::MAX, 1).await.unwrap();
    assert_eq!(other_newest, [message(other, N_MESSAGES, &alice)]);
}

async fn last_seq_follows_appends_and_restarts(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let quiet = create_room(&store, "quiet").await;
    assert_eq!(last_seq(&store, room).await, 0);

    store
        .append_messages(&[message(room, 1, &alice), message(room, 2, &alice)])
        .await
        .unwrap();
    assert_eq!(last_seq(&store, room).await, 2);
    store
        .append_messages(&[message(room, 3, &alice)])
        .await
        .unwrap();
    drop(store);

    let store = db.open().await;
    assert_eq!(last_seq(&store, room).await, 3);
    assert_eq!(last_seq(&store, quiet).await, 0);
}

async fn a_duplicate_seq_fails_the_whole_batch(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let other = create_room(&store, "go").await;
    store
        .append_messages(&[message(room, 1, &alice), message(room, 2, &alice)])
        .await
        .unwrap();

    // Already stored.
    let res = store
        .append_messages(&[message(room, 3, &alice), message(room, 2, &alice)])
        .await;
    assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
    // Repeated within the batch.
    let res = store
        .append_messages(&[message(room, 3, &alice), message(room, 3, &alice)])
        .await;
    assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
    // Neither batch left its 3 behind.
    assert_eq!(
        seqs(&store.messages_after(room, 0, 10).await.unwrap()),
        [1, 2]
    );

    // The same seq in another room is no conflict.
    store
        .append_messages(&[message(other, 1, &alice), message(room, 3, &alice)])
        .await
        .unwrap();
    assert_eq!(last_seq(&store, room).await, 3);
    assert_eq!(last_seq(&store, other).await, 1);
}

async fn bad_batches_store_nothing(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let too_big = i64::MAX as u64 + 1;

    let res = store
        .append_messages(&[message(room, 1, &alice), message(room, too_big, &alice)])
        .await;
    assert!(
        matches!(res, Err(StoreError::SeqOutOfRange(seq)) if seq == too_big),
        "{res:?}"
    );
    let res = store
        .append_messages(&[message(room, 1, &alice), message(room + 1000, 1, &alice)])
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
    assert!(store.messages_after(room, 0, 10).await.unwrap().is_empty());

    // The largest seq a database integer holds is stored and found.
    let max = message(room, i64::MAX as u64, &alice);
    store
        .append_messages(std::slice::from_ref(&max))
        .await
        .unwrap();
    assert_eq!(last_seq(&store, room).await, i64::MAX as u64);
    let newest = store.messages_before(room, u64::MAX, 1).await.unwrap();
    assert_eq!(newest, std::slice::from_ref(&max));
    let below = store.messages_before(room, too_big, 1).await.unwrap();
    assert_eq!(below, [max]);
}

/// Batches as large as the server's writer sends, durably, so SQLite's
/// chunking of the INSERTs is exercised with full chunks and every
/// remainder size (PostgreSQL writes a batch as one statement). When this was written, appending
/// these 10,000 messages in batches of 500 took about 0.1 s in a release
/// build and 0.25 s in a debug one; the test checks the result, not the
/// time, so a slow machine does not fail it.
async fn large_batches(db: TestDb) {
    const N_MESSAGES: u64 = 10_000;
    // 500 = 3 full chunks of 128 + 64 + 32 + 16 + 4.
    const BATCH_LEN: usize = 500;
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let all: Vec<StoredMessage> = (1..=N_MESSAGES)
        .map(|seq| message(room, seq, &alice))
        .collect();

    for batch in all.chunks(BATCH_LEN) {
        store.append_messages(batch).await.unwrap();
    }

    assert_eq!(last_seq(&store, room).await, N_MESSAGES);
    let newest = store.messages_before(room, u64::MAX, 1000).await.unwrap();
    assert_eq!(newest, all[9_000..]);
}
