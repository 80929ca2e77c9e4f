//! Lobby chat, whispers, presence, and slow consumers.

use std::collections::BTreeMap;
use std::time::Duration;

use sori_client::{Client, Event, Events};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::task::JoinSet;

use crate::support::{self, PASSWORD, eventually, next, next_chat, server_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_members_see_one_order_while_five_send_at_once() {
    const MEMBERS: usize = 50;
    const SENDERS: usize = 5;
    const PER_SENDER: usize = 40;
    const TOTAL: usize = SENDERS * PER_SENDER;
    let server = support::start(support::config()).await;
    let mut clients: Vec<(Client, Events)> = Vec::new();
    for i in 0..MEMBERS {
        clients.push(server.user(&format!("member{i:02}")).await);
    }

    // Every member collects what it sees, in arrival order.
    let mut senders = Vec::new();
    let mut collectors = JoinSet::new();
    for (i, (client, mut events)) in clients.into_iter().enumerate() {
        let expect = if i < SENDERS {
            TOTAL - PER_SENDER
        } else {
            TOTAL
        };
        if i < SENDERS {
            senders.push((i, client.clone()));
        }
        collectors.spawn(async move {
            let mut seen = Vec::with_capacity(expect);
            while seen.len() < expect {
                let msg = next_chat(&mut events).await;
                seen.push((msg.seq, msg.text));
            }
            drop(client);
            (i, seen)
        });
    }

    // Five senders at once; each records the sequence numbers it was acked.
    let mut sends = JoinSet::new();
    for (i, client) in senders {
        sends.spawn(async move {
            let mut acked = Vec::new();
            for n in 0..PER_SENDER {
                let text = format!("sender {i} message {n}");
                let ack = client.chat(&text).await.unwrap();
                acked.push((ack.seq, text));
            }
            (i, acked)
        });
    }
    let mut by_seq: BTreeMap<u64, String> = BTreeMap::new();
    let mut acked_by = vec![Vec::new(); SENDERS];
    while let Some(res) = sends.join_next().await {
        let (i, acked) = res.unwrap();
        let seqs: Vec<u64> = acked.iter().map(|(seq, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a sender's acks increase"
        );
        for (seq, text) in &acked {
            assert!(
                by_seq.insert(*seq, text.clone()).is_none(),
                "seq {seq} given twice"
            );
        }
        acked_by[i] = acked;
    }
    let all: Vec<u64> = by_seq.keys().copied().collect();
    assert_eq!(
        all,
        (1..=TOTAL as u64).collect::<Vec<_>>(),
        "sequence numbers have no gap"
    );

    while let Some(res) = collectors.join_next().await {
        let (i, seen) = res.unwrap();
        let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "member {i} sees messages in seq order"
        );
        for (seq, text) in &seen {
            assert_eq!(
                by_seq.get(seq),
                Some(text),
                "member {i}: seq {seq} has one text everywhere"
            );
        }
        // Everyone sees every message except their own.
        let own: Vec<u64> = acked_by
            .get(i)
            .map_or(Vec::new(), |a| a.iter().map(|(s, _)| *s).collect());
        let expected: Vec<u64> = all.iter().copied().filter(|s| !own.contains(s)).collect();
        assert_eq!(
            seqs, expected,
            "member {i} got exactly the others' messages"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_sender_gets_an_ack_not_its_own_message() {
    let server = support::start(support::config()).await;
    let (alice, mut alice_events) = server.user("alice").await;
    let (_bob, mut bob_events) = server.user("bob").await;
    let ack = alice.chat("hello").await.unwrap();
    assert_eq!(ack.seq, 1);
    assert!(ack.timestamp_ms > 1_700_000_000_000);
    let msg = next_chat(&mut bob_events).await;
    assert_eq!(
        (msg.seq, msg.timestamp_ms, msg.text.as_str()),
        (1, ack.timestamp_ms, "hello")
    );
    assert_eq!(msg.from.unwrap().username, "alice");
    // Alice got bob's join notice, and nothing else.
    assert!(matches!(next(&mut alice_events).await, Event::UserJoined(u) if u.username == "bob"));
    alice.ping().await.unwrap();
    assert_eq!(alice_events.try_next(), None);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn chat_text_rules() {
    let server = support::start(support::config()).await;
    let (alice, _events) = server.user("alice").await;
    assert_eq!(server_code(alice.chat("").await), ErrorCode::EmptyMessage);
    assert_eq!(
        server_code(alice.chat("   \n").await),
        ErrorCode::EmptyMessage
    );
    assert_eq!(
        server_code(alice.chat(&"x".repeat(2001)).await),
        ErrorCode::MessageTooLong
    );
    assert_eq!(
        server_code(alice.chat("beep\u{7}").await),
        ErrorCode::InvalidText
    );
    let res = alice
        .request(Message::Chat(pb::Chat {
            room: "nowhere".into(),
            text: "hi".into(),
        }))
        .await;
    assert_eq!(server_code(res), ErrorCode::NoSuchRoom);
    alice.chat(&"x".repeat(2000)).await.unwrap();
    alice.chat("line one\nline two\t안녕").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn join_and_leave_notices_and_the_user_list() {
    let server = support::start(support::config()).await;
    let (alice, mut alice_events) = server.user("alice").await;
    let (bob, mut bob_events) = server.user("bob").await;
    assert!(matches!(next(&mut alice_events).await, Event::UserJoined(u) if u.username == "bob"));

    let names =
        |users: Vec<pb::UserInfo>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(names(alice.list_users().await.unwrap()), ["alice", "bob"]);

    // Logout: Ok, then the server says why it closes.
    bob.logout().await.unwrap();
    support::expect_kicked(&mut bob_events, ErrorCode::LoggedOut).await;
    assert!(matches!(next(&mut alice_events).await, Event::UserLeft(u) if u.username == "bob"));
    assert_eq!(names(alice.list_users().await.unwrap()), ["alice"]);

    // A dropped connection is a leave too.
    let (carol, _carol_events) = server.user("carol").await;
    assert!(matches!(next(&mut alice_events).await, Event::UserJoined(u) if u.username == "carol"));
    drop(carol);
    assert!(matches!(next(&mut alice_events).await, Event::UserLeft(u) if u.username == "carol"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn whispers_arrive_in_order_with_lobby_messages() {
    let server = support::start(support::config()).await;
    let (alice, _alice_events) = server.user("alice").await;
    let (_bob, mut bob_events) = server.user("bob").await;
    for n in 0..20 {
        alice.chat(&format!("lobby {n}")).await.unwrap();
        let ack = alice.whisper("BOB", &format!("whisper {n}")).await.unwrap();
        assert!(ack.timestamp_ms > 0);
    }
    for n in 0..20 {
        match next(&mut bob_events).await {
            Event::Chat(msg) => assert_eq!(msg.text, format!("lobby {n}")),
            other => panic!("expected lobby {n}, got {other:?}"),
        }
        match next(&mut bob_events).await {
            Event::Whisper(msg) => {
                assert_eq!(msg.text, format!("whisper {n}"));
                assert_eq!(msg.from.unwrap().username, "alice");
            }
            other => panic!("expected whisper {n}, got {other:?}"),
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn whisper_errors() {
    // With offline whispers off, an offline user is an error.
    let config = sori_server::Config {
        offline_whispers: false,
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, _events) = server.user("alice").await;
    let (offline, _offline_events) = server.connect().await;
    offline.register("sleeper", PASSWORD, "").await.unwrap();
    assert_eq!(
        server_code(alice.whisper("nobody", "hi").await),
        ErrorCode::NoSuchUser
    );
    assert_eq!(
        server_code(alice.whisper("not a name!", "hi").await),
        ErrorCode::NoSuchUser
    );
    assert_eq!(
        server_code(alice.whisper("sleeper", "hi").await),
        ErrorCode::UserOffline
    );
    assert_eq!(
        server_code(alice.whisper("Alice", "hi").await),
        ErrorCode::WhisperToSelf
    );
    assert_eq!(
        server_code(alice.whisper("sleeper", "").await),
        ErrorCode::EmptyMessage
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_and_nobody_else_waits() {
    const MESSAGES: usize = 8_000;
    let config = sori_server::Config {
        outbound_queue_bytes: 256 * 1024,
        ..support::config()
    };
    let server = support::start(config).await;
    let (sender, _sender_events) = server.user("sender").await;
    let (_reader, mut reader_events) = server.user("reader").await;

    // The slow one logs in over a raw socket with a tiny receive buffer and
    // then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut slow = sori_client::raw::RawConnection::new(stream);
    slow.write_frame(
        1,
        &Message::Register(pb::Register {
            username: "sloth".into(),
            password: PASSWORD.into(),
            display_name: String::new(),
        }),
    )
    .await
    .unwrap();
    slow.write_frame(
        2,
        &Message::Login(pb::Login {
            username: "sloth".into(),
            password: PASSWORD.into(),
            token: String::new(),
        }),
    )
    .await
    .unwrap();
    eventually("sloth logs in", || server.metrics.sessions.get() == 3).await;
    let names = loop {
        let users = sender.list_users().await.unwrap();
        if users.len() == 3 {
            break users;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(names.iter().any(|u| u.username == "sloth"));

    // 8,000 messages of 1,000 bytes: far more than the sloth's queue bound
    // and socket buffers hold (at most 4 MiB here). Sent 50 at a time: a
    // burst well inside the bound, so a client that reads keeps up.
    let text = "x".repeat(1000);
    let mut sent = 0;
    while sent < MESSAGES {
        let mut batch = JoinSet::new();
        for _ in 0..50 {
            let sender = sender.clone();
            let text = text.clone();
            batch.spawn(async move { sender.chat(&text).await.map(|ack| ack.seq) });
        }
        while let Some(res) = batch.join_next().await {
            res.unwrap().expect("every message is acked");
            sent += 1;
        }
    }

    // The reader got every message, in order, with no gap.
    let mut last = 0;
    let mut got = 0;
    let mut sloth_left = false;
    while got < MESSAGES {
        match next(&mut reader_events).await {
            Event::Chat(msg) => {
                assert_eq!(msg.seq, last + 1);
                last = msg.seq;
                got += 1;
            }
            Event::UserJoined(user) => assert_eq!(user.username, "sloth"),
            Event::UserLeft(user) => {
                assert_eq!(user.username, "sloth");
                sloth_left = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    eventually("the sloth is cut off", || {
        server.metrics.slow_consumers.get() == 1
    })
    .await;
    if !sloth_left {
        assert!(
            matches!(next(&mut reader_events).await, Event::UserLeft(u) if u.username == "sloth")
        );
    }
    let users = sender.list_users().await.unwrap();
    assert_eq!(users.len(), 2, "the sloth is gone from the user list");
    drop(slow);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn past_the_presence_limit_logins_are_not_announced() {
    let config = sori_server::Config {
        presence_limit: 2,
        ..support::config()
    };
    let server = support::start(config).await;
    let (alice, mut alice_events) = server.user("alice").await;
    let (_bob, _be) = server.user("bob").await;
    assert!(matches!(next(&mut alice_events).await, Event::UserJoined(u) if u.username == "bob"));
    let (_carol, _ce) = server.user("carol").await;
    // Carol's login is not pushed, but the list is still complete.
    alice.ping().await.unwrap();
    assert_eq!(alice_events.try_next(), None);
    assert_eq!(alice.list_users().await.unwrap().len(), 3);
    server.stop().await.unwrap();
}
