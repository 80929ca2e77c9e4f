//! What the user enters on the chat screen: a slash command, carried out
//! on the [`App`] or turned into a [`Request`], or a message to the
//! conversation in view.

use sori_protocol::pb;

use crate::app::App;
use crate::command::{self, Command};
use crate::conversation::{ConvKey, room_key};
use crate::exchange::Request;

impl App {
    /// Enter on the chat screen: a command, or a message to the
    /// conversation in view.
    pub(super) fn enter(&mut self) -> Vec<Request> {
        let line = self.input.submit();
        let text = line.trim();
        if text.is_empty() {
            return Vec::new();
        }
        if text.starts_with('/') && !text.starts_with("//") {
            return match command::parse(text) {
                Ok(command) => self.command(command),
                Err(message) => {
                    self.error(message);
                    Vec::new()
                }
            };
        }
        // "//" sends a line that starts with a slash.
        let text = text
            .strip_prefix('/')
            .filter(|t| t.starts_with('/'))
            .unwrap_or(text);
        let conv = self.active_conv();
        match &conv.key {
            ConvKey::Room(_) => vec![Request::Chat {
                room: conv.name.clone(),
                text: text.to_owned(),
            }],
            ConvKey::Whisper(_) => vec![Request::Whisper {
                to: conv.name.clone(),
                text: text.to_owned(),
            }],
        }
    }

    fn command(&mut self, command: Command) -> Vec<Request> {
        let room = self.active_conv().room().map(str::to_owned);
        let in_room = |what: &str| -> Result<String, String> {
            match &room {
                Some(room) if !room.is_empty() => Ok(room.clone()),
                Some(_) => Err(format!("{what}: not in the lobby (open a room first)")),
                None => Err(format!("{what}: open a room first")),
            }
        };
        let request = match command {
            Command::Join(name) => {
                let key = room_key(&name);
                if self.conv(&key).is_some() {
                    return self.switch_to(key);
                }
                Ok(Request::Join(name))
            }
            Command::Leave(name) => match (name, &self.active) {
                (Some(name), _) => Ok(Request::Leave(name)),
                (None, ConvKey::Whisper(_)) => {
                    let key = self.active.clone();
                    self.remove(&key);
                    return Vec::new();
                }
                (None, _) => in_room("/leave").map(Request::Leave),
            },
            Command::Create {
                name,
                topic,
                invite_only,
            } => Ok(Request::Create {
                name,
                topic,
                invite_only,
            }),
            Command::Rooms => Ok(Request::ListRooms),
            Command::Who(name) => match name.or(room) {
                Some(room) => Ok(Request::Members { room, show: true }),
                None => Err("/who: open a room first".into()),
            },
            Command::Whisper { to, text } => {
                let key = self.whisper_conv(&to, None);
                let mut requests = self.switch_to(key);
                if !text.is_empty() {
                    requests.push(Request::Whisper { to, text });
                }
                return requests;
            }
            Command::Topic(topic) => in_room("/topic").map(|room| Request::Topic { room, topic }),
            Command::Invite(username) => {
                in_room("/invite").map(|room| Request::Invite { room, username })
            }
            Command::Kick(username, reason) => in_room("/kick").map(|room| Request::Kick {
                room,
                username,
                reason,
            }),
            Command::Ban(username, reason) => in_room("/ban").map(|room| Request::Ban {
                room,
                username,
                reason,
            }),
            Command::Unban(username) => {
                in_room("/unban").map(|room| Request::Unban { room, username })
            }
            Command::Op(username) => in_room("/op").map(|room| Request::SetRole {
                room,
                username,
                role: pb::RoomRole::Operator,
            }),
            Command::Deop(username) => in_room("/deop").map(|room| Request::SetRole {
                room,
                username,
                role: pb::RoomRole::Member,
            }),
            Command::Help => {
                self.help = true;
                return Vec::new();
            }
            Command::Quit => return self.quit(),
        };
        match request {
            Ok(request) => vec![request],
            Err(message) => {
                self.error(message);
                Vec::new()
            }
        }
    }
}
