//! Who is online, across nodes: user lists, presence notices, duplicate
//! logins (also racing ones), and the users of a node that died.

use std::time::Duration;

use sori_client::Event;
use sori_protocol::pb::ErrorCode;

use crate::support::{
    ChildNode, PASSWORD, Services, config, connect, eventually, expect_kicked, online, until,
};

/// A configuration whose presence entries expire in 3 s (refreshed every
/// second), so expiry shows within a test.
fn short_ttl() -> sori_server::Config {
    let mut config = config();
    config.cluster.presence_ttl = Duration::from_secs(3);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_lists_and_presence_notices_span_nodes() {
    let Some(services) = Services::start("user_lists_and_presence_notices").await else {
        return;
    };
    let n1 = services.node_with("n1", short_ttl()).await;
    let n2 = services.node_with("n2", short_ttl()).await;
    let n3 = services.node_with("n3", short_ttl()).await;
    let (alice, mut alice_events) = n1.user("alice").await;
    let (bob, _bob_events) = n2.user("bob").await;
    let (carol, _carol_events) = n3.user("carol").await;
    for client in [&alice, &bob, &carol] {
        eventually("every node lists all three", || async {
            online(client).await == ["alice", "bob", "carol"]
        })
        .await;
    }

    // dave comes and goes on n3: alice, on n1, is told both.
    let (dave, _dave_events) = n3.user("dave").await;
    until(
        &mut alice_events,
        |e| matches!(e, Event::UserJoined(u) if u.username == "dave"),
    )
    .await;
    dave.logout().await.expect("logout");
    until(
        &mut alice_events,
        |e| matches!(e, Event::UserLeft(u) if u.username == "dave"),
    )
    .await;
    eventually("dave is gone from n2's list", || async {
        !online(&bob).await.contains(&"dave".to_owned())
    })
    .await;
    for node in [n1, n2, n3] {
        node.stop().await;
    }
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_on_another_node_replaces_the_first() {
    let Some(services) = Services::start("a_second_login_on_another_node").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (first, mut first_events) = n1.user("alice").await;
    let (watcher, mut watcher_events) = n2.user("watcher").await;
    let (second, _second_events) = n2.login("alice").await;
    expect_kicked(&mut first_events, ErrorCode::LoggedInElsewhere).await;
    assert!(second.ping().await.is_ok(), "the newer login stays");
    // alice never went offline: no UserLeft for her, and she is listed once.
    eventually("alice is listed once", || async {
        online(&watcher).await == ["alice", "watcher"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(event) =
        tokio::time::timeout(Duration::from_millis(50), watcher_events.next()).await
    {
        assert!(
            !matches!(&event, Event::UserLeft(u) if u.username == "alice"),
            "a replaced login is not a user leaving"
        );
    }
    let _ = first;
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_logins_racing_on_two_nodes_leave_exactly_one() {
    let Some(services) = Services::start("two_logins_racing").await else {
        return;
    };
    let n1 = services.node("n1").await;
    let n2 = services.node("n2").await;
    let (setup, _) = n1.user("alice").await;
    setup.logout().await.expect("logout");
    let (watcher, _watcher_events) = n1.user("watcher").await;
    for round in 0..5 {
        let (a, mut a_events) = connect(n1.addr).await;
        let (b, mut b_events) = connect(n2.addr).await;
        let (ra, rb) = tokio::join!(a.login("alice", PASSWORD), b.login("alice", PASSWORD));
        ra.expect("login on n1");
        rb.expect("login on n2");
        // Exactly one of them is replaced, whichever Redis ordered first.
        let kicked = tokio::select! {
            _ = expect_kicked(&mut a_events, ErrorCode::LoggedInElsewhere) => "n1",
            _ = expect_kicked(&mut b_events, ErrorCode::LoggedInElsewhere) => "n2",
        };
        let survivor = if kicked == "n1" { &b } else { &a };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            survivor.ping().await.is_ok(),
            "round {round}: the login Redis ordered last stays"
        );
        eventually("alice is listed once", || async {
            online(&watcher).await == ["alice", "watcher"]
        })
        .await;
        survivor.logout().await.expect("logout");
        eventually("alice is gone", || async {
            online(&watcher).await == ["watcher"]
        })
        .await;
    }
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_of_a_killed_node_expire_from_presence() {
    let Some(services) = Services::start("the_users_of_a_killed_node").await else {
        return;
    };
    let n1 = services.node_with("n1", short_ttl()).await;
    let (alice, mut alice_events) = n1.user("alice").await;
    let doomed = ChildNode::start(&services, "doomed", "").await;
    let (erin, _erin_events) = connect(doomed.addr).await;
    erin.register("erin", PASSWORD, "").await.expect("register");
    erin.login("erin", PASSWORD).await.expect("login");
    eventually("n1 lists erin", || async {
        online(&alice).await.contains(&"erin".to_owned())
    })
    .await;

    let killed = std::time::Instant::now();
    doomed.kill();
    until(
        &mut alice_events,
        |e| matches!(e, Event::UserLeft(u) if u.username == "erin"),
    )
    .await;
    // TTL 3 s, swept every second by the surviving node.
    assert!(
        killed.elapsed() < Duration::from_secs(8),
        "erin expired after {:?}",
        killed.elapsed()
    );
    assert_eq!(online(&alice).await, ["alice"]);
    n1.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_user_stays_online_past_the_ttl() {
    let Some(services) = Services::start("a_renamed_user_stays_online").await else {
        return;
    };
    let n1 = services.node_with("n1", short_ttl()).await;
    let n2 = services.node_with("n2", short_ttl()).await;
    let (alice, _) = n1.user("alice").await;
    let (bob, mut bob_events) = n2.user("bob").await;
    alice.set_display_name("Alice A.").await.expect("rename");
    // Twice the TTL: refreshes must keep her entry, under its new name.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(online(&bob).await, ["alice", "bob"]);
    eventually("n2 lists the new name", || async {
        bob.list_users()
            .await
            .expect("users")
            .iter()
            .any(|u| u.display_name == "Alice A.")
    })
    .await;
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(50), bob_events.next()).await {
        assert!(
            !matches!(&event, Event::UserLeft(u) if u.username == "alice"),
            "alice never left"
        );
    }
    // Her logout, after the rename, takes her out at once.
    alice.logout().await.expect("logout");
    eventually("alice is gone", || async { online(&bob).await == ["bob"] }).await;
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}
