//! The one table from a logged-in session's request to a core call. The
//! session task handles the hot requests (chat) and the login itself; every
//! other request a logged-in session sends comes through here.

use std::sync::Arc;

use sori_core::peer::Peer;
use sori_core::refusal::Refusal;
use sori_core::{Caller, ChatStep, Core, Outcome, Session};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::time::Instant;

/// Runs one request of a logged-in session.
pub(crate) async fn authenticated(
    core: &Core,
    peer: &Arc<Peer>,
    session: &mut Session,
    request_id: u32,
    message: Message,
    read_at: Instant,
) -> Result<Outcome, Refusal> {
    if let Message::SetDisplayName(req) = message {
        core.set_display_name(peer, session, req.display_name)
            .await?;
        return Ok(Outcome::Reply(Message::Ok(pb::Ok {})));
    }
    let caller = Caller::new(peer, session, request_id, read_at);
    let sent = |res: Result<(), Refusal>| res.map(|()| Outcome::Sent);
    match message {
        Message::Chat(chat) => match core.chat(&caller, &chat.room, chat.text)? {
            ChatStep::Sent => Ok(Outcome::Sent),
            ChatStep::Reserve(text) => sent(core.chat_reserving(&caller, &chat.room, text).await),
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
        | Message::AdminUnmute(_) => sent(core.admin(&caller, message).await),
        Message::Logout(_) => Ok(Outcome::Logout),
        other => Err(Refusal::new(
            ErrorCode::UnexpectedMessage,
            format!("{:?} is not a request", other.msg_type()),
        )),
    }
}
