//! Room requests: chat, join and resume, history, and moderation.
//!
//! Each function checks the caller's rights under the room's lock, does its
//! database work with no lock held, and applies the change under the lock
//! again. Pushes that must be ordered with a room's messages (RoomJoined,
//! MemberLeft to a removed member) are queued under that lock.

use std::sync::Arc;
use std::task::Waker;

use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};
use sori_protocol::{Message, encode_to_bytes};
use sori_store::{
    AccountId, NewRoom, NewWhisper, Role, StoreError, StoredMessage, validate_room_name,
    validate_topic,
};

use crate::handler::check_text;
use crate::history::Pending;
use crate::hub::now_ms;
use crate::peer::Peer;
use crate::refusal::Refusal;
use crate::room::{Member, Room, RoomState, wire_role};
use crate::server::Shared;

/// Who is asking: a logged-in session.
pub(crate) struct Caller<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) peer: &'a Arc<Peer>,
    pub(crate) account_id: AccountId,
    pub(crate) user: &'a pb::UserInfo,
    pub(crate) request_id: u32,
    /// When the request's bytes were read, for fan-out timing.
    pub(crate) read_at: tokio::time::Instant,
}

impl Caller<'_> {
    /// Queues the answer to this request.
    pub(crate) fn answer(&self, msg: &Message) {
        self.peer.send(encode_to_bytes(self.request_id, msg));
    }

    fn room(&self, name: &str) -> Result<Arc<Room>, Refusal> {
        self.shared
            .hub
            .room(name)
            .ok_or_else(|| Refusal::new(ErrorCode::NoSuchRoom, format!("no room named {name:?}")))
    }
}

/// Chat in a room: fanned out at once; acked once durable (or at once when
/// the server keeps no history).
/// The writers to wake go into `wakers`: the caller wakes them once its
/// whole batch of frames is handled.
pub(crate) fn chat(
    caller: &Caller<'_>,
    room_name: &str,
    text: String,
    wakers: &mut Vec<Waker>,
) -> Result<(), Refusal> {
    let shared = caller.shared;
    check_text(&text, shared.config.max_text_len)?;
    check_muted(caller)?;
    let room = caller.room(room_name)?;
    let tail_len = shared.config.rooms.tail_len;
    let mut state = room.lock();
    if state.role_of(caller.account_id, room.is_lobby()).is_none() {
        return Err(not_in_room(&room));
    }
    let timing = (caller.read_at, &shared.metrics);
    let msg = state.post(
        &room.name,
        caller.peer.id,
        caller.user,
        text,
        now_ms(),
        tail_len,
        timing,
        wakers,
    );
    shared.metrics.messages.inc();
    let ack = |msg: &pb::ChatMessage| {
        Message::ChatAck(pb::ChatAck {
            room: msg.room.clone(),
            seq: msg.seq,
            timestamp_ms: msg.timestamp_ms,
        })
    };
    match &shared.persister {
        Some(persister) => {
            let from = msg.from.clone().unwrap_or_default();
            let stored = StoredMessage {
                room_id: room.id,
                seq: msg.seq,
                timestamp_ms: msg.timestamp_ms,
                sender_id: caller.account_id,
                sender_username: from.username,
                sender_display_name: from.display_name,
                text: msg.text,
            };
            // Submitted under the room's lock, so each room's messages reach
            // the disk in sequence order.
            let submitted = persister.submit(Pending {
                room: room.clone(),
                message: stored,
                sender: caller.peer.clone(),
                request_id: caller.request_id,
            });
            if !submitted {
                return Err(Refusal::new(
                    ErrorCode::ShuttingDown,
                    "the server is shutting down",
                ));
            }
        }
        None => {
            state.mark_all_durable(tail_len);
            caller.answer(&ack(&msg));
        }
    }
    Ok(())
}

/// A whisper to someone online, or stored for someone offline.
pub(crate) async fn whisper(
    caller: &Caller<'_>,
    to_username: &str,
    text: String,
) -> Result<(), Refusal> {
    let shared = caller.shared;
    check_text(&text, shared.config.max_text_len)?;
    check_muted(caller)?;
    if crate::hub::username_key(to_username) == crate::hub::username_key(&caller.user.username) {
        return Err(Refusal::new(
            ErrorCode::WhisperToSelf,
            "you cannot whisper to yourself",
        ));
    }
    let timestamp_ms = now_ms();
    if let Some(target) = shared.hub.online(to_username) {
        let msg = Message::WhisperMessage(pb::WhisperMessage {
            from: Some(caller.user.clone()),
            text,
            timestamp_ms,
            offline: false,
        });
        target.peer.send(encode_to_bytes(0, &msg));
        shared.metrics.messages.inc();
        caller.answer(&Message::WhisperAck(pb::WhisperAck {
            timestamp_ms,
            stored: false,
        }));
        return Ok(());
    }
    let Some(account) = shared.accounts.find(to_username).await? else {
        return Err(Refusal::new(
            ErrorCode::NoSuchUser,
            format!("there is no user named {to_username:?}"),
        ));
    };
    if !shared.config.offline_whispers {
        return Err(Refusal::new(
            ErrorCode::UserOffline,
            format!("{to_username} is not online"),
        ));
    }
    let waiting = shared.store.offline_whispers(account.id).await?.len();
    if waiting >= shared.config.max_offline_whispers {
        return Err(Refusal::new(
            ErrorCode::MailboxFull,
            format!("{to_username} is offline with {waiting} whispers waiting; try later"),
        ));
    }
    shared
        .store
        .put_offline_whisper(NewWhisper {
            to_account: account.id,
            from_username: caller.user.username.clone(),
            from_display_name: caller.user.display_name.clone(),
            text,
            timestamp_ms,
        })
        .await?;
    shared.metrics.messages.inc();
    caller.answer(&Message::WhisperAck(pb::WhisperAck {
        timestamp_ms,
        stored: true,
    }));
    Ok(())
}

/// The whispers stored for `account` while it was offline, oldest first,
/// with their store ids.
pub(crate) async fn stored_whispers(
    shared: &Shared,
    account: AccountId,
) -> Result<Vec<(i64, pb::WhisperMessage)>, Refusal> {
    if !shared.config.offline_whispers {
        return Ok(Vec::new());
    }
    let stored = shared.store.offline_whispers(account).await?;
    Ok(stored
        .into_iter()
        .map(|w| {
            let msg = pb::WhisperMessage {
                from: Some(pb::UserInfo {
                    username: w.from_username,
                    display_name: w.from_display_name,
                }),
                text: w.text,
                timestamp_ms: w.timestamp_ms,
                offline: true,
            };
            (w.id, msg)
        })
        .collect())
}

/// Creates a room with the caller as its owner and first member.
pub(crate) async fn create(caller: &Caller<'_>, req: pb::CreateRoom) -> Result<(), Refusal> {
    let shared = caller.shared;
    let limits = &shared.config.rooms;
    validate_room_name(&req.name, limits.max_name_chars)?;
    validate_topic(&req.topic, limits.max_topic_chars)?;
    if shared.hub.room(&req.name).is_some() {
        return Err(room_exists(&req.name));
    }
    if shared.hub.n_rooms() >= limits.max_rooms {
        return Err(Refusal::new(
            ErrorCode::TooManyRooms,
            "the server has as many rooms as it may",
        ));
    }
    check_membership_limit(caller)?;
    let stored = shared
        .store
        .create_room(NewRoom {
            name: req.name.clone(),
            topic: req.topic,
            invite_only: req.invite_only,
            owner: Some(caller.account_id),
        })
        .await
        .map_err(|err| match err {
            StoreError::RoomNameTaken => room_exists(&req.name),
            other => Refusal::from(other),
        })?;
    let room = Arc::new(Room::new(stored));
    if !shared.hub.add_room(room.clone()) {
        return Err(room_exists(&req.name));
    }
    shared.hub.add_membership(caller.account_id, &room);
    let mut state = room.lock();
    let joined = room_joined(&room, &state, Role::Owner, Vec::new(), false, false);
    caller.answer(&joined);
    state.attach(caller.peer.clone(), caller.account_id);
    tracing::debug!(room = %room.name, owner = %caller.user.username, "room created");
    Ok(())
}

/// Joins a room (or catches up on one the caller is already in).
pub(crate) async fn join(caller: &Caller<'_>, req: pb::JoinRoom) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(&req.name)?;
    let account = caller.account_id;
    let at_limit = shared.hub.n_memberships(account) >= shared.config.rooms.max_rooms_per_user;
    // Reserve the membership in memory first, so the limits hold even
    // while the database write is under way.
    let joining = {
        let mut state = room.lock();
        if room.is_lobby() || state.members.contains_key(&account) {
            false
        } else {
            if state.bans.contains(&account) {
                return Err(Refusal::new(
                    ErrorCode::BannedFromRoom,
                    format!("you are banned from {}", room.name),
                ));
            }
            if state.invite_only && !state.invites.contains(&account) {
                return Err(Refusal::new(
                    ErrorCode::InviteOnly,
                    format!("{} is invite-only and you have no invitation", room.name),
                ));
            }
            if state.members.len() >= shared.config.rooms.max_members {
                return Err(Refusal::new(
                    ErrorCode::RoomFull,
                    format!("{} is full", room.name),
                ));
            }
            if at_limit {
                return Err(membership_limit(shared));
            }
            state.invites.remove(&account);
            state.members.insert(
                account,
                Member {
                    username: caller.user.username.clone(),
                    display_name: caller.user.display_name.clone(),
                    role: Role::Member,
                },
            );
            true
        }
    };
    if joining {
        if let Err(err) = shared
            .store
            .put_member(room.id, account, Role::Member)
            .await
        {
            room.lock().members.remove(&account);
            return Err(err.into());
        }
        shared.hub.add_membership(account, &room);
        let joined = Message::MemberJoined(pb::MemberJoined {
            room: room.name.clone(),
            user: Some(caller.user.clone()),
            role: RoomRole::Member as i32,
        });
        room.lock().push_all(&joined, Some(caller.peer.id));
    }
    catch_up(caller, &room, req.since_seq, req.history_limit).await
}

/// Answers with RoomJoined and the history asked for, and starts pushing
/// the room's messages to the caller, in one critical section: every live
/// message after RoomJoined.last_seq is queued after RoomJoined.
async fn catch_up(
    caller: &Caller<'_>,
    room: &Arc<Room>,
    since: u64,
    limit: u32,
) -> Result<(), Refusal> {
    let shared = caller.shared;
    let limits = &shared.config.rooms;
    let limit = clamp_limit(limit, limits.history_default, limits.history_max);
    // The database has every durable message; the tail has every message
    // that is not durable yet. A few tries cover messages that become
    // durable, and leave the tail, while the query runs.
    for _ in 0..3 {
        let last = room.lock().last_seq();
        let resume = since > 0 && since <= last && last - since <= u64::from(limits.resume_max);
        let stored = if shared.persister.is_some() {
            let res = if resume {
                // Invariant: last - since <= resume_max, a u32.
                let missed = u32::try_from(last - since).unwrap_or(u32::MAX);
                shared.store.messages_after(room.id, since, missed).await
            } else {
                shared.store.messages_before(room.id, u64::MAX, limit).await
            };
            res?
        } else {
            Vec::new()
        };
        let mut state = room.lock();
        let role = state
            .role_of(caller.account_id, room.is_lobby())
            .ok_or_else(|| not_in_room(room))?;
        let base = stored
            .last()
            .map_or(if resume { since } else { 0 }, |m| m.seq);
        let tail = if shared.persister.is_some() {
            state.tail_after(base)
        } else if resume {
            // Without a database the tail is all there is.
            state.tail_after(since)
        } else {
            Some(state.tail_newest(limit as usize))
        };
        let Some(tail) = tail else {
            if shared.persister.is_none() {
                break;
            }
            continue;
        };
        let mut history: Vec<pb::ChatMessage> = stored
            .into_iter()
            .map(|m| wire_message(&room.name, m))
            .collect();
        history.extend(tail);
        let mut resumed = resume;
        if !resume {
            let skip = history.len().saturating_sub(limit as usize);
            history.drain(..skip);
        }
        if keep_newest_within(&mut history, limits.history_max_bytes) && resume {
            // The gap does not fit one answer: reload from the newest.
            resumed = false;
            let skip = history.len().saturating_sub(limit as usize);
            history.drain(..skip);
        }
        let joined = room_joined(room, &state, role, history, resumed, since > 0 && !resumed);
        caller.answer(&joined);
        state.attach(caller.peer.clone(), caller.account_id);
        return Ok(());
    }
    // The gap could not be filled: tell the client to reload, with what
    // the tail has.
    let mut state = room.lock();
    let role = state
        .role_of(caller.account_id, room.is_lobby())
        .ok_or_else(|| not_in_room(room))?;
    let history = state.tail_newest(limit as usize);
    let joined = room_joined(room, &state, role, history, false, since > 0);
    caller.answer(&joined);
    state.attach(caller.peer.clone(), caller.account_id);
    Ok(())
}

/// Leaves a room: the membership ends.
pub(crate) async fn leave(caller: &Caller<'_>, name: &str) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(name)?;
    if room.is_lobby() {
        return Err(lobby_is_special());
    }
    {
        let mut state = room.lock();
        if state.members.remove(&caller.account_id).is_none() {
            return Err(not_in_room(&room));
        }
        state.detach_account(caller.account_id);
        state.push_all(
            &member_left(&room, caller.user.clone(), LeaveReason::Left, None, ""),
            None,
        );
    }
    shared.hub.remove_membership(caller.account_id, &room);
    shared
        .store
        .remove_member(room.id, caller.account_id)
        .await?;
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

/// Lists public rooms and the invite-only rooms the caller is in.
pub(crate) fn list(caller: &Caller<'_>) -> Message {
    let mut rooms: Vec<pb::RoomInfo> = caller
        .shared
        .hub
        .all_rooms()
        .into_iter()
        .filter_map(|room| {
            let state = room.lock();
            let visible = !state.invite_only || state.members.contains_key(&caller.account_id);
            visible.then(|| room.info(&state))
        })
        .collect();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    Message::RoomList(pb::RoomList { rooms })
}

/// Lists a room's members.
pub(crate) fn members(caller: &Caller<'_>, name: &str) -> Result<Message, Refusal> {
    let room = caller.room(name)?;
    let mut members: Vec<pb::Member> = if room.is_lobby() {
        caller
            .shared
            .hub
            .list_users()
            .into_iter()
            .map(|user| pb::Member {
                user: Some(user),
                role: RoomRole::Member as i32,
                online: true,
            })
            .collect()
    } else {
        let state = room.lock();
        if !state.members.contains_key(&caller.account_id) {
            return Err(not_in_room(&room));
        }
        state
            .members
            .iter()
            .map(|(account, m)| pb::Member {
                user: Some(pb::UserInfo {
                    username: m.username.clone(),
                    display_name: m.display_name.clone(),
                }),
                role: wire_role(m.role) as i32,
                online: state.is_online(*account),
            })
            .collect()
    };
    members.sort_by(|a, b| {
        let name = |m: &pb::Member| {
            m.user
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default()
        };
        name(a).cmp(&name(b))
    });
    Ok(Message::MemberList(pb::MemberList {
        room: room.name.clone(),
        members,
    }))
}

/// A page of history before a sequence number.
pub(crate) async fn history(caller: &Caller<'_>, req: pb::History) -> Result<Message, Refusal> {
    let shared = caller.shared;
    if shared.persister.is_none() {
        return Err(Refusal::new(
            ErrorCode::HistoryDisabled,
            "this server keeps no history",
        ));
    }
    let room = caller.room(&req.room)?;
    if room
        .lock()
        .role_of(caller.account_id, room.is_lobby())
        .is_none()
    {
        return Err(not_in_room(&room));
    }
    let limits = &shared.config.rooms;
    let limit = clamp_limit(req.limit, limits.history_default, limits.history_max) as usize;
    let before = if req.before_seq == 0 {
        u64::MAX
    } else {
        req.before_seq
    };
    let stored = shared
        .store
        .messages_before(room.id, before, limit as u32)
        .await?;
    let mut messages: Vec<pb::ChatMessage> = stored
        .into_iter()
        .map(|m| wire_message(&room.name, m))
        .collect();
    {
        // Messages not yet on disk are only in the tail.
        let state = room.lock();
        let newest = messages.last().map_or(0, |m| m.seq);
        if let Some(tail) = state.tail_after(newest) {
            messages.extend(tail.into_iter().filter(|m| m.seq < before));
        }
    }
    let skip = messages.len().saturating_sub(limit);
    messages.drain(..skip);
    keep_newest_within(&mut messages, limits.history_max_bytes);
    let has_more = messages.first().is_some_and(|m| m.seq > 1);
    Ok(Message::HistoryPage(pb::HistoryPage {
        room: room.name.clone(),
        messages,
        has_more,
    }))
}

/// Sets a room's topic (operators and owners).
pub(crate) async fn set_topic(caller: &Caller<'_>, req: pb::SetTopic) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(&req.room)?;
    validate_topic(&req.topic, shared.config.rooms.max_topic_chars)?;
    require_role(caller, &room, Role::Operator)?;
    shared.store.set_topic(room.id, &req.topic).await?;
    let mut state = room.lock();
    state.topic = req.topic;
    let updated = Message::RoomUpdated(pb::RoomUpdated {
        room: Some(room.info(&state)),
        by: Some(caller.user.clone()),
    });
    state.push_all(&updated, None);
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

/// Invites a user to a room (operators and owners).
pub(crate) async fn invite(caller: &Caller<'_>, req: pb::Invite) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(&req.room)?;
    require_role(caller, &room, Role::Operator)?;
    let target = target_account(caller, &req.username).await?;
    shared.store.put_invite(room.id, target).await?;
    room.lock().invites.insert(target);
    if let Some(online) = shared.hub.online_account(target) {
        let invited = Message::Invited(pb::Invited {
            room: room.name.clone(),
            by: Some(caller.user.clone()),
        });
        online.peer.send(encode_to_bytes(0, &invited));
    }
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

/// Removes a member (kick), or removes and keeps them out (ban).
pub(crate) async fn remove(
    caller: &Caller<'_>,
    room_name: &str,
    username: &str,
    reason: &str,
    ban: bool,
) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(room_name)?;
    if room.is_lobby() {
        return Err(lobby_is_special());
    }
    let target = target_account(caller, username).await?;
    let caller_role = require_role(caller, &room, Role::Operator)?;
    {
        let state = room.lock();
        match state.members.get(&target) {
            None if !ban => {
                return Err(Refusal::new(
                    ErrorCode::TargetNotInRoom,
                    format!("{username} is not in {}", room.name),
                ));
            }
            Some(member) if member.role >= caller_role => {
                return Err(Refusal::new(
                    ErrorCode::TargetOutranks,
                    format!("{username}'s role is not below yours"),
                ));
            }
            _ => {}
        }
    }
    let res = if ban {
        shared
            .store
            .put_ban(room.id, target, caller.account_id, reason)
            .await
    } else {
        shared.store.remove_member(room.id, target).await
    };
    res?;
    let removed = {
        let mut state = room.lock();
        if ban {
            state.bans.insert(target);
        }
        match state.members.remove(&target) {
            Some(member) => {
                let user = pb::UserInfo {
                    username: member.username,
                    display_name: member.display_name,
                };
                let why = if ban {
                    LeaveReason::Banned
                } else {
                    LeaveReason::Kicked
                };
                // To everyone online, the removed member included: it is the
                // last frame of this room they get.
                let left = member_left(&room, user, why, Some(caller.user.clone()), reason);
                state.push_all(&left, None);
                state.detach_account(target);
                true
            }
            None => false,
        }
    };
    if removed {
        shared.hub.remove_membership(target, &room);
    }
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

/// Lifts a ban (operators and owners).
pub(crate) async fn unban(caller: &Caller<'_>, req: pb::UnbanMember) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(&req.room)?;
    require_role(caller, &room, Role::Operator)?;
    let target = target_account(caller, &req.username).await?;
    shared.store.remove_ban(room.id, target).await?;
    room.lock().bans.remove(&target);
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

/// Grants or takes operator rights (the owner only).
pub(crate) async fn set_role(caller: &Caller<'_>, req: pb::SetRole) -> Result<(), Refusal> {
    let shared = caller.shared;
    let room = caller.room(&req.room)?;
    let role = match req.role() {
        RoomRole::Member => Role::Member,
        RoomRole::Operator => Role::Operator,
        RoomRole::Owner | RoomRole::Unspecified => {
            return Err(Refusal::new(
                ErrorCode::InvalidRole,
                "only MEMBER and OPERATOR can be granted",
            ));
        }
    };
    require_role(caller, &room, Role::Owner)?;
    let target = target_account(caller, &req.username).await?;
    {
        let state = room.lock();
        match state.members.get(&target) {
            None => {
                return Err(Refusal::new(
                    ErrorCode::TargetNotInRoom,
                    format!("{} is not in {}", req.username, room.name),
                ));
            }
            Some(member) if member.role == Role::Owner => {
                return Err(Refusal::new(
                    ErrorCode::TargetOutranks,
                    "the owner's role cannot change",
                ));
            }
            Some(_) => {}
        }
    }
    shared.store.put_member(room.id, target, role).await?;
    let mut state = room.lock();
    if let Some(member) = state.members.get_mut(&target) {
        member.role = role;
        let changed = Message::RoleChanged(pb::RoleChanged {
            room: room.name.clone(),
            user: Some(pb::UserInfo {
                username: member.username.clone(),
                display_name: member.display_name.clone(),
            }),
            role: wire_role(role) as i32,
            by: Some(caller.user.clone()),
        });
        state.push_all(&changed, None);
    }
    caller.answer(&Message::Ok(pb::Ok {}));
    Ok(())
}

fn check_muted(caller: &Caller<'_>) -> Result<(), Refusal> {
    match caller.peer.muted_until(now_ms()) {
        Some(until) => Err(crate::moderation::muted_error(until)),
        None => Ok(()),
    }
}

/// The caller's role, if it is at least `needed`.
fn require_role(caller: &Caller<'_>, room: &Room, needed: Role) -> Result<Role, Refusal> {
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

async fn target_account(caller: &Caller<'_>, username: &str) -> Result<AccountId, Refusal> {
    match caller.shared.accounts.find(username).await? {
        Some(account) => Ok(account.id),
        None => Err(Refusal::new(
            ErrorCode::NoSuchUser,
            format!("there is no user named {username:?}"),
        )),
    }
}

fn check_membership_limit(caller: &Caller<'_>) -> Result<(), Refusal> {
    let shared = caller.shared;
    if shared.hub.n_memberships(caller.account_id) >= shared.config.rooms.max_rooms_per_user {
        return Err(membership_limit(shared));
    }
    Ok(())
}

fn membership_limit(shared: &Shared) -> Refusal {
    Refusal::new(
        ErrorCode::TooManyMemberships,
        format!(
            "you are in {} rooms, as many as a user may be",
            shared.config.rooms.max_rooms_per_user
        ),
    )
}

/// Drops the oldest messages until the rest encode within `budget` bytes.
/// Returns true if any was dropped.
fn keep_newest_within(messages: &mut Vec<pb::ChatMessage>, budget: usize) -> bool {
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

fn clamp_limit(asked: u32, default: u32, max: u32) -> u32 {
    if asked == 0 { default } else { asked.min(max) }
}

fn room_joined(
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

fn member_left(
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

fn wire_message(room: &str, m: StoredMessage) -> pb::ChatMessage {
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

fn not_in_room(room: &Room) -> Refusal {
    Refusal::new(
        ErrorCode::NotInRoom,
        format!("you are not in {}", room.name),
    )
}

fn room_exists(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::RoomExists,
        format!("a room named {name:?} exists"),
    )
}

fn lobby_is_special() -> Refusal {
    Refusal::new(
        ErrorCode::LobbyIsSpecial,
        "everyone is in the lobby, for good",
    )
}
