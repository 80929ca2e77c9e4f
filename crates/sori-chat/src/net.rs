//! The network task: one connection at a time over `sori-client`, the
//! requests the app makes, and reconnecting with back-off and resuming
//! every room with no gap and no duplicate.
//!
//! The driver keeps its own resume point per room rather than wrapping
//! `sori_client::Session`: the app needs each resume's answers (rooms
//! dropped while away, `reload_required`) next to its own timeline, and
//! one task that owns the connection also serialises the user's requests
//! in the order typed. The resume is the
//! same rule as the session's: remember the last sequence number pushed in
//! each room, rejoin with it as `since_seq`, deliver the answer's history
//! before the new connection's pushes, and drop every message at or below
//! the room's number. The app's timeline also keeps each sequence number
//! once, so the user's own messages (known from their acks) are not shown
//! twice either.
//!
//! The task's loop, the rooms it tracks and the pushes are here;
//! `reconnect.rs` holds the back-off and the resume, `login.rs` the first
//! login and the stored tokens, `requests.rs` the requests made once
//! logged in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sori_client::{Client, ClientError, Event, Events};
use sori_protocol::pb;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::auth::Secret;
use crate::exchange::{NetEvent, Request};

mod login;
mod reconnect;
mod requests;

/// How many messages a first join shows.
const JOIN_HISTORY: u32 = 50;

/// Where to connect, and where tokens are kept.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The server's address, resolved again at every connect.
    pub server: String,
    /// The folder for token files; `None` keeps no token.
    pub state_dir: Option<PathBuf>,
    /// The username given on the command line, whose stored token
    /// [`Request::Resume`] logs in with.
    pub username: Option<String>,
}

/// Starts the network task. Requests go in on the returned sender; the
/// task ends when it is dropped or gets [`Request::Quit`].
pub fn spawn(
    config: NetConfig,
) -> (
    mpsc::UnboundedSender<Request>,
    mpsc::UnboundedReceiver<NetEvent>,
) {
    let (requests_tx, requests) = mpsc::unbounded_channel();
    let (out, events_rx) = mpsc::unbounded_channel();
    let driver = Driver {
        config,
        out,
        client: None,
        events: None,
        account: None,
        rooms: BTreeMap::new(),
        attempt: 0,
        retry_at: None,
        stay_offline: false,
    };
    tokio::spawn(driver.run(requests));
    (requests_tx, events_rx)
}

/// The logged-in account, to log in again after a reconnect.
struct Account {
    username: String,
    secret: Secret,
}

/// One room's resume point.
struct Tracked {
    /// The name as the server spells it.
    name: String,
    /// The highest sequence number delivered to the app by push or
    /// history.
    last_seq: u64,
}

struct Driver {
    config: NetConfig,
    out: mpsc::UnboundedSender<NetEvent>,
    client: Option<Client>,
    events: Option<Events>,
    account: Option<Account>,
    /// By lowercased name.
    rooms: BTreeMap<String, Tracked>,
    /// Reconnect tries since the connection was lost.
    attempt: u32,
    /// When to try again.
    retry_at: Option<Instant>,
    /// The server ended the session in a way that a reconnect must not
    /// undo (logged in elsewhere, banned, kicked by an admin).
    stay_offline: bool,
}

impl Driver {
    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        // The first connection opens at login: a connection that sits at
        // the login screen would only be closed by the server's login
        // timeout.
        loop {
            let retry_at = self.retry_at;
            tokio::select! {
                request = requests.recv() => match request {
                    None | Some(Request::Quit) => break,
                    Some(request) => self.request(request).await,
                },
                event = next_event(&mut self.events) => self.event(event),
                () = sleep_until(retry_at) => self.reconnect().await,
            }
        }
        if let Some(client) = self.client.take() {
            // Closed without Logout: the session token stays valid.
            client.close();
        }
    }

    async fn request(&mut self, request: Request) {
        match request {
            Request::Resume => {
                let Some((username, token)) = self.stored_token() else {
                    self.tell(NetEvent::LoginFailed("no saved session".into()));
                    return;
                };
                self.login(username, Secret::Token(token), None).await;
            }
            Request::Login { username, password } => {
                self.login(username, Secret::Password(password), None).await;
            }
            Request::Register {
                username,
                password,
                display_name,
            } => {
                self.login(username, Secret::Password(password), Some(display_name))
                    .await;
            }
            Request::Quit => {}
            other => self.room_request(other).await,
        }
    }

    /// Starts tracking a room from a join's answer; a room already tracked
    /// moves up to the answer's newest number.
    fn track(&mut self, joined: &pb::RoomJoined) {
        let name = joined.room.as_ref().map_or("", |room| room.name.as_str());
        let seen = joined
            .history
            .last()
            .map_or(joined.last_seq, |msg| msg.seq.max(joined.last_seq));
        let tracked = self
            .rooms
            .entry(name.to_lowercase())
            .or_insert_with(|| Tracked {
                name: name.to_owned(),
                last_seq: 0,
            });
        tracked.name = name.to_owned();
        tracked.last_seq = tracked.last_seq.max(seen);
    }

    fn event(&mut self, event: Event) {
        match &event {
            Event::Chat(msg) => {
                let tracked = self
                    .rooms
                    .entry(msg.room.to_lowercase())
                    .or_insert_with(|| Tracked {
                        name: msg.room.clone(),
                        last_seq: 0,
                    });
                if msg.seq <= tracked.last_seq {
                    // Already delivered by a resume's history.
                    return;
                }
                tracked.last_seq = msg.seq;
            }
            Event::MemberLeft(left) => {
                let is_me = match (&left.user, &self.account) {
                    (Some(user), Some(account)) => {
                        user.username.eq_ignore_ascii_case(&account.username)
                    }
                    _ => false,
                };
                if is_me {
                    self.rooms.remove(&left.room.to_lowercase());
                }
            }
            Event::RoomDeleted(deleted) => {
                self.rooms.remove(&deleted.room.to_lowercase());
            }
            Event::Kicked { code, .. } => {
                if matches!(
                    code,
                    pb::ErrorCode::LoggedInElsewhere
                        | pb::ErrorCode::LoggedOut
                        | pb::ErrorCode::BannedFromServer
                        | pb::ErrorCode::KickedByAdmin
                ) {
                    self.stay_offline = true;
                }
            }
            Event::Closed => {
                let reason = if self.stay_offline {
                    "the server ended the session"
                } else {
                    "connection lost"
                };
                self.lost(reason.into());
                return;
            }
            _ => {}
        }
        self.tell(NetEvent::Push(event));
    }

    fn tell(&self, event: NetEvent) {
        // The app has gone: the task is about to be told to quit.
        let _ = self.out.send(event);
    }
}

/// The next push, or never while there is no connection. Cancel-safe.
async fn next_event(events: &mut Option<Events>) -> Event {
    match events {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether a login refusal means the credentials are wrong, so retrying
/// cannot help.
fn refuses_login(code: pb::ErrorCode) -> bool {
    matches!(
        code,
        pb::ErrorCode::BadCredentials
            | pb::ErrorCode::TokenInvalid
            | pb::ErrorCode::BannedFromServer
    )
}

/// A short text for an error, for the status line: the server's own
/// message when it refused.
fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Server { message, .. } => message.clone(),
        ClientError::Io(err) => err.to_string(),
        ClientError::Closed => "connection closed".into(),
        ClientError::Timeout => "no answer from the server".into(),
        other => other.to_string(),
    }
}
