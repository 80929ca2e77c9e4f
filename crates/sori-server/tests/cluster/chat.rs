//! Room chat, whispers and rooms across nodes.

use std::collections::BTreeMap;

use sori_client::Event;
use tokio::task::JoinSet;

use crate::support::{Services, eventually, next, next_chat};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lobby_chat_from_three_nodes_arrives_in_one_order_everywhere() {
    const PER_SENDER: usize = 25;
    let Some(services) = Services::start("lobby_chat_from_three_nodes").await else {
        return;
    };
    let nodes = [
        services.node("n1").await,
        services.node("n2").await,
        services.node("n3").await,
    ];
    // Two users on each node; every one of them sends.
    let mut users = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        for u in 0..2 {
            users.push(node.user(&format!("user{n}{u}")).await);
        }
    }
    let senders = users.len();
    let total = senders * PER_SENDER;
    let mut tasks = JoinSet::new();
    for (i, (client, mut events)) in users.into_iter().enumerate() {
        tasks.spawn(async move {
            // Send and collect at once: (seq -> (sender, text)) as seen here,
            // in arrival order, plus this user's own acked numbers.
            let sending = {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut acked = Vec::new();
                    for k in 0..PER_SENDER {
                        let ack = client.chat(&format!("{i}:{k}")).await.expect("chat acked");
                        acked.push((ack.seq, format!("{i}:{k}")));
                    }
                    acked
                })
            };
            let mut seen = Vec::new();
            while seen.len() < total - PER_SENDER {
                let msg = next_chat(&mut events).await;
                let from = msg.from.map(|u| u.username).unwrap_or_default();
                seen.push((msg.seq, from, msg.text));
            }
            (i, seen, sending.await.expect("sender"), client)
        });
    }
    let mut order: BTreeMap<u64, String> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (i, seen, acked, _client) = done.expect("user task");
        // One order: numbers only go up, for every member.
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0),
            "user {i} saw numbers out of order"
        );
        // Every node agrees on what each number is.
        for (seq, _, text) in &seen {
            let prior = order.insert(*seq, text.clone());
            assert!(prior.is_none_or(|p| &p == text), "two texts for seq {seq}");
        }
        for (seq, text) in acked {
            let prior = order.insert(seq, text.clone());
            assert!(
                prior.is_none_or(|p| p == text),
                "ack {seq} names another text"
            );
        }
    }
    assert_eq!(order.len(), total, "every message numbered once");
    let first = *order.keys().next().expect("messages");
    let last = *order.keys().last().expect("messages");
    assert_eq!(last - first + 1, total as u64, "no gap, no repeat");
    for node in nodes {
        node.stop().await;
    }
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whispers_rooms_and_members_reach_across_nodes() {
    let Some(services) = Services::start("whispers_rooms_and_members").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let n3 = services.node("n3").await;
    let (alice, mut alice_events) = n1.user("alice").await;
    let (bob, mut bob_events) = n2.user("bob").await;
    let (carol, mut carol_events) = n3.user("carol").await;

    // A whisper to a user on another node arrives there, live.
    let ack = alice.whisper("bob", "psst").await.expect("whisper");
    assert!(!ack.stored, "bob is online, on n2");
    loop {
        if let Event::Whisper(w) = next(&mut bob_events).await {
            assert_eq!(w.text, "psst");
            assert_eq!(w.from.expect("from").username, "alice");
            break;
        }
    }

    // A room made on n1 is joined from n2 and n3; its chat and its member
    // list are the same everywhere.
    alice.create_room("rust", "", false).await.expect("create");
    eventually("n2 knows the room", || async {
        bob.join_room("rust", 0, 0).await.is_ok()
    })
    .await;
    eventually("n3 knows the room", || async {
        carol.join_room("rust", 0, 0).await.is_ok()
    })
    .await;
    let list = || async {
        let mut names: Vec<String> = alice
            .list_members("rust")
            .await
            .expect("members")
            .into_iter()
            .map(|m| m.user.map(|u| u.username).unwrap_or_default())
            .collect();
        names.sort();
        names
    };
    eventually("n1 lists all three members", || async {
        list().await.len() == 3
    })
    .await;
    let members = list().await;
    assert_eq!(members, ["alice", "bob", "carol"]);

    let sent = carol.chat_in("rust", "hello from n3").await.expect("chat");
    for events in [&mut alice_events, &mut bob_events] {
        let msg = loop {
            let msg = next_chat(events).await;
            if msg.room == "rust" {
                break msg;
            }
        };
        assert_eq!(msg.text, "hello from n3");
        assert_eq!(msg.seq, sent.seq);
    }
    let _ = &mut carol_events;
    for node in [n1, n2, n3] {
        node.stop().await;
    }
    services.finish().await;
}
