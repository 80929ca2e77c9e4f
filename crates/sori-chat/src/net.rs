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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sori_client::{Client, ClientError, Event, Events};
use sori_protocol::pb;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::auth::{self, Secret, TokenFile};
use crate::exchange::{ConnState, NetEvent, Request};

/// How many messages a first join shows.
const JOIN_HISTORY: u32 = 50;
/// The first reconnect waits about this long; each failure doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

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

    async fn connect(&mut self) -> Result<(), ClientError> {
        let (client, events) = Client::connect(self.config.server.as_str()).await?;
        self.client = Some(client);
        self.events = Some(events);
        Ok(())
    }

    /// The connection ended (or could not be made): try again later.
    fn lost(&mut self, reason: String) {
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

    async fn reconnect(&mut self) {
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

    /// The token stored for the username given on the command line.
    fn stored_token(&self) -> Option<(String, String)> {
        let username = self.config.username.clone()?;
        let token = self.token_file(&username)?.load()?;
        Some((username, token))
    }

    async fn login(&mut self, username: String, secret: Secret, register: Option<String>) {
        if self.client.is_none() {
            self.tell(NetEvent::Connection(ConnState::Connecting));
            if let Err(err) = self.connect().await {
                self.tell(NetEvent::Connection(ConnState::Idle));
                let message = format!("cannot reach {}: {}", self.config.server, describe(&err));
                self.tell(NetEvent::LoginFailed(message));
                return;
            }
            self.retry_at = None;
            self.attempt = 0;
            self.tell(NetEvent::Connection(ConnState::Online));
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        if let Err(err) = self
            .first_login(&client, &username, &secret, register)
            .await
        {
            let refused = matches!(&err, ClientError::Server { code, .. } if refuses_login(*code));
            if refused && matches!(secret, Secret::Token(_)) {
                // The server no longer takes it: the password is needed.
                if let Some(file) = self.token_file(&username) {
                    file.forget();
                }
            }
            self.tell(NetEvent::LoginFailed(describe(&err)));
        }
    }

    async fn first_login(
        &mut self,
        client: &Client,
        username: &str,
        secret: &Secret,
        register: Option<String>,
    ) -> Result<(), ClientError> {
        if let (Some(display_name), Secret::Password(password)) = (&register, secret) {
            client.register(username, password, display_name).await?;
        }
        let login = auth::login(client, username, secret).await?;
        let user = login.user.clone().unwrap_or_default();
        self.account = Some(Account {
            username: user.username.clone(),
            secret: secret.clone(),
        });
        self.stay_offline = false;
        self.keep_token(&login);
        let mut names: Vec<String> = login.rooms.iter().map(|room| room.name.clone()).collect();
        if !names.iter().any(String::is_empty) {
            names.insert(0, String::new());
        }
        let mut rooms = Vec::new();
        for name in names {
            let joined = client.join_room(&name, 0, JOIN_HISTORY).await?;
            self.track(&joined);
            rooms.push(joined);
        }
        self.tell(NetEvent::LoggedIn {
            user,
            rooms,
            resumed: false,
            dropped: Vec::new(),
        });
        Ok(())
    }

    /// Stores the login's session token, if any, and logs in with it from
    /// now on instead of the password.
    fn keep_token(&mut self, login: &pb::LoginOk) {
        let Some(token) = auth::session_token(login) else {
            return;
        };
        let Some(account) = &mut self.account else {
            return;
        };
        account.secret = Secret::Token(token.clone());
        let username = account.username.clone();
        if let Some(file) = self.token_file(&username) {
            if let Err(err) = file.save(&token) {
                self.tell(NetEvent::Failed {
                    what: format!("saving the session to {}", file.path().display()),
                    message: err.to_string(),
                });
            }
        }
    }

    fn token_file(&self, username: &str) -> Option<TokenFile> {
        let dir = self.config.state_dir.as_ref()?;
        Some(TokenFile::new(dir, &self.config.server, username))
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

    async fn room_request(&mut self, request: Request) {
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
