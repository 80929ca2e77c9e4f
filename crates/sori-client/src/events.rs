//! Server pushes (frames with request id 0), as a stream of [`Event`]s.

use sori_protocol::pb;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

/// Something the server pushed, or the end of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A chat message from another user in a room this client is in.
    Chat(pb::ChatMessage),
    /// A whisper addressed to this client; `offline` is set on whispers
    /// stored while the user was offline, which follow `LoginOk`.
    Whisper(pb::WhisperMessage),
    /// A room's topic or settings changed.
    RoomUpdated(pb::RoomUpdated),
    /// This user was invited to an invite-only room.
    Invited(pb::Invited),
    /// Someone joined a room this client is in.
    MemberJoined(pb::MemberJoined),
    /// Someone's membership of a room ended. When the user is this client's
    /// own, nothing more of that room follows.
    MemberLeft(pb::MemberLeft),
    /// A member's role in a room changed.
    RoleChanged(pb::RoleChanged),
    /// A room the session was in was deleted; nothing more comes from it.
    RoomDeleted(pb::RoomDeleted),
    /// A user logged in.
    UserJoined(pb::UserInfo),
    /// A user logged out or was disconnected.
    UserLeft(pb::UserInfo),
    /// The server is closing the connection, and why. [`Event::Closed`]
    /// follows.
    Kicked {
        /// The reason; [`pb::ErrorCode::Unspecified`] for an unknown number.
        code: pb::ErrorCode,
        /// The server's human-readable explanation.
        message: String,
        /// Until when, for a BANNED_FROM_SERVER kick (0: forever); 0 otherwise.
        until_ms: i64,
    },
    /// An `Error` push (request id 0): a protocol error not tied to a request.
    Error {
        /// The reason; [`pb::ErrorCode::Unspecified`] for an unknown number.
        code: pb::ErrorCode,
        /// The server's human-readable explanation.
        message: String,
    },
    /// The connection ended. Every later call yields `Closed` again.
    Closed,
}

/// The receiving end of a connection's pushes.
///
/// Pushes are buffered without bound until read, so a caller that does not
/// care about them should drop its `Events`: the connection then discards
/// them as they arrive.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
    /// Set once `Closed` has been yielded, so that it is yielded forever
    /// after without touching the channel.
    closed: bool,
}

impl Events {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Event>) -> Self {
        Events { rx, closed: false }
    }

    /// Waits for the next push; [`Event::Closed`] once the connection has
    /// ended, and forever after. Cancel-safe.
    pub async fn next(&mut self) -> Event {
        if self.closed {
            return Event::Closed;
        }
        let event = self.rx.recv().await.unwrap_or(Event::Closed);
        self.closed = event == Event::Closed;
        event
    }

    /// The next push if one has already arrived: `None` when nothing is
    /// waiting, [`Event::Closed`] once the connection has ended.
    pub fn try_next(&mut self) -> Option<Event> {
        if self.closed {
            return Some(Event::Closed);
        }
        let event = match self.rx.try_recv() {
            Ok(event) => event,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Event::Closed,
        };
        self.closed = event == Event::Closed;
        Some(event)
    }
}
