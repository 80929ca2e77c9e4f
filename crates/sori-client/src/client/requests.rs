//! One [`Client`] method per request of the protocol: each sends its
//! request through [`Client::request`] and unwraps the answer it expects.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sori_protocol::{Message, PROTOCOL_VERSION, pb};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::ClientError;

/// Checks that a response has the expected type, and unwraps its body.
macro_rules! expect {
    ($response:expr, $variant:ident) => {
        match $response {
            Message::$variant(body) => Ok(body),
            other => Err(ClientError::Unexpected(Box::new(other))),
        }
    };
}

impl Client {
    /// Says hello: checks the protocol version and learns the server's limits.
    pub async fn hello(&self) -> Result<pb::Welcome, ClientError> {
        let hello = pb::Hello {
            protocol_version: u32::from(PROTOCOL_VERSION),
            client_name: concat!("sori-client/", env!("CARGO_PKG_VERSION")).into(),
        };
        expect!(self.request(Message::Hello(hello)).await?, Welcome)
    }

    /// Creates an account; does not log in. An empty `display_name` lets
    /// the server use the username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: &str,
    ) -> Result<(), ClientError> {
        let register = pb::Register {
            username: username.into(),
            password: password.into(),
            display_name: display_name.into(),
        };
        expect!(self.request(Message::Register(register)).await?, Ok).map(drop)
    }

    /// Logs in with a password. The answer's `session_token` (empty when
    /// the server has tokens off) logs in again until `token_expires_ms`
    /// with [`Client::login_with_token`]: keep it instead of the password.
    pub async fn login(&self, username: &str, password: &str) -> Result<pb::LoginOk, ClientError> {
        let login = pb::Login {
            username: username.into(),
            password: password.into(),
            token: String::new(),
        };
        expect!(self.request(Message::Login(login)).await?, LoginOk)
    }

    /// Logs in with a session token from an earlier [`pb::LoginOk`] or
    /// [`pb::PasswordChanged`] of this account. The answer carries the same
    /// token and expiry. A token that no longer works (expired, revoked by
    /// a logout, a ban, a password change or an admin) fails with
    /// [`ClientError::Server`] `TOKEN_INVALID`: forget it, and ask for the
    /// password.
    pub async fn login_with_token(
        &self,
        username: &str,
        token: &str,
    ) -> Result<pb::LoginOk, ClientError> {
        let login = pb::Login {
            username: username.into(),
            password: String::new(),
            token: token.into(),
        };
        expect!(self.request(Message::Login(login)).await?, LoginOk)
    }

    /// Changes this user's password. Every session token of the account is
    /// revoked; the answer carries this session's new one.
    pub async fn change_password(
        &self,
        old_password: &str,
        new_password: &str,
    ) -> Result<pb::PasswordChanged, ClientError> {
        let change = pb::ChangePassword {
            old_password: old_password.into(),
            new_password: new_password.into(),
        };
        expect!(
            self.request(Message::ChangePassword(change)).await?,
            PasswordChanged
        )
    }

    /// Changes this user's display name.
    pub async fn set_display_name(&self, name: &str) -> Result<(), ClientError> {
        let set = pb::SetDisplayName {
            display_name: name.into(),
        };
        expect!(self.request(Message::SetDisplayName(set)).await?, Ok).map(drop)
    }

    /// Sends a chat message to the lobby (room `""`).
    pub async fn chat(&self, text: &str) -> Result<pb::ChatAck, ClientError> {
        self.chat_in("", text).await
    }

    /// Sends a chat message to a room the caller is a member of (`""` is
    /// the lobby). The ack carries the message's sequence number: the
    /// sender does not get its own message pushed back.
    pub async fn chat_in(&self, room: &str, text: &str) -> Result<pb::ChatAck, ClientError> {
        let chat = pb::Chat {
            room: room.into(),
            text: text.into(),
        };
        expect!(self.request(Message::Chat(chat)).await?, ChatAck)
    }

    /// Creates a room and joins it as its owner.
    pub async fn create_room(
        &self,
        name: &str,
        topic: &str,
        invite_only: bool,
    ) -> Result<pb::RoomJoined, ClientError> {
        let create = pb::CreateRoom {
            name: name.into(),
            topic: topic.into(),
            invite_only,
        };
        expect!(self.request(Message::CreateRoom(create)).await?, RoomJoined)
    }

    /// Joins a room, or catches up on one the caller is a member of.
    ///
    /// `since_seq` 0 asks for the newest `history_limit` messages (0: the
    /// server's default); otherwise the last sequence number seen, and the
    /// answer holds exactly the messages after it, or, if too many were
    /// missed, the newest ones with `reload_required` set.
    pub async fn join_room(
        &self,
        name: &str,
        since_seq: u64,
        history_limit: u32,
    ) -> Result<pb::RoomJoined, ClientError> {
        let join = pb::JoinRoom {
            name: name.into(),
            since_seq,
            history_limit,
            room_id: 0,
        };
        expect!(self.request(Message::JoinRoom(join)).await?, RoomJoined)
    }

    /// Deletes a room (its owner or a server admin): its members get
    /// [`Event::RoomDeleted`](crate::Event::RoomDeleted).
    pub async fn delete_room(&self, name: &str) -> Result<(), ClientError> {
        let delete = pb::DeleteRoom { room: name.into() };
        expect!(self.request(Message::DeleteRoom(delete)).await?, Ok).map(drop)
    }

    /// Leaves a room: the membership ends.
    pub async fn leave_room(&self, name: &str) -> Result<(), ClientError> {
        let leave = pb::LeaveRoom { name: name.into() };
        expect!(self.request(Message::LeaveRoom(leave)).await?, Ok).map(drop)
    }

    /// The public rooms and the caller's invite-only rooms, by name.
    pub async fn list_rooms(&self) -> Result<Vec<pb::RoomInfo>, ClientError> {
        let list = expect!(
            self.request(Message::ListRooms(pb::ListRooms {})).await?,
            RoomList
        )?;
        Ok(list.rooms)
    }

    /// A room's members, sorted by username.
    pub async fn list_members(&self, room: &str) -> Result<Vec<pb::Member>, ClientError> {
        let list = pb::ListMembers { room: room.into() };
        let members = expect!(self.request(Message::ListMembers(list)).await?, MemberList)?;
        Ok(members.members)
    }

    /// A page of a room's history, oldest first: up to `limit` messages
    /// (0: the server's default) before `before_seq` (0: the newest).
    pub async fn history(
        &self,
        room: &str,
        before_seq: u64,
        limit: u32,
    ) -> Result<pb::HistoryPage, ClientError> {
        let history = pb::History {
            room: room.into(),
            before_seq,
            limit,
        };
        expect!(self.request(Message::History(history)).await?, HistoryPage)
    }

    /// Sets a room's topic (operators and the owner).
    pub async fn set_topic(&self, room: &str, topic: &str) -> Result<(), ClientError> {
        let set = pb::SetTopic {
            room: room.into(),
            topic: topic.into(),
        };
        expect!(self.request(Message::SetTopic(set)).await?, Ok).map(drop)
    }

    /// Lets a user join an invite-only room (operators and the owner).
    pub async fn invite(&self, room: &str, username: &str) -> Result<(), ClientError> {
        let invite = pb::Invite {
            room: room.into(),
            username: username.into(),
        };
        expect!(self.request(Message::Invite(invite)).await?, Ok).map(drop)
    }

    /// Ends a user's membership of a room (operators and the owner); an
    /// empty `reason` gives none.
    pub async fn kick_member(
        &self,
        room: &str,
        username: &str,
        reason: &str,
    ) -> Result<(), ClientError> {
        let kick = pb::KickMember {
            room: room.into(),
            username: username.into(),
            reason: reason.into(),
        };
        expect!(self.request(Message::KickMember(kick)).await?, Ok).map(drop)
    }

    /// Ends a user's membership of a room, if any, and keeps them out until
    /// unbanned (operators and the owner).
    pub async fn ban_member(
        &self,
        room: &str,
        username: &str,
        reason: &str,
    ) -> Result<(), ClientError> {
        let ban = pb::BanMember {
            room: room.into(),
            username: username.into(),
            reason: reason.into(),
        };
        expect!(self.request(Message::BanMember(ban)).await?, Ok).map(drop)
    }

    /// Lifts a room ban (operators and the owner).
    pub async fn unban_member(&self, room: &str, username: &str) -> Result<(), ClientError> {
        let unban = pb::UnbanMember {
            room: room.into(),
            username: username.into(),
        };
        expect!(self.request(Message::UnbanMember(unban)).await?, Ok).map(drop)
    }

    /// Grants ([`pb::RoomRole::Operator`]) or takes ([`pb::RoomRole::Member`])
    /// operator rights (the owner only).
    pub async fn set_role(
        &self,
        room: &str,
        username: &str,
        role: pb::RoomRole,
    ) -> Result<(), ClientError> {
        let set = pb::SetRole {
            room: room.into(),
            username: username.into(),
            role: role as i32,
        };
        expect!(self.request(Message::SetRole(set)).await?, Ok).map(drop)
    }

    /// Sends a private message to a user, by username.
    pub async fn whisper(
        &self,
        to_username: &str,
        text: &str,
    ) -> Result<pb::WhisperAck, ClientError> {
        let whisper = pb::Whisper {
            to_username: to_username.into(),
            text: text.into(),
        };
        expect!(self.request(Message::Whisper(whisper)).await?, WhisperAck)
    }

    /// The logged-in users, sorted by username.
    pub async fn list_users(&self) -> Result<Vec<pb::UserInfo>, ClientError> {
        let list = expect!(
            self.request(Message::ListUsers(pb::ListUsers {})).await?,
            UserList
        )?;
        Ok(list.users)
    }

    /// Pings the server and returns the round trip time.
    pub async fn ping(&self) -> Result<Duration, ClientError> {
        let nonce = self.shared.nonces.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let pong = expect!(self.request(Message::Ping(pb::Ping { nonce })).await?, Pong)?;
        if pong.nonce != nonce {
            return Err(ClientError::Unexpected(Box::new(Message::Pong(pong))));
        }
        Ok(start.elapsed())
    }

    /// Logs out. The server answers Ok, then closes the connection.
    pub async fn logout(&self) -> Result<(), ClientError> {
        expect!(self.request(Message::Logout(pb::Logout {})).await?, Ok).map(drop)
    }
}
