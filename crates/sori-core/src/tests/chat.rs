//! Chat: numbering, one order for every member, refusals, acks that mean
//! "on disk", and the reservation of sequence numbers.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb::ErrorCode;
use sori_store::SqliteStore;

use super::*;
use crate::room::SEQ_BLOCK;
use crate::testing::GatedStore;

#[tokio::test]
async fn messages_are_numbered_from_one_per_room() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;

    assert_eq!(h.say_all(&alice, "rust", &["a", "b", "c"]).await, [1, 2, 3]);
    // The lobby counts on its own.
    assert_eq!(h.say_all(&alice, "", &["x", "y"]).await, [1, 2]);
    assert_eq!(h.say_all(&alice, "rust", &["d"]).await, [4]);
}

#[tokio::test]
async fn every_member_sees_one_order() {
    let h = Harness::new().await;
    let users = h.room_of_three().await;
    let mut sent = Vec::new();
    for round in 0..5 {
        for user in &users {
            let text = format!("{} {round}", user.name());
            sent.push((user, h.say(user, "rust", &text).await.expect("chat")));
        }
    }
    // What each member saw: the others' messages pushed, its own acked.
    let mut views = Vec::new();
    for user in &users {
        let pushed = user.rec().all(of!(ChatMessage));
        let seqs: Vec<u64> = pushed.iter().map(|m| m.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{} got messages out of order: {seqs:?}",
            user.name()
        );
        assert!(
            pushed
                .iter()
                .all(|m| m.from.as_ref().unwrap().username != user.name()),
            "a sender never gets its own message back"
        );
        let mut view: Vec<(u64, String)> = pushed.into_iter().map(|m| (m.seq, m.text)).collect();
        for (sender, request_id) in sent.iter().filter(|(s, _)| s.name() == user.name()) {
            let ack = sender.ack(*request_id).await;
            assert_eq!(ack.room, "rust");
            view.push((ack.seq, String::new()));
        }
        view.sort();
        views.push(view.into_iter().map(|(seq, _)| seq).collect::<Vec<_>>());
    }
    let all: Vec<u64> = (1..=15).collect();
    for view in &views {
        assert_eq!(view, &all, "every number, once, for every member");
    }
    // And everyone received the same text under the same number.
    let texts = |user: &User| {
        user.rec()
            .all(of!(ChatMessage))
            .into_iter()
            .map(|m| (m.seq, m.text))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let (a, b, c) = (texts(&users[0]), texts(&users[1]), texts(&users[2]));
    for (seq, text) in &a {
        for other in [&b, &c] {
            if let Some(t) = other.get(seq) {
                assert_eq!(t, text, "seq {seq}");
            }
        }
    }
}

#[tokio::test]
async fn chat_is_refused_outside_the_room_and_for_unknown_rooms() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;

    assert_eq!(code(h.say(&bob, "rust", "hi").await), ErrorCode::NotInRoom);
    assert_eq!(code(h.say(&bob, "nope", "hi").await), ErrorCode::NoSuchRoom);
    // Everyone may talk in the lobby.
    h.say_all(&bob, "", &["hi"]).await;
    assert!(alice.received_seqs("rust").is_empty());
}

#[tokio::test]
async fn text_rules() {
    let h = Harness::with(|s| s.max_text_len = 10).await;
    let alice = h.user("alice").await;
    let check = async |text: &str, expected: Option<ErrorCode>| {
        let res = h.say(&alice, "", text).await;
        assert_eq!(res.err().map(|r| r.code), expected, "{text:?}");
    };
    check("", Some(ErrorCode::EmptyMessage)).await;
    check(" \n\t ", Some(ErrorCode::EmptyMessage)).await;
    check("12345678901", Some(ErrorCode::MessageTooLong)).await;
    // Bytes, not characters: five two-byte letters are ten bytes.
    check("ééééé", None).await;
    check("éééééé", Some(ErrorCode::MessageTooLong)).await;
    check("bell\u{7}", Some(ErrorCode::InvalidText)).await;
    check("esc\u{1b}[2J", Some(ErrorCode::InvalidText)).await;
    check("a\nb\tc", None).await;
    check("1234567890", None).await;
}

#[tokio::test]
async fn muted_sessions_cannot_chat_until_unmuted() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let alice = h.user("alice").await;
    let mute = |secs| {
        Message::AdminMute(pb::AdminMute {
            username: "alice".into(),
            duration_secs: secs,
            reason: "spam".into(),
        })
    };
    h.core.admin(&root.caller(1), mute(0)).await.expect("mute");
    let refusal = h.say(&alice, "", "hi").await.expect_err("muted");
    assert_eq!(refusal.code, ErrorCode::Muted);
    assert_eq!(refusal.until_ms, 0, "muted until unmuted");

    h.core.admin(&root.caller(2), mute(60)).await.expect("mute");
    let refusal = h.say(&alice, "", "hi").await.expect_err("muted");
    assert_eq!(refusal.code, ErrorCode::Muted);
    assert!(refusal.until_ms > crate::clock::now_ms(), "says until when");

    let unmute = Message::AdminUnmute(pb::AdminUnmute {
        username: "alice".into(),
    });
    h.core.admin(&root.caller(3), unmute).await.expect("unmute");
    h.say_all(&alice, "", &["back"]).await;
}

#[tokio::test]
async fn the_ack_comes_only_once_the_message_is_on_disk() {
    let inner = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let gated = Arc::new(GatedStore::new(inner));
    let h = Harness::on(gated.clone(), |_| {}).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    // Numbers are reserved before writes are held.
    h.say_all(&alice, "", &["warm up"]).await;
    bob.rec().take();

    let held = gated.appends.lock().await;
    let request_id = h.say(&alice, "", "hello").await.expect("chat");
    // Fanned out at once, before the disk has it...
    assert_eq!(bob.received_seqs(""), [2]);
    // ...but not acked while the write is held.
    tokio::task::yield_now().await;
    assert_eq!(alice.rec().answer(request_id), None);
    let lobby = h.core.hub.room("").expect("lobby");
    assert!(
        h.store
            .messages_after(lobby.id, 1, 10)
            .await
            .expect("read")
            .is_empty()
    );

    drop(held);
    let ack = alice.ack(request_id).await;
    assert_eq!(ack.seq, 2);
    let stored = h.store.messages_after(lobby.id, 1, 10).await.expect("read");
    assert_eq!(stored.len(), 1, "acked means stored");
    assert_eq!((stored[0].seq, stored[0].text.as_str()), (2, "hello"));
    assert_eq!(stored[0].timestamp_ms, ack.timestamp_ms);
}

#[tokio::test]
async fn without_history_the_ack_is_immediate() {
    let h = Harness::with(|s| s.history = false).await;
    let alice = h.user("alice").await;
    let request_id = h.say(&alice, "", "hello").await.expect("chat");
    let Some(Message::ChatAck(ack)) = alice.rec().answer(request_id) else {
        panic!("acked at once");
    };
    assert_eq!(ack.seq, 1);
}

#[tokio::test]
async fn a_fresh_room_reserves_numbers_before_its_first_message() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;
    let room = h.core.hub.room("rust").expect("room");

    // Nothing is reserved yet: the edge is told to reserve, nothing is sent.
    let step = h.core.chat(&alice.caller(1), "rust", "first".into());
    let Ok(ChatStep::Wait(text)) = step else {
        panic!("expected Reserve, got {step:?}");
    };
    assert_eq!(text, "first", "the text comes back");
    assert_eq!(room.lock().last_seq(), 0, "no number was used");

    h.core
        .chat_waiting(&alice.caller(1), "rust", text)
        .await
        .expect("chat");
    assert_eq!(alice.ack(1).await.seq, 1);
    let stored = stored_room(&h, room.id).await;
    assert!(stored.seq_reserved >= 1, "the number is reserved on disk");
    // From now on chat goes through at once.
    assert!(matches!(
        h.core.chat(&alice.caller(2), "rust", "second".into()),
        Ok(ChatStep::Sent)
    ));
    assert_eq!(alice.ack(2).await.seq, 2);
}

#[tokio::test]
async fn a_used_up_reservation_is_extended_through_chat_waiting() {
    let h = Harness::with(|s| s.history = false).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    let room = h.core.hub.room("rust").expect("room");
    h.say(&alice, "rust", "1").await.expect("chat");
    // As if the background extension never finished: the block runs out.
    room.lock().reserving = true;
    for n in 2..=SEQ_BLOCK {
        let step = h.core.chat(&alice.caller(1), "rust", n.to_string());
        assert!(matches!(step, Ok(ChatStep::Sent)), "{n}: {step:?}");
    }
    let step = h.core.chat(&alice.caller(2), "rust", "over".into());
    let Ok(ChatStep::Wait(text)) = step else {
        panic!("expected Reserve once the block is used up, got {step:?}");
    };
    h.core
        .chat_waiting(&alice.caller(2), "rust", text)
        .await
        .expect("chat");
    let Some(Message::ChatAck(ack)) = alice.rec().answer(2) else {
        panic!("acked");
    };
    assert_eq!(ack.seq, SEQ_BLOCK + 1, "no number skipped, none repeated");
    assert!(stored_room(&h, room.id).await.seq_reserved > SEQ_BLOCK);
    let seqs = bob.received_seqs("rust");
    assert_eq!(seqs, (1..=SEQ_BLOCK + 1).collect::<Vec<_>>());
}

#[tokio::test]
async fn reservations_are_extended_before_they_run_out() {
    let h = Harness::with(|s| s.history = false).await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;
    let room = h.core.hub.room("rust").expect("room");
    h.say(&alice, "rust", "1").await.expect("chat");
    // Past half a block, the room extends its reservation in the
    // background; chat never has to wait for it.
    for n in 2..=SEQ_BLOCK / 2 + 1 {
        h.core
            .chat(&alice.caller(1), "rust", n.to_string())
            .expect("chat");
    }
    let extended = eventually("the reservation's extension", || {
        let state = room.lock();
        (!state.reserving && state.reserved() > SEQ_BLOCK).then(|| state.reserved())
    })
    .await;
    assert!(stored_room(&h, room.id).await.seq_reserved >= extended);
    for n in SEQ_BLOCK / 2 + 2..=SEQ_BLOCK + 10 {
        let step = h.core.chat(&alice.caller(1), "rust", n.to_string());
        assert!(matches!(step, Ok(ChatStep::Sent)), "{n}: {step:?}");
    }
    assert_eq!(room.lock().last_seq(), SEQ_BLOCK + 10);
}

/// The room as the store has it now.
pub(super) async fn stored_room(h: &Harness, id: sori_store::RoomId) -> sori_store::StoredRoom {
    h.store
        .load_rooms()
        .await
        .expect("load rooms")
        .into_iter()
        .find(|room| room.id == id)
        .expect("stored")
}
