//! Reconnecting with back-off, and resuming every tracked room from its
//! last sequence number.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sori_client::{Client, ClientError};
use sori_protocol::pb;
use tokio::time::Instant;

use crate::auth;
use crate::exchange::{ConnState, NetEvent};
use crate::net::{Driver, JOIN_HISTORY, describe, refuses_login};

/// The first reconnect waits about this long; each failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Driver {
    pub(super) async fn connect(&mut self) -> Result<(), ClientError> {
        let (client, events) = Client::connect(self.config.server.as_str()).await?;
        self.client = Some(client);
        self.events = Some(events);
        Ok(())
    }

    /// The connection ended (or could not be made): try again later.
    pub(super) fn lost(&mut self, reason: String) {
        self.client = None;
        self.events = None;
        if self.account.is_none() {
            // Not logged in yet: the next login connects again.
            self.retry_at = None;
            self.tell(NetEvent::Connection(ConnState::Idle));
            return;
        }
        if self.stay_offline {
            self.tell(NetEvent::Connection(ConnState::Offline(reason)));
            return;
        }
        self.attempt += 1;
        let delay = backoff(self.attempt);
        self.retry_at = Some(Instant::now() + delay);
        self.tell(NetEvent::Connection(ConnState::Reconnecting {
            attempt: self.attempt,
            reason,
        }));
    }

    pub(super) async fn reconnect(&mut self) {
        self.retry_at = None;
        if let Err(err) = self.connect().await {
            return self.lost(format!("cannot connect: {}", describe(&err)));
        }
        if self.account.is_none() {
            self.attempt = 0;
            self.tell(NetEvent::Connection(ConnState::Online));
            return;
        }
        match self.resume().await {
            Ok(()) => {
                self.attempt = 0;
                self.tell(NetEvent::Connection(ConnState::Resumed));
            }
            Err(ClientError::Server { code, message, .. }) if refuses_login(code) => {
                self.client = None;
                self.events = None;
                self.account = None;
                self.tell(NetEvent::Connection(ConnState::Offline(message.clone())));
                self.tell(NetEvent::LoginFailed(message));
            }
            Err(err) => {
                if let Some(client) = self.client.take() {
                    client.close();
                }
                self.lost(describe(&err));
            }
        }
    }

    /// Logs in on the new connection and rejoins every tracked room from
    /// its last sequence number.
    async fn resume(&mut self) -> Result<(), ClientError> {
        let client = self.client.clone().ok_or(ClientError::Closed)?;
        let account = self.account.as_ref().ok_or(ClientError::Closed)?;
        let login = auth::login(&client, &account.username, &account.secret).await?;
        let members: BTreeMap<String, &pb::RoomInfo> = login
            .rooms
            .iter()
            .map(|room| (room.name.to_lowercase(), room))
            .collect();
        let mut dropped = Vec::new();
        self.rooms.retain(|key, tracked| {
            let keep = key.is_empty() || members.contains_key(key);
            if !keep {
                dropped.push(tracked.name.clone());
            }
            keep
        });
        let mut joined_rooms = Vec::new();
        for (key, room) in &members {
            let since_seq = self.rooms.get(key).map(|tracked| tracked.last_seq);
            let joined = match since_seq {
                // Resumed: exactly the messages after the last one seen.
                Some(since_seq) => client.join_room(&room.name, since_seq, 0).await?,
                // A room joined elsewhere meanwhile: its newest messages.
                None => client.join_room(&room.name, 0, JOIN_HISTORY).await?,
            };
            joined_rooms.push(joined);
        }
        if !members.contains_key("") {
            let since_seq = self.rooms.get("").map_or(0, |tracked| tracked.last_seq);
            joined_rooms.insert(0, client.join_room("", since_seq, 0).await?);
        }
        for joined in &joined_rooms {
            self.track(joined);
        }
        self.keep_token(&login);
        let user = login.user.unwrap_or_default();
        self.tell(NetEvent::LoggedIn {
            user,
            rooms: joined_rooms,
            resumed: true,
            dropped,
        });
        Ok(())
    }
}

/// The wait before reconnect try `attempt` (1 for the first): doubling
/// from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], plus up to a quarter of
/// it at random so that many clients do not all come back at once.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}
