//! Server admins: kick, ban (account and IP, for a time or forever), mute.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use sori_client::{Client, ClientError, ConnectOptions, Event};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::SqliteStore;

use crate::support::{self, PASSWORD, expect_kicked, next, next_chat, server_code};

fn config() -> sori_server::Config {
    sori_server::Config {
        admins: vec!["Boss".to_owned()],
        ..support::config()
    }
}

async fn admin(client: &Client, msg: Message) -> Result<(), ClientError> {
    client.request(msg).await.map(|_| ())
}

fn ban(username: &str, ip: &str, duration_secs: u64) -> Message {
    Message::AdminBan(pb::AdminBan {
        username: username.into(),
        ip: ip.into(),
        duration_secs,
        reason: "spam".into(),
    })
}

fn until_of<T: std::fmt::Debug>(res: Result<T, ClientError>) -> (ErrorCode, i64) {
    match res {
        Err(ClientError::Server { code, until_ms, .. }) => (code, until_ms),
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn only_admins_moderate() {
    let server = support::start(config()).await;
    let (_victim, _ve) = server.user("victim").await;
    let (user, _ue) = server.user("someone").await;
    let kick = Message::AdminKick(pb::AdminKick {
        username: "victim".into(),
        reason: String::new(),
    });
    assert_eq!(server_code(admin(&user, kick).await), ErrorCode::NotAdmin);
    let (boss, _be) = server.user("boss").await;
    assert_eq!(
        server_code(admin(&boss, ban("", "", 0)).await),
        ErrorCode::InvalidIp
    );
    assert_eq!(
        server_code(admin(&boss, ban("", "not-an-ip", 0)).await),
        ErrorCode::InvalidIp
    );
    assert_eq!(
        server_code(admin(&boss, ban("ghost", "", 0)).await),
        ErrorCode::NoSuchUser
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_kicked_user_is_told_why_and_may_come_back() {
    let server = support::start(config()).await;
    let (boss, _be) = server.user("boss").await;
    let (_victim, mut victim_events) = server.user("victim").await;
    let kick = Message::AdminKick(pb::AdminKick {
        username: "victim".into(),
        reason: "cool off".into(),
    });
    admin(&boss, kick).await.unwrap();
    expect_kicked(&mut victim_events, ErrorCode::KickedByAdmin).await;
    let (again, _ae) = server.connect().await;
    again.login("victim", PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_banned_account_is_kicked_refused_and_told_until_when_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sori.db");
    let server =
        support::start_with(config(), Arc::new(SqliteStore::open(&path).await.unwrap())).await;
    let (boss, _be) = server.user("boss").await;
    let (_victim, mut victim_events) = server.user("victim").await;
    let (_forever, mut forever_events) = server.user("forever").await;
    let before = sori_now_ms();
    admin(&boss, ban("victim", "", 3600)).await.unwrap();
    admin(&boss, ban("forever", "", 0)).await.unwrap();
    let kicked_until = loop {
        match next(&mut victim_events).await {
            Event::Kicked { code, until_ms, .. } => {
                assert_eq!(code, ErrorCode::BannedFromServer);
                break until_ms;
            }
            _ => continue,
        }
    };
    assert!(
        (before + 3_600_000..before + 3_660_000).contains(&kicked_until),
        "{kicked_until}"
    );
    loop {
        if let Event::Kicked { code, until_ms, .. } = next(&mut forever_events).await {
            assert_eq!(
                (code, until_ms),
                (ErrorCode::BannedFromServer, 0),
                "0 means forever"
            );
            break;
        }
    }
    drop(boss);
    server.stop().await.unwrap();

    let server =
        support::start_with(config(), Arc::new(SqliteStore::open(&path).await.unwrap())).await;
    let (victim, _ve) = server.connect().await;
    let (code, until_ms) = until_of(victim.login("victim", PASSWORD).await);
    assert_eq!(
        (code, until_ms),
        (ErrorCode::BannedFromServer, kicked_until),
        "the ban persists"
    );
    let (boss, _be) = server.connect().await;
    boss.login("boss", PASSWORD).await.unwrap();
    let unban = Message::AdminUnban(pb::AdminUnban {
        username: "victim".into(),
        ip: String::new(),
    });
    admin(&boss, unban).await.unwrap();
    victim.login("victim", PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_ip_ban_kicks_and_refuses_that_address_only() {
    let server = support::start(config()).await;
    let (boss, _be) = server.user("boss").await;
    let from = |last: u8| ConnectOptions {
        local_addr: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))),
        ..ConnectOptions::default()
    };
    let (far, mut far_events) = Client::connect_with(server.addr, from(23)).await.unwrap();
    far.register("faraway", PASSWORD, "").await.unwrap();
    far.login("faraway", PASSWORD).await.unwrap();
    admin(&boss, ban("", "127.0.0.16/28", 600)).await.unwrap();
    loop {
        if let Event::Kicked { code, .. } = next(&mut far_events).await {
            assert_eq!(code, ErrorCode::BannedFromServer);
            break;
        }
    }
    // New connections from the range are refused with the reason.
    let (again, mut again_events) = Client::connect_with(server.addr, from(30)).await.unwrap();
    loop {
        match next(&mut again_events).await {
            Event::Kicked { code, .. } => {
                assert_eq!(code, ErrorCode::BannedFromServer);
                break;
            }
            Event::Closed => panic!("closed without a reason"),
            _ => {}
        }
    }
    assert!(again.ping().await.is_err());
    // Outside the range, and the admin on 127.0.0.1, are untouched.
    let (near, _ne) = Client::connect_with(server.addr, from(40)).await.unwrap();
    near.ping().await.unwrap();
    boss.ping().await.unwrap();
    let unban = Message::AdminUnban(pb::AdminUnban {
        username: String::new(),
        ip: "127.0.0.16/28".into(),
    });
    admin(&boss, unban).await.unwrap();
    let (back, _be2) = Client::connect_with(server.addr, from(23)).await.unwrap();
    back.ping().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_muted_user_reads_but_cannot_send_until_unmuted() {
    let server = support::start(config()).await;
    let (boss, _be) = server.user("boss").await;
    let (loud, mut loud_events) = server.user("loud").await;
    let mute = Message::AdminMute(pb::AdminMute {
        username: "loud".into(),
        duration_secs: 0,
        reason: String::new(),
    });
    admin(&boss, mute).await.unwrap();
    assert_eq!(until_of(loud.chat("hello?").await), (ErrorCode::Muted, 0));
    assert_eq!(
        server_code(loud.whisper("boss", "psst").await),
        ErrorCode::Muted
    );
    boss.chat("you can still read").await.unwrap();
    assert_eq!(next_chat(&mut loud_events).await.text, "you can still read");
    // The mute outlives the session.
    loud.logout().await.unwrap();
    let (loud, _le) = server.connect().await;
    loud.login("loud", PASSWORD).await.unwrap();
    assert_eq!(server_code(loud.chat("still?").await), ErrorCode::Muted);
    let unmute = Message::AdminUnmute(pb::AdminUnmute {
        username: "loud".into(),
    });
    admin(&boss, unmute).await.unwrap();
    loud.chat("free").await.unwrap();
    server.stop().await.unwrap();
}

fn sori_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
