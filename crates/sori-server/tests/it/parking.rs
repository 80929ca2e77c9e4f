//! Parked sessions: a logged-in session quiet for `park_idle` gives up its
//! task and waits in the parking lot; whatever comes for it or from it
//! wakes it, and nothing is lost or late on the way.
//!
//! `sori_sessions_parked` says a session really parked before each check:
//! every test waits for it first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sori_client::Event;
use sori_protocol::pb::ErrorCode;
use sori_server::Config;
use sori_store::SqliteStore;
use sqlx::Connection;

use crate::support::{
    self, PASSWORD, TestServer, eventually, expect_kicked, next, next_chat, read_raw,
    read_raw_kicked, read_raw_pings_until_kicked,
};

fn parking(config: Config) -> Config {
    Config {
        park_idle: Some(Duration::from_millis(100)),
        ..config
    }
}

async fn parked(server: &TestServer, n: u64) {
    eventually(&format!("{n} sessions parked"), || {
        server.metrics.sessions_parked.get() == n
    })
    .await;
}

#[tokio::test]
async fn parked_sessions_get_messages_and_send_them() {
    let server = support::start(parking(support::config())).await;
    let (ann, mut ann_events) = server.user("ann").await;
    let (bob, mut bob_events) = server.user("bob").await;
    // Ann hears of Bob's arrival; then both go quiet.
    assert!(matches!(next(&mut ann_events).await, Event::UserJoined(u) if u.username == "bob"));
    parked(&server, 2).await;

    for round in 0..3 {
        // A message for a parked session wakes it (its outbox); one from a
        // parked session wakes it too (its socket).
        bob.chat(&format!("bob {round}")).await.unwrap();
        assert_eq!(
            next_chat(&mut ann_events).await.text,
            format!("bob {round}")
        );
        ann.chat(&format!("ann {round}")).await.unwrap();
        assert_eq!(
            next_chat(&mut bob_events).await.text,
            format!("ann {round}")
        );
        // And each parks again once quiet.
        parked(&server, 2).await;
    }
    // A request that waits for the store (history) is answered too.
    let history = ann.history("", 0, 10).await.unwrap();
    assert_eq!(history.messages.len(), 6);
    assert_eq!(server.metrics.sessions.get(), 2);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_parked_session_is_pinged_and_closed_when_it_never_answers() {
    let config = parking(Config {
        heartbeat_interval: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(1200),
        ..support::config()
    });
    let server = support::start(config).await;
    // sori-client answers the server's Pings by itself: it stays, parking
    // and waking through several heartbeats.
    let (lively, _lively_events) = server.user("lively").await;

    let mut conn = server.raw_user("silent").await;
    parked(&server, 2).await;
    let parked_at = std::time::Instant::now();
    let (pinged, code) = read_raw_pings_until_kicked(&mut conn).await;
    assert!(pinged, "the parked session was pinged");
    assert_eq!(code, ErrorCode::IdleTimeout);
    assert!(
        parked_at.elapsed() < Duration::from_secs(3),
        "the idle timeout came {:?} after parking",
        parked_at.elapsed()
    );
    eventually("the silent session ends", || {
        server.metrics.sessions.get() == 1
    })
    .await;

    tokio::time::sleep(Duration::from_millis(1500)).await;
    lively.chat("I answered every ping").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_hangs_up_while_parked_leaves() {
    let server = support::start(parking(support::config())).await;
    let (_ann, mut ann_events) = server.user("ann").await;
    let (bob, _bob_events) = server.user("bob").await;
    assert!(matches!(next(&mut ann_events).await, Event::UserJoined(u) if u.username == "bob"));
    parked(&server, 2).await;
    drop(bob);
    // Ann, parked, is woken to hear it.
    assert!(matches!(next(&mut ann_events).await, Event::UserLeft(u) if u.username == "bob"));
    eventually("bob's session ends", || server.metrics.sessions.get() == 1).await;
    parked(&server, 1).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_parked_sessions_and_waits_for_them() {
    let server = support::start(parking(support::config())).await;
    let (_setup, _setup_events) = server.user("quiet").await;
    let mut conn = server.raw_user("raw").await;
    parked(&server, 2).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(read_raw_kicked(&mut conn).await, ErrorCode::ShuttingDown);
    assert_eq!(read_raw(&mut conn).await, None);
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_second_login_replaces_a_parked_session() {
    let server = support::start(parking(support::config())).await;
    let (_first, mut first_events) = server.user("twice").await;
    parked(&server, 1).await;
    let (again, _again_events) = server.connect().await;
    again.login("twice", PASSWORD).await.unwrap();
    expect_kicked(&mut first_events, ErrorCode::LoggedInElsewhere).await;
    again.chat("the new session works").await.unwrap();
    eventually("one session left", || server.metrics.sessions.get() == 1).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn sessions_waiting_for_their_logouts_answer_park_and_get_it() {
    const N: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let server = support::start_with(parking(support::config()), Arc::new(store)).await;
    let mut clients = Vec::new();
    for i in 0..N {
        clients.push(server.user(&format!("leaver{i}")).await);
    }
    parked(&server, N as u64).await;

    // Another connection holds the database's write lock: the Logouts'
    // revocation waits for it, and so does their answer.
    let mut lock = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();
    let frames_before = server.metrics.frames_in.get();
    let logouts: Vec<_> = clients
        .iter()
        .map(|(client, _)| {
            let client = client.clone();
            tokio::spawn(async move { client.logout().await })
        })
        .collect();
    // Each session wakes to read its Logout, then parks again while it
    // waits for the answer.
    eventually("every Logout read", || {
        server.metrics.frames_in.get() >= frames_before + N as u64
    })
    .await;
    parked(&server, N as u64).await;
    assert!(
        logouts.iter().all(|logout| !logout.is_finished()),
        "a Logout was answered before its token was revoked"
    );

    // Once the revocation is written, each is answered and closed.
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    for logout in logouts {
        logout.await.unwrap().unwrap();
    }
    for (_, events) in &mut clients {
        expect_kicked(events, ErrorCode::LoggedOut).await;
    }
    eventually("every session ends", || server.metrics.sessions.get() == 0).await;
    assert_eq!(server.metrics.sessions_parked.get(), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn with_parking_off_no_session_parks() {
    let config = Config {
        park_idle: None,
        ..support::config()
    };
    let server = support::start(config).await;
    let (ann, _ann_events) = server.user("ann").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.metrics.sessions_parked.get(), 0);
    ann.chat("still here").await.unwrap();
    server.stop().await.unwrap();
}

/// Sessions that go quiet for a moment now and then park and wake many
/// times while messages come for them and from them: none is lost, none
/// comes twice or out of order, and none waits for its heartbeat to be
/// woken, whatever the moment it came at (on a session's way into the lot,
/// as it is woken, as it takes its socket back). Listeners send nothing:
/// only their outbox wakes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_racing_sessions_in_and_out_of_the_lot_all_arrive() {
    const SENDERS: usize = 4;
    const LISTENERS: usize = 3;
    const EACH: usize = 120;
    // Far below the heartbeat, which would wake a session whose wake was
    // lost; far above what a busy test machine takes.
    const LATE: Duration = Duration::from_secs(8);
    let config = Config {
        park_idle: Some(Duration::from_millis(3)),
        heartbeat_interval: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(180),
        ..support::config()
    };
    let server = support::start(config).await;
    let mut users = Vec::new();
    for i in 0..SENDERS + LISTENERS {
        users.push(server.user(&format!("racer{i}")).await);
    }
    let most_parked = Arc::new(AtomicU64::new(0));
    let watch = {
        let metrics = server.metrics.clone();
        let most_parked = most_parked.clone();
        tokio::spawn(async move {
            loop {
                most_parked.fetch_max(metrics.sessions_parked.get(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let mut clients = Vec::new();
    for (i, (client, mut events)) in users.into_iter().enumerate() {
        let from_others = if i < SENDERS { SENDERS - 1 } else { SENDERS };
        receivers.push(tokio::spawn(async move {
            // Each sender's messages in the order sent: the next number
            // expected from each.
            let mut next_from = [0; SENDERS];
            for _ in 0..from_others * EACH {
                let text = next_chat(&mut events).await.text;
                let (from, n) = text
                    .strip_prefix("racer")
                    .and_then(|rest| rest.split_once(' '))
                    .map(|(from, n)| (from.parse::<usize>().unwrap(), n.parse::<usize>().unwrap()))
                    .unwrap();
                assert_ne!(from, i, "racer{i} got its own message back");
                assert_eq!(n, next_from[from], "racer{i} got {text:?} out of turn");
                next_from[from] += 1;
            }
        }));
        if i < SENDERS {
            senders.push(tokio::spawn(async move {
                for n in 0..EACH {
                    tokio::time::timeout(LATE, client.chat(&format!("racer{i} {n}")))
                        .await
                        .expect("a Chat is answered at once, not at a heartbeat")
                        .unwrap();
                    // Pauses around park_idle: some sessions are on their
                    // way into the lot as the next message comes.
                    let pause = (i * 7 + n * 3) % 9;
                    tokio::time::sleep(Duration::from_millis(pause as u64)).await;
                }
                client
            }));
        } else {
            clients.push(client);
        }
    }
    for sender in senders {
        clients.push(sender.await.unwrap());
    }
    let all_sent = tokio::time::Instant::now();
    for receiver in receivers {
        tokio::time::timeout_at(all_sent + LATE, receiver)
            .await
            .expect("every message arrives soon after it was sent, not at a heartbeat")
            .unwrap();
    }
    watch.abort();
    assert!(
        most_parked.load(Ordering::Relaxed) > 0,
        "no session parked: the test did not test parking"
    );
    server.stop().await.unwrap();
}
