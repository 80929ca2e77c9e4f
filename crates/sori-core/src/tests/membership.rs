//! Creating, joining, resuming, leaving and deleting rooms, and who owns a
//! room once its owner leaves.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};

use super::*;

#[tokio::test]
async fn the_creator_owns_the_room_and_is_its_first_member() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let req = pb::CreateRoom {
        name: "Rust".into(),
        topic: "crabs".into(),
        invite_only: false,
    };
    h.core.create(&alice.caller(5), req).await.expect("create");
    let Some(Message::RoomJoined(joined)) = alice.rec().answer(5) else {
        panic!("answered with RoomJoined");
    };
    assert_eq!(joined.role, RoomRole::Owner as i32);
    let info = joined.room.expect("room info");
    assert_eq!(
        (info.name.as_str(), info.topic.as_str(), info.owner.as_str()),
        ("Rust", "crabs", "alice")
    );
    assert_eq!((info.member_count, info.last_seq), (1, 0));
    assert_ne!(info.room_id, 0);
    // The creator receives the room's messages.
    let bob = h.user("bob").await;
    h.join(&bob, "rust").await;
    h.say_all(&bob, "rust", &["hi"]).await;
    assert_eq!(alice.received_seqs("Rust"), [1]);
}

#[tokio::test]
async fn create_refusals() {
    let h = Harness::with(|s| {
        s.rooms.max_rooms = 3;
        s.rooms.max_rooms_per_user = 1;
    })
    .await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    let check = async |user: &User, name: &str, topic: &str, expected: ErrorCode| {
        let req = pb::CreateRoom {
            name: name.into(),
            topic: topic.into(),
            invite_only: false,
        };
        assert_eq!(
            code(h.core.create(&user.caller(1), req).await),
            expected,
            "{name:?}"
        );
    };
    check(&bob, "rust", "", ErrorCode::RoomExists).await;
    check(&bob, "RUST", "", ErrorCode::RoomExists).await;
    check(&bob, "", "", ErrorCode::InvalidRoomName).await;
    check(&bob, "no spaces allowed?", "", ErrorCode::InvalidRoomName).await;
    check(&bob, "go", &"t".repeat(257), ErrorCode::InvalidTopic).await;
    check(&alice, "go", "", ErrorCode::TooManyMemberships).await;
    h.create(&bob, "go").await;
    // The lobby, rust and go: the server is full.
    check(&bob, "zig", "", ErrorCode::TooManyRooms).await;
}

#[tokio::test]
async fn joining_tells_the_members_and_answers_with_history() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.say_all(&alice, "rust", &["one", "two", "three"]).await;

    let joined = h
        .join_with(
            &bob,
            pb::JoinRoom {
                name: "rust".into(),
                history_limit: 2,
                ..Default::default()
            },
        )
        .await
        .expect("join");
    assert_eq!(joined.role, RoomRole::Member as i32);
    assert_eq!(joined.last_seq, 3);
    let history: Vec<(u64, &str)> = joined
        .history
        .iter()
        .map(|m| (m.seq, m.text.as_str()))
        .collect();
    assert_eq!(
        history,
        [(2, "two"), (3, "three")],
        "the newest, oldest first"
    );
    assert!(!joined.resumed && !joined.reload_required);

    let notice = alice.rec().first(of!(MemberJoined)).expect("told");
    assert_eq!(notice.user, Some(bob.info()));
    assert_eq!(notice.role, RoomRole::Member as i32);
    assert!(
        bob.rec().first(of!(MemberJoined)).is_none(),
        "not to the joiner"
    );

    // Every message after last_seq follows RoomJoined.
    h.say_all(&alice, "rust", &["four"]).await;
    assert_eq!(bob.received_seqs("rust"), [4]);
    // Joining again only catches up.
    let again = h.join(&bob, "rust").await;
    assert_eq!(again.room.expect("info").member_count, 2);
}

#[tokio::test]
async fn join_refusals() {
    let h = Harness::with(|s| {
        s.rooms.max_members = 2;
        s.rooms.max_rooms_per_user = 1;
    })
    .await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    let erin = h.user("erin").await;
    let frank = h.user("frank").await;
    h.create(&alice, "rust").await;
    h.create(&bob, "private").await;
    h.create_with(&dave, "secret", true).await;
    h.create(&frank, "x").await;
    // A ban needs no membership.
    h.core
        .remove(&bob.caller(1), "private", "carol", "", true)
        .await
        .expect("ban");
    h.join(&carol, "rust").await; // rust is now full: alice, carol

    let check = async |user: &User, room: &str, expected: ErrorCode| {
        let req = pb::JoinRoom {
            name: room.into(),
            ..Default::default()
        };
        let res = h.join_with(user, req).await;
        assert_eq!(code(res), expected, "{} joining {room:?}", user.name());
    };
    check(&bob, "nope", ErrorCode::NoSuchRoom).await;
    check(&bob, "secret", ErrorCode::InviteOnly).await;
    check(&erin, "rust", ErrorCode::RoomFull).await;
    check(&carol, "private", ErrorCode::BannedFromRoom).await;
    // Bob is already in one room, as many as a user may be.
    check(&bob, "x", ErrorCode::TooManyMemberships).await;
    // A refused join leaves no trace.
    let members = h.core.members(&alice.caller(1), "rust").expect("members");
    let Message::MemberList(list) = members else {
        panic!("a member list");
    };
    assert_eq!(list.members.len(), 2);
}

#[tokio::test]
async fn an_invitation_opens_an_invite_only_room_once() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create_with(&alice, "secret", true).await;
    let invite = pb::Invite {
        room: "secret".into(),
        username: "bob".into(),
    };
    h.core
        .invite(&alice.caller(1), invite)
        .await
        .expect("invite");
    h.join(&bob, "secret").await;
    h.core.leave(&bob.caller(2), "secret").await.expect("leave");
    let again = pb::JoinRoom {
        name: "secret".into(),
        ..Default::default()
    };
    assert_eq!(code(h.join_with(&bob, again).await), ErrorCode::InviteOnly);
}

#[tokio::test]
async fn a_resume_gets_exactly_the_missed_messages() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.say_all(&alice, "rust", &["1", "2", "3", "4", "5"]).await;
    assert_eq!(bob.received_seqs("rust"), [1, 2, 3, 4, 5]);
    let room_id = h.room_id("rust");

    // Bob's connection drops; alice goes on, some of it on disk already
    // and some maybe not yet.
    h.core.logout(&bob.dyn_peer, &bob.session);
    h.say_all(&alice, "rust", &["6", "7", "8"]).await;
    for text in ["9", "10"] {
        h.say(&alice, "rust", text).await.expect("chat");
    }
    let bob = h.login("bob").await.expect("login");
    let joined = h
        .join_with(
            &bob,
            pb::JoinRoom {
                name: "rust".into(),
                since_seq: 5,
                room_id,
                history_limit: 2,
            },
        )
        .await
        .expect("resume");
    assert!(joined.resumed && !joined.reload_required);
    let history: Vec<(u64, &str)> = joined
        .history
        .iter()
        .map(|m| (m.seq, m.text.as_str()))
        .collect();
    assert_eq!(
        history,
        [(6, "6"), (7, "7"), (8, "8"), (9, "9"), (10, "10")],
        "every missed message, beyond history_limit, and nothing else"
    );
    assert_eq!(joined.last_seq, 10);
    h.say_all(&alice, "rust", &["11"]).await;
    assert_eq!(bob.received_seqs("rust"), [11]);

    // Nothing missed: an empty resume.
    let joined = h
        .join_with(
            &bob,
            pb::JoinRoom {
                name: "rust".into(),
                since_seq: 11,
                room_id,
                history_limit: 0,
            },
        )
        .await
        .expect("resume");
    assert!(joined.resumed && joined.history.is_empty());
}

#[tokio::test]
async fn a_gap_over_the_resume_bound_is_a_reload() {
    let h = Harness::with(|s| s.rooms.resume_max = 2).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.say_all(&alice, "rust", &["1", "2", "3", "4", "5"]).await;
    let joined = h
        .join_with(
            &bob,
            pb::JoinRoom {
                name: "rust".into(),
                since_seq: 1,
                room_id: h.room_id("rust"),
                history_limit: 2,
            },
        )
        .await
        .expect("join");
    assert!(!joined.resumed && joined.reload_required);
    let seqs: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [4, 5], "the newest history_limit messages");
}

#[tokio::test]
async fn a_room_deleted_and_created_again_is_never_resumed() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.say_all(&alice, "rust", &["old 1", "old 2"]).await;
    let old_id = h.room_id("rust");

    h.core
        .delete_room(&alice.caller(1), "rust")
        .await
        .expect("delete");
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    let new_id = h.room_id("rust");
    assert_ne!(new_id, old_id, "a new room gets a new id");
    h.say_all(&alice, "rust", &["new 1", "new 2", "new 3", "new 4"])
        .await;

    // Bob saw seq 2 in the old room: the new room has a seq 3 and 4, but
    // they are not what he missed.
    for since_seq in [2, 4, 7] {
        let joined = h
            .join_with(
                &bob,
                pb::JoinRoom {
                    name: "rust".into(),
                    since_seq,
                    room_id: old_id,
                    history_limit: 0,
                },
            )
            .await
            .expect("join");
        assert!(!joined.resumed, "since {since_seq}: never a resume");
        assert!(joined.reload_required, "since {since_seq}: a reload");
        let texts: Vec<&str> = joined.history.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["new 1", "new 2", "new 3", "new 4"]);
        assert_eq!(joined.room.expect("info").room_id, new_id);
    }
    // With the new id it resumes.
    let joined = h
        .join_with(
            &bob,
            pb::JoinRoom {
                name: "rust".into(),
                since_seq: 2,
                room_id: new_id,
                history_limit: 0,
            },
        )
        .await
        .expect("join");
    assert!(joined.resumed);
    assert_eq!(joined.history.len(), 2);
}

#[tokio::test]
async fn leaving_ends_the_membership() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;

    h.core.leave(&bob.caller(3), "rust").await.expect("leave");
    assert_eq!(bob.rec().answer(3), Some(Message::Ok(pb::Ok {})));
    let left = alice.rec().first(of!(MemberLeft)).expect("told");
    assert_eq!(left.user, Some(bob.info()));
    assert_eq!(left.reason, LeaveReason::Left as i32);

    h.say_all(&alice, "rust", &["after"]).await;
    assert!(bob.received_seqs("rust").is_empty(), "no more messages");
    assert_eq!(code(h.say(&bob, "rust", "hi").await), ErrorCode::NotInRoom);
    let check = async |room: &str, expected: ErrorCode| {
        assert_eq!(
            code(h.core.leave(&bob.caller(4), room).await),
            expected,
            "{room:?}"
        );
    };
    check("rust", ErrorCode::NotInRoom).await;
    check("", ErrorCode::LobbyIsSpecial).await;
    check("nope", ErrorCode::NoSuchRoom).await;
    // Not a member after a restart either.
    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    let room = restarted.core.hub.room("rust").expect("room");
    assert!(!room.lock().members.contains_key(&bob.session.account_id));
}

#[tokio::test]
async fn an_owner_leaving_hands_the_room_to_the_first_joined_operator() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let [bob, carol, dave] = [
        h.user("bob").await,
        h.user("carol").await,
        h.user("dave").await,
    ];
    h.create(&alice, "rust").await;
    for user in [&bob, &carol, &dave] {
        h.join(user, "rust").await;
    }
    // Dave is promoted first, but carol joined first.
    for name in ["dave", "carol"] {
        let req = pb::SetRole {
            room: "rust".into(),
            username: name.into(),
            role: RoomRole::Operator as i32,
        };
        h.core
            .set_role(&alice.caller(1), req)
            .await
            .expect("promote");
    }
    for user in [&bob, &carol, &dave] {
        user.rec().take();
    }

    h.core.leave(&alice.caller(2), "rust").await.expect("leave");
    for user in [&bob, &carol, &dave] {
        let changed = user.rec().first(of!(RoleChanged)).expect("told");
        assert_eq!(changed.user, Some(carol.info()), "to {}", user.name());
        assert_eq!(changed.role, RoomRole::Owner as i32);
    }
    let info = room_info(&h, &bob, "rust");
    assert_eq!(info.owner, "carol");
    // Carol now has the owner's powers; and so after a restart.
    let req = pb::SetRole {
        room: "rust".into(),
        username: "dave".into(),
        role: RoomRole::Member as i32,
    };
    h.core.set_role(&carol.caller(3), req).await.expect("owner");
    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    let room = restarted.core.hub.room("rust").expect("room");
    let state = room.lock();
    assert_eq!(state.owner, Some(carol.session.account_id));
    assert_eq!(
        state.members[&carol.session.account_id].role,
        sori_store::Role::Owner
    );
}

#[tokio::test]
async fn without_operators_the_first_joined_member_inherits() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.join(&carol, "rust").await;

    h.core.leave(&alice.caller(1), "rust").await.expect("leave");
    let changed = carol.rec().first(of!(RoleChanged)).expect("told");
    assert_eq!(changed.user, Some(bob.info()));
    assert_eq!(changed.role, RoomRole::Owner as i32);
    assert_eq!(room_info(&h, &carol, "rust").owner, "bob");
}

#[tokio::test]
async fn the_last_member_leaving_leaves_the_room_ownerless() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.core.leave(&alice.caller(1), "rust").await.expect("leave");

    let room = h.core.hub.room("rust").expect("the room stays");
    assert_eq!(room.lock().owner, None);
    let joined = h.join(&bob, "rust").await;
    let info = joined.room.expect("info");
    assert_eq!((info.owner.as_str(), info.member_count), ("", 1));
    assert_eq!(
        joined.role,
        RoomRole::Member as i32,
        "joining gives no ownership"
    );
}

#[tokio::test]
async fn the_owner_or_an_admin_deletes_a_room_and_its_members_are_told() {
    for deleter in ["alice", ADMIN] {
        let h = Harness::new().await;
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let root = h.user(ADMIN).await;
        h.create(&alice, "rust").await;
        h.join(&bob, "rust").await;
        let room_id = h.room_id("rust");
        let by = if deleter == ADMIN { &root } else { &alice };

        h.core
            .delete_room(&by.caller(9), "rust")
            .await
            .expect("delete");
        assert_eq!(by.rec().answer(9), Some(Message::Ok(pb::Ok {})));
        for member in [&alice, &bob] {
            let deleted = member.rec().first(of!(RoomDeleted)).expect("told");
            assert_eq!(deleted.room, "rust");
            assert_eq!(deleted.room_id, room_id);
            assert_eq!(deleted.by, Some(by.info()));
        }
        assert_eq!(
            code(h.say(&alice, "rust", "hi").await),
            ErrorCode::NoSuchRoom
        );
        let req = pb::JoinRoom {
            name: "rust".into(),
            ..Default::default()
        };
        assert_eq!(code(h.join_with(&bob, req).await), ErrorCode::NoSuchRoom);
        // The name is free; the membership limit no longer counts it.
        h.create(&bob, "rust").await;
    }
}

#[tokio::test]
async fn delete_refusals() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let root = h.user(ADMIN).await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    let req = pb::SetRole {
        room: "rust".into(),
        username: "bob".into(),
        role: RoomRole::Operator as i32,
    };
    h.core
        .set_role(&alice.caller(1), req)
        .await
        .expect("promote");
    let check = async |user: &User, room: &str, expected: ErrorCode| {
        let res = h.core.delete_room(&user.caller(1), room).await;
        assert_eq!(code(res), expected, "{} deleting {room:?}", user.name());
    };
    check(&bob, "rust", ErrorCode::NotRoomOperator).await;
    check(&carol, "rust", ErrorCode::NotInRoom).await;
    check(&alice, "", ErrorCode::LobbyIsSpecial).await;
    check(&root, "", ErrorCode::LobbyIsSpecial).await;
    check(&root, "nope", ErrorCode::NoSuchRoom).await;
    assert!(h.core.hub.room("rust").is_some());
    assert!(h.core.hub.room("").is_some());
}

/// The room as listed to `user`.
fn room_info(h: &Harness, user: &User, name: &str) -> pb::RoomInfo {
    let Message::RoomList(list) = h.core.list(&user.caller(1)) else {
        panic!("a room list");
    };
    list.rooms
        .into_iter()
        .find(|room| room.name == name)
        .expect("listed")
}

#[tokio::test]
async fn an_ownerless_room_stays_ownerless_after_a_restart() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;
    h.core.leave(&alice.caller(1), "rust").await.expect("leave");

    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    let alice = restarted.login("alice").await.expect("login");
    let joined = restarted.join(&alice, "rust").await;
    assert_eq!(joined.role, RoomRole::Member as i32);
    assert_eq!(
        joined.room.expect("info").owner,
        "",
        "a member who left the room does not own it after a restart"
    );
}
