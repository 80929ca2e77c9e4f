//! [`RedisBus`]: the [`Bus`] of a cluster node.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
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

use crate::config::{ClusterConfig, ConnectError};
use crate::inner::{Inner, Op};
use crate::wire::{self, Kind};
use crate::{listen, ops, presence, scripts};

/// The cluster's bus: passed to the server as `Arc<dyn Bus>`.
pub struct RedisBus {
    inner: Arc<Inner>,
}

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
        tokio::spawn(ops::flush_limits(Arc::downgrade(&inner)));
        Ok(RedisBus { inner })
    }

    /// This node's name.
    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// Starts serving `core`: subscribes, brings every room's position in
    /// step with its counter, and publishes who is online here. Call it
    /// before the node accepts clients.
    pub async fn start(&self, core: Weak<Core>) {
        if self.inner.core.set(core).is_err() {
            return;
        }
        listen::start(self.inner.clone()).await;
    }

    /// After the node's last session ended: sends what is still queued
    /// (its users leaving presence) before the process exits.
    pub async fn stop(&self) {
        ops::drain(&self.inner).await;
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
}
