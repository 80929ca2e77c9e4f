//! Admin work, room creation and shutdown, across nodes.

use std::time::Duration;

use sori_client::{ClientError, Event};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};

use crate::support::{Services, config, eventually, expect_kicked, online, until};

fn with_admin() -> sori_server::Config {
    sori_server::Config {
        admins: vec!["boss".to_owned()],
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutes_kicks_and_bans_reach_the_node_that_holds_the_session() {
    let Some(services) = Services::start("mutes_kicks_and_bans").await else {
        return;
    };
    let n1 = services.node_with("n1", with_admin()).await;
    let n2 = services.node_with("n2", with_admin()).await;
    let (boss, _) = n1.user("boss").await;
    let (mallory, mut mallory_events) = n2.user("mallory").await;
    eventually("n1 sees mallory", || async {
        online(&boss).await.contains(&"mallory".to_owned())
    })
    .await;

    let mute = Message::AdminMute(pb::AdminMute {
        username: "mallory".into(),
        duration_secs: 0,
        reason: "calm down".into(),
    });
    boss.request(mute).await.expect("mute");
    eventually("mallory's chat is refused on n2", || async {
        matches!(
            mallory.chat("hello?").await,
            Err(ClientError::Server {
                code: ErrorCode::Muted,
                ..
            })
        )
    })
    .await;
    let unmute = Message::AdminUnmute(pb::AdminUnmute {
        username: "mallory".into(),
    });
    boss.request(unmute).await.expect("unmute");
    eventually("mallory may chat again", || async {
        mallory.chat("thanks").await.is_ok()
    })
    .await;

    let kick = Message::AdminKick(pb::AdminKick {
        username: "mallory".into(),
        reason: "out".into(),
    });
    boss.request(kick).await.expect("kick a user online on n2");
    expect_kicked(&mut mallory_events, ErrorCode::KickedByAdmin).await;

    let (mallory, mut mallory_events) = n2.login("mallory").await;
    eventually("n1 sees mallory again", || async {
        online(&boss).await.contains(&"mallory".to_owned())
    })
    .await;
    let ban = Message::AdminBan(pb::AdminBan {
        username: "mallory".into(),
        ip: String::new(),
        duration_secs: 0,
        reason: "spam".into(),
    });
    boss.request(ban).await.expect("ban");
    expect_kicked(&mut mallory_events, ErrorCode::BannedFromServer).await;
    drop(mallory);
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_creating_one_name_at_once_make_one_room() {
    let Some(services) = Services::start("two_nodes_creating_one_name").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (alice, _) = n1.user("alice").await;
    let (bob, _) = n2.user("bob").await;
    for round in 0..5 {
        let name = format!("race{round}");
        let (a, b) = tokio::join!(
            alice.create_room(&name, "", false),
            bob.create_room(&name, "", false)
        );
        let exists = |res: &Result<_, ClientError>| {
            matches!(
                res,
                Err(ClientError::Server {
                    code: ErrorCode::RoomExists,
                    ..
                })
            )
        };
        assert!(
            a.is_ok() != b.is_ok() && (exists(&a) || exists(&b)),
            "round {round}: exactly one creates the room: {a:?} / {b:?}"
        );
        // Both nodes then know one room of that name, with one member.
        for client in [&alice, &bob] {
            eventually("the room is listed with its owner", || async {
                client
                    .list_rooms()
                    .await
                    .expect("rooms")
                    .iter()
                    .any(|r| r.name == name && r.member_count == 1)
            })
            .await;
        }
    }
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_shuts_down_tells_its_clients_and_leaves_presence_at_once() {
    let Some(services) = Services::start("a_node_that_shuts_down").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (alice, mut alice_events) = n1.user("alice").await;
    let (_bob, mut bob_events) = n2.user("bob").await;
    eventually("n1 sees bob", || async {
        online(&alice).await.contains(&"bob".to_owned())
    })
    .await;
    let stopping = tokio::spawn(n2.stop());
    // bob is told to reconnect ...
    expect_kicked(&mut bob_events, ErrorCode::ShuttingDown).await;
    // ... and the others hear he left, without waiting out the TTL (30 s).
    let left = tokio::time::timeout(Duration::from_secs(5), async {
        until(
            &mut alice_events,
            |e| matches!(e, Event::UserLeft(u) if u.username == "bob"),
        )
        .await;
    })
    .await;
    assert!(left.is_ok(), "bob's UserLeft did not come within 5 s");
    stopping.await.expect("n2 stops");
    assert_eq!(online(&alice).await, ["alice"]);
    n1.stop().await;
    services.finish().await;
}
