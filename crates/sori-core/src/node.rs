//! The chat of one node: [`Core`], who is asking ([`Caller`]), a logged-in
//! [`Session`], and what a request produced ([`Outcome`]). The request
//! families add their methods to `Core` in files of their own.

use std::sync::Arc;
use std::time::Duration;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{AccountId, NewRoom, Store, StoreError, StoredRoom, TokenHash};
use tokio::task::JoinHandle;

use crate::accounts::Accounts;
use crate::bus::Bus;
use crate::config::Settings;
use crate::event::Event;
use crate::history::Persister;
use crate::hub::Hub;
use crate::ip_bans::IpBans;
use crate::login::revoker::Revoker;
use crate::metrics::Metrics;
use crate::peer::Peer;
use crate::refusal::Refusal;
use crate::room::Gathering;
use crate::room::Room;

/// Why the chat could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The settings are unusable.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The store could not be read.
    #[error("loading rooms: {0}")]
    Store(#[from] StoreError),
}

/// The chat. One per node; every edge calls the same methods.
pub struct Core {
    /// What the core was configured with.
    pub settings: Settings,
    /// This node's sessions, users and rooms.
    pub hub: Hub,
    /// Everything that crosses sessions.
    pub bus: Arc<dyn Bus>,
    /// IP bans in force, checked by the edges on every accept.
    pub ip_bans: IpBans,
    /// Counters shared with the edges.
    pub metrics: Arc<Metrics>,
    pub(crate) accounts: Accounts,
    pub(crate) store: Arc<dyn Store>,
    /// Writes room messages; `None` when history is off.
    pub(crate) persister: Option<Persister>,
    /// The persister's task, until `close`.
    pub(crate) persister_task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Revokes the session tokens of logouts, many per transaction.
    pub(crate) revoker: Revoker,
    /// The revoker's task, until `close`.
    revoker_task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The presence batch's flusher (`presence.rs`), until `close`.
    presence_task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// When expired session tokens were last deleted (ms since the epoch);
    /// logins sweep them at most once per `login::TOKEN_SWEEP_MS`.
    pub(crate) last_token_sweep_ms: std::sync::atomic::AtomicI64,
}

/// A logged-in session's identity: only code holding one can chat.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account.
    pub account_id: AccountId,
    /// Shared with the hub's user table: one copy per logged-in user.
    pub user: Arc<pb::UserInfo>,
    /// The session token this session logged in with or was given (its
    /// hash), which its Logout revokes; `None` when tokens are off.
    pub token: Option<TokenHash>,
}

/// Who is asking: a logged-in session, and the request it sent.
pub struct Caller<'a> {
    /// The session.
    pub peer: &'a Arc<Peer>,
    /// Its account.
    pub account_id: AccountId,
    /// The user as shown.
    pub user: &'a pb::UserInfo,
    /// The request's id, echoed by the answer (0 for edges without ids).
    pub request_id: u32,
    /// When the request's bytes were read, for fan-out timing.
    pub read_at: tokio::time::Instant,
}

impl<'a> Caller<'a> {
    /// The caller for `session`'s request `request_id`.
    pub fn new(
        peer: &'a Arc<Peer>,
        session: &'a Session,
        request_id: u32,
        read_at: tokio::time::Instant,
    ) -> Self {
        Caller {
            peer,
            account_id: session.account_id,
            user: &session.user,
            request_id,
            read_at,
        }
    }

    /// Queues the answer to this request, at once: answers that must be
    /// ordered with a room's messages are queued under the room's lock.
    pub fn answer(&self, msg: Message) {
        self.peer.push(&Event::new(self.request_id, msg));
    }
}

/// What an authenticated request produced, for the edge to answer.
#[derive(Debug)]
pub enum Outcome {
    /// Answer with this message.
    Reply(Message),
    /// The answer was already queued (in order with a broadcast), or will
    /// be later (by the persister once the message is on disk, by the
    /// revoker once a Logout's token is revoked).
    Sent,
    /// Answer Ok, then close the session.
    Logout,
    /// The answer comes later, and the session closes after it: read
    /// nothing more meanwhile (a Logout: the revoker answers Ok and closes
    /// the session once the token is revoked on disk).
    Closing,
}

impl Core {
    /// Loads the rooms and bans from `store` (creating the lobby on first
    /// run) and starts the persister and the presence batch's flusher.
    pub async fn open(
        settings: Settings,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        metrics: Arc<Metrics>,
    ) -> Result<Core, OpenError> {
        let accounts =
            Accounts::new(store.clone(), &settings.password_hash).map_err(OpenError::Settings)?;
        let (lobby, rooms) = load_rooms(store.as_ref()).await?;
        let ip_bans = IpBans::load(store.as_ref()).await?;
        let gathering = Arc::new(Gathering::default());
        let (persister, task) = if settings.history {
            let (persister, task) = Persister::start(
                store.clone(),
                settings.rooms.tail_len,
                metrics.clone(),
                bus.numbers_remotely(),
                gathering.clone(),
            );
            (Some(persister), Some(task))
        } else {
            (None, None)
        };
        let (revoker, revoker_task) = Revoker::start(store.clone());
        let hub = Hub::new(
            lobby,
            rooms,
            settings.duplicate_login,
            settings.presence_limit,
            gathering,
        );
        let presence_task = hub.presence.start();
        Ok(Core {
            hub,
            bus,
            ip_bans,
            metrics,
            accounts,
            store,
            persister,
            persister_task: std::sync::Mutex::new(task),
            revoker,
            revoker_task: std::sync::Mutex::new(Some(revoker_task)),
            presence_task: std::sync::Mutex::new(Some(presence_task)),
            // The first login sweeps.
            last_token_sweep_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
            settings,
        })
    }

    /// Room messages wait for the edge's write passes from now on: each
    /// room gathers what it numbers, and `pacer` has
    /// [`Core::flush_gathered`] push it, once per recipient, before it
    /// wakes the writers (`room/gather.rs`). An edge that wakes writers at
    /// once must not call this. Only the first call counts.
    pub fn gather_room_messages(&self, pacer: Arc<dyn crate::room::Pacer>) {
        self.hub.gathering.start(pacer);
    }

    /// Pushes every room's gathered messages to its online members.
    pub fn flush_gathered(&self) {
        self.hub.gathering.flush();
    }

    /// After the last session ended: delivers the presence notices still
    /// waiting, writes what is left of the history (within `grace`), then
    /// records each room's last number, so a clean restart continues where
    /// this run stopped.
    pub async fn close(&self, grace: Duration) {
        self.flush_gathered();
        // The flusher delivers what waits (to whoever is still in the
        // lobby) within one window, then ends.
        self.hub.presence.close();
        let presence_task = self
            .presence_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = presence_task {
            let _ = tokio::time::timeout(grace, task).await;
        }
        // Logouts still waiting get their answers (none wait once the
        // last session ended; this only ends the task).
        self.revoker.close();
        let revoker_task = self
            .revoker_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = revoker_task
            && tokio::time::timeout(grace, task).await.is_err()
        {
            tracing::warn!(
                ?grace,
                "logouts were not all revoked within the shutdown grace"
            );
        }
        if let Some(persister) = &self.persister {
            persister.close();
        }
        let task = self
            .persister_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let written = match task {
            Some(task) => tokio::time::timeout(grace, task).await.is_ok(),
            None => true,
        };
        // The last acks waited for a flush.
        self.flush_gathered();
        if !written {
            tracing::warn!(
                ?grace,
                "history was not all written within the shutdown grace"
            );
            // Messages not written keep their reservation: a number given
            // out is never given again.
            return;
        }
        if self.bus.numbers_remotely() {
            // Other nodes may have handed out numbers above this node's
            // last: a reservation is never given back in a cluster.
            return;
        }
        for room in self.hub.all_rooms() {
            let (last, reserved) = {
                let state = room.lock();
                (state.last_seq(), state.reserved())
            };
            if reserved > last
                && let Err(err) = self.store.release_seq(room.id, last).await
            {
                tracing::warn!(room = %room.name, %err, "recording the last sequence number failed");
            }
        }
    }

    /// The room with this name ("" is the lobby).
    pub(crate) fn room(&self, name: &str) -> Result<Arc<Room>, Refusal> {
        self.hub
            .room(name)
            .ok_or_else(|| Refusal::new(ErrorCode::NoSuchRoom, format!("no room named {name:?}")))
    }

    /// Whether `username` is a server admin.
    pub fn is_admin(&self, username: &str) -> bool {
        let key = crate::hub::username_key(username);
        self.settings
            .admins
            .iter()
            .any(|name| crate::hub::username_key(name) == key)
    }

    /// The server's accounts (sign-up, login, lookups).
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }
}

/// Loads every room, creating the lobby (the room named "") on first run.
async fn load_rooms(store: &dyn Store) -> Result<(StoredRoom, Vec<StoredRoom>), StoreError> {
    let mut rooms = store.load_rooms().await?;
    let lobby = match rooms.iter().position(|room| room.name.is_empty()) {
        Some(pos) => rooms.swap_remove(pos),
        None => {
            let created = store
                .create_room(NewRoom {
                    name: String::new(),
                    topic: String::new(),
                    invite_only: false,
                    owner: None,
                })
                .await;
            match created {
                Ok(lobby) => lobby,
                // Another node sharing the database created it meanwhile.
                Err(StoreError::RoomNameTaken) => {
                    rooms = store.load_rooms().await?;
                    let pos = rooms
                        .iter()
                        .position(|room| room.name.is_empty())
                        .ok_or(StoreError::NotFound)?;
                    rooms.swap_remove(pos)
                }
                Err(err) => return Err(err),
            }
        }
    };
    Ok((lobby, rooms))
}
