//! Session life cycle: timeouts, heartbeats, the session limit, shutdown.
//!
//! Timeouts are configured short and run on the real clock: the server and
//! clients talk over real sockets, which a paused tokio clock would race.

use std::time::Duration;

use sori_client::Event;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};

use crate::support::{
    self, eventually, expect_kicked, next, read_raw, read_raw_kicked, read_raw_pings_until_kicked,
};

#[tokio::test]
async fn a_connection_that_never_logs_in_is_closed_with_a_reason() {
    let config = sori_server::Config {
        login_timeout: Duration::from_millis(300),
        ..support::config()
    };
    let server = support::start(config).await;
    let started = std::time::Instant::now();
    let mut conn = server.raw().await;
    // Pinging is not logging in.
    conn.write_frame(1, &Message::Ping(pb::Ping { nonce: 1 }))
        .await
        .unwrap();
    assert_eq!(read_raw_kicked(&mut conn).await, ErrorCode::LoginTimeout);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(read_raw(&mut conn).await, None);

    // One that logs in in time stays.
    let (client, _events) = server.user("prompt").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.chat("still here").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_session_is_pinged_then_closed_but_one_that_answers_stays() {
    let config = sori_server::Config {
        heartbeat_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(600),
        ..support::config()
    };
    let server = support::start(config).await;

    // sori-client answers the server's Pings by itself.
    let (lively, _lively_events) = server.user("lively").await;

    let mut conn = server.raw_user("silent").await;
    let (pinged, code) = read_raw_pings_until_kicked(&mut conn).await;
    assert!(pinged, "the server pings before giving up");
    assert_eq!(code, ErrorCode::IdleTimeout);

    tokio::time::sleep(Duration::from_millis(300)).await;
    lively.chat("I answered every ping").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn past_max_sessions_a_new_connection_is_told_the_server_is_full() {
    let config = sori_server::Config {
        max_sessions: 3,
        ..support::config()
    };
    let server = support::start(config).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (client, events) = server.connect().await;
        client.ping().await.unwrap();
        clients.push((client, events));
    }
    let mut extra = server.raw().await;
    assert_eq!(read_raw_kicked(&mut extra).await, ErrorCode::ServerFull);
    assert_eq!(read_raw(&mut extra).await, None);
    assert_eq!(server.metrics.refused_full.get(), 1);

    // A freed place can be taken again.
    clients.pop();
    eventually("a session ends", || server.metrics.sessions.get() == 2).await;
    let fits = loop {
        let (client, _events) = server.connect().await;
        if client.ping().await.is_ok() {
            break client;
        }
        // The freed socket may still be closing; try again.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    fits.ping().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_clients_flushes_their_queues_and_returns() {
    let server = support::start(support::config()).await;
    let (alice, mut alice_events) = server.user("alice").await;
    let (bob, mut bob_events) = server.user("bob").await;
    assert!(matches!(
        next(&mut alice_events).await,
        Event::UserJoined(_)
    ));
    for n in 0..100 {
        bob.chat(&format!("before shutdown {n}")).await.unwrap();
    }
    let addr = server.addr;
    server.stop().await.unwrap();

    // Everything acknowledged before the shutdown was delivered, then the reason.
    for n in 0..100 {
        match next(&mut alice_events).await {
            Event::Chat(msg) => assert_eq!(msg.text, format!("before shutdown {n}")),
            other => panic!("expected message {n}, got {other:?}"),
        }
    }
    expect_kicked(&mut alice_events, ErrorCode::ShuttingDown).await;
    expect_kicked(&mut bob_events, ErrorCode::ShuttingDown).await;
    assert!(alice.ping().await.is_err());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
