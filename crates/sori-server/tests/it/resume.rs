//! Resume after a reconnect, the resume bound, and offline whispers.

use std::sync::Arc;
use std::time::Duration;

use sori_client::Event;
use sori_client::raw::RawConnection;
use sori_core::config::RoomLimits;
use sori_protocol::pb;
use sori_protocol::{Frame, Message};
use sori_store::SqliteStore;

use crate::support::{self, PASSWORD, next_where, read_raw};

/// Logs in over a raw connection and returns it with the LoginOk.
async fn raw_login(server: &support::TestServer, username: &str) -> (RawConnection, pb::LoginOk) {
    let mut conn = server.raw().await;
    conn.write_frame(
        1,
        &Message::Login(pb::Login {
            username: username.into(),
            password: PASSWORD.into(),
            token: String::new(),
        }),
    )
    .await
    .unwrap();
    loop {
        match read_raw(&mut conn).await {
            Some(Frame {
                request_id: 1,
                message: Message::LoginOk(ok),
            }) => return (conn, ok),
            Some(Frame {
                request_id: 1,
                message,
            }) => panic!("login failed: {message:?}"),
            Some(_) => continue,
            None => panic!("closed during login"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_a_cut_connection_has_no_gap_and_no_duplicate() {
    const TOTAL: u64 = 400;
    let server = support::start(support::config()).await;
    let (sender, _se) = server.user("sender").await;
    let (setup, _re) = server.user("reader").await;
    sender.create_room("stream", "", false).await.unwrap();
    setup.join_room("stream", 0, 0).await.unwrap();
    drop(setup);

    // The sender talks without pause for the whole test.
    let talk = tokio::spawn(async move {
        for n in 1..=TOTAL {
            sender.chat_in("stream", &format!("n{n}")).await.unwrap();
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });

    // The reader reads part of the stream, then its connection is cut.
    let (mut conn, _) = raw_login(&server, "reader").await;
    let mut got: Vec<u64> = Vec::new();
    while got.len() < 60 {
        if let Some(Frame {
            message: Message::ChatMessage(msg),
            ..
        }) = read_raw(&mut conn).await
            && msg.room == "stream"
        {
            got.push(msg.seq);
        }
    }
    drop(conn);
    let last_seen = *got.last().unwrap();

    // Reconnect, log in (the room is live again at once), and resume.
    let (mut conn, login) = raw_login(&server, "reader").await;
    let live_from = login
        .rooms
        .iter()
        .find(|r| r.name == "stream")
        .unwrap()
        .last_seq;
    conn.write_frame(
        2,
        &Message::JoinRoom(pb::JoinRoom {
            name: "stream".into(),
            since_seq: last_seen,
            history_limit: 0,
            room_id: 0,
        }),
    )
    .await
    .unwrap();
    let mut early = Vec::new();
    let joined = loop {
        match read_raw(&mut conn).await.expect("open") {
            Frame {
                message: Message::ChatMessage(msg),
                ..
            } => early.push(msg.seq),
            Frame {
                request_id: 2,
                message: Message::RoomJoined(joined),
            } => break joined,
            _ => continue,
        }
    };
    assert!(joined.resumed && !joined.reload_required);
    let history: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    assert_eq!(
        history,
        (last_seen + 1..=joined.last_seq).collect::<Vec<_>>(),
        "exactly the missed messages"
    );
    // What arrived live before RoomJoined is already in its history: the
    // server attached the session at login, from `live_from` on.
    assert!(
        early
            .iter()
            .all(|seq| *seq > live_from && *seq <= joined.last_seq)
    );
    // After RoomJoined, live messages continue right after its last_seq.
    let mut next = joined.last_seq + 1;
    while next <= TOTAL {
        if let Some(Frame {
            message: Message::ChatMessage(msg),
            ..
        }) = read_raw(&mut conn).await
            && msg.room == "stream"
        {
            assert_eq!(msg.seq, next, "no gap, no duplicate after RoomJoined");
            next += 1;
        }
    }
    talk.await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn past_the_resume_bound_the_client_is_told_to_reload() {
    let config = sori_server::Config {
        rooms: RoomLimits {
            resume_max: 10,
            ..RoomLimits::default()
        },
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _ae) = server.user("alice").await;
    let (bob, _be) = server.user("bob").await;
    alice.create_room("busy", "", false).await.unwrap();
    bob.join_room("busy", 0, 0).await.unwrap();
    for n in 1..=30 {
        alice.chat_in("busy", &format!("{n}")).await.unwrap();
    }
    // Ten missed: resumed exactly.
    let joined = bob.join_room("busy", 20, 0).await.unwrap();
    assert!(joined.resumed);
    assert_eq!(
        joined.history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (21..=30).collect::<Vec<_>>()
    );
    // Eleven missed: over the bound.
    let joined = bob.join_room("busy", 19, 5).await.unwrap();
    assert!(joined.reload_required && !joined.resumed);
    assert_eq!(
        joined.history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [26, 27, 28, 29, 30]
    );
    // A since_seq from the future (the server lost it) also means reload.
    let joined = bob.join_room("busy", 99, 5).await.unwrap();
    assert!(joined.reload_required);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn offline_whispers_arrive_at_the_next_login_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (alice, _ae) = server.user("alice").await;
    let (bob, _be) = server.user("bob").await;
    bob.logout().await.unwrap();
    let mut sent = Vec::new();
    for n in 1..=3 {
        let ack = alice
            .whisper("bob", &format!("while you were out {n}"))
            .await
            .unwrap();
        assert!(ack.stored);
        sent.push(ack.timestamp_ms);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    drop(alice);
    server.stop().await.unwrap();

    // Stored durably: they survive a restart too.
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let server = support::start_with(support::config(), store).await;
    let (bob, mut bob_events) = server.connect().await;
    let login = bob.login("bob", PASSWORD).await.unwrap();
    assert_eq!(login.offline_whispers, 3);
    for (n, timestamp_ms) in sent.iter().enumerate() {
        let whisper = next_where(&mut bob_events, |e| match e {
            Event::Whisper(w) => Some(w),
            _ => None,
        })
        .await;
        assert!(whisper.offline);
        assert_eq!(whisper.text, format!("while you were out {}", n + 1));
        assert_eq!(whisper.timestamp_ms, *timestamp_ms, "original timestamp");
        assert_eq!(whisper.from.unwrap().username, "alice");
    }
    bob.logout().await.unwrap();
    let (bob, mut bob_events) = server.connect().await;
    let login = bob.login("bob", PASSWORD).await.unwrap();
    assert_eq!(login.offline_whispers, 0, "delivered once");
    assert_eq!(login.rooms[0].name, "", "the lobby is listed first");
    bob.ping().await.unwrap();
    assert!(!std::iter::from_fn(|| bob_events.try_next()).any(|e| matches!(e, Event::Whisper(_))));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_mailbox_refuses_more_offline_whispers() {
    let config = sori_server::Config {
        max_offline_whispers: 2,
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _ae) = server.user("alice").await;
    let (bob, _be) = server.connect().await;
    bob.register("bob", PASSWORD, "").await.unwrap();
    alice.whisper("bob", "one").await.unwrap();
    alice.whisper("bob", "two").await.unwrap();
    assert_eq!(
        support::server_code(alice.whisper("bob", "three").await),
        sori_protocol::pb::ErrorCode::MailboxFull
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sori_client_sessions_resume_by_themselves() {
    const TOTAL: u64 = 300;
    let server = support::start(support::config()).await;
    let (sender, _se) = server.user("sender").await;
    let (setup, _re) = server.user("reader").await;
    sender.create_room("stream", "", false).await.unwrap();
    setup.join_room("stream", 0, 0).await.unwrap();
    drop(setup);
    let (mut session, mut events) = sori_client::Session::connect(
        server.addr,
        sori_client::ConnectOptions::default(),
        "reader",
        PASSWORD,
    )
    .await
    .unwrap();
    let talk = tokio::spawn(async move {
        for n in 1..=TOTAL {
            sender.chat_in("stream", &format!("n{n}")).await.unwrap();
            sender.chat(&format!("lobby {n}")).await.unwrap();
            if n % 25 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let mut stream = Vec::new();
    let mut lobby = Vec::new();
    let mut cut = false;
    while stream.len() < TOTAL as usize || lobby.len() < TOTAL as usize {
        if !cut && stream.len() >= 80 {
            // Cut the connection mid-stream and let the session resume.
            cut = true;
            session.client().close();
            let joined = session.reconnect().await.unwrap();
            assert!(joined.iter().all(|j| !j.reload_required));
        }
        let event = tokio::time::timeout(support::WAIT, events.next())
            .await
            .expect("an event in time");
        match event {
            Event::Chat(msg) if msg.room == "stream" => stream.push(msg.seq),
            Event::Chat(msg) if msg.room.is_empty() => lobby.push(msg.seq),
            Event::Closed => panic!("the session ended"),
            _ => {}
        }
    }
    assert_eq!(
        stream,
        (1..=TOTAL).collect::<Vec<_>>(),
        "room: no gap, no duplicate"
    );
    assert_eq!(
        lobby,
        (1..=TOTAL).collect::<Vec<_>>(),
        "lobby: no gap, no duplicate"
    );
    talk.await.unwrap();
    server.stop().await.unwrap();
}
