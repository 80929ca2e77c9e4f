//! The Redis bus: several Sori nodes as one chat.
//!
//! PostgreSQL keeps what lasts (accounts, rooms, history, bans); Redis
//! carries what crosses nodes:
//!
//! - **Room order.** One Lua script per room message increments the room's
//!   counter, appends the message to the room's capped log (a stream) and
//!   publishes it, atomically ([`scripts::number`]): publish order is number
//!   order, and every node delivers each room's messages to its own
//!   sessions in that order. A node that sees a number skip fills the gap
//!   from the log (or the store) before delivering; after every reconnect
//!   it re-reads each room from its position, and a periodic check catches
//!   a lost last message.
//! - **Numbers never repeat.** A node asks for numbers only below its store
//!   reservation (the script refuses past it, and the node reserves more in
//!   PostgreSQL first); a counter Redis lost is seeded from PostgreSQL's
//!   record of what was handed out.
//! - **Presence.** Who is online and on which node is a hash plus a sorted
//!   set of expiry times, refreshed by each node; a node that dies stops
//!   refreshing, and its users expire.
//! - **Directed work.** Whispers, kicks, bans, mutes and duplicate-login
//!   replacement go to the node that holds the session, on its channel.
//!
//! While Redis is away, room messages are refused with `UNAVAILABLE`
//! (nothing is numbered by anyone else, so there is never a second order);
//! everything else on the node goes on, and it resynchronises when Redis
//! returns.
#![warn(missing_docs, unreachable_pub)]

mod keys;
mod listen;
mod ops;
mod presence;
mod scripts;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use ipnet::IpNet;
use redis::aio::ConnectionManager;
use sori_core::Core;
use sori_core::bus::{
    Bus, BusFuture, Directory, LimitEvent, LimitSink, NumberError, Numbered, Post, Presence,
    ToNumber,
};
use sori_core::event::Event;
use sori_core::hub::username_key;
use sori_core::peer::Peer;
use sori_core::room::{NeedReservation, Room, RoomState};
use sori_protocol::pb::{self, UserInfo};
use sori_store::{AccountId, RoomId};
use tokio::sync::mpsc;

use crate::ops::Op;
use crate::wire::{Entry, Envelope, Kind};

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub redis_url: String,
    /// This node's name, unique in the cluster.
    pub node_id: String,
    /// A presence entry lives this long unless its node refreshes it (every
    /// third of it).
    pub presence_ttl: Duration,
    /// Messages each room's log keeps in Redis, for gap filling.
    pub log_len: u64,
    /// How often every room's counter is compared with what was delivered.
    pub check_every: Duration,
}

impl ClusterConfig {
    /// A node named `node_id` on the Redis at `redis_url`, with the default
    /// timings.
    pub fn new(redis_url: impl Into<String>, node_id: impl Into<String>) -> Self {
        ClusterConfig {
            redis_url: redis_url.into(),
            node_id: node_id.into(),
            presence_ttl: Duration::from_secs(30),
            log_len: 10_000,
            check_every: Duration::from_secs(2),
        }
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error("bad redis url: {0}")]
    Url(redis::RedisError),
    /// Redis did not answer.
    #[error("connecting to redis: {0}")]
    Connect(redis::RedisError),
    /// The node id is empty or has characters a channel name cannot carry.
    #[error("node_id {0:?}: use letters, digits, '-', '_' and '.'")]
    NodeId(String),
}

/// The cluster's bus: passed to the server as `Arc<dyn Bus>`.
pub struct RedisBus {
    inner: Arc<Inner>,
}

/// What the bus's tasks share.
struct Inner {
    config: ClusterConfig,
    client: redis::Client,
    /// Commands and scripts; reconnects by itself.
    conn: ConnectionManager,
    /// Fire-and-forget work, sent in order by one task.
    ops: mpsc::UnboundedSender<Op>,
    /// The chat this bus serves, once started.
    core: OnceLock<Weak<Core>>,
    /// True while the subscription is up.
    up: AtomicBool,
    /// Everyone online in the cluster, by username key: a mirror of the
    /// presence hash, kept by the Online/Offline notices and reloaded on
    /// every (re)connect and refresh. std Mutex: never held across
    /// `.await`.
    mirror: Mutex<HashMap<String, Entry>>,
    number: redis::Script,
    /// What this node's limits saw since the last flush (every
    /// [`LIMITS_EVERY`]). std Mutex: one push or one take.
    limits: Mutex<Vec<LimitEvent>>,
    /// Where other nodes' limit events are applied.
    limit_sink: OnceLock<LimitSink>,
}

/// How often the limit events of this node are sent, in one message.
const LIMITS_EVERY: Duration = Duration::from_millis(50);

impl RedisBus {
    /// Connects to Redis (a node does not start without it).
    pub async fn connect(config: ClusterConfig) -> Result<RedisBus, ConnectError> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if config.node_id.is_empty() || !config.node_id.chars().all(valid) {
            return Err(ConnectError::NodeId(config.node_id));
        }
        let client = redis::Client::open(config.redis_url.as_str()).map_err(ConnectError::Url)?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_max_delay(2000);
        let conn = ConnectionManager::new_with_config(client.clone(), manager)
            .await
            .map_err(ConnectError::Connect)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            config,
            client,
            conn,
            ops: tx,
            core: OnceLock::new(),
            up: AtomicBool::new(false),
            mirror: Mutex::new(HashMap::new()),
            number: scripts::number(),
            limits: Mutex::new(Vec::new()),
            limit_sink: OnceLock::new(),
        });
        tokio::spawn(ops::run(inner.clone(), rx));
        tokio::spawn(flush_limits(Arc::downgrade(&inner)));
        Ok(RedisBus { inner })
    }

    /// This node's name.
    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }
}

impl Inner {
    fn node(&self) -> &str {
        &self.config.node_id
    }

    fn core(&self) -> Option<Arc<Core>> {
        self.core.get().and_then(Weak::upgrade)
    }

    fn send(&self, op: Op) {
        // The ops task lives as long as the bus.
        let _ = self.ops.send(op);
    }

    fn tell(&self, node: &str, envelope: Envelope) {
        self.send(Op::Publish(keys::node_channel(node), Box::new(envelope)));
    }

    fn tell_all(&self, envelope: Envelope) {
        self.send(Op::Publish(keys::ALL.to_owned(), Box::new(envelope)));
    }

    fn envelope(&self, kind: Kind) -> Envelope {
        Envelope {
            from_node: self.node().to_owned(),
            kind: kind as i32,
            ..Default::default()
        }
    }

    /// The entry of a user online elsewhere in the cluster; `None` also
    /// while Redis is away (nothing could reach them).
    fn elsewhere(&self, pick: impl Fn(&Entry) -> bool) -> Option<Entry> {
        if !self.is_up() {
            return None;
        }
        let mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        mirror
            .values()
            .find(|e| e.node != self.config.node_id && pick(e))
            .cloned()
    }

    fn entry(&self, who: &Presence) -> Entry {
        Entry {
            node: self.node().to_owned(),
            session: who.session.to_u64(),
            account: who.account_id,
            user: Some(UserInfo::clone(&who.user)),
        }
    }
}

impl Bus for RedisBus {
    fn publish(
        &self,
        room: &Room,
        _state: &mut RoomState,
        _post: Post<'_>,
    ) -> Result<pb::ChatMessage, NeedReservation> {
        // Chat awaits `number` on this bus; reaching here is a bug, and
        // refusing is the safe answer.
        tracing::error!(room = %room.name, "publish called on the cluster bus");
        Err(NeedReservation { up_to: 0 })
    }

    fn numbers_remotely(&self) -> bool {
        true
    }

    fn number(&self, asked: ToNumber) -> BusFuture<Result<Numbered, NumberError>> {
        let inner = self.inner.clone();
        Box::pin(async move { listen::number(&inner, asked).await })
    }

    fn to_user(&self, here: &dyn Directory, username: &str, event: &Event) -> bool {
        if let Some(peer) = here.session_of(username) {
            peer.push(event);
            return true;
        }
        let key = username_key(username);
        let Some(entry) = self.inner.elsewhere(|e| username_key(e.username()) == key) else {
            return false;
        };
        let mut envelope = self.inner.envelope(Kind::Push);
        envelope.username = username.to_owned();
        envelope.frame = wire::frame_of(event.message());
        self.inner.tell(&entry.node, envelope);
        true
    }

    fn close_user(&self, here: &dyn Directory, account: AccountId, last: &Event) -> bool {
        if let Some(peer) = here.session_of_account(account) {
            peer.close(Some(last));
            return true;
        }
        let Some(entry) = self.inner.elsewhere(|e| e.account == account) else {
            return false;
        };
        let mut envelope = self.inner.envelope(Kind::Close);
        envelope.account = account;
        envelope.frame = wire::frame_of(last.message());
        self.inner.tell(&entry.node, envelope);
        true
    }

    fn replace(&self, old: &Peer, last: &Event) {
        old.close(Some(last));
    }

    fn close_net(&self, here: &dyn Directory, net: IpNet, last: &Event) {
        sori_core::bus::LocalBus.close_net(here, net, last);
        let mut envelope = self.inner.envelope(Kind::CloseNet);
        envelope.net = net.to_string();
        envelope.frame = wire::frame_of(last.message());
        self.inner.tell_all(envelope);
    }

    fn presence(&self, _lobby: &RoomState, _event: Event) {
        // Notices come from `logged_in` / `logged_out`, through Redis, to
        // every node alike (this one included): only Redis knows whether a
        // login replaced one on another node.
    }

    fn online_users(&self, here: &dyn Directory) -> Vec<UserInfo> {
        let mut users: HashMap<String, UserInfo> = {
            let mirror = self.inner.mirror.lock().unwrap_or_else(|p| p.into_inner());
            mirror
                .iter()
                .filter_map(|(key, e)| e.user.clone().map(|u| (key.clone(), u)))
                .collect()
        };
        for user in here.users() {
            users.insert(username_key(&user.username), user);
        }
        let mut list: Vec<UserInfo> = users.into_values().collect();
        list.sort_by(|a, b| a.username.cmp(&b.username));
        list
    }

    fn mute(&self, here: &dyn Directory, account: AccountId, until_ms: i64) -> bool {
        if let Some(peer) = here.session_of_account(account) {
            peer.set_muted_until(until_ms);
            return true;
        }
        let Some(entry) = self.inner.elsewhere(|e| e.account == account) else {
            return false;
        };
        let mut envelope = self.inner.envelope(Kind::Mute);
        envelope.account = account;
        envelope.until_ms = until_ms;
        self.inner.tell(&entry.node, envelope);
        true
    }

    fn logged_in(&self, who: &Presence) {
        let entry = self.inner.entry(who);
        presence::remember(&self.inner, &entry);
        self.inner.send(Op::Claim(entry));
    }

    fn logged_out(&self, who: &Presence) {
        let entry = self.inner.entry(who);
        self.inner.send(Op::Release(entry));
    }

    fn room_changed(&self, room_id: RoomId, notices: &[sori_protocol::Message]) {
        let mut envelope = self.inner.envelope(Kind::RoomChanged);
        envelope.room_id = room_id;
        envelope.frames = notices.iter().map(wire::frame_of).collect();
        self.inner.tell_all(envelope);
    }

    fn start(&self, core: Weak<Core>) -> BusFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            if inner.core.set(core).is_err() {
                return;
            }
            listen::start(inner).await;
        })
    }

    fn limit_event(&self, event: LimitEvent) {
        let mut limits = self.inner.limits.lock().unwrap_or_else(|p| p.into_inner());
        limits.push(event);
    }

    fn on_limit_events(&self, sink: LimitSink) {
        let _ = self.inner.limit_sink.set(sink);
    }

    fn ready(&self) -> Result<(), String> {
        if self.inner.is_up() {
            Ok(())
        } else {
            Err("redis is unreachable: room messages are refused".to_owned())
        }
    }

    fn stop(&self) -> BusFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move { ops::drain(&inner).await })
    }
}

/// Sends this node's limit events to the others, batched, until the bus
/// is dropped.
async fn flush_limits(inner: Weak<Inner>) {
    let mut every = tokio::time::interval(LIMITS_EVERY);
    loop {
        every.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let batch = std::mem::take(&mut *inner.limits.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            continue;
        }
        let mut envelope = inner.envelope(Kind::Limits);
        envelope.limits = batch.iter().map(wire::LimitRecord::from_event).collect();
        inner.tell_all(envelope);
    }
}

impl Inner {
    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
        if let Some(core) = self.core() {
            let metric = &core.metrics.bus_up;
            match (up, metric.get()) {
                (true, 0) => metric.inc(),
                (false, 1) => metric.sub(1),
                _ => {}
            }
        }
    }

    fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}
