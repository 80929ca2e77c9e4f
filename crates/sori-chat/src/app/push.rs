//! Applying what the server pushes (messages, whispers, presence, topic
//! and role changes, kicks) to the [`App`]'s timelines, member lists and
//! sidebar.

use sori_client::Event;
use sori_protocol::pb;

use crate::app::App;
use crate::conversation::{Conversation, room_key};
use crate::exchange::Request;
use crate::timeline::NewChat;
use crate::unread;

impl App {
    pub(super) fn push(&mut self, event: Event) -> Vec<Request> {
        let now = self.now();
        let me = self.me.clone().unwrap_or_default();
        match event {
            Event::Chat(msg) => {
                let key = room_key(&msg.room);
                if self.conv(&key).is_none() {
                    self.convs.push(Conversation::new(key.clone(), &msg.room));
                }
                if let Some(user) = &msg.from {
                    self.known_users.insert(user.username.clone());
                }
                let in_view = self.in_view(&key);
                if let Some(conv) = self.conv_mut(&key) {
                    let chat = new_chat(&msg, &me);
                    let (mention, own) = (chat.mention, chat.own);
                    if let Some(id) = conv.timeline.add_chat(chat) {
                        if !own {
                            conv.unread.message(id, mention, in_view);
                        }
                        bump_scroll(conv);
                    }
                }
            }
            Event::Whisper(msg) => {
                let from = msg.from.clone().unwrap_or_default();
                self.known_users.insert(from.username.clone());
                let key = self.whisper_conv(&from.username, Some(&from.display_name));
                let in_view = self.in_view(&key);
                if let Some(conv) = self.conv_mut(&key) {
                    let id = conv.timeline.add_chat(NewChat {
                        seq: None,
                        timestamp_ms: msg.timestamp_ms,
                        username: from.username,
                        display_name: from.display_name,
                        text: msg.text,
                        own: false,
                        mention: false,
                    });
                    if let Some(id) = id {
                        // A whisper is addressed to the user: it always counts.
                        conv.unread.message(id, true, in_view);
                        bump_scroll(conv);
                    }
                }
            }
            Event::MemberJoined(joined) => {
                let user = joined.user.clone().unwrap_or_default();
                self.known_users.insert(user.username.clone());
                if let Some(conv) = self.conv_mut(&room_key(&joined.room)) {
                    conv.timeline.presence(now, &user.display_name, true);
                    if let Some(members) = &mut conv.members {
                        members.retain(|m| !same_user(m, &user.username));
                        members.push(pb::Member {
                            user: Some(user),
                            role: joined.role,
                            online: true,
                        });
                        sort_members(members);
                    }
                    bump_scroll(conv);
                }
            }
            Event::MemberLeft(left) => self.member_left(left, now),
            Event::UserJoined(user) => {
                self.known_users.insert(user.username.clone());
                self.lobby_presence(user, true, now);
            }
            Event::UserLeft(user) => self.lobby_presence(user, false, now),
            Event::RoomUpdated(updated) => {
                let info = updated.room.unwrap_or_default();
                let by = updated.by.unwrap_or_default().display_name;
                if let Some(conv) = self.conv_mut(&room_key(&info.name)) {
                    if conv.topic != info.topic {
                        conv.timeline
                            .notice(now, format!("{by} set the topic: {}", info.topic));
                        bump_scroll(conv);
                    }
                    conv.topic = info.topic;
                }
            }
            Event::Invited(invited) => {
                let by = invited.by.unwrap_or_default().display_name;
                self.say(format!(
                    "{by} invited you to #{0} — /join {0}",
                    invited.room
                ));
            }
            Event::RoleChanged(changed) => {
                let role = changed.role();
                let user = changed.user.unwrap_or_default();
                let by = changed.by.unwrap_or_default().display_name;
                if let Some(conv) = self.conv_mut(&room_key(&changed.room)) {
                    let what = match role {
                        pb::RoomRole::Operator => "made {} an operator",
                        pb::RoomRole::Owner => "made {} the owner",
                        _ => "took operator rights from {}",
                    };
                    conv.timeline.notice(
                        now,
                        format!("{by} {}", what.replace("{}", &user.display_name)),
                    );
                    if let Some(members) = &mut conv.members {
                        for member in members.iter_mut() {
                            if same_user(member, &user.username) {
                                member.role = role as i32;
                            }
                        }
                    }
                    bump_scroll(conv);
                }
            }
            Event::RoomDeleted(deleted) => {
                let by = deleted.by.unwrap_or_default().display_name;
                self.remove(&room_key(&deleted.room));
                self.error(format!("#{} was deleted by {by}", deleted.room));
            }
            // Before a login, only the login timeout closes a connection,
            // and the next login opens a new one: nothing to tell.
            Event::Kicked { .. } if self.me.is_none() => {}
            Event::Kicked { message, .. } => self.error(format!("server: {message}")),
            Event::Error { message, .. } => self.error(format!("server: {message}")),
            // The network task reports the end of the connection itself.
            Event::Closed => {}
        }
        Vec::new()
    }

    fn member_left(&mut self, left: pb::MemberLeft, now: i64) {
        let user = left.user.clone().unwrap_or_default();
        let is_me = self
            .me
            .as_ref()
            .is_some_and(|me| me.username.eq_ignore_ascii_case(&user.username));
        let by = left.by.clone().unwrap_or_default().display_name;
        let why = if left.message.is_empty() {
            String::new()
        } else {
            format!(": {}", left.message)
        };
        let reason = left.reason();
        if is_me {
            let what = match reason {
                pb::LeaveReason::Kicked => format!("kicked from #{} by {by}{why}", left.room),
                pb::LeaveReason::Banned => format!("banned from #{} by {by}{why}", left.room),
                _ => format!("left #{}", left.room),
            };
            self.remove(&room_key(&left.room));
            self.error(what);
            return;
        }
        if let Some(conv) = self.conv_mut(&room_key(&left.room)) {
            match reason {
                pb::LeaveReason::Kicked | pb::LeaveReason::Banned => {
                    let verb = if reason == pb::LeaveReason::Kicked {
                        "kicked"
                    } else {
                        "banned"
                    };
                    conv.timeline
                        .notice(now, format!("{by} {verb} {}{why}", user.display_name));
                }
                _ => conv.timeline.presence(now, &user.display_name, false),
            }
            if let Some(members) = &mut conv.members {
                members.retain(|m| !same_user(m, &user.username));
            }
            bump_scroll(conv);
        }
    }

    fn lobby_presence(&mut self, user: pb::UserInfo, joined: bool, now: i64) {
        if let Some(conv) = self.conv_mut(&room_key("")) {
            conv.timeline.presence(now, &user.display_name, joined);
            if let Some(members) = &mut conv.members {
                members.retain(|m| !same_user(m, &user.username));
                if joined {
                    members.push(pb::Member {
                        user: Some(user),
                        role: pb::RoomRole::Member as i32,
                        online: true,
                    });
                    sort_members(members);
                }
            }
            bump_scroll(conv);
        }
    }
}

/// A pushed or historical room message, as a timeline entry.
pub(super) fn new_chat(msg: &pb::ChatMessage, me: &pb::UserInfo) -> NewChat {
    let from = msg.from.clone().unwrap_or_default();
    let own = !me.username.is_empty() && from.username.eq_ignore_ascii_case(&me.username);
    NewChat {
        seq: Some(msg.seq),
        timestamp_ms: msg.timestamp_ms,
        mention: !own && unread::is_mention(&msg.text, me),
        username: from.username,
        display_name: from.display_name,
        text: msg.text.clone(),
        own,
    }
}

/// Keeps a scrolled-up view where it is when lines arrive below it.
fn bump_scroll(conv: &mut Conversation) {
    if conv.scroll > 0 {
        conv.scroll += 1;
    }
}

fn same_user(member: &pb::Member, username: &str) -> bool {
    member
        .user
        .as_ref()
        .is_some_and(|user| user.username.eq_ignore_ascii_case(username))
}

pub(super) fn sort_members(members: &mut [pb::Member]) {
    members.sort_by_key(|m| {
        (
            std::cmp::Reverse(m.role),
            m.user.as_ref().map(|u| u.display_name.to_lowercase()),
        )
    });
}
