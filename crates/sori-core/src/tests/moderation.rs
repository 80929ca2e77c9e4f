//! Server moderation: kicks, bans (account and address), mutes, and that
//! only admins may.

use std::net::{IpAddr, Ipv4Addr};

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};

use super::*;

#[tokio::test]
async fn an_admin_kick_closes_the_session_with_kicked() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let bob = h.user("bob").await;
    let kick = |reason: &str| {
        Message::AdminKick(pb::AdminKick {
            username: "bob".into(),
            reason: reason.into(),
        })
    };
    h.core
        .admin(&root.caller(4), kick("flooding"))
        .await
        .expect("kick");
    assert_eq!(root.rec().answer(4), Some(Message::Ok(pb::Ok {})));
    let last = kicked(&bob);
    assert_eq!(last.code, ErrorCode::KickedByAdmin as i32);
    assert_eq!(last.message, "flooding");
    assert!(root.rec().closed().is_none());

    // A kick is not a ban: bob logs in again; an offline user is refused.
    h.core.logout(&bob.dyn_peer, &bob.session);
    let res = h.core.admin(&root.caller(5), kick("")).await;
    assert_eq!(code(res), ErrorCode::UserOffline);
    let bob = h.login("bob").await.expect("login");
    h.core.admin(&root.caller(6), kick("")).await.expect("kick");
    assert_eq!(kicked(&bob).message, "kicked by an admin");
}

#[tokio::test]
async fn an_admin_ban_closes_the_session_and_holds_at_login() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let bob = h.user("bob").await;
    let ban = |secs| {
        Message::AdminBan(pb::AdminBan {
            username: "bob".into(),
            ip: String::new(),
            duration_secs: secs,
            reason: "spam".into(),
        })
    };
    h.core.admin(&root.caller(1), ban(0)).await.expect("ban");
    let last = kicked(&bob);
    assert_eq!(last.code, ErrorCode::BannedFromServer as i32);
    assert_eq!(last.until_ms, 0, "forever");
    assert!(last.message.contains("spam"), "{}", last.message);
    h.core.logout(&bob.dyn_peer, &bob.session);

    let refusal = h.login("bob").await.err().expect("banned");
    assert_eq!(refusal.code, ErrorCode::BannedFromServer);
    assert_eq!(refusal.until_ms, 0);
    // Also after a restart.
    let restarted = Harness::on(h.store.clone(), |_| {}).await;
    assert_eq!(
        code(restarted.login("bob").await.map(|_| ())),
        ErrorCode::BannedFromServer
    );

    // A ban for a while says until when.
    h.core.admin(&root.caller(2), ban(3600)).await.expect("ban");
    let refusal = h.login("bob").await.err().expect("banned");
    assert!(refusal.until_ms > crate::clock::now_ms());

    let unban = Message::AdminUnban(pb::AdminUnban {
        username: "bob".into(),
        ip: String::new(),
    });
    h.core.admin(&root.caller(3), unban).await.expect("unban");
    h.login("bob").await.expect("login after the unban");
}

#[tokio::test]
async fn an_ip_ban_closes_every_session_from_the_range() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let banned: IpAddr = Ipv4Addr::new(203, 0, 113, 7).into();
    h.register("bob").await;
    h.register("carol").await;
    let bob = h.login_from("bob", banned).await.expect("login");
    let carol = h
        .login_from("carol", Ipv4Addr::new(198, 51, 100, 1).into())
        .await
        .expect("login");

    let ban = Message::AdminBan(pb::AdminBan {
        username: String::new(),
        ip: "203.0.113.0/24".into(),
        duration_secs: 0,
        reason: String::new(),
    });
    h.core.admin(&root.caller(1), ban).await.expect("ban");
    assert_eq!(kicked(&bob).code, ErrorCode::BannedFromServer as i32);
    assert!(carol.rec().closed().is_none());
    assert!(root.rec().closed().is_none());
    assert!(h.core.ip_bans.check(banned).is_some());
    // IPv4-mapped IPv6 is the same address.
    let mapped: IpAddr = Ipv4Addr::new(203, 0, 113, 99).to_ipv6_mapped().into();
    assert!(h.core.ip_bans.check(mapped).is_some());
    assert!(h.core.ip_bans.check(Ipv4Addr::LOCALHOST.into()).is_none());

    let unban = Message::AdminUnban(pb::AdminUnban {
        username: String::new(),
        ip: "203.0.113.0/24".into(),
    });
    h.core.admin(&root.caller(2), unban).await.expect("unban");
    assert!(h.core.ip_bans.check(banned).is_none());
}

#[tokio::test]
async fn a_mute_holds_for_chat_and_whispers_and_across_logins() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let bob = h.user("bob").await;
    let mute = Message::AdminMute(pb::AdminMute {
        username: "bob".into(),
        duration_secs: 0,
        reason: String::new(),
    });
    h.core.admin(&root.caller(1), mute).await.expect("mute");
    assert_eq!(code(h.say(&bob, "", "hi").await), ErrorCode::Muted);
    let whisper = h.core.whisper(&bob.caller(1), ADMIN, "hi".into()).await;
    assert_eq!(code(whisper), ErrorCode::Muted);

    // The mute is stored: a new session is muted from its login.
    h.core.logout(&bob.dyn_peer, &bob.session);
    let bob = h.login("bob").await.expect("login");
    assert_eq!(code(h.say(&bob, "", "hi").await), ErrorCode::Muted);

    let unmute = Message::AdminUnmute(pb::AdminUnmute {
        username: "bob".into(),
    });
    h.core.admin(&root.caller(2), unmute).await.expect("unmute");
    h.say_all(&bob, "", &["free"]).await;
    h.core
        .whisper(&bob.caller(3), ADMIN, "thanks".into())
        .await
        .expect("whisper");
}

#[tokio::test]
async fn only_admins_may_moderate() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let bob = h.user("bob").await;
    let requests = [
        Message::AdminKick(pb::AdminKick {
            username: ADMIN.into(),
            reason: String::new(),
        }),
        Message::AdminBan(pb::AdminBan {
            username: ADMIN.into(),
            ip: "127.0.0.1".into(),
            duration_secs: 0,
            reason: String::new(),
        }),
        Message::AdminUnban(pb::AdminUnban {
            username: "bob".into(),
            ip: String::new(),
        }),
        Message::AdminMute(pb::AdminMute {
            username: ADMIN.into(),
            duration_secs: 0,
            reason: String::new(),
        }),
        Message::AdminUnmute(pb::AdminUnmute {
            username: "bob".into(),
        }),
    ];
    for request in requests {
        let what = format!("{:?}", request.msg_type());
        assert_eq!(
            code(h.core.admin(&bob.caller(1), request).await),
            ErrorCode::NotAdmin,
            "{what}"
        );
    }
    assert!(root.rec().closed().is_none(), "nothing was done");
    assert!(h.core.ip_bans.check(Ipv4Addr::LOCALHOST.into()).is_none());
    h.say_all(&root, "", &["still here"]).await;
}

#[tokio::test]
async fn admin_request_refusals() {
    let h = Harness::new().await;
    let root = h.user(ADMIN).await;
    let check = async |request: Message, expected: ErrorCode| {
        let what = format!("{request:?}");
        assert_eq!(
            code(h.core.admin(&root.caller(1), request).await),
            expected,
            "{what}"
        );
    };
    let ban = |username: &str, ip: &str| {
        Message::AdminBan(pb::AdminBan {
            username: username.into(),
            ip: ip.into(),
            duration_secs: 0,
            reason: String::new(),
        })
    };
    check(ban("", ""), ErrorCode::InvalidIp).await;
    check(ban("", "not an ip"), ErrorCode::InvalidIp).await;
    check(ban("nobody", ""), ErrorCode::NoSuchUser).await;
    let mute = Message::AdminMute(pb::AdminMute {
        username: "nobody".into(),
        duration_secs: 0,
        reason: String::new(),
    });
    check(mute, ErrorCode::NoSuchUser).await;
    check(Message::Ok(pb::Ok {}), ErrorCode::UnexpectedMessage).await;
}
