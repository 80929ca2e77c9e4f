//! History and offline whispers: batches, paging, and the numbering that
//! never repeats a seq, also across crashes and concurrent reservations.

use std::ops::Deref;

use super::support::{TestDb, register, store_tests};
use crate::{Account, NewRoom, NewWhisper, RoomId, Store, StoreError, StoredMessage};

store_tests!(
    history_pages_across_a_restart,
    last_seq_follows_appends_and_restarts,
    a_duplicate_seq_fails_the_whole_batch,
    bad_batches_store_nothing,
    large_batches,
    offline_whispers_are_kept_in_order_until_deleted,
    whisper_to_a_missing_account_is_not_found,
    numbering_resumes_above_the_reservation_after_a_crash,
    bad_reservations_are_refused,
    the_high_water_covers_reservations_and_history,
    a_batch_reserves_in_its_own_transaction,
    concurrent_reservations_keep_the_largest,
);

/// A message whose text names its room and seq, so a wrong row shows.
fn message(room_id: RoomId, seq: u64, sender: &Account) -> StoredMessage {
    StoredMessage {
        room_id,
        seq,
        timestamp_ms: 1_700_000_000_000 + i64::try_from(seq % 1_000_000).unwrap(),
        sender_id: sender.id,
        sender_username: sender.username.clone(),
        sender_display_name: sender.display_name.clone(),
        text: format!("room {room_id} message {seq} 안녕"),
    }
}

fn whisper(to: &Account, from: &Account, text: &str, timestamp_ms: i64) -> NewWhisper {
    NewWhisper {
        to_account: to.id,
        from_username: from.username.clone(),
        from_display_name: from.display_name.clone(),
        text: text.to_owned(),
        timestamp_ms,
    }
}

async fn create_room(store: &impl Deref<Target = dyn Store>, name: &str) -> RoomId {
    let room = NewRoom {
        name: name.to_owned(),
        topic: String::new(),
        invite_only: false,
        owner: None,
    };
    store.create_room(room).await.unwrap().id
}

fn seqs(messages: &[StoredMessage]) -> Vec<u64> {
    messages.iter().map(|message| message.seq).collect()
}

/// The room's `last_seq` from a fresh `load_rooms`.
async fn last_seq(store: &impl Deref<Target = dyn Store>, room_id: RoomId) -> u64 {
    let rooms = store.load_rooms().await.unwrap();
    let room = rooms.iter().find(|room| room.id == room_id).unwrap();
    room.last_seq
}

/// The room's `(last_seq, seq_reserved, next_seq())` from a fresh
/// `load_rooms`.
async fn numbering(store: &impl Deref<Target = dyn Store>, room_id: RoomId) -> (u64, u64, u64) {
    let rooms = store.load_rooms().await.unwrap();
    let room = rooms.iter().find(|room| room.id == room_id).unwrap();
    (room.last_seq, room.seq_reserved, room.next_seq())
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

async fn offline_whispers_are_kept_in_order_until_deleted(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    assert!(store.offline_whispers(bob.id).await.unwrap().is_empty());

    // Timestamps deliberately out of order: delivery follows storage order.
    let first = store
        .put_offline_whisper(whisper(&bob, &alice, "one", 3_000))
        .await
        .unwrap();
    let to_carol = store
        .put_offline_whisper(whisper(&carol, &alice, "for carol", 1_000))
        .await
        .unwrap();
    let second = store
        .put_offline_whisper(whisper(&bob, &carol, "two 둘", 2_000))
        .await
        .unwrap();
    let third = store
        .put_offline_whisper(whisper(&bob, &alice, "three", 4_000))
        .await
        .unwrap();
    drop(store);

    let store = db.open().await;
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    let ids: Vec<i64> = for_bob.iter().map(|whisper| whisper.id).collect();
    assert_eq!(ids, [first, second, third]);
    let second_whisper = &for_bob[1];
    assert_eq!(second_whisper.to_account, bob.id);
    assert_eq!(second_whisper.from_username, "carol");
    assert_eq!(second_whisper.from_display_name, "CAROL");
    assert_eq!(second_whisper.text, "two 둘");
    assert_eq!(second_whisper.timestamp_ms, 2_000);

    // Delivered: deleted, and deleting again (or nothing) is a no-op.
    store
        .delete_offline_whispers(&[first, third])
        .await
        .unwrap();
    store.delete_offline_whispers(&[first]).await.unwrap();
    store.delete_offline_whispers(&[]).await.unwrap();
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    assert_eq!(for_bob.len(), 1);
    assert_eq!(for_bob[0].id, second);

    // The newest id was deleted, yet it is not handed out again, so a late
    // delete of it cannot remove a new whisper.
    let fourth = store
        .put_offline_whisper(whisper(&bob, &alice, "four", 5_000))
        .await
        .unwrap();
    assert!(fourth > third, "{fourth} > {third}");
    drop(store);

    let store = db.open().await;
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    let ids: Vec<i64> = for_bob.iter().map(|whisper| whisper.id).collect();
    assert_eq!(ids, [second, fourth]);
    let for_carol = store.offline_whispers(carol.id).await.unwrap();
    assert_eq!(for_carol.len(), 1);
    assert_eq!(for_carol[0].id, to_carol);
    assert!(store.offline_whispers(alice.id).await.unwrap().is_empty());
}

async fn whisper_to_a_missing_account_is_not_found(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let mut nobody = alice.clone();
    nobody.id += 1000;
    let res = store
        .put_offline_whisper(whisper(&nobody, &alice, "hello?", 1))
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}

async fn numbering_resumes_above_the_reservation_after_a_crash(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let quiet = create_room(&store, "quiet").await;
    assert_eq!(numbering(&store, room).await, (0, 0, 1));

    // The server reserves 1..=100 and sends 1..=3; 4 and 5 are handed out
    // but not yet written when the process dies.
    store.reserve_seq(room, 100).await.unwrap();
    store.reserve_seq(room, 50).await.unwrap(); // never shrinks
    let written: Vec<StoredMessage> = (1..=3).map(|seq| message(room, seq, &alice)).collect();
    store.append_messages(&written).await.unwrap();
    drop(store);

    let store = db.open().await;
    assert_eq!(
        numbering(&store, room).await,
        (3, 100, 101),
        "4 and 5 are skipped, not repeated"
    );
    assert_eq!(numbering(&store, quiet).await, (0, 0, 1));

    // A clean shutdown after 101..=104 gives back 105..: the next start
    // continues at 105.
    let sent: Vec<StoredMessage> = (101..=104).map(|seq| message(room, seq, &alice)).collect();
    store
        .append_messages_reserving(&sent, &[(room, 200)])
        .await
        .unwrap();
    store.release_seq(room, 104).await.unwrap();
    store.close().await;
    let store = db.open().await;
    assert_eq!(numbering(&store, room).await, (104, 104, 105));

    // A release never goes below the stored history, and one that finds
    // nothing used leaves a room at its start.
    store.release_seq(room, 7).await.unwrap();
    assert_eq!(numbering(&store, room).await, (104, 104, 105));
    store.reserve_seq(quiet, 10).await.unwrap();
    store.release_seq(quiet, 0).await.unwrap();
    assert_eq!(numbering(&store, quiet).await, (0, 0, 1));

    // The largest reservation a database integer holds is kept.
    let max = i64::MAX as u64;
    store.reserve_seq(room, max).await.unwrap();
    assert_eq!(numbering(&store, room).await, (104, max, max + 1));
}

async fn the_high_water_covers_reservations_and_history(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    assert_eq!(store.seq_high_water(room).await.unwrap(), 0);
    store.reserve_seq(room, 100).await.unwrap();
    assert_eq!(store.seq_high_water(room).await.unwrap(), 100);
    // A message stored above the reservation (numbered by another node
    // whose reservation this one has not read yet) counts too.
    store
        .append_messages(&[message(room, 250, &alice)])
        .await
        .unwrap();
    assert_eq!(store.seq_high_water(room).await.unwrap(), 250);
    let res = store.seq_high_water(room + 1000).await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}

async fn bad_reservations_are_refused(db: TestDb) {
    let store = db.open().await;
    let room = create_room(&store, "rust").await;
    store.reserve_seq(room, 10).await.unwrap();
    let no_room = room + 1000;
    let too_big = i64::MAX as u64 + 1;

    let results = [
        ("reserve, no room", store.reserve_seq(no_room, 1).await),
        ("release, no room", store.release_seq(no_room, 1).await),
        ("reserve, too big", store.reserve_seq(room, too_big).await),
        ("release, too big", store.release_seq(room, u64::MAX).await),
    ];
    for (what, res) in results {
        let want_not_found = what.ends_with("no room");
        assert!(
            if want_not_found {
                matches!(res, Err(StoreError::NotFound))
            } else {
                matches!(res, Err(StoreError::SeqOutOfRange(_)))
            },
            "{what}: {res:?}"
        );
    }
    assert_eq!(numbering(&store, room).await, (0, 10, 11));
}

async fn a_batch_reserves_in_its_own_transaction(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let room = create_room(&store, "rust").await;
    let other = create_room(&store, "go").await;

    store
        .append_messages_reserving(
            &[message(room, 1, &alice), message(room, 2, &alice)],
            &[(room, 64), (other, 10), (room, 32)],
        )
        .await
        .unwrap();
    assert_eq!(numbering(&store, room).await, (2, 64, 65));
    assert_eq!(numbering(&store, other).await, (0, 10, 11));
    // Reservations alone, and nothing at all.
    store
        .append_messages_reserving(&[], &[(other, 20)])
        .await
        .unwrap();
    store.append_messages_reserving(&[], &[]).await.unwrap();
    assert_eq!(numbering(&store, other).await, (0, 20, 21));

    // A bad message reserves nothing; a bad reservation stores nothing.
    let too_big = i64::MAX as u64 + 1;
    let results = [
        (
            "duplicate seq",
            store
                .append_messages_reserving(&[message(room, 2, &alice)], &[(room, 128)])
                .await,
        ),
        (
            "missing room",
            store
                .append_messages_reserving(
                    &[message(room, 3, &alice)],
                    &[(room, 128), (room + 1000, 1)],
                )
                .await,
        ),
        (
            "reservation too big",
            store
                .append_messages_reserving(&[message(room, 3, &alice)], &[(room, too_big)])
                .await,
        ),
    ];
    let kinds: Vec<(&str, &str)> = results
        .iter()
        .map(|(what, res)| {
            let kind = match res {
                Err(StoreError::Backend(_)) => "backend",
                Err(StoreError::NotFound) => "not found",
                Err(StoreError::SeqOutOfRange(seq)) if *seq == too_big => "out of range",
                other => panic!("{what}: {other:?}"),
            };
            (*what, kind)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("duplicate seq", "backend"),
            ("missing room", "not found"),
            ("reservation too big", "out of range"),
        ]
    );
    assert_eq!(numbering(&store, room).await, (2, 64, 65));
    assert_eq!(
        seqs(&store.messages_after(room, 0, 10).await.unwrap()),
        [1, 2]
    );
}

/// Reservations of one room at once end at the largest, whatever order
/// they commit in: a reservation never shrinks.
async fn concurrent_reservations_keep_the_largest(db: TestDb) {
    const N_TASKS: u64 = 32;
    let store = db.open().await;
    let room = create_room(&store, "rust").await;
    let other = create_room(&store, "go").await;
    let store = store.into_arc();

    let mut tasks = Vec::new();
    for task_idx in 1..=N_TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if task_idx % 2 == 0 {
                store.reserve_seq(room, task_idx * 100).await
            } else {
                // Both rooms in one transaction, in opposite orders, as two
                // servers' writers might.
                let reservations = if task_idx % 4 == 1 {
                    [(room, task_idx * 100), (other, task_idx)]
                } else {
                    [(other, task_idx), (room, task_idx * 100)]
                };
                store.append_messages_reserving(&[], &reservations).await
            }
        }));
    }
    for task in tasks {
        task.await.expect("task panicked").expect("reserve");
    }
    assert_eq!(
        numbering(&store, room).await,
        (0, N_TASKS * 100, N_TASKS * 100 + 1)
    );
    assert_eq!(numbering(&store, other).await, (0, 31, 32));
}
