//! `chat`: a realistic mix. Users are members of a few of many rooms and
//! act at Poisson intervals: they chat in one of their rooms (message
//! sizes from a skewed distribution: mostly short lines, a few long ones),
//! whisper each other, list who is online, leave a room for another (join
//! and leave notices), load a page of a room's history, and now and then
//! log out and come back. Built on `sori-client`, like a real client.
//!
//! With `rooms` 0 every chat goes to `room` (the lobby by default) and
//! there are no room switches or history loads.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use sori_client::{Client, ConnectOptions, Event, Events};
use sori_protocol::{Message, pb};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::engine::EngineOptions;
use crate::report::{ChatRequestStats, ChatRun, Latency};
use crate::stats::new_histogram;

const PASSWORD: &str = "sori-bench-chat";
const KINDS: [&str; 6] = [
    "chat",
    "whisper",
    "list-users",
    "switch-room",
    "history",
    "rejoin",
];
const CHAT: usize = 0;
const WHISPER: usize = 1;
const LIST_USERS: usize = 2;
const SWITCH_ROOM: usize = 3;
const HISTORY: usize = 4;
const REJOIN: usize = 5;

/// Rooms each user is a member of at a time.
const ROOMS_PER_USER: usize = 3;

/// What `chat` runs.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Simulated users.
    pub users: u64,
    /// How long they chat.
    pub duration: Duration,
    /// Mean time between a user's actions.
    pub mean_interval: Duration,
    /// Rooms the users spread over (`{prefix}room{i}`); 0: every chat goes
    /// to `room`.
    pub rooms: u64,
    /// Room chats go to when `rooms` is 0 ("" is the lobby).
    pub room: String,
    /// Username prefix.
    pub user_prefix: String,
}

#[derive(Default)]
struct Shared {
    /// Per kind. Locked once per request, never across an await.
    kinds: [Mutex<KindStats>; 6],
    deliveries: AtomicU64,
    rejoins: AtomicU64,
}

/// Runs it.
pub async fn run(
    addr: SocketAddr,
    opts: &EngineOptions,
    config: &ChatConfig,
) -> anyhow::Result<ChatRun> {
    let shared = Arc::new(Shared::default());
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut users = JoinSet::new();
    for user_idx in 0..config.users {
        let user = User {
            addr,
            local: opts.source_addr(user_idx),
            name: format!("{}c{user_idx}", config.user_prefix),
            peers: config.users,
            prefix: config.user_prefix.clone(),
            n_rooms: config.rooms,
            rooms: Vec::new(),
            room: config.room.clone(),
            mean_interval: config.mean_interval,
            rng: Rng(user_idx.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ crate::clock::now_ns()),
            shared: Arc::clone(&shared),
        };
        users.spawn(user.run(deadline));
    }
    let mut first_error = None;
    while let Some(res) = users.join_next().await {
        if let Ok(Err(err)) = res {
            first_error.get_or_insert(err);
        }
    }
    if let Some(err) = first_error {
        eprintln!("chat: a user stopped early: {err:#}");
    }
    let requests = KINDS
        .iter()
        .zip(&shared.kinds)
        .map(|(kind, stats)| {
            let stats = stats.lock().unwrap_or_else(|poison| poison.into_inner());
            ChatRequestStats {
                kind: (*kind).to_owned(),
                count: stats.count,
                errors: stats.errors,
                latency: stats
                    .latency
                    .as_ref()
                    .map(Latency::from_histogram)
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(ChatRun {
        users: config.users,
        duration_s: started.elapsed().as_secs_f64(),
        requests,
        deliveries: shared.deliveries.load(Ordering::Relaxed),
        rejoins: shared.rejoins.load(Ordering::Relaxed),
    })
}

struct User {
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    name: String,
    peers: u64,
    prefix: String,
    /// Rooms in the run (0: none, chats go to `room`).
    n_rooms: u64,
    /// The rooms this user is a member of now.
    rooms: Vec<String>,
    room: String,
    mean_interval: Duration,
    rng: Rng,
    shared: Arc<Shared>,
}

impl User {
    async fn run(mut self, deadline: Instant) -> anyhow::Result<()> {
        let (mut client, events) = self.join(true).await?;
        let mut drain = tokio::spawn(count_chats(events, Arc::clone(&self.shared)));
        // Memberships are stored: they last across the rejoins below.
        while self.n_rooms > 0 && self.rooms.len() < ROOMS_PER_USER.min(self.n_rooms as usize) {
            let room = self.random_room();
            if !self.rooms.contains(&room) {
                enter(&client, &room).await?;
                self.rooms.push(room);
            }
        }
        loop {
            let wait = self.rng.exponential(self.mean_interval);
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
            let started = Instant::now();
            let (kind, ok) = match self.pick() {
                CHAT => {
                    let text = self.rng.text();
                    let room = self.chat_room();
                    let chat = Message::Chat(pb::Chat { room, text });
                    let ok = matches!(client.request(chat).await, Ok(Message::ChatAck(_)));
                    (CHAT, ok)
                }
                WHISPER => {
                    let to = format!("{}c{}", self.prefix, self.rng.below(self.peers));
                    let res = client.whisper(&to, "psst, how is it going?").await;
                    // The peer may be away (rejoining) or be this user:
                    // both are answers, not failures.
                    let ok = match res {
                        Ok(_) => true,
                        Err(sori_client::ClientError::Server { code, .. }) => matches!(
                            code,
                            pb::ErrorCode::UserOffline | pb::ErrorCode::WhisperToSelf
                        ),
                        Err(_) => false,
                    };
                    (WHISPER, ok)
                }
                LIST_USERS => (LIST_USERS, client.list_users().await.is_ok()),
                SWITCH_ROOM => {
                    // Leave one room for another the user is not in.
                    let at = self.rng.below(self.rooms.len() as u64) as usize;
                    let next = self.random_room();
                    let ok = if self.rooms.contains(&next) {
                        true
                    } else {
                        let left = client.leave_room(&self.rooms[at]).await.is_ok();
                        let entered = enter(&client, &next).await.is_ok();
                        self.rooms[at] = next;
                        left && entered
                    };
                    (SWITCH_ROOM, ok)
                }
                HISTORY => {
                    let room = self.chat_room();
                    let ok = match client.history(&room, 0, 50).await {
                        Ok(_) => true,
                        Err(sori_client::ClientError::Server { code, .. }) => {
                            code == pb::ErrorCode::HistoryDisabled
                        }
                        Err(_) => false,
                    };
                    (HISTORY, ok)
                }
                _ => {
                    let _ = client.logout().await;
                    drop(client);
                    let _ = (&mut drain).await;
                    let (new_client, events) = self.join(false).await?;
                    client = new_client;
                    drain = tokio::spawn(count_chats(events, Arc::clone(&self.shared)));
                    self.shared.rejoins.fetch_add(1, Ordering::Relaxed);
                    (REJOIN, true)
                }
            };
            self.shared.note(kind, ok, started.elapsed());
        }
        let _ = client.logout().await;
        drain.abort();
        Ok(())
    }

    /// The next action: mostly chat. Out of 100: 60 chat, 10 whisper,
    /// 7 list users, 8 switch rooms, 10 load history, 5 rejoin (without
    /// rooms, chats take the room actions' share).
    fn pick(&mut self) -> usize {
        let roll = self.rng.below(100);
        let with_rooms = !self.rooms.is_empty();
        match roll {
            0..60 => CHAT,
            60..70 => WHISPER,
            70..77 => LIST_USERS,
            77..85 if with_rooms => SWITCH_ROOM,
            85..95 if with_rooms => HISTORY,
            95.. => REJOIN,
            _ => CHAT,
        }
    }

    /// Where a chat (or a history load) goes: one of the user's rooms, or
    /// the configured room when there are none.
    fn chat_room(&mut self) -> String {
        if self.rooms.is_empty() {
            return self.room.clone();
        }
        let at = self.rng.below(self.rooms.len() as u64) as usize;
        self.rooms[at].clone()
    }

    fn random_room(&mut self) -> String {
        format!("{}room{}", self.prefix, self.rng.below(self.n_rooms))
    }

    async fn join(&self, register: bool) -> anyhow::Result<(Client, Events)> {
        let opts = ConnectOptions {
            local_addr: self.local,
            ..ConnectOptions::default()
        };
        let (client, events) = Client::connect_with(self.addr, opts)
            .await
            .context("connecting")?;
        if register {
            // Taken is fine: accounts are reused across runs.
            let _ = client.register(&self.name, PASSWORD, "").await;
        }
        client
            .login(&self.name, PASSWORD)
            .await
            .with_context(|| format!("logging in {}", self.name))?;
        Ok((client, events))
    }
}

/// Joins `room`, creating it if nobody has yet (another user may create it
/// first: then it is joined).
async fn enter(client: &Client, room: &str) -> anyhow::Result<()> {
    use pb::ErrorCode::{NoSuchRoom, RoomExists};
    let missing = |res: &Result<pb::RoomJoined, sori_client::ClientError>, code| matches!(res, Err(sori_client::ClientError::Server { code: c, .. }) if *c == code);
    let mut res = client.join_room(room, 0, 1).await;
    if missing(&res, NoSuchRoom) {
        res = client.create_room(room, "", false).await;
        if missing(&res, RoomExists) {
            res = client.join_room(room, 0, 1).await;
        }
    }
    res.map(drop)
        .with_context(|| format!("entering room {room}"))
}

/// One request kind's count, failures and latencies.
#[derive(Default)]
struct KindStats {
    count: u64,
    errors: u64,
    latency: Option<Histogram<u64>>,
}

impl Shared {
    fn note(&self, kind: usize, ok: bool, took: Duration) {
        let mut stats = self.kinds[kind]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        stats.count += 1;
        if !ok {
            stats.errors += 1;
        }
        stats
            .latency
            .get_or_insert_with(new_histogram)
            .saturating_record(took.as_nanos() as u64);
    }
}

async fn count_chats(mut events: Events, shared: Arc<Shared>) {
    loop {
        match events.next().await {
            Event::Chat(_) => {
                shared.deliveries.fetch_add(1, Ordering::Relaxed);
            }
            Event::Closed => return,
            _ => {}
        }
    }
}

/// splitmix64: small, fast, and good enough to draw intervals and sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An exponentially distributed wait: the gaps of a Poisson process.
    fn exponential(&mut self, mean: Duration) -> Duration {
        let u = self.unit().max(1e-12);
        mean.mul_f64(-u.ln()).min(mean * 20)
    }

    /// A chat line: 60% of 8-40 bytes, 30% of 40-160, 10% of 160-600.
    fn text(&mut self) -> String {
        let roll = self.below(10);
        let (low, high) = match roll {
            0..=5 => (8, 40),
            6..=8 => (40, 160),
            _ => (160, 600),
        };
        let len = (low + self.below(high - low)) as usize;
        const WORDS: [&str; 8] = [
            "gg ", "hello ", "anyone ", "up for ", "a match ", "lol ", "brb ", "nice ",
        ];
        let mut text = String::with_capacity(len + 8);
        while text.len() < len {
            text.push_str(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        text.truncate(len);
        text.trim_end().to_owned() + "!"
    }
}
