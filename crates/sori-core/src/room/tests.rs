use sori_store::StoredRoom;

use sori_protocol::pb;

use super::*;

fn room(last_seq: u64, seq_reserved: u64) -> Room {
    Room::new(StoredRoom {
        id: 1,
        name: "rust".into(),
        topic: String::new(),
        invite_only: false,
        owner: None,
        created_at_ms: 0,
        last_seq,
        seq_reserved,
        members: Vec::new(),
        bans: Vec::new(),
        invites: Vec::new(),
    })
}

#[test]
fn numbering_resumes_above_the_stored_seq_and_the_reservation() {
    // (last stored seq, reservation) -> first number after a reservation.
    let check = |last_seq, seq_reserved, first| {
        let room = room(last_seq, seq_reserved);
        let mut state = room.lock();
        let need = state.next_number(0).expect_err("nothing reserved yet");
        state.reserved_up_to(need.up_to);
        assert_eq!(state.next_number(0).map(|(seq, _)| seq), Ok(first));
    };
    check(0, 0, 1);
    check(7, 0, 8);
    check(7, 4096, 4097);
    check(5000, 4096, 5001);
}

#[test]
fn numbers_stop_at_the_reservation_and_its_extension_is_due_at_half() {
    let room = room(0, 0);
    let mut state = room.lock();
    state.reserved_up_to(SEQ_BLOCK);
    for _ in 0..SEQ_BLOCK / 2 {
        state.next_number(0).expect("reserved");
        assert_eq!(state.reservation_due(), None);
    }
    state.next_number(0).expect("reserved");
    assert_eq!(state.reservation_due(), Some(SEQ_BLOCK / 2 + 1 + SEQ_BLOCK));
    state.reserving = true;
    assert_eq!(state.reservation_due(), None, "one extension at a time");
    while state.last_seq() < SEQ_BLOCK {
        state.next_number(0).expect("reserved");
    }
    assert!(state.next_number_would_wait());
    assert_eq!(
        state.next_number(0),
        Err(NeedReservation {
            up_to: 2 * SEQ_BLOCK
        })
    );
    assert_eq!(state.last_seq(), SEQ_BLOCK, "a refused number is not used");
}

#[test]
fn timestamps_never_go_back() {
    let room = room(0, 0);
    let mut state = room.lock();
    state.reserved_up_to(SEQ_BLOCK);
    assert_eq!(state.next_number(1_000), Ok((1, 1_000)));
    assert_eq!(
        state.next_number(900),
        Ok((2, 1_000)),
        "the clock went back"
    );
    assert_eq!(state.next_number(1_200), Ok((3, 1_200)));
}

fn peer(slot: u32, generation: u32) -> Arc<Peer> {
    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    Arc::new(Peer::new(
        SessionId::new(slot, generation),
        ip,
        crate::testing::NoLink,
    ))
}

fn online_ids(state: &RoomState) -> Vec<SessionId> {
    let mut ids: Vec<SessionId> = state.sessions().map(|peer| peer.id).collect();
    ids.sort();
    ids
}

#[test]
fn sessions_attach_once_and_detach_by_their_whole_id() {
    let room = room(0, 0);
    let mut state = room.lock();
    let (a, b, c) = (peer(0, 1), peer(1, 1), peer(2, 1));
    for (account, peer) in [&a, &b, &c, &a].into_iter().enumerate() {
        state.attach(peer.clone(), account as i64);
    }
    assert_eq!(online_ids(&state), [a.id, b.id, c.id]);
    // A stale id of the same slot detaches nothing.
    state.detach(SessionId::new(0, 2));
    assert_eq!(state.n_online(), 3);
    state.detach(a.id);
    assert_eq!(online_ids(&state), [b.id, c.id]);
    // The moved member is still found.
    state.detach(c.id);
    assert_eq!(online_ids(&state), [b.id]);
    state.detach(b.id);
    assert_eq!(state.n_online(), 0);
}

#[test]
fn a_slots_new_session_takes_the_place_of_one_never_detached() {
    let room = room(0, 0);
    let mut state = room.lock();
    let (old, other) = (peer(5, 1), peer(6, 1));
    state.attach(old.clone(), 1);
    state.attach(other.clone(), 2);
    let new = peer(5, 2);
    state.attach(new.clone(), 3);
    assert_eq!(online_ids(&state), [other.id, new.id]);
    state.detach(old.id);
    assert_eq!(online_ids(&state), [other.id, new.id]);
    state.detach(new.id);
    assert_eq!(online_ids(&state), [other.id]);
}

/// A room message numbered `seq`, as a room gathers it.
fn chat(seq: u64) -> Message {
    Message::ChatMessage(pb::ChatMessage {
        room: "rust".into(),
        seq,
        ..Default::default()
    })
}

/// A room with one member online that records what it is pushed, and
/// the id of a session that sends to it.
fn room_with_listener() -> (Room, Arc<Peer<crate::testing::Recorder>>, SessionId) {
    let room = room(0, 0);
    let ip = std::net::Ipv4Addr::LOCALHOST.into();
    let member = Arc::new(Peer::new(
        SessionId::new(1, 1),
        ip,
        crate::testing::Recorder::default(),
    ));
    room.lock().attach(member.clone(), 1);
    (room, member, SessionId::new(2, 1))
}

#[test]
fn a_room_pushes_a_full_batch_without_waiting_for_the_flush() {
    let (room, member, sender) = room_with_listener();
    let mut state = room.lock();
    for seq in 1..=MAX_GATHERED as u64 + 1 {
        state.gather(chat(seq), sender, None);
    }
    assert_eq!(member.link.n_pushes(), 1, "the full batch, in one push");
    assert_eq!(member.link.messages().len(), MAX_GATHERED);
    state.flush_gathered();
    assert_eq!(member.link.n_pushes(), 2);
    let seqs = member.link.all(|m| match m {
        Message::ChatMessage(m) => Some(m.seq),
        _ => None,
    });
    assert_eq!(seqs, (1..=MAX_GATHERED as u64 + 1).collect::<Vec<_>>());
}

#[test]
fn a_batch_holds_at_most_one_timed_message() {
    let (room, member, sender) = room_with_listener();
    let mut state = room.lock();
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let probe = || {
        Some(Arc::new(crate::metrics::Probe::new(
            tokio::time::Instant::now(),
            1,
            metrics.clone(),
        )))
    };
    state.gather(chat(1), sender, probe());
    state.gather(chat(2), sender, None);
    assert_eq!(member.link.n_pushes(), 0);
    // The second timed message starts a batch of its own.
    state.gather(chat(3), sender, probe());
    assert_eq!(member.link.n_pushes(), 1);
    assert_eq!(member.link.messages().len(), 2);
    state.flush_gathered();
    assert_eq!(member.link.n_pushes(), 2);
    assert_eq!(member.link.messages().len(), 3);
}

#[test]
fn a_batch_stays_far_below_a_recipients_queue_bound() {
    let (room, member, sender) = room_with_listener();
    let mut state = room.lock();
    let long = |seq| {
        Message::ChatMessage(pb::ChatMessage {
            room: "rust".into(),
            seq,
            text: "x".repeat(4096),
            ..Default::default()
        })
    };
    let n = MAX_GATHERED_BYTES / 4096 + 1;
    for seq in 1..=n as u64 {
        state.gather(long(seq), sender, None);
    }
    assert_eq!(member.link.n_pushes(), 1, "pushed once past the byte bound");
    assert!(member.link.messages().len() < MAX_GATHERED);
}
