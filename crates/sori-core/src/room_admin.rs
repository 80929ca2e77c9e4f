//! Running a room: its topic, invitations, kicks, bans and roles.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, LeaveReason, RoomRole};
use sori_store::{Role, validate_topic};

use crate::checks::*;
use crate::event::Event;
use crate::node::{Caller, Core};
use crate::refusal::Refusal;
use crate::room::wire_role;

impl Core {
    /// Sets a room's topic (operators and owners).
    pub async fn set_topic(&self, caller: &Caller<'_>, req: pb::SetTopic) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(&req.room)?;
        let _admin = room.admin().await;
        validate_topic(&req.topic, shared.settings.rooms.max_topic_chars)?;
        self.require_role(caller, &room, Role::Operator)?;
        shared.store.set_topic(room.id, &req.topic).await?;
        let mut state = room.lock();
        state.topic = req.topic;
        let updated = Message::RoomUpdated(pb::RoomUpdated {
            room: Some(room.info(&state)),
            by: Some(caller.user.clone()),
        });
        self.bus
            .room_changed(room.id, std::slice::from_ref(&updated));
        state.notify(updated, None);
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Invites a user to a room (operators and owners).
    pub async fn invite(&self, caller: &Caller<'_>, req: pb::Invite) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(&req.room)?;
        let _admin = room.admin().await;
        self.require_role(caller, &room, Role::Operator)?;
        let target = self.target_account(&req.username).await?;
        shared.store.put_invite(room.id, target).await?;
        room.lock().invites.insert(target);
        self.bus.room_changed(room.id, &[]);
        let invited = Message::Invited(pb::Invited {
            room: room.name.clone(),
            by: Some(caller.user.clone()),
        });
        shared
            .bus
            .to_user(&shared.hub, &req.username, &Event::push(invited));
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Removes a member (kick), or removes and keeps them out (ban).
    pub async fn remove(
        &self,
        caller: &Caller<'_>,
        room_name: &str,
        username: &str,
        reason: &str,
        ban: bool,
    ) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(room_name)?;
        let _admin = room.admin().await;
        if room.is_lobby() {
            return Err(lobby_is_special());
        }
        let target = self.target_account(username).await?;
        let caller_role = self.require_role(caller, &room, Role::Operator)?;
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
                    self.bus.room_changed(room.id, std::slice::from_ref(&left));
                    state.notify(left, None);
                    state.detach_account(target);
                    true
                }
                None => false,
            }
        };
        if removed {
            shared.hub.remove_membership(target, &room);
        } else {
            self.bus.room_changed(room.id, &[]);
        }
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Lifts a ban (operators and owners).
    pub async fn unban(&self, caller: &Caller<'_>, req: pb::UnbanMember) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(&req.room)?;
        let _admin = room.admin().await;
        self.require_role(caller, &room, Role::Operator)?;
        let target = self.target_account(&req.username).await?;
        shared.store.remove_ban(room.id, target).await?;
        room.lock().bans.remove(&target);
        self.bus.room_changed(room.id, &[]);
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Grants or takes operator rights (the owner only).
    pub async fn set_role(&self, caller: &Caller<'_>, req: pb::SetRole) -> Result<(), Refusal> {
        let shared = self;
        let room = self.room(&req.room)?;
        let _admin = room.admin().await;
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
        self.require_role(caller, &room, Role::Owner)?;
        let target = self.target_account(&req.username).await?;
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
            self.bus
                .room_changed(room.id, std::slice::from_ref(&changed));
            state.notify(changed, None);
        }
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }
}
