//! What the bus's tasks share, and the work they queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use redis::aio::ConnectionManager;
use sori_core::Core;
use sori_core::bus::{LimitEvent, LimitSink, Presence};
use sori_protocol::pb::UserInfo;
use tokio::sync::{mpsc, oneshot};

use crate::config::ClusterConfig;
use crate::keys;
use crate::wire::{Entry, Envelope, Kind};

/// One piece of queued work.
pub(crate) enum Op {
    /// Publish an envelope on a channel.
    Publish(String, Box<Envelope>),
    /// A login here claims its username in the presence hash.
    Claim(Entry),
    /// A logout here gives it back.
    Release(Entry),
    /// Answers once everything queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// What the bus's tasks share.
pub(crate) struct Inner {
    pub(crate) config: ClusterConfig,
    pub(crate) client: redis::Client,
    /// Commands and scripts; reconnects by itself.
    pub(crate) conn: ConnectionManager,
    /// Fire-and-forget work, sent in order by one task.
    pub(crate) ops: mpsc::UnboundedSender<Op>,
    /// The chat this bus serves, once started.
    pub(crate) core: OnceLock<Weak<Core>>,
    /// True while the subscription is up.
    pub(crate) up: AtomicBool,
    /// Everyone online in the cluster, by username key: a mirror of the
    /// presence hash, kept by the Online/Offline notices and reloaded on
    /// every (re)connect and refresh. std Mutex: never held across
    /// `.await`.
    pub(crate) mirror: Mutex<HashMap<String, Entry>>,
    pub(crate) number: redis::Script,
    /// What this node's limits saw since the last flush (every
    /// [`LIMITS_EVERY`]). std Mutex: one push or one take.
    pub(crate) limits: Mutex<Vec<LimitEvent>>,
    /// Where other nodes' limit events are applied.
    pub(crate) limit_sink: OnceLock<LimitSink>,
}

impl Inner {
    pub(crate) fn node(&self) -> &str {
        &self.config.node_id
    }

    pub(crate) fn core(&self) -> Option<Arc<Core>> {
        self.core.get().and_then(Weak::upgrade)
    }

    pub(crate) fn send(&self, op: Op) {
        // The ops task lives as long as the bus.
        let _ = self.ops.send(op);
    }

    pub(crate) fn tell(&self, node: &str, envelope: Envelope) {
        self.send(Op::Publish(keys::node_channel(node), Box::new(envelope)));
    }

    pub(crate) fn tell_all(&self, envelope: Envelope) {
        self.send(Op::Publish(keys::ALL.to_owned(), Box::new(envelope)));
    }

    pub(crate) fn envelope(&self, kind: Kind) -> Envelope {
        Envelope {
            from_node: self.node().to_owned(),
            kind: kind as i32,
            ..Default::default()
        }
    }

    /// The entry of a user online elsewhere in the cluster; `None` also
    /// while Redis is away (nothing could reach them).
    pub(crate) fn elsewhere(&self, pick: impl Fn(&Entry) -> bool) -> Option<Entry> {
        if !self.is_up() {
            return None;
        }
        let mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        mirror
            .values()
            .find(|e| e.node != self.config.node_id && pick(e))
            .cloned()
    }

    pub(crate) fn entry(&self, who: &Presence) -> Entry {
        Entry {
            node: self.node().to_owned(),
            session: who.session.to_u64(),
            account: who.account_id,
            user: Some(UserInfo::clone(&who.user)),
        }
    }
}

impl Inner {
    pub(crate) fn set_up(&self, up: bool) {
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

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}
