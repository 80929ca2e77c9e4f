//! The [`Message`] enum: one variant per body type, and the type numbers that
//! the header carries.

use bytes::BufMut;

use crate::pb;

/// Which side may send a message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Only clients send it (requests).
    ClientToServer,
    /// Only servers send it (responses and pushes).
    ServerToClient,
    /// Either side (Ping and Pong).
    Both,
}

/// Declares every message once: its variant, body type, wire number and
/// direction. The enum, the number table and the body dispatch all come from
/// this one list, so they cannot drift apart.
macro_rules! messages {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $dir:ident; )*) => {
        /// The type number of a message, as carried in the frame header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum MessageType {
            $( $(#[$doc])* $name = $num, )*
        }

        /// A decoded frame body.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Message {
            $( $(#[$doc])* $name(pb::$name), )*
        }

        impl MessageType {
            /// Every message type, in wire-number order.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$name,)*];

            /// Looks up a wire number; `None` for numbers this build does not know.
            pub fn from_u16(num: u16) -> Option<Self> {
                match num {
                    $( $num => Some(MessageType::$name), )*
                    _ => None,
                }
            }

            /// Which side may send this type.
            pub fn direction(self) -> Direction {
                match self {
                    $( MessageType::$name => Direction::$dir, )*
                }
            }

            /// Decodes a body of this type.
            pub fn decode_body(self, body: &[u8]) -> Result<Message, prost::DecodeError> {
                use prost::Message as _;
                Ok(match self {
                    $( MessageType::$name => Message::$name(pb::$name::decode(body)?), )*
                })
            }
        }

        impl Message {
            /// The type number this message travels under.
            pub fn msg_type(&self) -> MessageType {
                match self {
                    $( Message::$name(_) => MessageType::$name, )*
                }
            }

            /// Length of the encoded body in bytes.
            pub fn body_len(&self) -> usize {
                use prost::Message as _;
                match self {
                    $( Message::$name(m) => m.encoded_len(), )*
                }
            }

            /// Encodes the body (no header) into `dst`, which must have room
            /// for [`Message::body_len`] bytes (a `BytesMut` or `Vec` grows).
            pub(crate) fn put_body(&self, dst: &mut impl BufMut) {
                use prost::Message as _;
                let res = match self {
                    $( Message::$name(m) => m.encode(dst), )*
                };
                // Invariant: callers reserve body_len() bytes first, and the
                // growable buffers used here never run out of capacity.
                res.expect("frame buffer has room for the body");
            }
        }
    };
}

messages! {
    /// Version check and the server's limits (client -> server).
    Hello = 1, ClientToServer;
    /// Answer to Hello.
    Welcome = 2, ServerToClient;
    /// Create an account.
    Register = 10, ClientToServer;
    /// Log in to an account.
    Login = 11, ClientToServer;
    /// Answer to a successful Login.
    LoginOk = 12, ServerToClient;
    /// Change the caller's display name.
    SetDisplayName = 13, ClientToServer;
    /// End the session.
    Logout = 14, ClientToServer;
    /// Send a message to a room (the lobby by default).
    Chat = 20, ClientToServer;
    /// Answer to Chat: sequence number and timestamp.
    ChatAck = 21, ServerToClient;
    /// Push: a chat message in a room.
    ChatMessage = 22, ServerToClient;
    /// Send a private message to a user.
    Whisper = 30, ClientToServer;
    /// Answer to Whisper.
    WhisperAck = 31, ServerToClient;
    /// Push: a private message.
    WhisperMessage = 32, ServerToClient;
    /// Ask for the online users.
    ListUsers = 40, ClientToServer;
    /// Answer to ListUsers.
    UserList = 41, ServerToClient;
    /// Push: a user logged in.
    UserJoined = 42, ServerToClient;
    /// Push: a user left.
    UserLeft = 43, ServerToClient;
    /// Liveness probe, either direction.
    Ping = 50, Both;
    /// Answer to Ping.
    Pong = 51, Both;
    /// Generic success answer.
    Ok = 60, ServerToClient;
    /// Failure answer, or a protocol error push.
    Error = 61, ServerToClient;
    /// Push: the server is about to close the connection, and why.
    Kicked = 62, ServerToClient;
    /// Create a room and join it as its owner.
    CreateRoom = 70, ClientToServer;
    /// Join a room, or catch up on one.
    JoinRoom = 71, ClientToServer;
    /// Answer to CreateRoom and JoinRoom, with history.
    RoomJoined = 72, ServerToClient;
    /// Leave a room.
    LeaveRoom = 73, ClientToServer;
    /// Ask for the rooms.
    ListRooms = 74, ClientToServer;
    /// Answer to ListRooms.
    RoomList = 75, ServerToClient;
    /// Ask for a room's members.
    ListMembers = 76, ClientToServer;
    /// Answer to ListMembers.
    MemberList = 77, ServerToClient;
    /// Ask for a page of a room's history.
    History = 78, ClientToServer;
    /// Answer to History.
    HistoryPage = 79, ServerToClient;
    /// Set a room's topic.
    SetTopic = 80, ClientToServer;
    /// Push: a room's topic or settings changed.
    RoomUpdated = 81, ServerToClient;
    /// Invite a user to a room.
    Invite = 82, ClientToServer;
    /// Push: you were invited to a room.
    Invited = 83, ServerToClient;
    /// Remove a member from a room.
    KickMember = 84, ClientToServer;
    /// Remove a member from a room and keep them out.
    BanMember = 86, ClientToServer;
    /// Lift a room ban.
    UnbanMember = 87, ClientToServer;
    /// Grant or take operator rights.
    SetRole = 88, ClientToServer;
    /// Push: a member's role changed.
    RoleChanged = 89, ServerToClient;
    /// Push: someone joined a room.
    MemberJoined = 90, ServerToClient;
    /// Push: someone's membership of a room ended.
    MemberLeft = 91, ServerToClient;
    /// Deletes a room (its owner or a server admin).
    DeleteRoom = 92, ClientToServer;
    /// A room was deleted.
    RoomDeleted = 93, ServerToClient;
    /// Change the caller's password.
    ChangePassword = 94, ClientToServer;
    /// Answer to ChangePassword: the session's new token.
    PasswordChanged = 95, ServerToClient;
    /// Admin: end a user's session.
    AdminKick = 100, ClientToServer;
    /// Admin: ban an account and/or an IP range.
    AdminBan = 101, ClientToServer;
    /// Admin: lift a ban.
    AdminUnban = 102, ClientToServer;
    /// Admin: mute an account.
    AdminMute = 103, ClientToServer;
    /// Admin: lift a mute.
    AdminUnmute = 104, ClientToServer;
    /// Admin: revoke every session token of an account.
    AdminRevokeTokens = 105, ClientToServer;
}

impl Message {
    /// Builds an [`pb::Error`] message.
    pub fn error(code: pb::ErrorCode, message: impl Into<String>) -> Self {
        Message::Error(pb::Error {
            code: code as i32,
            message: message.into(),
            until_ms: 0,
        })
    }

    /// Builds a [`pb::Kicked`] message.
    pub fn kicked(code: pb::ErrorCode, message: impl Into<String>) -> Self {
        Message::Kicked(pb::Kicked {
            code: code as i32,
            message: message.into(),
            until_ms: 0,
        })
    }
}
