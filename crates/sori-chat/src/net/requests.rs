//! The requests made once logged in: chat, whispers, rooms and their
//! moderation, each answered to the app as a [`NetEvent`].

use sori_client::{Client, ClientError};
use sori_protocol::pb;

use crate::exchange::{NetEvent, Request};
use crate::net::{Driver, JOIN_HISTORY, describe};

impl Driver {
    pub(super) async fn room_request(&mut self, request: Request) {
        let what = describe_request(&request);
        let Some(client) = self.client.clone().filter(|_| self.account.is_some()) else {
            let message = if self.retry_at.is_some() {
                "not connected (reconnecting…)"
            } else {
                "not connected"
            };
            self.tell(NetEvent::Failed {
                what,
                message: message.into(),
            });
            return;
        };
        let res = self.send(&client, request).await;
        match res {
            Ok(Some(event)) => self.tell(event),
            Ok(None) => {}
            Err(err) => self.tell(NetEvent::Failed {
                what,
                message: describe(&err),
            }),
        }
    }

    async fn send(
        &mut self,
        client: &Client,
        request: Request,
    ) -> Result<Option<NetEvent>, ClientError> {
        let event = match request {
            Request::Chat { room, text } => {
                let ack = client.chat_in(&room, &text).await?;
                NetEvent::ChatSent { text, ack }
            }
            Request::Whisper { to, text } => {
                let ack = client.whisper(&to, &text).await?;
                NetEvent::WhisperSent { to, text, ack }
            }
            Request::Join(name) => {
                let joined = client.join_room(&name, 0, JOIN_HISTORY).await?;
                self.track(&joined);
                NetEvent::Joined(joined)
            }
            Request::Create {
                name,
                topic,
                invite_only,
            } => {
                let joined = client.create_room(&name, &topic, invite_only).await?;
                self.track(&joined);
                NetEvent::Joined(joined)
            }
            Request::Leave(name) => {
                client.leave_room(&name).await?;
                self.rooms.remove(&name.to_lowercase());
                NetEvent::Left(name)
            }
            Request::ListRooms => NetEvent::Rooms(client.list_rooms().await?),
            Request::Members { room, show } => {
                let members = client.list_members(&room).await?;
                NetEvent::Members {
                    room,
                    members,
                    show,
                }
            }
            Request::History { room, before_seq } => {
                NetEvent::History(client.history(&room, before_seq, JOIN_HISTORY).await?)
            }
            Request::Topic { room, topic } => {
                client.set_topic(&room, &topic).await?;
                NetEvent::Done(format!("topic of #{room} set"))
            }
            Request::Invite { room, username } => {
                client.invite(&room, &username).await?;
                NetEvent::Done(format!("invited {username} to #{room}"))
            }
            Request::Kick {
                room,
                username,
                reason,
            } => {
                client.kick_member(&room, &username, &reason).await?;
                NetEvent::Done(format!("kicked {username} from #{room}"))
            }
            Request::Ban {
                room,
                username,
                reason,
            } => {
                client.ban_member(&room, &username, &reason).await?;
                NetEvent::Done(format!("banned {username} from #{room}"))
            }
            Request::Unban { room, username } => {
                client.unban_member(&room, &username).await?;
                NetEvent::Done(format!("unbanned {username} in #{room}"))
            }
            Request::SetRole {
                room,
                username,
                role,
            } => {
                client.set_role(&room, &username, role).await?;
                let what = if role == pb::RoomRole::Operator {
                    "is now an operator"
                } else {
                    "is no longer an operator"
                };
                NetEvent::Done(format!("{username} {what} in #{room}"))
            }
            Request::Resume | Request::Login { .. } | Request::Register { .. } | Request::Quit => {
                return Ok(None);
            }
        };
        Ok(Some(event))
    }
}

/// What a request was, for error messages.
fn describe_request(request: &Request) -> String {
    match request {
        Request::Chat { .. } => "send".into(),
        Request::Whisper { to, .. } => format!("whisper to {to}"),
        Request::Join(room) => format!("join #{room}"),
        Request::Leave(room) => format!("leave #{room}"),
        Request::Create { name, .. } => format!("create #{name}"),
        Request::ListRooms => "rooms".into(),
        Request::Members { .. } => "members".into(),
        Request::History { .. } => "history".into(),
        Request::Topic { .. } => "topic".into(),
        Request::Invite { username, .. } => format!("invite {username}"),
        Request::Kick { username, .. } => format!("kick {username}"),
        Request::Ban { username, .. } => format!("ban {username}"),
        Request::Unban { username, .. } => format!("unban {username}"),
        Request::SetRole { username, .. } => format!("role of {username}"),
        Request::Resume | Request::Login { .. } | Request::Register { .. } | Request::Quit => {
            "login".into()
        }
    }
}
