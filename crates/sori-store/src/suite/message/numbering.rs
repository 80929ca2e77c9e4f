//! The numbering that never repeats a seq: reservations, releases and the
//! high water, also across crashes and concurrent reservations.

use std::ops::Deref;

use crate::suite::message::{create_room, message, seqs};
use crate::suite::support::{TestDb, register, store_tests};
use crate::{RoomId, Store, StoreError, StoredMessage};

store_tests!(
    numbering_resumes_above_the_reservation_after_a_crash,
    bad_reservations_are_refused,
    the_high_water_covers_reservations_and_history,
    a_batch_reserves_in_its_own_transaction,
    concurrent_reservations_keep_the_largest,
);

/// The room's `(last_seq, seq_reserved, next_seq())` from a fresh
/// `load_rooms`.
async fn numbering(store: &impl Deref<Target = dyn Store>, room_id: RoomId) -> (u64, u64, u64) {
    let rooms = store.load_rooms().await.unwrap();
    let room = rooms.iter().find(|room| room.id == room_id).unwrap();
    (room.last_seq, room.seq_reserved, room.next_seq())
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
