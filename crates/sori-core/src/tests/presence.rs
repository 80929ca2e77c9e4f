//! Presence notices (UserJoined, UserLeft): batched per window, in order,
//! and exactly those made after a session started receiving the lobby.

use sori_protocol::Message;
use sori_protocol::pb;

use super::*;
use crate::presence::WINDOW;

/// A notice as a client sees it: joined or not, and who.
#[derive(Debug, PartialEq, Eq)]
enum Notice {
    Joined(String),
    Left(String),
}

fn notice(msg: &Message) -> Option<Notice> {
    let name = |user: &Option<pb::UserInfo>| user.as_ref().expect("a user").username.clone();
    match msg {
        Message::UserJoined(joined) => Some(Notice::Joined(name(&joined.user))),
        Message::UserLeft(left) => Some(Notice::Left(name(&left.user))),
        _ => None,
    }
}

fn joined(name: &str) -> Notice {
    Notice::Joined(name.into())
}

fn left(name: &str) -> Notice {
    Notice::Left(name.into())
}

impl User {
    /// The presence notices this session got, oldest first.
    fn notices(&self) -> Vec<Notice> {
        self.rec().all(notice)
    }

    /// Drops what this session got so far.
    fn forget(&self) {
        self.rec().take();
    }
}

/// A harness whose presence windows end only when the test flushes.
async fn held() -> Harness {
    let h = Harness::new().await;
    h.core.hub.presence.set_window(Duration::from_secs(3600));
    h
}

/// `names` logged in, everything they were told dropped.
async fn users(h: &Harness, names: &[&str]) -> Vec<User> {
    let mut users = Vec::new();
    for name in names {
        users.push(h.user(name).await);
    }
    h.flush_presence();
    for user in &users {
        user.forget();
    }
    users
}

fn logout(h: &Harness, user: &User) {
    h.core.logout(&user.dyn_peer, &user.session);
}

#[tokio::test]
async fn notices_arrive_in_order_after_the_window() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = &h.user("bob").await;
    let cyd = &h.user("cyd").await;
    eventually("the logins' notices", || {
        (alice.notices() == [joined("bob"), joined("cyd")]).then_some(())
    })
    .await;
    alice.forget();
    let pushes = alice.rec().n_pushes();

    let start = tokio::time::Instant::now();
    logout(&h, bob);
    logout(&h, cyd);
    assert!(alice.notices().is_empty(), "not before the window ends");

    eventually("the notices", || {
        (!alice.notices().is_empty()).then_some(())
    })
    .await;
    assert!(start.elapsed() >= WINDOW, "held for the window");
    assert_eq!(alice.notices(), [left("bob"), left("cyd")]);
    assert_eq!(alice.rec().n_pushes(), pushes + 1, "one push for both");
}

#[tokio::test]
async fn a_burst_of_departures_is_one_push() {
    let h = held().await;
    let names: Vec<String> = (0..50).map(|i| format!("user{i}")).collect();
    let mut all = vec!["alice"];
    all.extend(names.iter().map(String::as_str));
    let all = users(&h, &all).await;
    let (alice, leavers) = all.split_first().expect("alice");
    let pushes = alice.rec().n_pushes();

    for user in leavers {
        logout(&h, user);
    }
    assert_eq!(alice.rec().n_pushes(), pushes, "nothing before the flush");
    h.flush_presence();
    assert_eq!(alice.rec().n_pushes(), pushes + 1, "one push");
    let expected: Vec<Notice> = names.iter().map(|name| left(name)).collect();
    assert_eq!(alice.notices(), expected, "in the order they left");
    h.flush_presence();
    assert_eq!(alice.rec().n_pushes(), pushes + 1, "nothing twice");
}

#[tokio::test]
async fn a_session_attaching_mid_window_gets_only_later_notices() {
    let h = held().await;
    for name in ["cyd", "dee"] {
        h.register(name).await;
    }
    let all = users(&h, &["alice", "bob"]).await;
    let (alice, bob) = (&all[0], &all[1]);
    let pushes = alice.rec().n_pushes();

    logout(&h, bob);
    let cyd = h.login("cyd").await.expect("login");
    let dee = h.login("dee").await.expect("login");
    // Bob comes back within the window: both notices stay, in order.
    let bob = h.login("bob").await.expect("login");
    logout(&h, &dee);
    h.flush_presence();

    assert_eq!(
        alice.notices(),
        [
            left("bob"),
            joined("cyd"),
            joined("dee"),
            joined("bob"),
            left("dee")
        ]
    );
    assert_eq!(
        cyd.notices(),
        [joined("dee"), joined("bob"), left("dee")],
        "only those after its own login"
    );
    assert_eq!(bob.notices(), [left("dee")]);
    assert!(dee.notices().is_empty(), "left within the window");
    assert_eq!(alice.rec().n_pushes(), pushes + 1, "one batch");
    for user in [&cyd, &bob] {
        assert_eq!(user.rec().n_pushes(), 2, "LoginOk and one batch");
    }
}

#[tokio::test]
async fn sessions_that_close_within_the_window_get_nothing() {
    let h = held().await;
    let all = users(&h, &["alice", "bob", "cyd", "dee"]).await;
    let pushes: Vec<usize> = all.iter().map(|user| user.rec().n_pushes()).collect();
    // Cyd leaves while bob and dee are still connected; then they go too.
    logout(&h, &all[2]);
    logout(&h, &all[1]);
    logout(&h, &all[3]);
    h.flush_presence();
    assert_eq!(all[0].notices(), [left("cyd"), left("bob"), left("dee")]);
    for (user, before) in all.iter().zip(&pushes).skip(1) {
        assert_eq!(
            user.rec().n_pushes(),
            *before,
            "{} got nothing",
            user.name()
        );
    }
}

#[tokio::test]
async fn a_replacing_login_sends_nothing() {
    let h = held().await;
    let all = users(&h, &["alice", "bob"]).await;
    let second = h.login("bob").await.expect("login");
    h.core.logout(&all[1].dyn_peer, &all[1].session);
    h.flush_presence();
    assert!(all[0].notices().is_empty());
    assert!(second.notices().is_empty());
}

#[tokio::test]
async fn notices_from_the_cluster_share_the_batch() {
    let h = held().await;
    let all = users(&h, &["alice", "bob"]).await;
    let remote = |name: &str| {
        Message::UserJoined(pb::UserJoined {
            user: Some(pb::UserInfo {
                username: name.into(),
                display_name: String::new(),
            }),
        })
    };
    h.core.presence_notice(remote("xavier"), 2);
    logout(&h, &all[1]);
    h.core.presence_notice(remote("yves"), 2);
    // Above the limit in the cluster as a whole: not announced.
    h.core.presence_notice(remote("zed"), 1_000);
    let pushes = all[0].rec().n_pushes();
    h.flush_presence();
    assert_eq!(
        all[0].notices(),
        [joined("xavier"), left("bob"), joined("yves")]
    );
    assert_eq!(all[0].rec().n_pushes(), pushes + 1);
}

#[tokio::test]
async fn close_delivers_what_waits() {
    let h = held().await;
    let all = users(&h, &["alice", "bob"]).await;
    logout(&h, &all[1]);
    h.core.close(PATIENCE).await;
    assert_eq!(all[0].notices(), [left("bob")]);
}
