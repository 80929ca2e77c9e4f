//! The one table from a logged-in session's request to a core call. The
//! session task handles the hot requests (chat) and the login itself; every
//! other request a logged-in session sends comes through here.

use std::net::IpAddr;
use std::sync::Arc;

use sori_core::peer::Peer;
use sori_core::refusal::Refusal;
use sori_core::{Caller, ChatStep, Core, Outcome, Session};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Message, PROTOCOL_VERSION};
use tokio::time::Instant;

use crate::config::Config;
use crate::rate::LoginThrottle;

/// Runs one request of a logged-in session. `throttle` is the failed-login
/// throttle, which a ChangePassword's old password goes through too: a
/// stolen session token must not buy unlimited guesses at the password.
///
/// A Logout does not wait here: the core's revoker answers it and ends the
/// session once its token is revoked on disk (`Core::logout_request`).
/// Every other request runs in a box of its own, so that the few states
/// that stay small (a Logout, the fallback when the revoker is closed) do
/// not carry the largest request's.
pub(crate) async fn authenticated(
    core: &Core,
    throttle: &LoginThrottle,
    peer: &Arc<Peer>,
    session: &mut Session,
    request_id: u32,
    message: Message,
    read_at: Instant,
) -> Result<Outcome, Refusal> {
    if let Message::Logout(_) = message {
        return core.logout_request(peer, session, request_id).await;
    }
    Box::pin(request(
        core, throttle, peer, session, request_id, message, read_at,
    ))
    .await
}

/// Every request of a logged-in session but Logout.
async fn request(
    core: &Core,
    throttle: &LoginThrottle,
    peer: &Arc<Peer>,
    session: &mut Session,
    request_id: u32,
    message: Message,
    read_at: Instant,
) -> Result<Outcome, Refusal> {
    match message {
        Message::SetDisplayName(req) => {
            core.set_display_name(peer, session, req.display_name)
                .await?;
            return Ok(Outcome::Reply(Message::Ok(pb::Ok {})));
        }
        Message::ChangePassword(req) => {
            let key = sori_core::hub::username_key(&session.user.username);
            login_throttled(throttle, &key, peer.ip)?;
            let res = core
                .change_password(session, &req.old_password, &req.new_password)
                .await;
            record_attempt(throttle, &key, peer.ip, &res);
            return res.map(|changed| Outcome::Reply(Message::PasswordChanged(changed)));
        }
        _ => {}
    }
    let caller = Caller::new(peer, session, request_id, read_at);
    let sent = |res: Result<(), Refusal>| res.map(|()| Outcome::Sent);
    match message {
        Message::Chat(chat) => match core.chat(&caller, &chat.room, chat.text)? {
            ChatStep::Sent => Ok(Outcome::Sent),
            ChatStep::Wait(text) => sent(core.chat_waiting(&caller, &chat.room, text).await),
        },
        Message::Whisper(req) => sent(core.whisper(&caller, &req.to_username, req.text).await),
        Message::ListUsers(_) => Ok(Outcome::Reply(core.users())),
        Message::CreateRoom(req) => sent(core.create(&caller, req).await),
        Message::JoinRoom(req) => sent(core.join(&caller, req).await),
        Message::LeaveRoom(req) => sent(core.leave(&caller, &req.name).await),
        Message::DeleteRoom(req) => sent(core.delete_room(&caller, &req.room).await),
        Message::ListRooms(_) => Ok(Outcome::Reply(core.list(&caller))),
        Message::ListMembers(req) => core.members(&caller, &req.room).map(Outcome::Reply),
        Message::History(req) => core.history(&caller, req).await.map(Outcome::Reply),
        Message::SetTopic(req) => sent(core.set_topic(&caller, req).await),
        Message::Invite(req) => sent(core.invite(&caller, req).await),
        Message::KickMember(req) => sent(
            core.remove(&caller, &req.room, &req.username, &req.reason, false)
                .await,
        ),
        Message::BanMember(req) => sent(
            core.remove(&caller, &req.room, &req.username, &req.reason, true)
                .await,
        ),
        Message::UnbanMember(req) => sent(core.unban(&caller, req).await),
        Message::SetRole(req) => sent(core.set_role(&caller, req).await),
        Message::AdminKick(_)
        | Message::AdminBan(_)
        | Message::AdminUnban(_)
        | Message::AdminMute(_)
        | Message::AdminUnmute(_)
        | Message::AdminRevokeTokens(_) => sent(core.admin(&caller, message).await),
        other => Err(Refusal::new(
            ErrorCode::UnexpectedMessage,
            format!("{:?} is not a request", other.msg_type()),
        )),
    }
}

/// Refuses a password check (a Login, a ChangePassword) while its account
/// or address waits out failed attempts.
pub(crate) fn login_throttled(
    throttle: &LoginThrottle,
    account_key: &str,
    ip: IpAddr,
) -> Result<(), Refusal> {
    let Some(wait) = throttle.delay(account_key, ip, std::time::Instant::now()) else {
        return Ok(());
    };
    let until_ms = sori_core::clock::now_ms()
        .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    Err(Refusal::until(
        ErrorCode::LoginThrottled,
        format!(
            "too many failed logins; try again in {} s",
            wait.as_secs().max(1)
        ),
        until_ms,
    ))
}

/// Tells the throttle how a password check went: a wrong password counts
/// against the account and the address, a right one clears the account.
pub(crate) fn record_attempt<T>(
    throttle: &LoginThrottle,
    account_key: &str,
    ip: IpAddr,
    res: &Result<T, Refusal>,
) {
    match res {
        Ok(_) => throttle.record_success(account_key, ip),
        Err(refusal) if refusal.code == ErrorCode::BadCredentials => {
            throttle.record_failure(account_key, ip, std::time::Instant::now());
        }
        Err(_) => {}
    }
}

/// The answer to Hello: the server's limits, or UNSUPPORTED_VERSION.
pub(crate) fn welcome(config: &Config, hello: &pb::Hello) -> Message {
    if hello.protocol_version != 0 && hello.protocol_version != u32::from(PROTOCOL_VERSION) {
        return Message::error(
            ErrorCode::UnsupportedVersion,
            format!(
                "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                hello.protocol_version
            ),
        );
    }
    Message::Welcome(pb::Welcome {
        protocol_version: u32::from(PROTOCOL_VERSION),
        server_name: config.server_name.clone(),
        max_frame_len: config.max_frame_len,
        max_text_len: u32::try_from(config.max_text_len).unwrap_or(u32::MAX),
        login_timeout_ms: millis(config.login_timeout),
        idle_timeout_ms: millis(config.idle_timeout),
    })
}

fn millis(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::returned_size;

    #[test]
    fn a_waiting_logout_is_small() {
        // What a session waiting for its Logout holds: the arguments (the
        // request, `Message`, most of them) and the oneshot receiver's
        // wait. The other requests' states are boxed apart: inline they
        // made this future 1,416 bytes, the largest state of a session's
        // slow request, which every waiting Logout carried. Now a login's
        // (about 840 bytes) is the largest.
        let future = returned_size(&authenticated);
        let message = size_of::<Message>();
        assert!(
            future <= message + 320 && future <= 512,
            "the request future is {future} bytes, Message {message}"
        );
    }
}
