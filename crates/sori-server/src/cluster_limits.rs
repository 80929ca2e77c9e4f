//! The per-address and per-account limits of a cluster node, held for the
//! cluster as a whole.
//!
//! Each node keeps its own limiters (rate.rs) and tells the others, through
//! the bus, what they saw: each new connection, each open and close, each
//! password check's result. A node applies what the others saw to its own
//! limiters, so a client spreading connections or password guesses over
//! nodes meets the same limits as on one node (late by the bus's batching,
//! some tens of milliseconds). Open connections per address are counted
//! per node, and each node re-sends its whole count every
//! [`SNAPSHOT_EVERY`]: a node that died, or a lost message, stops counting
//! within [`STALE_AFTER`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sori_core::bus::{LimitEvent, LimitSink};

use crate::rate::{Announce, client_key, lock};
use crate::shared::Shared;

/// How often a node sends every open connection per address.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);

/// A node not heard from for this long counts no connections.
const STALE_AFTER: Duration = Duration::from_secs(15);

/// Open connections per address on the other nodes.
#[derive(Default)]
pub(crate) struct RemoteCounts {
    /// A std mutex: held for a few map operations, never across `.await`.
    state: Mutex<RemoteState>,
}

#[derive(Default)]
struct RemoteState {
    nodes: HashMap<String, NodeCounts>,
    /// The sum over `nodes`, per address.
    totals: HashMap<IpAddr, u32>,
}

struct NodeCounts {
    counts: HashMap<IpAddr, u32>,
    heard: Instant,
}

impl RemoteCounts {
    /// Open connections from `key`'s address on the other nodes.
    pub(crate) fn count(&self, key: IpAddr) -> u32 {
        let mut state = lock(&self.state);
        if state.nodes.is_empty() {
            return 0;
        }
        state.forget_stale(Instant::now());
        state.totals.get(&key).copied().unwrap_or(0)
    }

    /// Applies a node's open, close or snapshot.
    fn apply(&self, node: &str, event: &LimitEvent, now: Instant) {
        let mut state = lock(&self.state);
        match event {
            LimitEvent::Opened(ip) => state.add(node, client_key(*ip), 1, now),
            LimitEvent::Closed(ip) => state.add(node, client_key(*ip), -1, now),
            LimitEvent::Snapshot(counts) => {
                state.remove_node(node);
                for (ip, count) in counts {
                    let delta = i64::from(*count);
                    state.add(node, client_key(*ip), delta, now);
                }
                state.nodes.entry(node.to_owned()).or_insert(NodeCounts {
                    counts: HashMap::new(),
                    heard: now,
                });
            }
            _ => {}
        }
    }
}

impl RemoteState {
    fn add(&mut self, node: &str, key: IpAddr, delta: i64, now: Instant) {
        let entry = self.nodes.entry(node.to_owned()).or_insert(NodeCounts {
            counts: HashMap::new(),
            heard: now,
        });
        entry.heard = now;
        let count = entry.counts.entry(key).or_insert(0);
        let before = *count;
        *count = u32::try_from((i64::from(before) + delta).max(0)).unwrap_or(u32::MAX);
        let after = *count;
        if after == 0 {
            entry.counts.remove(&key);
        }
        let total = self.totals.entry(key).or_insert(0);
        *total = (*total + after).saturating_sub(before);
        if *total == 0 {
            self.totals.remove(&key);
        }
    }

    fn remove_node(&mut self, node: &str) {
        let Some(gone) = self.nodes.remove(node) else {
            return;
        };
        for (key, count) in gone.counts {
            if let Some(total) = self.totals.get_mut(&key) {
                *total = total.saturating_sub(count);
                if *total == 0 {
                    self.totals.remove(&key);
                }
            }
        }
    }

    fn forget_stale(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| now.duration_since(n.heard) > STALE_AFTER)
            .map(|(name, _)| name.clone())
            .collect();
        for node in stale {
            self.remove_node(&node);
        }
    }
}

/// Makes a cluster node's limits hold for the cluster: announces what they
/// see, applies what the others saw, and sends a snapshot of the open
/// connections now and then (until shutdown).
pub(crate) fn start(shared: &Arc<Shared>) {
    let bus = shared.core.bus.clone();
    let announce: Announce = Arc::new(move |event| bus.limit_event(event));
    let _ = shared.connections_per_ip.announce.set(announce.clone());
    let _ = shared.login_throttle.announce.set(announce);
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let sink: LimitSink = Arc::new(move |node, event| {
        let Some(shared) = weak.upgrade() else { return };
        let now = Instant::now();
        match &event {
            LimitEvent::Accepted(ip) => {
                // The other node's connection takes a token here too.
                let _ = shared.new_connections.check(client_key(*ip), now);
            }
            LimitEvent::LoginFailed { account, ip } => {
                shared.login_throttle.apply_failure(account, *ip, now);
            }
            LimitEvent::LoginSucceeded { account, ip } => {
                shared.login_throttle.apply_success(account, *ip);
            }
            LimitEvent::Opened(_) | LimitEvent::Closed(_) | LimitEvent::Snapshot(_) => {
                shared.connections_per_ip.remote.apply(node, &event, now);
            }
        }
    });
    shared.core.bus.on_limit_events(sink);
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SNAPSHOT_EVERY);
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let counts = shared.connections_per_ip.snapshot();
            shared.core.bus.limit_event(LimitEvent::Snapshot(counts));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_deltas_snapshots_and_silence() {
        let remote = RemoteCounts::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        remote.apply("n2", &LimitEvent::Opened(a), t0);
        remote.apply("n2", &LimitEvent::Opened(a), t0);
        remote.apply("n3", &LimitEvent::Opened(a), t0);
        assert_eq!(remote.count(a), 3);
        remote.apply("n2", &LimitEvent::Closed(a), t0);
        assert_eq!(remote.count(a), 2);
        // A snapshot replaces what was known of its node.
        remote.apply("n2", &LimitEvent::Snapshot(vec![(b, 4)]), t0);
        assert_eq!(remote.count(a), 1);
        assert_eq!(remote.count(b), 4);
        // A close never counts below zero.
        remote.apply("n3", &LimitEvent::Closed(a), t0);
        remote.apply("n3", &LimitEvent::Closed(a), t0);
        assert_eq!(remote.count(a), 0);
        // A node not heard from stops counting.
        let later = t0 + STALE_AFTER + Duration::from_secs(1);
        lock(&remote.state).forget_stale(later);
        assert_eq!(remote.count(b), 0);
    }
}
