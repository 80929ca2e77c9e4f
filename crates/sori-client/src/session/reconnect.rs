//! [`Session`]'s methods: the first login, [`Session::reconnect`] and its
//! resume, and the room requests that keep the sequence numbers up to date.

use std::sync::{Arc, Mutex};

use sori_protocol::pb;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::client::{Client, ConnectOptions};
use crate::error::ClientError;
use crate::seq_tracker::SeqTracker;
use crate::session::{Credential, Handover, Session, SessionEvents, lock};

impl Session {
    /// Connects to `addr` and logs in with a password.
    ///
    /// `addr` is kept as text (for example `"chat.example.org:5252"` or a
    /// `SocketAddr`) and resolved again at every reconnect. The password is
    /// not kept when the server answers with a session token (see
    /// [`Session::token`]); reconnects use the token.
    pub async fn connect(
        addr: impl ToString,
        opts: ConnectOptions,
        username: &str,
        password: &str,
    ) -> Result<(Session, SessionEvents), ClientError> {
        let credential = Credential::Password(password.to_owned());
        Session::start(addr.to_string(), opts, username, credential).await
    }

    /// Connects to `addr` and logs in with a session token kept from an
    /// earlier session ([`Session::token`]), as a client restarted or a
    /// page reloaded does. Fails with [`ClientError::Server`]
    /// `TOKEN_INVALID` once the token no longer works: ask for the password
    /// and use [`Session::connect`].
    pub async fn connect_with_token(
        addr: impl ToString,
        opts: ConnectOptions,
        username: &str,
        token: &str,
    ) -> Result<(Session, SessionEvents), ClientError> {
        let credential = Credential::Token(token.to_owned());
        Session::start(addr.to_string(), opts, username, credential).await
    }

    async fn start(
        addr: String,
        opts: ConnectOptions,
        username: &str,
        mut credential: Credential,
    ) -> Result<(Session, SessionEvents), ClientError> {
        let (client, events) = Client::connect_with(addr.as_str(), opts.clone()).await?;
        let login = match credential.login(&client, username).await {
            Ok(login) => login,
            Err(err) => {
                client.close();
                return Err(err);
            }
        };
        credential.update(&login.session_token);
        let mut tracker = SeqTracker::default();
        // Nothing to resume on a first login.
        tracker.logged_in(&login.rooms);
        let tracker = Arc::new(Mutex::new(tracker));
        let (handovers, handovers_rx) = mpsc::unbounded_channel();
        let own_username = login
            .user
            .as_ref()
            .map_or_else(|| username.to_owned(), |user| user.username.clone());
        let session_events =
            SessionEvents::new(events, handovers_rx, Arc::clone(&tracker), own_username);
        let session = Session {
            client,
            addr,
            opts,
            username: username.to_owned(),
            credential,
            login,
            tracker,
            handovers,
        };
        Ok((session, session_events))
    }

    /// The current connection, for the requests that do not change room
    /// membership or chat. Replaced by [`Session::reconnect`]: a clone taken
    /// before then fails with [`ClientError::Closed`] after.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The answer to the latest login: the user, and the rooms it was a
    /// member of then.
    pub fn login_ok(&self) -> &pb::LoginOk {
        &self.login
    }

    /// The session token the session logs in again with; `None` when the
    /// server has tokens turned off. Keep it (not the password) to resume
    /// after a restart with [`Session::connect_with_token`], somewhere only
    /// this user can read, and forget it on logout.
    pub fn token(&self) -> Option<&str> {
        match &self.credential {
            Credential::Token(token) => Some(token),
            Credential::Password(_) => None,
        }
    }

    /// Changes the password. The server revokes every session token of the
    /// account and answers with a new one, which this session keeps.
    pub async fn change_password(
        &mut self,
        old_password: &str,
        new_password: &str,
    ) -> Result<pb::PasswordChanged, ClientError> {
        let changed = self
            .client
            .change_password(old_password, new_password)
            .await?;
        self.credential = if changed.session_token.is_empty() {
            // Tokens off: the new password is the one thing that logs in.
            Credential::Password(new_password.to_owned())
        } else {
            Credential::Token(changed.session_token.clone())
        };
        Ok(changed)
    }

    /// The last sequence number seen in a room; `None` for a room this
    /// session does not track.
    pub fn last_seq(&self, room: &str) -> Option<u64> {
        lock(&self.tracker).last_seq(room)
    }

    /// Replaces the connection and resumes every room; returns the answers
    /// to the rooms' `JoinRoom`s (the lobby's first).
    ///
    /// Closes the current connection if it is still open, connects, logs in
    /// again (the server replaces the old session), then sends `JoinRoom`
    /// with `since_seq` = the last sequence number seen for every tracked
    /// room the account is still a member of. Rooms the account was removed
    /// from while away are forgotten and not rejoined. The answers' history
    /// goes to [`SessionEvents`], each room in order and before any live
    /// message of that room from the new connection, without the messages
    /// already delivered. Check `reload_required` in the answers: it means
    /// more messages were missed than the server resumes, and the history is
    /// only the newest of them.
    ///
    /// On error the session has no connection (requests fail with
    /// [`ClientError::Closed`]), and the caller may try again.
    ///
    /// Not every end of a connection calls for a reconnect: after
    /// [`Event::Kicked`](crate::Event::Kicked) with `LOGGED_IN_ELSEWHERE`
    /// another client took the account over, and reconnecting would take it
    /// back in turn.
    pub async fn reconnect(&mut self) -> Result<Vec<pb::RoomJoined>, ClientError> {
        // Said before closing, so that SessionEvents does not report the end
        // of the old connection. A send error only means nobody listens.
        let _ = self.handovers.send(Handover::Reconnecting);
        self.client.close();
        let (client, events) =
            match Client::connect_with(self.addr.as_str(), self.opts.clone()).await {
                Ok(connected) => connected,
                Err(err) => {
                    let _ = self.handovers.send(Handover::Failed);
                    return Err(err);
                }
            };
        // The new connection becomes the session's even if resuming fails,
        // so that the old one is not used again.
        self.client = client.clone();
        match self.resume(&client).await {
            Ok(joined) => {
                let connected = Handover::Connected {
                    events,
                    joined: joined.clone(),
                };
                let _ = self.handovers.send(connected);
                Ok(joined)
            }
            Err(err) => {
                client.close();
                let _ = self.handovers.send(Handover::Failed);
                Err(err)
            }
        }
    }

    /// Logs in on a new connection and sends the rooms' `JoinRoom`s, all at
    /// once.
    async fn resume(&mut self, client: &Client) -> Result<Vec<pb::RoomJoined>, ClientError> {
        let login = self.credential.login(client, &self.username).await?;
        self.credential.update(&login.session_token);
        let rooms = lock(&self.tracker).logged_in(&login.rooms);
        self.login = login;

        let mut joins = JoinSet::new();
        for (room_idx, (name, since_seq)) in rooms.into_iter().enumerate() {
            let client = client.clone();
            // 0: the server's default, for a gap over the resume bound.
            joins.spawn(async move { (room_idx, client.join_room(&name, since_seq, 0).await) });
        }
        let mut joined = Vec::with_capacity(joins.len());
        while let Some(done) = joins.join_next().await {
            // Tasks in the set are never aborted while it is polled, so an
            // error is a panic, which is passed on. Returning early drops
            // the set, which aborts the other joins.
            let (room_idx, res) =
                done.unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
            joined.push((room_idx, res?));
        }
        joined.sort_unstable_by_key(|&(room_idx, _)| room_idx);
        Ok(joined.into_iter().map(|(_, answer)| answer).collect())
    }

    /// Sends a chat message to the lobby; see [`Session::chat_in`].
    pub async fn chat(&self, text: &str) -> Result<pb::ChatAck, ClientError> {
        self.chat_in("", text).await
    }

    /// Sends a chat message to a room, and records its sequence number when
    /// that is the next one of the room (see the ack rule in the crate's
    /// `SeqTracker`): otherwise a resume may return the message.
    pub async fn chat_in(&self, room: &str, text: &str) -> Result<pb::ChatAck, ClientError> {
        let ack = self.client.chat_in(room, text).await?;
        lock(&self.tracker).acked(&ack);
        Ok(ack)
    }

    /// Creates a room and tracks it from its answer.
    pub async fn create_room(
        &self,
        name: &str,
        topic: &str,
        invite_only: bool,
    ) -> Result<pb::RoomJoined, ClientError> {
        let joined = self.client.create_room(name, topic, invite_only).await?;
        lock(&self.tracker).joined(&joined);
        Ok(joined)
    }

    /// Joins a room and tracks it: its pushes continue after the answer's
    /// `last_seq`. The history goes to the caller, not to [`SessionEvents`].
    /// For a room already tracked, this is a catch-up the session does not
    /// need: the pushes keep coming, and the answer's history may repeat
    /// some of them.
    pub async fn join_room(
        &self,
        name: &str,
        since_seq: u64,
        history_limit: u32,
    ) -> Result<pb::RoomJoined, ClientError> {
        let joined = self
            .client
            .join_room(name, since_seq, history_limit)
            .await?;
        lock(&self.tracker).joined(&joined);
        Ok(joined)
    }

    /// Leaves a room and stops tracking it.
    pub async fn leave_room(&self, name: &str) -> Result<(), ClientError> {
        self.client.leave_room(name).await?;
        lock(&self.tracker).forget(name);
        Ok(())
    }
}

impl Credential {
    /// Logs in with this credential.
    async fn login(&self, client: &Client, username: &str) -> Result<pb::LoginOk, ClientError> {
        match self {
            Credential::Token(token) => client.login_with_token(username, token).await,
            Credential::Password(password) => client.login(username, password).await,
        }
    }

    /// After a login answered with `session_token`: the token is what logs
    /// in next (a password is dropped); with none, what was used stays.
    fn update(&mut self, session_token: &str) {
        if !session_token.is_empty() {
            *self = Credential::Token(session_token.to_owned());
        }
    }
}
