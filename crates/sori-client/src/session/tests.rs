//! Tests of [`SessionEvents`]: how it merges resumed history with the new
//! connection's pushes, drops duplicates, and reports the end of a
//! connection.
//!
//! No server and no sockets: each connection's pushes are fed through the
//! channel an [`Events`] reads, and the handovers as [`Session::reconnect`]
//! sends them. What the server does is tested against the real server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sori_protocol::pb;
use tokio::sync::mpsc;

use super::{Handover, SessionEvents, lock};
use crate::events::{Event, Events};
use crate::seq_tracker::SeqTracker;

/// A [`SessionEvents`] and the ends that feed it.
struct Harness {
    events: SessionEvents,
    /// The current connection's pushes.
    conn: mpsc::UnboundedSender<Event>,
    handovers: mpsc::UnboundedSender<Handover>,
    tracker: Arc<Mutex<SeqTracker>>,
}

fn connection() -> (mpsc::UnboundedSender<Event>, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Events::new(rx))
}

/// A session logged in as "me", a member of `rooms` at the given last
/// sequence numbers.
fn harness(rooms: &[(&str, u64)]) -> Harness {
    let mut tracker = SeqTracker::default();
    let infos: Vec<pb::RoomInfo> = rooms
        .iter()
        .map(|&(name, last_seq)| pb::RoomInfo {
            name: name.into(),
            last_seq,
            ..pb::RoomInfo::default()
        })
        .collect();
    tracker.logged_in(&infos);
    let tracker = Arc::new(Mutex::new(tracker));
    let (conn, events) = connection();
    let (handovers, handovers_rx) = mpsc::unbounded_channel();
    let events = SessionEvents::new(events, handovers_rx, Arc::clone(&tracker), "me".into());
    Harness {
        events,
        conn,
        handovers,
        tracker,
    }
}

fn msg(room: &str, seq: u64) -> pb::ChatMessage {
    pb::ChatMessage {
        room: room.into(),
        seq,
        timestamp_ms: 0,
        from: None,
        text: format!("{room} {seq}"),
    }
}

fn chat(room: &str, seq: u64) -> Event {
    Event::Chat(msg(room, seq))
}

fn joined(room: &str, history: &[u64], last_seq: u64) -> pb::RoomJoined {
    pb::RoomJoined {
        room: Some(pb::RoomInfo {
            name: room.into(),
            last_seq,
            ..pb::RoomInfo::default()
        }),
        history: history.iter().map(|&seq| msg(room, seq)).collect(),
        last_seq,
        resumed: true,
        ..pb::RoomJoined::default()
    }
}

/// Sends events on a connection; the receiving end is never gone here.
fn push(conn: &mpsc::UnboundedSender<Event>, events: impl IntoIterator<Item = Event>) {
    for event in events {
        conn.send(event).expect("the harness holds the receiver");
    }
}

/// Hands over a new connection, as a successful reconnect does, and returns
/// its sending end.
fn reconnect(
    harness: &Harness,
    joined: Vec<pb::RoomJoined>,
    live: impl IntoIterator<Item = Event>,
) -> mpsc::UnboundedSender<Event> {
    let (conn, events) = connection();
    push(&conn, live);
    harness
        .handovers
        .send(Handover::Reconnecting)
        .expect("the harness holds the receiver");
    harness
        .handovers
        .send(Handover::Connected { events, joined })
        .expect("the harness holds the receiver");
    conn
}

/// The next `n` events.
async fn take(events: &mut SessionEvents, n: usize) -> Vec<Event> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(events.next().await);
    }
    got
}

/// Whether `next` waits: with the clock paused, the timeout fires as soon as
/// the runtime has nothing else to do.
async fn waits(events: &mut SessionEvents) -> bool {
    tokio::time::timeout(Duration::from_secs(1), events.next())
        .await
        .is_err()
}

#[tokio::test]
async fn live_duplicates_are_dropped() {
    let mut h = harness(&[("dev", 3)]);
    push(
        &h.conn,
        [chat("dev", 3), chat("dev", 4), chat("dev", 4), chat("", 1)],
    );
    push(&h.conn, [chat("dev", 2), chat("dev", 5)]);
    assert_eq!(
        take(&mut h.events, 3).await,
        [chat("dev", 4), chat("", 1), chat("dev", 5)]
    );
}

#[tokio::test(start_paused = true)]
async fn resume_delivers_history_then_live_with_no_gap_and_no_duplicate() {
    let mut h = harness(&[("dev", 0)]);
    // Read before the cut: 1 and 2. Arrived but not read: 3.
    push(&h.conn, [chat("dev", 1), chat("dev", 2), chat("dev", 3)]);
    assert_eq!(
        take(&mut h.events, 2).await,
        [chat("dev", 1), chat("dev", 2)]
    );
    // The reconnect asked from 2. On the new connection, 4 and 5 arrived
    // before the RoomJoined (so they are in its history too) and 6 after.
    let new = reconnect(
        &h,
        vec![joined("dev", &[3, 4, 5], 5)],
        [chat("dev", 4), chat("dev", 5), chat("dev", 6)],
    );
    let old = std::mem::replace(&mut h.conn, new);
    push(&old, [Event::Closed]);
    drop(old);

    assert_eq!(
        take(&mut h.events, 4).await,
        [
            chat("dev", 3),
            chat("dev", 4),
            chat("dev", 5),
            chat("dev", 6)
        ],
        "the old connection's 3, then the history without it, then live"
    );
    assert!(
        waits(&mut h.events).await,
        "no Closed for a replaced connection"
    );
    push(&h.conn, [chat("dev", 7)]);
    assert_eq!(h.events.next().await, chat("dev", 7));
}

#[tokio::test]
async fn per_room_order_holds_when_rooms_interleave() {
    let mut h = harness(&[("a", 3), ("b", 9)]);
    push(&h.conn, [Event::Closed]);
    h.conn = reconnect(
        &h,
        vec![joined("a", &[4, 5], 5), joined("b", &[10], 10)],
        // b's RoomJoined was queued after a's live 6, a's before b's 11.
        [chat("b", 10), chat("a", 6), chat("a", 5), chat("b", 11)],
    );
    // "a 5" after "a 6" cannot happen on the wire; it shows that anything
    // at or below the last delivered is dropped, whatever its position.
    assert_eq!(
        take(&mut h.events, 5).await,
        [
            chat("a", 4),
            chat("a", 5),
            chat("b", 10),
            chat("a", 6),
            chat("b", 11)
        ]
    );
}

#[tokio::test]
async fn other_events_pass_through_in_order() {
    let mut h = harness(&[]);
    let whisper = Event::Whisper(pb::WhisperMessage {
        offline: true,
        ..pb::WhisperMessage::default()
    });
    let joined_push = Event::MemberJoined(pb::MemberJoined {
        room: "dev".into(),
        ..pb::MemberJoined::default()
    });
    push(&h.conn, [whisper.clone(), joined_push.clone(), chat("", 1)]);
    assert_eq!(
        take(&mut h.events, 3).await,
        [whisper, joined_push, chat("", 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn closed_is_told_once_then_the_next_connection_follows() {
    let mut h = harness(&[("dev", 1)]);
    push(
        &h.conn,
        [
            Event::Kicked {
                code: pb::ErrorCode::IdleTimeout,
                message: "idle".into(),
                until_ms: 0,
            },
            Event::Closed,
        ],
    );
    assert!(matches!(h.events.next().await, Event::Kicked { .. }));
    assert_eq!(h.events.next().await, Event::Closed);
    assert!(waits(&mut h.events).await, "waits for a reconnect");

    h.conn = reconnect(&h, vec![joined("dev", &[2], 2)], [chat("dev", 3)]);
    assert_eq!(
        take(&mut h.events, 2).await,
        [chat("dev", 2), chat("dev", 3)]
    );
}

#[tokio::test]
async fn a_failed_reconnect_tells_closed() {
    let mut h = harness(&[]);
    h.handovers
        .send(Handover::Reconnecting)
        .expect("receiver held");
    push(&h.conn, [chat("", 1), Event::Closed]);
    h.handovers.send(Handover::Failed).expect("receiver held");
    assert_eq!(take(&mut h.events, 2).await, [chat("", 1), Event::Closed]);
}

#[tokio::test]
async fn closed_forever_once_the_session_is_gone() {
    let mut h = harness(&[]);
    push(&h.conn, [Event::Closed]);
    drop(h.handovers);
    for _ in 0..3 {
        assert_eq!(h.events.next().await, Event::Closed);
    }
}

#[tokio::test]
async fn own_removal_forgets_the_room() {
    let mut h = harness(&[("dev", 5), ("other", 1)]);
    let user = |name: &str| {
        Some(pb::UserInfo {
            username: name.into(),
            display_name: String::new(),
        })
    };
    let left = |name: &str| {
        Event::MemberLeft(pb::MemberLeft {
            room: "dev".into(),
            user: user(name),
            reason: pb::LeaveReason::Kicked as i32,
            ..pb::MemberLeft::default()
        })
    };
    push(&h.conn, [left("someone"), left("me")]);
    assert_eq!(take(&mut h.events, 2).await, [left("someone"), left("me")]);
    let tracker = lock(&h.tracker);
    assert_eq!(tracker.last_seq("dev"), None);
    assert_eq!(tracker.last_seq("other"), Some(1));
}

#[tokio::test]
async fn a_server_that_lost_messages_gets_their_numbers_delivered_again() {
    let mut h = harness(&[("dev", 0)]);
    push(&h.conn, [chat("dev", 1), chat("dev", 2), Event::Closed]);
    assert_eq!(
        take(&mut h.events, 3).await,
        [chat("dev", 1), chat("dev", 2), Event::Closed]
    );
    // The server crashed before message 2 was on disk: it is at 1, and the
    // next message is numbered 2 again.
    h.conn = reconnect(&h, vec![joined("dev", &[], 1)], [chat("dev", 2)]);
    assert_eq!(h.events.next().await, chat("dev", 2));
}
