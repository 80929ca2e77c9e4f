//! Sign-up, login, the duplicate-login policies, and logout.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};

use super::*;
use crate::config::DuplicateLogin;

#[tokio::test]
async fn register_then_login() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.create(&alice, "rust").await;
    h.core
        .register(pb::Register {
            username: "bob".into(),
            password: PASSWORD.into(),
            display_name: "Bobby".into(),
        })
        .await
        .expect("register");

    let bob = h.login("bob").await.expect("login");
    assert_eq!(bob.session.user.display_name, "Bobby");
    let Some(Message::LoginOk(ok)) = bob.rec().answer(1) else {
        panic!("answered with LoginOk");
    };
    assert_eq!(ok.user, Some(bob.info()));
    assert_eq!(ok.session_id, bob.peer.id.to_u64());
    let rooms: Vec<&str> = ok.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rooms, [""], "the lobby, and no room bob is not in");
    // Alice's next login lists her room after the lobby.
    h.core.logout(&alice.dyn_peer, &alice.session);
    let alice = h.login("alice").await.expect("login");
    let Some(Message::LoginOk(ok)) = alice.rec().answer(1) else {
        panic!("answered with LoginOk");
    };
    let rooms: Vec<&str> = ok.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rooms, ["", "rust"]);
    // And she receives the room's messages without joining again.
    h.join(&bob, "rust").await;
    h.say_all(&bob, "rust", &["hi"]).await;
    assert_eq!(alice.received_seqs("rust"), [1]);
}

#[tokio::test]
async fn register_and_login_refusals() {
    let h = Harness::new().await;
    h.register("alice").await;
    let register = async |username: &str, password: &str, display_name: &str| {
        let req = pb::Register {
            username: username.into(),
            password: password.into(),
            display_name: display_name.into(),
        };
        h.core.register(req).await.err().map(|r| r.code)
    };
    assert_eq!(
        register("alice", PASSWORD, "").await,
        Some(ErrorCode::UsernameTaken)
    );
    assert_eq!(
        register("ALICE", PASSWORD, "").await,
        Some(ErrorCode::UsernameTaken)
    );
    assert_eq!(
        register("1x", PASSWORD, "").await,
        Some(ErrorCode::InvalidUsername)
    );
    assert_eq!(
        register("bob", "short", "").await,
        Some(ErrorCode::InvalidPassword)
    );
    assert_eq!(
        register("bob", PASSWORD, " padded ").await,
        Some(ErrorCode::InvalidDisplayName)
    );
    assert_eq!(
        register("bob", PASSWORD, "alice").await,
        Some(ErrorCode::DisplayNameTaken)
    );

    let login = async |username: &str, password: &str| {
        let peer = h
            .core
            .hub
            .connect(std::net::Ipv4Addr::LOCALHOST.into(), Recorder::default());
        let dyn_peer: Arc<Peer> = peer.clone();
        let res = h.core.login(&dyn_peer, 1, username, password).await;
        if res.is_err() {
            assert!(
                peer.link.take().is_empty(),
                "a refused login pushes nothing"
            );
        }
        res.err().map(|r| r.code)
    };
    // Unknown user and wrong password are told apart by nothing.
    assert_eq!(
        login("alice", "wrong password").await,
        Some(ErrorCode::BadCredentials)
    );
    assert_eq!(
        login("nobody", PASSWORD).await,
        Some(ErrorCode::BadCredentials)
    );
    assert_eq!(
        login("no such!", PASSWORD).await,
        Some(ErrorCode::BadCredentials)
    );
    assert_eq!(
        login("ALICE", PASSWORD).await,
        None,
        "usernames are case-insensitive"
    );
}

#[tokio::test]
async fn a_second_login_replaces_the_first() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&bob, "rust").await;
    h.join(&alice, "rust").await;
    bob.rec().take();

    let second = h.login("alice").await.expect("login");
    let last = kicked(&alice);
    assert_eq!(last.code, ErrorCode::LoggedInElsewhere as i32);
    assert!(second.rec().closed().is_none());
    // The user never went offline: nobody is told she left or came.
    h.flush_presence();
    assert!(bob.rec().first(of!(UserLeft)).is_none());
    assert!(bob.rec().first(of!(UserJoined)).is_none());

    // The new session gets the lobby and the rooms; the old one nothing.
    h.say_all(&bob, "rust", &["hi"]).await;
    h.say_all(&bob, "", &["all"]).await;
    assert_eq!(second.received_seqs("rust"), [1]);
    assert_eq!(second.received_seqs(""), [1]);
    assert!(alice.received_seqs("rust").is_empty());
    assert!(alice.received_seqs("").is_empty());

    // The old session's edge ends it: that logs nobody out.
    h.core.logout(&alice.dyn_peer, &alice.session);
    h.flush_presence();
    assert!(bob.rec().first(of!(UserLeft)).is_none());
    let Message::UserList(list) = h.core.users() else {
        panic!("a user list");
    };
    assert_eq!(list.users.len(), 2);
    h.say_all(&bob, "rust", &["still there?"]).await;
    assert_eq!(second.received_seqs("rust"), [1, 2]);
}

#[tokio::test]
async fn the_reject_policy_refuses_a_second_login() {
    let h = Harness::with(|s| s.duplicate_login = DuplicateLogin::Reject).await;
    let alice = h.user("alice").await;
    let refusal = h.login("alice").await.err().expect("refused");
    assert_eq!(refusal.code, ErrorCode::AlreadyLoggedIn);
    assert!(alice.rec().closed().is_none(), "the first session stays");
    h.say_all(&alice, "", &["still here"]).await;
    // Once the first has logged out, a new login is fine.
    h.core.logout(&alice.dyn_peer, &alice.session);
    h.login("alice").await.expect("login");
}

#[tokio::test]
async fn presence_is_pushed_to_the_others() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.flush_presence();
    let joined = alice.rec().first(of!(UserJoined)).expect("told");
    assert_eq!(joined.user, Some(bob.info()));

    h.core.logout(&bob.dyn_peer, &bob.session);
    h.flush_presence();
    let left = alice.rec().first(of!(UserLeft)).expect("told");
    assert_eq!(left.user, Some(bob.info()));
    assert!(
        bob.rec().first(of!(UserLeft)).is_none(),
        "not to the leaver"
    );
    // A logged-out session gets nothing more.
    h.say_all(&alice, "", &["bye"]).await;
    assert!(bob.received_seqs("").is_empty());
}

#[tokio::test]
async fn presence_stops_above_the_limit() {
    let h = Harness::with(|s| s.presence_limit = 1).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.core.logout(&bob.dyn_peer, &bob.session);
    h.flush_presence();
    assert!(alice.rec().first(of!(UserJoined)).is_none());
    assert!(alice.rec().first(of!(UserLeft)).is_none());
}

#[tokio::test]
async fn a_new_display_name_shows_everywhere() {
    let h = Harness::new().await;
    let mut alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.create(&alice, "rust").await;
    h.join(&bob, "rust").await;
    let peer = alice.dyn_peer.clone();
    h.core
        .set_display_name(&peer, &mut alice.session, "Alice A.".into())
        .await
        .expect("rename");
    h.say_all(&alice, "rust", &["hi"]).await;
    let msg = bob.rec().first(of!(ChatMessage)).expect("delivered");
    assert_eq!(msg.from.expect("from").display_name, "Alice A.");
    let Message::MemberList(list) = h.core.members(&bob.caller(1), "rust").expect("members") else {
        panic!("a member list");
    };
    assert!(
        list.members
            .iter()
            .any(|m| m.user.as_ref().unwrap().display_name == "Alice A.")
    );
    let taken = h
        .core
        .set_display_name(&bob.dyn_peer, &mut bob.session.clone(), "Alice A.".into())
        .await;
    assert_eq!(code(taken), ErrorCode::DisplayNameTaken);
}
