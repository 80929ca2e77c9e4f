//! Lists of rooms, members and users, and pages of a room's history.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, RoomRole};
use sori_store::SqliteStore;

use super::*;
use crate::testing::GatedStore;

fn room_names(h: &Harness, user: &User) -> Vec<String> {
    let Message::RoomList(list) = h.core.list(&user.caller(1)) else {
        panic!("a room list");
    };
    list.rooms.into_iter().map(|room| room.name).collect()
}

#[tokio::test]
async fn invite_only_rooms_are_listed_to_their_members_only() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.create_with(&alice, "secret", true).await;
    h.create(&bob, "go").await;

    assert_eq!(room_names(&h, &alice), ["", "go", "rust", "secret"]);
    assert_eq!(
        room_names(&h, &bob),
        ["", "go", "rust"],
        "sorted, lobby first"
    );
    let invite = pb::Invite {
        room: "secret".into(),
        username: "bob".into(),
    };
    h.core
        .invite(&alice.caller(1), invite)
        .await
        .expect("invite");
    assert_eq!(
        room_names(&h, &bob),
        ["", "go", "rust"],
        "an invitation is not a membership"
    );
    h.join(&bob, "secret").await;
    assert_eq!(room_names(&h, &bob), ["", "go", "rust", "secret"]);
}

#[tokio::test]
async fn members_are_listed_with_roles_and_presence() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    h.join(&carol, "rust").await;
    h.core.logout(&carol.dyn_peer, &carol.session);

    let Message::MemberList(list) = h.core.members(&bob.caller(1), "rust").expect("members") else {
        panic!("a member list");
    };
    assert_eq!(list.room, "rust");
    let members: Vec<(String, i32, bool)> = list
        .members
        .into_iter()
        .map(|m| (m.user.expect("user").username, m.role, m.online))
        .collect();
    assert_eq!(
        members,
        [
            ("alice".to_owned(), RoomRole::Owner as i32, true),
            ("bob".to_owned(), RoomRole::Member as i32, true),
            ("carol".to_owned(), RoomRole::Member as i32, false),
        ]
    );
    let dave = h.user("dave").await;
    assert_eq!(
        code(h.core.members(&dave.caller(1), "rust")),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        code(h.core.members(&dave.caller(1), "nope")),
        ErrorCode::NoSuchRoom
    );
    // The lobby's members are whoever is online.
    let Message::MemberList(lobby) = h.core.members(&dave.caller(1), "").expect("members") else {
        panic!("a member list");
    };
    let online: Vec<String> = lobby
        .members
        .into_iter()
        .map(|m| m.user.expect("user").username)
        .collect();
    assert_eq!(online, ["alice", "bob", "dave"]);
}

#[tokio::test]
async fn users_lists_everyone_online() {
    let h = Harness::new().await;
    let bob = h.user("bob").await;
    let _alice = h.user("alice").await;
    let names = |h: &Harness| {
        let Message::UserList(list) = h.core.users() else {
            panic!("a user list");
        };
        list.users
            .into_iter()
            .map(|u| u.username)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&h), ["alice", "bob"]);
    h.core.logout(&bob.dyn_peer, &bob.session);
    assert_eq!(names(&h), ["alice"]);
}

#[tokio::test]
async fn history_pages_back_with_before_seq() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;
    let texts: Vec<String> = (1..=7).map(|n| format!("m{n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    h.say_all(&alice, "rust", &texts).await;

    let check = async |before_seq: u64, limit: u32, seqs: &[u64], has_more: bool| {
        let req = pb::History {
            room: "rust".into(),
            before_seq,
            limit,
        };
        let Message::HistoryPage(page) = h.core.history(&alice.caller(1), req).await.expect("page")
        else {
            panic!("a history page");
        };
        let got: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        assert_eq!(got, seqs, "before {before_seq}, limit {limit}");
        assert_eq!(
            page.has_more, has_more,
            "before {before_seq}, limit {limit}"
        );
        assert!(
            page.messages
                .iter()
                .all(|m| m.text == format!("m{}", m.seq))
        );
    };
    check(0, 3, &[5, 6, 7], true).await;
    check(5, 3, &[2, 3, 4], true).await;
    check(2, 3, &[1], false).await;
    check(1, 3, &[], false).await;
    check(0, 0, &[1, 2, 3, 4, 5, 6, 7], false).await;
    check(100, 2, &[6, 7], true).await;
}

#[tokio::test]
async fn history_includes_messages_not_yet_on_disk() {
    let inner = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let gated = Arc::new(GatedStore::new(inner));
    let h = Harness::on(gated.clone(), |_| {}).await;
    let alice = h.user("alice").await;
    h.say_all(&alice, "", &["1", "2"]).await;
    let held = gated.appends.lock().await;
    h.say(&alice, "", "3").await.expect("chat");
    h.say(&alice, "", "4").await.expect("chat");

    let req = pb::History {
        room: String::new(),
        before_seq: 0,
        limit: 10,
    };
    let Message::HistoryPage(page) = h.core.history(&alice.caller(1), req).await.expect("page")
    else {
        panic!("a history page");
    };
    let got: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(got, [1, 2, 3, 4]);
    drop(held);
}

#[tokio::test]
async fn history_refusals() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    let page = |room: &str| pb::History {
        room: room.into(),
        before_seq: 0,
        limit: 0,
    };
    assert_eq!(
        code(h.core.history(&bob.caller(1), page("rust")).await),
        ErrorCode::NotInRoom
    );
    assert_eq!(
        code(h.core.history(&bob.caller(1), page("nope")).await),
        ErrorCode::NoSuchRoom
    );
    let off = Harness::with(|s| s.history = false).await;
    let carol = off.user("carol").await;
    assert_eq!(
        code(off.core.history(&carol.caller(1), page("")).await),
        ErrorCode::HistoryDisabled
    );
}
