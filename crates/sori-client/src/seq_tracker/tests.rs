//! Tests of [`SeqTracker`]: duplicates, the ack rule, logins and resumes.

use sori_protocol::pb;

use super::SeqTracker;

fn msg(room: &str, seq: u64) -> pb::ChatMessage {
    pb::ChatMessage {
        room: room.into(),
        seq,
        timestamp_ms: 0,
        from: None,
        text: format!("{room} {seq}"),
    }
}

fn info(name: &str, last_seq: u64) -> pb::RoomInfo {
    pb::RoomInfo {
        name: name.into(),
        last_seq,
        ..pb::RoomInfo::default()
    }
}

fn ack(room: &str, seq: u64) -> pb::ChatAck {
    pb::ChatAck {
        room: room.into(),
        seq,
        timestamp_ms: 0,
    }
}

fn joined(name: &str, last_seq: u64) -> pb::RoomJoined {
    pb::RoomJoined {
        room: Some(info(name, last_seq)),
        last_seq,
        ..pb::RoomJoined::default()
    }
}

/// Feeds `seqs` of one room to `accept` and returns the ones it let through.
fn accepted(tracker: &mut SeqTracker, room: &str, seqs: &[u64]) -> Vec<u64> {
    seqs.iter()
        .copied()
        .filter(|&seq| tracker.accept(&msg(room, seq)))
        .collect()
}

#[test]
fn accept_drops_everything_at_or_below_the_last_seq() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("dev", 10)]);

    assert_eq!(
        accepted(&mut tracker, "dev", &[9, 10, 11, 11, 12, 5, 13]),
        [11, 12, 13]
    );
    assert_eq!(tracker.last_seq("dev"), Some(13));
}

#[test]
fn rooms_are_tracked_apart() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("a", 0), info("b", 0)]);
    assert_eq!(accepted(&mut tracker, "a", &[1, 2, 3]), [1, 2, 3]);
    assert_eq!(accepted(&mut tracker, "b", &[1, 2]), [1, 2]);
    assert_eq!(accepted(&mut tracker, "a", &[3, 4]), [4]);
    assert_eq!(
        (tracker.last_seq("a"), tracker.last_seq("b")),
        (Some(4), Some(2))
    );
}

#[test]
fn a_message_of_an_untracked_room_starts_tracking_it() {
    let mut tracker = SeqTracker::default();
    assert_eq!(tracker.last_seq("new"), None);
    assert_eq!(accepted(&mut tracker, "new", &[7, 7, 8]), [7, 8]);
    assert_eq!(tracker.last_seq("new"), Some(8));
}

#[test]
fn room_names_compare_case_insensitively() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("Dev", 4)]);
    assert_eq!(tracker.last_seq("dev"), Some(4));
    assert_eq!(accepted(&mut tracker, "DEV", &[4, 5]), [5]);
    tracker.forget("dEV");
    assert_eq!(tracker.last_seq("Dev"), None);
}

#[test]
fn an_ack_counts_only_when_it_is_the_next_seq() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("dev", 10)]);

    // The next one: nothing can be missing before it.
    tracker.acked(&ack("dev", 11));
    assert_eq!(tracker.last_seq("dev"), Some(11));

    // 12 is someone else's, not read yet (or lost): recording 13 would make
    // 12 a duplicate, or hide it from a resume.
    tracker.acked(&ack("dev", 13));
    assert_eq!(tracker.last_seq("dev"), Some(11));
    assert_eq!(accepted(&mut tracker, "dev", &[12]), [12]);

    // 13 was ours, so it is never pushed; once 14 has been read, the late
    // ack changes nothing.
    assert_eq!(accepted(&mut tracker, "dev", &[14]), [14]);
    tracker.acked(&ack("dev", 13));
    assert_eq!(tracker.last_seq("dev"), Some(14));

    // Acks of rooms not tracked are not taken in.
    tracker.acked(&ack("elsewhere", 1));
    assert_eq!(tracker.last_seq("elsewhere"), None);
    // u64::MAX + 1 does not wrap to 0.
    assert_eq!(accepted(&mut tracker, "max", &[u64::MAX]), [u64::MAX]);
    tracker.acked(&ack("max", 0));
    assert_eq!(tracker.last_seq("max"), Some(u64::MAX));
}

#[test]
fn first_login_tracks_the_rooms_and_the_lobby() {
    let mut tracker = SeqTracker::default();
    let resume = tracker.logged_in(&[info("b", 3), info("a", 8)]);
    // Nothing was tracked before, so there is nothing to resume. The lobby
    // is tracked even when LoginOk does not list it, from 0.
    assert_eq!(resume, []);
    assert_eq!(tracker.last_seq(""), Some(0));
    assert_eq!(tracker.last_seq("a"), Some(8));
    assert_eq!(tracker.last_seq("b"), Some(3));
}

#[test]
fn a_listed_lobby_starts_at_its_last_seq() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("", 42)]);
    assert_eq!(tracker.last_seq(""), Some(42));
}

#[test]
fn relogin_resumes_kept_rooms_forgets_lost_ones_and_adopts_new_ones() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("", 5), info("kept", 1), info("lost", 1)]);
    assert_eq!(accepted(&mut tracker, "", &[6, 7]), [6, 7]);
    assert_eq!(accepted(&mut tracker, "kept", &[2]), [2]);

    // While away: kicked from "lost", joined "new" on another connection,
    // and both kept rooms moved on.
    let resume = tracker.logged_in(&[info("new", 30), info("Kept", 9), info("", 20)]);
    assert_eq!(resume, [(String::new(), 7), ("kept".to_owned(), 2)]);
    assert_eq!(tracker.last_seq("lost"), None);
    // A room joined elsewhere starts where the login found it.
    assert_eq!(tracker.last_seq("new"), Some(30));
}

#[test]
fn joined_starts_an_untracked_room_and_leaves_a_tracked_one() {
    let mut tracker = SeqTracker::default();
    tracker.joined(&joined("fresh", 40));
    assert_eq!(tracker.last_seq("fresh"), Some(40));
    assert_eq!(accepted(&mut tracker, "fresh", &[40, 41]), [41]);

    // A catch-up join of a tracked room must not drop pushes not read yet.
    tracker.joined(&joined("fresh", 45));
    assert_eq!(tracker.last_seq("fresh"), Some(41));
    assert_eq!(accepted(&mut tracker, "fresh", &[42]), [42]);
}

#[test]
fn resumed_goes_back_when_the_server_lost_messages() {
    let mut tracker = SeqTracker::default();
    tracker.logged_in(&[info("dev", 0)]);
    assert_eq!(accepted(&mut tracker, "dev", &[1, 2, 3]), [1, 2, 3]);

    // The usual case: the room moved on, nothing changes before the history.
    tracker.resumed(&joined("dev", 6));
    assert_eq!(tracker.last_seq("dev"), Some(3));

    // After a crash the server is at 2: message 3 was lost, and the next
    // message is numbered 3 again. It must be delivered.
    tracker.resumed(&joined("dev", 2));
    assert_eq!(tracker.last_seq("dev"), Some(2));
    assert_eq!(accepted(&mut tracker, "dev", &[3]), [3]);
}
