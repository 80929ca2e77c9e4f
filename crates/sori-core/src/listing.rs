//! Lists and history: rooms, members, users, and pages of a room's past.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, RoomRole};

use crate::checks::*;
use crate::node::{Caller, Core};
use crate::refusal::Refusal;
use crate::room::wire_role;

impl Core {
    /// Every user online.
    pub fn users(&self) -> Message {
        Message::UserList(pb::UserList {
            users: self.bus.online_users(&self.hub),
        })
    }

    /// Lists public rooms and the invite-only rooms the caller is in.
    pub fn list(&self, caller: &Caller<'_>) -> Message {
        let mut rooms: Vec<pb::RoomInfo> = self
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
    pub fn members(&self, caller: &Caller<'_>, name: &str) -> Result<Message, Refusal> {
        let room = self.room(name)?;
        let mut members: Vec<pb::Member> = if room.is_lobby() {
            self.bus
                .online_users(&self.hub)
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
    pub async fn history(&self, caller: &Caller<'_>, req: pb::History) -> Result<Message, Refusal> {
        let shared = self;
        if shared.persister.is_none() {
            return Err(Refusal::new(
                ErrorCode::HistoryDisabled,
                "this server keeps no history",
            ));
        }
        let room = self.room(&req.room)?;
        if room
            .lock()
            .role_of(caller.account_id, room.is_lobby())
            .is_none()
        {
            return Err(not_in_room(&room));
        }
        let limits = &shared.settings.rooms;
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
}
