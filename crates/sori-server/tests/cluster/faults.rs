//! Redis going away and coming back; nodes restarting and being killed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use sori_client::{Client, ClientError, Event};
use sori_protocol::pb::{self, ErrorCode};

use crate::support::{ChildNode, PASSWORD, Services, WAIT, connect, eventually, next};

/// Sends `text` to the lobby until it is acknowledged, retrying while the
/// node answers UNAVAILABLE (Redis away). Returns the ack's number.
async fn chat_retrying(client: &Client, text: &str) -> u64 {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match client.chat(text).await {
            Ok(ack) => return ack.seq,
            Err(ClientError::Server {
                code: ErrorCode::Unavailable,
                ..
            }) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "redis did not come back"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("chat failed: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_chat_loses_nothing_acknowledged() {
    let Some(mut services) = Services::start("redis_restarted_mid_chat").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (alice, _alice_events) = n1.user("alice").await;
    let (_bob, mut bob_events) = n2.user("bob").await;
    let (local, mut local_events) = n1.user("local").await;

    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for k in 0..20 {
        let text = format!("before {k}");
        acked.insert(chat_retrying(&alice, &text).await, text);
    }
    let before_stop = *acked.keys().last().expect("acked");
    services.redis.stop();
    eventually("n1 says the bus is down", || async {
        n1.metrics.bus_up.get() == 0
    })
    .await;
    let (status, why) = n1.readyz().await;
    assert!(status.contains(" 503 "), "{status}");
    assert!(why.contains("redis"), "{why}");
    // While Redis is away, room messages are refused, plainly and
    // retryably; whispers between users of one node still work.
    let refused = alice.chat("while away").await;
    assert!(
        matches!(
            &refused,
            Err(ClientError::Server {
                code: ErrorCode::Unavailable,
                ..
            })
        ),
        "{refused:?}"
    );
    alice
        .whisper("local", "still here")
        .await
        .expect("a whisper on one node");
    loop {
        if let Event::Whisper(w) = next(&mut local_events).await {
            assert_eq!(w.text, "still here");
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    services.redis.restart();
    eventually("n1 says the bus is up again", || async {
        n1.metrics.bus_up.get() == 1
    })
    .await;
    let (status, _) = n1.readyz().await;
    assert!(status.contains(" 200 "), "{status}");
    for k in 0..20 {
        let text = format!("after {k}");
        acked.insert(chat_retrying(&alice, &text).await, text);
    }

    // bob, on the other node, gets every acknowledged message once, in
    // order; the numbers after the restart continue above the old ones
    // (seeded from PostgreSQL), never repeating one.
    let mut seen: Vec<(u64, String)> = Vec::new();
    let want: HashSet<&String> = acked.values().collect();
    while !want.iter().all(|text| seen.iter().any(|(_, t)| t == *text)) {
        match next(&mut bob_events).await {
            Event::Chat(msg) => seen.push((msg.seq, msg.text)),
            Event::Closed => panic!("bob's session closed"),
            _ => {}
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "one order: {seen:?}"
    );
    for (seq, text) in &seen {
        if let Some(acked_text) = acked.get(seq) {
            assert_eq!(acked_text, text, "seq {seq} names one message");
        }
    }
    // A client that last saw a number from before the outage resumes with
    // exactly the acknowledged messages since: no gap, no duplicate.
    let (again, _) = n1.login("bob").await;
    let joined = again
        .join_room("", before_stop, 100)
        .await
        .expect("resume the lobby");
    let resumed: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    let want: Vec<u64> = acked
        .range(before_stop + 1..)
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(resumed, want, "the resume holds every acked message once");
    let _ = local;
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_the_same_database_resumes_its_clients() {
    let Some(services) = Services::start("a_node_restarted").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (alice, _alice_events) = n1.user("alice").await;
    let (bob, mut bob_events) = n2.user("bob").await;
    let first = alice.chat("one").await.expect("chat");
    assert_eq!(bob_next_text(&mut bob_events).await, "one");
    drop(bob);
    n2.stop().await;

    let mut missed = Vec::new();
    for k in 0..5 {
        missed.push(alice.chat(&format!("missed {k}")).await.expect("chat").seq);
    }
    let n2 = services.node("n2").await;
    let (bob, _bob_events) = n2.login("bob").await;
    // A resume after the last number bob saw gets exactly what he missed.
    let joined = bob
        .join_room("", first.seq, 100)
        .await
        .expect("resume the lobby");
    let got: Vec<u64> = joined.history.iter().map(|m| m.seq).collect();
    assert_eq!(got, missed, "no gap, no duplicate");
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

async fn bob_next_text(events: &mut sori_client::Events) -> String {
    loop {
        if let Event::Chat(msg) = next(events).await {
            return msg.text;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_sigkill_loses_nothing_acknowledged() {
    let Some(services) = Services::start("a_node_killed_with_sigkill").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let (alice, mut alice_events) = n1.user("alice").await;
    let unlimited = "[limits]\nmessages_per_sec = 100000.0\nmessages_burst = 100000.0";
    let doomed = ChildNode::start(&services, "doomed", unlimited).await;
    let (erin, _erin_events) = connect(doomed.addr).await;
    erin.register("erin", PASSWORD, "").await.expect("register");
    erin.login("erin", PASSWORD).await.expect("login");
    let mut acked = Vec::new();
    for k in 0..50 {
        acked.push(
            erin.chat(&format!("from doomed {k}"))
                .await
                .expect("chat")
                .seq,
        );
    }
    doomed.kill();

    // Delivered live to n1 ...
    let mut live = Vec::new();
    while live.len() < acked.len() {
        if let Event::Chat(msg) = next(&mut alice_events).await {
            live.push(msg.seq);
        }
    }
    assert_eq!(live, acked);
    // ... and on disk: every acknowledged message is in the history.
    let page = alice.history("", u64::MAX, 100).await.expect("history");
    let stored: Vec<u64> = page
        .messages
        .iter()
        .map(|m: &pb::ChatMessage| m.seq)
        .collect();
    for seq in &acked {
        assert!(stored.contains(seq), "acked {seq} is stored");
    }
    eventually("n1 still serves", || async { alice.ping().await.is_ok() }).await;
    n1.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_that_went_back_never_repeats_a_number() {
    let Some(services) = Services::start("a_counter_that_went_back").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (alice, _) = connect(n1.addr).await;
    alice
        .register("alice", PASSWORD, "")
        .await
        .expect("register");
    let login = alice.login("alice", PASSWORD).await.expect("login");
    let lobby = login.rooms[0].room_id;
    let (_bob, mut bob_events) = n2.user("bob").await;
    let mut last = 0;
    for k in 0..5 {
        last = alice.chat(&format!("before {k}")).await.expect("chat").seq;
        assert_eq!(bob_next_text(&mut bob_events).await, format!("before {k}"));
    }
    // Redis comes back from an old snapshot: the room's counter is behind
    // what was handed out.
    let key = format!("sori:{{r{lobby}}}:meta");
    let reply = services.redis.command(&["HSET", &key, "seq", "1"]);
    assert!(reply.starts_with(':'), "{reply}");
    let next_seq = alice.chat("after").await.expect("chat").seq;
    assert!(next_seq > last, "{next_seq} repeats a number up to {last}");
    assert_eq!(bob_next_text(&mut bob_events).await, "after");
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}
