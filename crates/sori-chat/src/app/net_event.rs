//! Taking in [`NetEvent`]s on the [`App`]: the connection's state, the
//! login's outcome, and the replies to its requests (joins, history,
//! member lists, room lists, sent messages). Server pushes go to `push`.

use sori_protocol::pb;

use crate::app::push::{new_chat, sort_members};
use crate::app::{App, Screen, role_sigil};
use crate::conversation::{ConvKey, Conversation, room_key};
use crate::exchange::{ConnState, NetEvent, Request};
use crate::timeline::NewChat;

impl App {
    /// Takes in something from the network task.
    pub fn net(&mut self, event: NetEvent) -> Vec<Request> {
        let mut requests = Vec::new();
        match event {
            NetEvent::Connection(state) => {
                match state {
                    ConnState::Offline(_) => self.login.busy = false,
                    // What was said about the old connection is over.
                    ConnState::Resumed => self.notice = None,
                    _ => {}
                }
                self.conn = state;
            }
            NetEvent::LoggedIn {
                user,
                rooms,
                resumed,
                dropped,
            } => requests = self.logged_in(user, rooms, resumed, dropped),
            NetEvent::LoginFailed(message) => {
                self.login.failed();
                self.screen = Screen::Login;
                self.error(message);
            }
            NetEvent::Push(event) => requests = self.push(event),
            NetEvent::Joined(joined) => {
                let key = self.take_room(&joined, false);
                requests.extend(self.switch_to(key));
            }
            NetEvent::Left(room) => {
                self.remove(&room_key(&room));
                self.say(format!("left #{room}"));
            }
            NetEvent::History(page) => self.history(page),
            NetEvent::Members {
                room,
                members,
                show,
            } => self.members(&room, members, show),
            NetEvent::Rooms(rooms) => self.rooms(rooms),
            NetEvent::ChatSent { text, ack } => {
                let me = self.me.clone().unwrap_or_default();
                let chat = NewChat {
                    seq: Some(ack.seq),
                    timestamp_ms: ack.timestamp_ms,
                    username: me.username,
                    display_name: me.display_name,
                    text,
                    own: true,
                    mention: false,
                };
                if let Some(conv) = self.conv_mut(&room_key(&ack.room)) {
                    conv.timeline.add_chat(chat);
                    conv.scroll = 0;
                }
            }
            NetEvent::WhisperSent { to, text, ack } => {
                let me = self.me.clone().unwrap_or_default();
                let key = self.whisper_conv(&to, None);
                if let Some(conv) = self.conv_mut(&key) {
                    conv.timeline.add_chat(NewChat {
                        seq: None,
                        timestamp_ms: ack.timestamp_ms,
                        username: me.username,
                        display_name: me.display_name,
                        text,
                        own: true,
                        mention: false,
                    });
                    conv.scroll = 0;
                }
                if ack.stored {
                    self.say(format!(
                        "{to} is offline: the whisper waits for their next login"
                    ));
                }
            }
            NetEvent::Done(text) => self.say(text),
            NetEvent::Failed { what, message } => self.error(format!("{what}: {message}")),
        }
        requests
    }

    fn logged_in(
        &mut self,
        user: pb::UserInfo,
        rooms: Vec<pb::RoomJoined>,
        resumed: bool,
        dropped: Vec<String>,
    ) -> Vec<Request> {
        let first = self.me.is_none();
        self.login.busy = false;
        self.login.password.clear();
        self.known_users.insert(user.username.clone());
        self.me = Some(user.clone());
        self.screen = Screen::Chat;
        for room in &dropped {
            self.remove(&room_key(room));
        }
        for joined in &rooms {
            if resumed && joined.reload_required {
                let now = self.now();
                let key = self.take_room(joined, true);
                if let Some(conv) = self.conv_mut(&key) {
                    conv.timeline.notice(
                        now,
                        "… more messages were missed than the server keeps for a resume",
                    );
                }
            } else {
                self.take_room(joined, resumed);
            }
        }
        if resumed {
            if !dropped.is_empty() {
                self.error(format!("removed from {} while away", dropped.join(", ")));
            }
        } else {
            self.say(format!(
                "logged in as {} — /help for commands",
                user.display_name
            ));
        }
        let mut requests = Vec::new();
        if first {
            requests.extend(self.switch_to(self.active.clone()));
        }
        // Member lists may have changed while away.
        if resumed {
            for conv in &mut self.convs {
                conv.members = None;
            }
            requests.extend(self.switch_to(self.active.clone()));
        }
        requests
    }

    /// Takes in a room's `RoomJoined`: creates its conversation if needed
    /// and adds the history. `live` counts the history as unread (a
    /// resume's missed messages), not as old (a first join's).
    fn take_room(&mut self, joined: &pb::RoomJoined, live: bool) -> ConvKey {
        let info = joined.room.clone().unwrap_or_default();
        let key = room_key(&info.name);
        if self.conv(&key).is_none() {
            let at = self
                .convs
                .iter()
                .position(|conv| match &conv.key {
                    ConvKey::Room(other) => other.as_str() > key_name(&key) && !other.is_empty(),
                    ConvKey::Whisper(_) => true,
                })
                .unwrap_or(self.convs.len());
            self.convs
                .insert(at, Conversation::new(key.clone(), &info.name));
        }
        let in_view = self.in_view(&key);
        let me = self.me.clone().unwrap_or_default();
        let Some(conv) = self.conv_mut(&key) else {
            return key;
        };
        conv.name = info.name.clone();
        conv.topic = info.topic.clone();
        let first_seq = joined.history.first().map(|msg| msg.seq);
        if conv.timeline.entries().is_empty() {
            conv.has_more = first_seq.map_or(joined.last_seq > 0, |seq| seq > 1);
        }
        for msg in &joined.history {
            let chat = new_chat(msg, &me);
            let mention = chat.mention;
            let own = chat.own;
            if let Some(id) = conv.timeline.add_chat(chat) {
                if live && !own {
                    conv.unread.message(id, mention, in_view);
                }
            }
        }
        key
    }

    fn history(&mut self, page: pb::HistoryPage) {
        let me = self.me.clone().unwrap_or_default();
        if let Some(conv) = self.conv_mut(&room_key(&page.room)) {
            conv.loading = false;
            conv.has_more = page.has_more;
            let older = page.messages.iter().map(|msg| new_chat(msg, &me)).collect();
            conv.timeline.prepend(older);
        }
    }

    fn members(&mut self, room: &str, mut members: Vec<pb::Member>, show: bool) {
        sort_members(&mut members);
        for member in &members {
            if let Some(user) = &member.user {
                self.known_users.insert(user.username.clone());
            }
        }
        let now = self.now();
        let active = self.active.clone();
        if show {
            let names: Vec<String> = members
                .iter()
                .map(|m| {
                    let name = m.user.clone().unwrap_or_default().display_name;
                    format!("{}{name}", role_sigil(m.role()))
                })
                .collect();
            let label = if room.is_empty() {
                "online".to_owned()
            } else {
                format!("#{room}")
            };
            if let Some(conv) = self.conv_mut(&active) {
                conv.timeline.notice(
                    now,
                    format!("{label} ({}): {}", names.len(), names.join(", ")),
                );
                conv.scroll = 0;
            }
        }
        if let Some(conv) = self.conv_mut(&room_key(room)) {
            conv.members = Some(members);
        }
    }

    fn rooms(&mut self, rooms: Vec<pb::RoomInfo>) {
        let now = self.now();
        let active = self.active.clone();
        let Some(conv) = self.conv_mut(&active) else {
            return;
        };
        conv.timeline.notice(now, format!("{} rooms:", rooms.len()));
        for room in rooms {
            let name = if room.name.is_empty() {
                "lobby".to_owned()
            } else {
                format!("#{}", room.name)
            };
            let lock = if room.invite_only {
                " (invite-only)"
            } else {
                ""
            };
            let topic = if room.topic.is_empty() {
                String::new()
            } else {
                format!(" — {}", room.topic)
            };
            conv.timeline.notice(
                now,
                format!("  {name} [{}]{lock}{topic}", room.member_count),
            );
        }
        conv.scroll = 0;
    }
}

fn key_name(key: &ConvKey) -> &str {
    match key {
        ConvKey::Room(name) | ConvKey::Whisper(name) => name,
    }
}
