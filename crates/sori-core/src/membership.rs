//! Creating, joining (and resuming), leaving and deleting rooms, and
//! who owns a room when its owner leaves.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};
use sori_store::{NewRoom, Role, StoreError, validate_room_name, validate_topic};

use crate::checks::{
    clamp_limit, keep_newest_within, lobby_is_special, member_left, membership_limit, not_in_room,
    room_exists, room_joined, wire_message,
};
use crate::node::{Caller, Core};
use crate::refusal::Refusal;
use crate::room::{Member, Room};

impl Core {
    /// Creates a room with the caller as its owner and first member.
    pub async fn create(&self, caller: &Caller<'_>, req: pb::CreateRoom) -> Result<(), Refusal> {
        let shared = self;
        let limits = &shared.settings.rooms;
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
        self.check_membership_limit(caller)?;
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
        caller.answer(joined);
        state.attach(caller.peer.clone(), caller.account_id);
        drop(state);
        self.bus.room_changed(room.id, &[]);
        tracing::debug!(room = %room.name, owner = %caller.user.username, "room created");
        Ok(())
    }

    /// Joins a room (or catches up on one the caller is already in).
    pub async fn join(&self, caller: &Caller<'_>, req: pb::JoinRoom) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(&req.name)?;
        let _admin = if room.is_lobby() {
            None
        } else {
            Some(room.admin().await)
        };
        let account = caller.account_id;
        let at_limit =
            shared.hub.n_memberships(account) >= shared.settings.rooms.max_rooms_per_user;
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
                if state.members.len() >= shared.settings.rooms.max_members {
                    return Err(Refusal::new(
                        ErrorCode::RoomFull,
                        format!("{} is full", room.name),
                    ));
                }
                if at_limit {
                    return Err(membership_limit(shared));
                }
                state.invites.remove(&account);
                let joined = state.next_join_order();
                state.members.insert(
                    account,
                    Member {
                        username: caller.user.username.clone(),
                        display_name: caller.user.display_name.clone(),
                        role: Role::Member,
                        joined,
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
            self.bus
                .room_changed(room.id, std::slice::from_ref(&joined));
            room.lock().notify(joined, Some(caller.peer.id));
        }
        // A resume names the room it saw: a room deleted and created again under
        // the same name is another room, whose numbers do not continue the old.
        let since = if req.room_id != 0 && req.room_id != room_id(&room) {
            if req.since_seq > 0 { u64::MAX } else { 0 }
        } else {
            req.since_seq
        };
        self.catch_up(caller, &room, since, req.history_limit).await
    }

    /// Answers with RoomJoined and the history asked for, and starts pushing
    /// the room's messages to the caller, in one critical section: every live
    /// message after RoomJoined.last_seq is queued after RoomJoined.
    async fn catch_up(
        &self,
        caller: &Caller<'_>,
        room: &Arc<Room>,
        since: u64,
        limit: u32,
    ) -> Result<(), Refusal> {
        let shared = self;
        let limits = &shared.settings.rooms;
        let limit = clamp_limit(limit, limits.history_default, limits.history_max);
        // The database has every durable message; the tail has every message
        // that is not durable yet. A few tries cover messages that become
        // durable, and leave the tail, while the query runs.
        for _ in 0..3 {
            let last = room.lock().last_seq();
            let resume_max = u64::from(limits.resume_max);
            // With a database, the gap is counted in messages, not numbers:
            // numbers may skip (after a crash, or a cluster's Redis restart).
            let mut resume = since > 0
                && since <= last
                && (shared.persister.is_some() || last - since <= resume_max);
            let stored = if shared.persister.is_some() {
                let mut stored = if resume {
                    let most = limits.resume_max.saturating_add(1);
                    let missed = shared.store.messages_after(room.id, since, most).await?;
                    if missed.len() as u64 > resume_max {
                        resume = false;
                        shared
                            .store
                            .messages_before(room.id, u64::MAX, limit)
                            .await?
                    } else {
                        missed
                    }
                } else {
                    shared
                        .store
                        .messages_before(room.id, u64::MAX, limit)
                        .await?
                };
                // Numbers a bus gave out after this node's position (a
                // cluster) are delivered live after RoomJoined, not here.
                stored.retain(|m| m.seq <= last);
                stored
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
            caller.answer(joined);
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
        caller.answer(joined);
        state.attach(caller.peer.clone(), caller.account_id);
        Ok(())
    }

    /// Leaves a room: the membership ends. An owner who leaves passes the
    /// room on: to the operator who joined first, else to the member who
    /// joined first; a room whose last member leaves stays, ownerless.
    pub async fn leave(&self, caller: &Caller<'_>, name: &str) -> Result<(), Refusal> {
        let room = self.room(name)?;
        let _admin = room.admin().await;
        if room.is_lobby() {
            return Err(lobby_is_special());
        }
        let mut notices = Vec::new();
        let heir = {
            let mut state = room.lock();
            let Some(member) = state.members.remove(&caller.account_id) else {
                return Err(not_in_room(&room));
            };
            state.detach_account(caller.account_id);
            let left = member_left(&room, caller.user.clone(), LeaveReason::Left, None, "");
            notices.push(left.clone());
            state.notify(left, None);
            if member.role == Role::Owner {
                let heir = state.heir();
                state.owner = heir;
                Some(heir)
            } else {
                None
            }
        };
        self.hub.remove_membership(caller.account_id, &room);
        self.store.remove_member(room.id, caller.account_id).await?;
        // `heir` is set when the owner left: to the new owner, or to `None`
        // when nobody is left to inherit (the room stays, ownerless).
        if let Some(Some(heir)) = heir {
            self.store.set_owner(room.id, Some(heir)).await?;
            let mut state = room.lock();
            if let Some(member) = state.members.get_mut(&heir) {
                member.role = Role::Owner;
                let changed = Message::RoleChanged(pb::RoleChanged {
                    room: room.name.clone(),
                    user: Some(pb::UserInfo {
                        username: member.username.clone(),
                        display_name: member.display_name.clone(),
                    }),
                    role: RoomRole::Owner as i32,
                    by: None,
                });
                notices.push(changed.clone());
                state.notify(changed, None);
            }
        } else if heir == Some(None) {
            self.store.set_owner(room.id, None).await?;
        }
        self.bus.room_changed(room.id, &notices);
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Deletes a room (its owner or a server admin): its members are told,
    /// and its name is free for a new room with a new id.
    pub async fn delete_room(&self, caller: &Caller<'_>, name: &str) -> Result<(), Refusal> {
        let room = self.room(name)?;
        let _admin = room.admin().await;
        if room.is_lobby() {
            return Err(lobby_is_special());
        }
        if !self.is_admin(&caller.user.username) {
            self.require_role(caller, &room, Role::Owner)?;
        }
        self.store.delete_room(room.id).await?;
        self.hub.remove_room(&room);
        let deleted = Message::RoomDeleted(pb::RoomDeleted {
            room: room.name.clone(),
            room_id: room_id(&room),
            by: Some(caller.user.clone()),
        });
        self.bus
            .room_changed(room.id, std::slice::from_ref(&deleted));
        let mut state = room.lock();
        state.deleted = true;
        state.notify(deleted, None);
        state.detach_all();
        tracing::info!(room = %room.name, by = %caller.user.username, "room deleted");
        drop(state);
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }
}

/// A room's id on the wire.
pub(crate) fn room_id(room: &Room) -> u64 {
    u64::try_from(room.id).unwrap_or_default()
}
