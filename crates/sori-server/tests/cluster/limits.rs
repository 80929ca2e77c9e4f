//! Per-address and per-account limits hold for the cluster as a whole.

use std::time::Duration;

use sori_client::{ClientError, Event};
use sori_protocol::pb::ErrorCode;

use crate::support::{PASSWORD, Services, config, connect, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_counted_over_all_nodes() {
    let Some(services) = Services::start("connections_per_address").await else {
        return;
    };
    let mut limited = config();
    limited.limits.max_connections_per_ip = 3;
    let n1 = services.node_with("n1", limited.clone()).await;
    let n2 = services.node_with("n2", limited).await;
    let (a, _) = connect(n1.addr).await;
    let (b, _) = connect(n1.addr).await;
    let (c, _) = connect(n2.addr).await;
    for client in [&a, &b, &c] {
        client.hello().await.expect("under the limit");
    }
    // Two open on n1 and one on n2: a fourth, on n2, is one too many.
    eventually("n2 refuses a fourth connection", || async {
        let (d, mut d_events) = connect(n2.addr).await;
        match tokio::time::timeout(Duration::from_secs(2), d_events.next()).await {
            Ok(Event::Kicked { code, .. }) => code == ErrorCode::TooManyConnections,
            _ => {
                d.close();
                false
            }
        }
    })
    .await;
    // One closes on n1: n2 takes a new one.
    a.close();
    eventually("n2 admits one again", || async {
        let (d, _d_events) = connect(n2.addr).await;
        let ok = d.hello().await.is_ok();
        if ok {
            // Keep the count where it was for the next round.
            d.close();
        }
        ok
    })
    .await;
    drop((b, c));
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_on_one_node_throttle_the_account_on_another() {
    let Some(services) = Services::start("failed_logins_on_one_node").await else {
        return;
    };
    let mut throttled = config();
    throttled.limits.login = sori_server::rate::LimitsConfig::default().login;
    let n1 = services.node_with("n1", throttled.clone()).await;
    let n2 = services.node_with("n2", throttled).await;
    let (setup, _) = n1.user("alice").await;
    setup.logout().await.expect("logout");

    let (guesser, _) = connect(n1.addr).await;
    let mut guesses = 0;
    loop {
        guesses += 1;
        assert!(guesses <= 10, "n1 never throttled alice");
        match guesser.login("alice", "wrong password!").await {
            Err(ClientError::Server {
                code: ErrorCode::BadCredentials,
                ..
            }) => continue,
            Err(ClientError::Server {
                code: ErrorCode::LoginThrottled,
                ..
            }) => break,
            other => panic!("unexpected answer to a wrong password: {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Even the right password waits, on the other node too.
    let (other, _) = connect(n2.addr).await;
    let res = other.login("alice", PASSWORD).await;
    assert!(
        matches!(
            res,
            Err(ClientError::Server {
                code: ErrorCode::LoginThrottled,
                ..
            })
        ),
        "n2 let alice in after {guesses} guesses on n1: {res:?}"
    );
    n1.stop().await;
    n2.stop().await;
    services.finish().await;
}
