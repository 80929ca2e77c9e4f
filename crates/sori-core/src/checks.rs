//! Checks and builders that several request families share.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason};
use sori_store::{AccountId, Role, StoredMessage};

use crate::clock::now_ms;
use crate::node::{Caller, Core};
use crate::refusal::Refusal;
use crate::room::{Room, RoomState, wire_role};

pub(crate) fn check_muted(caller: &Caller<'_>) -> Result<(), Refusal> {
    match caller.peer.muted_until(now_ms()) {
        Some(until) => Err(crate::moderation::muted_error(until)),
        None => Ok(()),
    }
}

impl Core {
    /// The caller's role, if it is at least `needed`.
    pub(crate) fn require_role(
        &self,
        caller: &Caller<'_>,
        room: &Room,
        needed: Role,
    ) -> Result<Role, Refusal> {
        if room.is_lobby() {
            return Err(lobby_is_special());
        }
        let state = room.lock();
        let Some(role) = state.role_of(caller.account_id, false) else {
            return Err(not_in_room(room));
        };
        if role < needed {
            let what = if needed == Role::Owner {
                "the owner"
            } else {
                "an operator"
            };
            return Err(Refusal::new(
                ErrorCode::NotRoomOperator,
                format!("only {what} of {} may do that", room.name),
            ));
        }
        Ok(role)
    }

    /// The account named `username`.
    pub(crate) async fn target_account(&self, username: &str) -> Result<AccountId, Refusal> {
        match self.accounts.find(username).await? {
            Some(account) => Ok(account.id),
            None => Err(Refusal::new(
                ErrorCode::NoSuchUser,
                format!("there is no user named {username:?}"),
            )),
        }
    }

    pub(crate) fn check_membership_limit(&self, caller: &Caller<'_>) -> Result<(), Refusal> {
        let shared = self;
        if shared.hub.n_memberships(caller.account_id) >= shared.settings.rooms.max_rooms_per_user {
            return Err(membership_limit(shared));
        }
        Ok(())
    }
}

pub(crate) fn membership_limit(shared: &Core) -> Refusal {
    Refusal::new(
        ErrorCode::TooManyMemberships,
        format!(
            "you are in {} rooms, as many as a user may be",
            shared.settings.rooms.max_rooms_per_user
        ),
    )
}

/// Drops the oldest messages until the rest encode within `budget` bytes.
/// Returns true if any was dropped.
pub(crate) fn keep_newest_within(messages: &mut Vec<pb::ChatMessage>, budget: usize) -> bool {
    use prost::Message as _;
    let mut total = 0;
    let mut keep_from = messages.len();
    for (idx, msg) in messages.iter().enumerate().rev() {
        // Each repeated field entry also costs a tag and a length prefix.
        total += msg.encoded_len() + 4;
        if total > budget {
            break;
        }
        keep_from = idx;
    }
    messages.drain(..keep_from);
    keep_from > 0
}

pub(crate) fn clamp_limit(asked: u32, default: u32, max: u32) -> u32 {
    if asked == 0 { default } else { asked.min(max) }
}

pub(crate) fn room_joined(
    room: &Room,
    state: &RoomState,
    role: Role,
    history: Vec<pb::ChatMessage>,
    resumed: bool,
    reload_required: bool,
) -> Message {
    Message::RoomJoined(pb::RoomJoined {
        room: Some(room.info(state)),
        role: wire_role(role) as i32,
        history,
        last_seq: state.last_seq(),
        resumed,
        reload_required,
    })
}

pub(crate) fn member_left(
    room: &Room,
    user: pb::UserInfo,
    reason: LeaveReason,
    by: Option<pb::UserInfo>,
    message: &str,
) -> Message {
    Message::MemberLeft(pb::MemberLeft {
        room: room.name.clone(),
        user: Some(user),
        reason: reason as i32,
        by,
        message: message.to_owned(),
    })
}

pub(crate) fn wire_message(room: &str, m: StoredMessage) -> pb::ChatMessage {
    pb::ChatMessage {
        room: room.to_owned(),
        seq: m.seq,
        timestamp_ms: m.timestamp_ms,
        from: Some(pb::UserInfo {
            username: m.sender_username,
            display_name: m.sender_display_name,
        }),
        text: m.text,
    }
}

pub(crate) fn not_in_room(room: &Room) -> Refusal {
    Refusal::new(
        ErrorCode::NotInRoom,
        format!("you are not in {}", room.name),
    )
}

pub(crate) fn room_exists(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::RoomExists,
        format!("a room named {name:?} exists"),
    )
}

pub(crate) fn lobby_is_special() -> Refusal {
    Refusal::new(
        ErrorCode::LobbyIsSpecial,
        "everyone is in the lobby, for good",
    )
}
