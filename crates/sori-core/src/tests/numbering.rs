//! Crash safety of sequence numbers, on a real SQLite file: after a crash
//! a number is never handed out twice, and after a clean close numbering
//! continues where it stopped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sori_store::SqliteStore;

use super::*;
use crate::testing::GatedStore;

const ROOMS: [&str; 2] = ["", "rust"];

async fn open(path: &Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(path).await.expect("open the database"))
}

/// Alice posts `acked` messages to each room and waits for their acks,
/// then `unacked` more she does not wait for, with the history writes held
/// back by `hold` if given; bob sees them all. Returns the numbers bob was
/// handed, per room, and the held writes.
async fn post<'a>(
    h: &Harness,
    acked: usize,
    unacked: usize,
    hold: Option<&'a GatedStore>,
) -> (Vec<Vec<u64>>, Option<tokio::sync::MutexGuard<'a, ()>>) {
    let alice = h.login("alice").await.expect("login");
    let bob = h.login("bob").await.expect("login");
    for room in ROOMS {
        let texts: Vec<String> = (0..acked).map(|n| format!("acked {n}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        h.say_all(&alice, room, &texts).await;
    }
    let held = match hold {
        Some(gated) => Some(gated.appends.lock().await),
        None => None,
    };
    for room in ROOMS {
        for n in 0..unacked {
            h.say(&alice, room, &format!("unacked {n}"))
                .await
                .expect("chat");
        }
    }
    let seqs = ROOMS.iter().map(|room| bob.received_seqs(room)).collect();
    (seqs, held)
}

/// A first run on a new database: the accounts and the room.
async fn first_run(store: Arc<dyn Store>) -> Harness {
    let h = Harness::on(store, |_| {}).await;
    h.register("alice").await;
    h.register("bob").await;
    let alice = h.login("alice").await.expect("login");
    let bob = h.login("bob").await.expect("login");
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.core.logout(&alice.dyn_peer, &alice.session);
    h.core.logout(&bob.dyn_peer, &bob.session);
    h
}

#[tokio::test]
async fn after_a_crash_every_new_number_is_above_every_old_one() {
    // `held`: the persister wrote none of the unacked messages before the
    // crash; otherwise it may have written some or all.
    let check = async |held: bool, acked: usize, unacked: usize| {
        let what = format!("held: {held}, acked: {acked}, unacked: {unacked}");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sori.db");
        let gated = Arc::new(GatedStore::new(open(&path).await));
        let first = first_run(gated.clone()).await;
        let (before, held_writes) = post(&first, acked, unacked, held.then_some(&*gated)).await;
        // The crash: no close, so the reservations are not given back.
        drop(first);

        let restarted = Harness::on(open(&path).await, |_| {}).await;
        let (after, _) = post(&restarted, 2, 0, None).await;
        for (idx, room) in ROOMS.iter().enumerate() {
            let old_max = before[idx].iter().max().copied();
            let old_max = old_max.expect("numbers were handed out");
            assert_eq!(after[idx].len(), 2);
            assert!(
                after[idx].iter().all(|seq| *seq > old_max),
                "room {room:?} ({what}): {:?} before the crash, {:?} after",
                before[idx],
                after[idx],
            );
        }
        drop(held_writes);
    };
    check(false, 3, 0).await;
    check(false, 3, 3).await;
    check(true, 3, 3).await;
    check(true, 0, 3).await;
}

#[tokio::test]
async fn after_a_clean_close_numbering_continues_at_last_plus_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sori.db");
    let first = first_run(open(&path).await).await;
    // Some messages are still on their way to disk at the close: it writes
    // them before it gives the unused numbers back.
    let (before, _) = post(&first, 4, 3, None).await;
    first.core.close(Duration::from_secs(10)).await;
    drop(first);

    for round in 0..2 {
        let restarted = Harness::on(open(&path).await, |_| {}).await;
        let (after, _) = post(&restarted, 2, 0, None).await;
        for (idx, room) in ROOMS.iter().enumerate() {
            let last = 7 + 2 * round;
            assert_eq!(
                after[idx],
                [last + 1, last + 2],
                "room {room:?} after {:?}, round {round}",
                before[idx]
            );
        }
        restarted.core.close(Duration::from_secs(10)).await;
    }
    let restarted = Harness::on(open(&path).await, |_| {}).await;
    let room = restarted.core.hub.room("rust").expect("room");
    let stored = restarted
        .store
        .messages_after(room.id, 0, 100)
        .await
        .expect("read");
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>(), "every message, no gap");
}
