//! What passes between the [`App`](crate::app::App) and the network task:
//! [`Request`]s out, [`NetEvent`]s in. Plain data, so that the app is
//! tested by feeding it events and reading the requests it makes.

use sori_client::Event;
use sori_protocol::pb;

/// Something the app asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Log in with a stored session token (see `auth.rs`), falling back to
    /// the login screen when the server refuses it.
    Resume,
    /// Log in with a password.
    Login {
        /// The username.
        username: String,
        /// The password; held only until the login answers.
        password: String,
    },
    /// Create an account, then log in.
    Register {
        /// The username.
        username: String,
        /// The password.
        password: String,
        /// Empty: the same as the username.
        display_name: String,
    },
    /// Send to a room (`""` is the lobby).
    Chat {
        /// The room.
        room: String,
        /// The text.
        text: String,
    },
    /// Send a whisper.
    Whisper {
        /// The other user's username.
        to: String,
        /// The text.
        text: String,
    },
    /// Join (or open) a room.
    Join(String),
    /// Leave a room.
    Leave(String),
    /// Create a room.
    Create {
        /// Its name.
        name: String,
        /// Its topic.
        topic: String,
        /// Invite-only.
        invite_only: bool,
    },
    /// List the rooms.
    ListRooms,
    /// List a room's members; `show` prints them as a notice (`/who`).
    Members {
        /// The room.
        room: String,
        /// Print the list.
        show: bool,
    },
    /// A page of older history.
    History {
        /// The room.
        room: String,
        /// Messages before this sequence number.
        before_seq: u64,
    },
    /// Set a room's topic.
    Topic {
        /// The room.
        room: String,
        /// The topic.
        topic: String,
    },
    /// Invite a user to a room.
    Invite {
        /// The room.
        room: String,
        /// The user.
        username: String,
    },
    /// Kick a member.
    Kick {
        /// The room.
        room: String,
        /// The user.
        username: String,
        /// Why; may be empty.
        reason: String,
    },
    /// Ban a user from a room.
    Ban {
        /// The room.
        room: String,
        /// The user.
        username: String,
        /// Why; may be empty.
        reason: String,
    },
    /// Lift a room ban.
    Unban {
        /// The room.
        room: String,
        /// The user.
        username: String,
    },
    /// Grant or take operator rights.
    SetRole {
        /// The room.
        room: String,
        /// The user.
        username: String,
        /// `Operator` or `Member`.
        role: pb::RoomRole,
    },
    /// Log out and end the program.
    Quit,
}

/// The state of the connection, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Not connected, and not trying: the connection opens at login.
    Idle,
    /// Opening the first connection.
    Connecting,
    /// Connected (logged in or at the login screen).
    Online,
    /// The connection was lost; the next try is under way or waiting.
    Reconnecting {
        /// Tries so far.
        attempt: u32,
        /// Why the last connection ended, or why the last try failed.
        reason: String,
    },
    /// A reconnect succeeded and every room was resumed.
    Resumed,
    /// No connection, and none will be tried (logged in elsewhere, kicked
    /// by an admin, banned).
    Offline(String),
}

/// Something the network task tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// The connection changed state.
    Connection(ConnState),
    /// Logged in (or logged in again after a reconnect).
    LoggedIn {
        /// This user.
        user: pb::UserInfo,
        /// Every room joined, with its history: on a first login the
        /// newest messages, on a resume the messages missed.
        rooms: Vec<pb::RoomJoined>,
        /// A resume after a reconnect, not a first login.
        resumed: bool,
        /// Rooms left behind on a resume: the account was removed from
        /// them while away.
        dropped: Vec<String>,
    },
    /// A login (with password or token) was refused, or could not be sent.
    LoginFailed(String),
    /// A push from the server.
    Push(sori_client::Event),
    /// The answer to a join or create.
    Joined(pb::RoomJoined),
    /// The user left a room.
    Left(String),
    /// A page of older history.
    History(pb::HistoryPage),
    /// A room's members.
    Members {
        /// The room.
        room: String,
        /// The members.
        members: Vec<pb::Member>,
        /// Print them (`/who`).
        show: bool,
    },
    /// The rooms one can join.
    Rooms(Vec<pb::RoomInfo>),
    /// The user's own chat message was stored: it is shown now.
    ChatSent {
        /// The text sent.
        text: String,
        /// Its room, sequence number and time.
        ack: pb::ChatAck,
    },
    /// The user's whisper was delivered or stored.
    WhisperSent {
        /// To whom (username as typed).
        to: String,
        /// The text.
        text: String,
        /// When, and whether it was stored for later.
        ack: pb::WhisperAck,
    },
    /// A request succeeded; a line for the status bar.
    Done(String),
    /// A request failed; `what` names it, `message` is the server's text.
    Failed {
        /// What was asked, e.g. "join #rust".
        what: String,
        /// Why it failed.
        message: String,
    },
}

impl From<Event> for NetEvent {
    fn from(event: Event) -> Self {
        NetEvent::Push(event)
    }
}
