//! Running a room: topic, invitations, kicks, bans and roles.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};

use super::*;

/// A room "rust" owned by alice, with bob an operator and carol a member;
/// dave is not in it. Nothing pushed so far is kept.
async fn staffed() -> (Harness, [User; 4]) {
    let h = Harness::new().await;
    let users = [
        h.user("alice").await,
        h.user("bob").await,
        h.user("carol").await,
        h.user("dave").await,
    ];
    h.create(&users[0], "rust").await;
    h.join(&users[1], "rust").await;
    h.join(&users[2], "rust").await;
    let req = pb::SetRole {
        room: "rust".into(),
        username: "bob".into(),
        role: RoomRole::Operator as i32,
    };
    h.core
        .set_role(&users[0].caller(1), req)
        .await
        .expect("promote");
    for user in &users {
        user.rec().take();
    }
    (h, users)
}

#[tokio::test]
async fn operators_set_the_topic_and_members_see_it() {
    let (h, [alice, bob, carol, dave]) = staffed().await;
    let set = |topic: &str| pb::SetTopic {
        room: "rust".into(),
        topic: topic.into(),
    };
    h.core
        .set_topic(&bob.caller(4), set("crabs"))
        .await
        .expect("topic");
    assert_eq!(bob.rec().answer(4), Some(Message::Ok(pb::Ok {})));
    for member in [&alice, &bob, &carol] {
        let updated = member.rec().first(of!(RoomUpdated)).expect("told");
        assert_eq!(updated.room.expect("info").topic, "crabs");
        assert_eq!(updated.by, Some(bob.info()));
    }
    assert!(dave.rec().first(of!(RoomUpdated)).is_none());

    let check = async |user: &User, topic: &str, expected: ErrorCode| {
        let res = h.core.set_topic(&user.caller(1), set(topic)).await;
        assert_eq!(code(res), expected, "{}: {topic:?}", user.name());
    };
    check(&carol, "mine", ErrorCode::NotRoomOperator).await;
    check(&dave, "mine", ErrorCode::NotInRoom).await;
    check(&alice, &"t".repeat(257), ErrorCode::InvalidTopic).await;
    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    let room = restarted.core.hub.room("rust").expect("room");
    assert_eq!(room.lock().topic, "crabs", "the topic is stored");
}

#[tokio::test]
async fn the_invited_user_is_told() {
    let (h, [_alice, bob, carol, dave]) = staffed().await;
    let invite = |name: &str| pb::Invite {
        room: "rust".into(),
        username: name.into(),
    };
    h.core
        .invite(&bob.caller(2), invite("DAVE"))
        .await
        .expect("invite");
    assert_eq!(bob.rec().answer(2), Some(Message::Ok(pb::Ok {})));
    let invited = dave.rec().first(of!(Invited)).expect("told");
    assert_eq!(invited.room, "rust");
    assert_eq!(invited.by, Some(bob.info()));

    let check = async |user: &User, name: &str, expected: ErrorCode| {
        let res = h.core.invite(&user.caller(1), invite(name)).await;
        assert_eq!(code(res), expected, "{} inviting {name}", user.name());
    };
    check(&carol, "dave", ErrorCode::NotRoomOperator).await;
    check(&dave, "carol", ErrorCode::NotInRoom).await;
    check(&bob, "nobody", ErrorCode::NoSuchUser).await;
}

#[tokio::test]
async fn a_kicked_member_is_told_and_may_come_back() {
    let (h, [alice, bob, carol, _dave]) = staffed().await;
    h.core
        .remove(&bob.caller(3), "rust", "carol", "be nice", false)
        .await
        .expect("kick");
    assert_eq!(bob.rec().answer(3), Some(Message::Ok(pb::Ok {})));
    for user in [&alice, &bob, &carol] {
        let left = user.rec().first(of!(MemberLeft)).expect("told");
        assert_eq!(left.user, Some(carol.info()));
        assert_eq!(left.reason, LeaveReason::Kicked as i32);
        assert_eq!(left.by, Some(bob.info()));
        assert_eq!(left.message, "be nice");
    }
    h.say_all(&alice, "rust", &["after"]).await;
    assert!(carol.received_seqs("rust").is_empty());
    assert_eq!(
        code(h.say(&carol, "rust", "hi").await),
        ErrorCode::NotInRoom
    );
    h.join(&carol, "rust").await;
}

#[tokio::test]
async fn a_banned_member_stays_out_until_unbanned() {
    let (h, [alice, bob, carol, _dave]) = staffed().await;
    h.core
        .remove(&bob.caller(3), "rust", "carol", "spam", true)
        .await
        .expect("ban");
    let left = alice.rec().first(of!(MemberLeft)).expect("told");
    assert_eq!(left.reason, LeaveReason::Banned as i32);
    assert!(
        carol.rec().first(of!(MemberLeft)).is_some(),
        "the banned too"
    );
    let join = || pb::JoinRoom {
        name: "rust".into(),
        ..Default::default()
    };
    assert_eq!(
        code(h.join_with(&carol, join()).await),
        ErrorCode::BannedFromRoom
    );
    // In force after a restart too.
    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    let carol_again = restarted.login("carol").await.expect("login");
    assert_eq!(
        code(restarted.join_with(&carol_again, join()).await),
        ErrorCode::BannedFromRoom
    );

    let unban = pb::UnbanMember {
        room: "rust".into(),
        username: "carol".into(),
    };
    assert_eq!(
        code(h.core.unban(&carol.caller(1), unban.clone()).await),
        ErrorCode::NotInRoom
    );
    h.core.unban(&bob.caller(4), unban).await.expect("unban");
    assert_eq!(bob.rec().answer(4), Some(Message::Ok(pb::Ok {})));
    h.join(&carol, "rust").await;
}

#[tokio::test]
async fn kick_and_ban_refusals() {
    let (h, [alice, bob, carol, dave]) = staffed().await;
    let check = async |by: &User, room: &str, name: &str, ban: bool, expected: ErrorCode| {
        let res = h.core.remove(&by.caller(1), room, name, "", ban).await;
        assert_eq!(
            code(res),
            expected,
            "{} removing {name} (ban: {ban})",
            by.name()
        );
    };
    for ban in [false, true] {
        check(&carol, "rust", "bob", ban, ErrorCode::NotRoomOperator).await;
        check(&dave, "rust", "carol", ban, ErrorCode::NotInRoom).await;
        check(&bob, "rust", "alice", ban, ErrorCode::TargetOutranks).await;
        check(&bob, "rust", "bob", ban, ErrorCode::TargetOutranks).await;
        check(&bob, "rust", "nobody", ban, ErrorCode::NoSuchUser).await;
        check(&alice, "", "carol", ban, ErrorCode::LobbyIsSpecial).await;
        check(&alice, "nope", "carol", ban, ErrorCode::NoSuchRoom).await;
    }
    check(&bob, "rust", "dave", false, ErrorCode::TargetNotInRoom).await;
    // Nobody was removed.
    let Message::MemberList(list) = h.core.members(&alice.caller(1), "rust").expect("members")
    else {
        panic!("a member list");
    };
    assert_eq!(list.members.len(), 3);
}

#[tokio::test]
async fn the_owner_grants_and_takes_operator_rights() {
    let (h, [alice, bob, carol, dave]) = staffed().await;
    let set = |name: &str, role: RoomRole| pb::SetRole {
        room: "rust".into(),
        username: name.into(),
        role: role as i32,
    };
    h.core
        .set_role(&alice.caller(5), set("carol", RoomRole::Operator))
        .await
        .expect("grant");
    assert_eq!(alice.rec().answer(5), Some(Message::Ok(pb::Ok {})));
    for user in [&alice, &bob, &carol] {
        let changed = user.rec().first(of!(RoleChanged)).expect("told");
        assert_eq!(changed.user, Some(carol.info()));
        assert_eq!(changed.role, RoomRole::Operator as i32);
        assert_eq!(changed.by, Some(alice.info()));
    }
    // Carol can now do what operators do.
    let topic = pb::SetTopic {
        room: "rust".into(),
        topic: "carol's".into(),
    };
    h.core
        .set_topic(&carol.caller(1), topic)
        .await
        .expect("operator");

    h.core
        .set_role(&alice.caller(6), set("bob", RoomRole::Member))
        .await
        .expect("take");
    let invite = pb::Invite {
        room: "rust".into(),
        username: "dave".into(),
    };
    assert_eq!(
        code(h.core.invite(&bob.caller(1), invite).await),
        ErrorCode::NotRoomOperator
    );

    let check = async |by: &User, req: pb::SetRole, expected: ErrorCode| {
        let what = format!("{} setting {req:?}", by.name());
        assert_eq!(
            code(h.core.set_role(&by.caller(1), req).await),
            expected,
            "{what}"
        );
    };
    check(&alice, set("bob", RoomRole::Owner), ErrorCode::InvalidRole).await;
    check(
        &alice,
        set("bob", RoomRole::Unspecified),
        ErrorCode::InvalidRole,
    )
    .await;
    check(
        &carol,
        set("bob", RoomRole::Operator),
        ErrorCode::NotRoomOperator,
    )
    .await;
    check(&dave, set("bob", RoomRole::Operator), ErrorCode::NotInRoom).await;
    check(
        &alice,
        set("alice", RoomRole::Member),
        ErrorCode::TargetOutranks,
    )
    .await;
    check(
        &alice,
        set("dave", RoomRole::Operator),
        ErrorCode::TargetNotInRoom,
    )
    .await;
    check(
        &alice,
        set("nobody", RoomRole::Operator),
        ErrorCode::NoSuchUser,
    )
    .await;
}
