//! [`Session`]: a logged-in connection that can reconnect and resume its
//! rooms with no gap and no duplicate, and [`SessionEvents`], its pushes.
//!
//! The session keeps the address, the options and the credentials, and,
//! shared with its [`SessionEvents`], the last sequence number seen in each
//! room (a [`SeqTracker`]). [`Session::reconnect`] opens a new connection,
//! logs in again (the server replaces the old session), and rejoins every
//! room with that number as `since_seq`.
//!
//! The credentials are the session token when the server gave one: the
//! password is used for the first login and then dropped, and every
//! reconnect logs in with the token. Only a server with tokens turned off
//! leaves the session keeping the password, the one way it can log in
//! again. The answers' history is handed to
//! the [`SessionEvents`], which delivers it before anything from the new
//! connection.
//!
//! Why that order is enough: the server queues a room's `RoomJoined` before
//! any live message of that room numbered above `RoomJoined.last_seq`, and
//! the history holds every message up to that number. Live messages that
//! arrive on the new connection before the `RoomJoined` are therefore in the
//! history too. Delivering all the histories first, then the new connection's
//! pushes, and dropping every message at or below the room's last sequence
//! number, gives each room's messages in order, once.
//!
//! The types are here; `reconnect.rs` holds [`Session`]'s methods (logging
//! in, reconnecting, and the room requests that keep the numbers), and
//! `events.rs` how [`SessionEvents`] merges the resumed history with the
//! new connection's pushes.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sori_protocol::pb;
use tokio::sync::mpsc;

use crate::client::{Client, ConnectOptions};
use crate::events::Events;
use crate::seq_tracker::SeqTracker;

mod events;
mod reconnect;

/// A logged-in connection that can reconnect, and resume its rooms.
///
/// Room membership and chat should go through the session's own methods
/// ([`Session::chat_in`], [`Session::join_room`], ...), which keep track of
/// sequence numbers; everything else through [`Session::client`].
pub struct Session {
    client: Client,
    /// Kept as text and resolved again at every reconnect.
    addr: String,
    opts: ConnectOptions,
    username: String,
    /// What a reconnect logs in with.
    credential: Credential,
    login: pb::LoginOk,
    /// Shared with the [`SessionEvents`], which records what it delivers.
    tracker: Arc<Mutex<SeqTracker>>,
    handovers: mpsc::UnboundedSender<Handover>,
}

/// The pushes of a [`Session`], across reconnects.
///
/// Yields the same [`Event`](crate::Event)s as [`Events`], except that a
/// chat message is never yielded twice, and that the end of a connection
/// replaced by [`Session::reconnect`] does not show: the history the
/// reconnect fetched follows, then the new connection's pushes.
#[derive(Debug)]
pub struct SessionEvents {
    /// The pushes of the current connection.
    events: Events,
    /// Resumed history, delivered before anything from `events`.
    backlog: VecDeque<pb::ChatMessage>,
    handovers: mpsc::UnboundedReceiver<Handover>,
    tracker: Arc<Mutex<SeqTracker>>,
    /// This user's username, to notice its own removal from a room.
    username: String,
    state: StreamState,
}

/// What a session logs in again with.
enum Credential {
    /// A session token: the usual case.
    Token(String),
    /// The password, kept only when the server gave no token (tokens
    /// turned off).
    Password(String),
}

/// What [`Session::reconnect`] tells its [`SessionEvents`], in order.
#[derive(Debug)]
pub(crate) enum Handover {
    /// A reconnect has started and is closing the current connection: its
    /// end is not to be reported as [`Event::Closed`](crate::Event::Closed)
    /// unless the reconnect fails.
    Reconnecting,
    /// The reconnect succeeded.
    Connected {
        events: Events,
        /// The answers to the resume's `JoinRoom`s.
        joined: Vec<pb::RoomJoined>,
    },
    /// The reconnect failed; the session has no connection.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// Reading the current connection.
    Live,
    /// The current connection has ended.
    Ended {
        /// [`Event::Closed`](crate::Event::Closed) has been yielded for it.
        told: bool,
        /// A reconnect is under way: wait for it before telling.
        reconnecting: bool,
    },
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password or the token.
        f.debug_struct("Session")
            .field("client", &self.client)
            .field("addr", &self.addr)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Locks the tracker. A std `Mutex`: it is never held across an `.await`.
fn lock(tracker: &Mutex<SeqTracker>) -> MutexGuard<'_, SeqTracker> {
    // The tracker's methods do not panic; recover the data anyway.
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
