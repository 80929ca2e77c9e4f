//! Open connections per client address, with a ceiling that holds for the
//! whole cluster: this node's own count, plus what the other nodes report
//! (see `cluster_limits`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sori_core::bus::LimitEvent;

use crate::rate::{Announce, client_key, lock};

/// A node not heard from for this long counts no connections.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(15);

/// Open connections per client address, with a ceiling. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ConnectionCounter {
    max_per_ip: u32,
    /// This node's counts, which every guard points back at.
    pub(crate) local: Arc<LocalCounts>,
    /// Open connections on the cluster's other nodes (empty on one node).
    pub(crate) remote: Arc<RemoteCounts>,
}

/// Open connections per address on this node.
#[derive(Default)]
pub(crate) struct LocalCounts {
    /// A std mutex: held for one map operation, never across `.await`.
    /// Only addresses with open connections have entries, so the map is
    /// bounded by the session limit.
    counts: Mutex<HashMap<IpAddr, u32>>,
    /// Tells the other nodes of each open and close (a cluster node).
    pub(crate) announce: OnceLock<Announce>,
}

/// One counted connection; dropping it gives the slot back. One pointer
/// and an address: every session holds one.
#[must_use = "the connection is uncounted as soon as the guard drops"]
pub(crate) struct ConnectionGuard {
    local: Arc<LocalCounts>,
    key: IpAddr,
}

impl std::fmt::Debug for ConnectionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ConnectionCounter {
    /// At most `max_per_ip` open connections per address (IPv6 per /64).
    pub(crate) fn new(max_per_ip: u32) -> Self {
        ConnectionCounter {
            max_per_ip,
            local: Arc::default(),
            remote: Arc::default(),
        }
    }

    /// Every address with open connections here, and how many.
    pub(crate) fn snapshot(&self) -> Vec<(IpAddr, u32)> {
        lock(&self.local.counts)
            .iter()
            .map(|(ip, n)| (*ip, *n))
            .collect()
    }

    /// Counts a new connection from `ip`, or `None` if the address is at its
    /// ceiling. Hold the guard for as long as the connection is open.
    pub(crate) fn try_acquire(&self, ip: IpAddr) -> Option<ConnectionGuard> {
        let key = client_key(ip);
        let elsewhere = self.remote.count(key);
        let mut counts = lock(&self.local.counts);
        let count = counts.entry(key).or_insert(0);
        if count.saturating_add(elsewhere) >= self.max_per_ip {
            if *count == 0 {
                // Only reached when nothing of this address is open here;
                // keep no empty entries.
                counts.remove(&key);
            }
            return None;
        }
        *count += 1;
        drop(counts);
        if let Some(announce) = self.local.announce.get() {
            announce(LimitEvent::Opened(key));
        }
        Some(ConnectionGuard {
            local: self.local.clone(),
            key,
        })
    }

    #[cfg(test)]
    /// Open connections counted for `ip`'s key.
    pub(crate) fn count(&self, ip: IpAddr) -> u32 {
        lock(&self.local.counts)
            .get(&client_key(ip))
            .copied()
            .unwrap_or(0)
    }

    #[cfg(test)]
    /// Addresses with open connections.
    pub(crate) fn n_addresses(&self) -> usize {
        lock(&self.local.counts).len()
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.local.counts);
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
        drop(counts);
        if let Some(announce) = self.local.announce.get() {
            announce(LimitEvent::Closed(self.key));
        }
    }
}

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
    pub(crate) fn apply(&self, node: &str, event: &LimitEvent, now: Instant) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

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

    #[test]
    fn connection_counter_limits_and_releases() {
        let counter = ConnectionCounter::new(2);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let first = counter.try_acquire(a).expect("first");
        let second = counter
            .try_acquire(ip("::ffff:192.0.2.1"))
            .expect("second (same address)");
        assert!(counter.try_acquire(a).is_none());
        let other = counter.try_acquire(b).expect("another address");
        assert_eq!((counter.count(a), counter.count(b)), (2, 1));

        drop(first);
        assert_eq!(counter.count(a), 1);
        let third = counter.try_acquire(a).expect("a slot was given back");
        drop((second, third, other));
        assert_eq!(counter.n_addresses(), 0, "no entries left at zero");
    }

    #[test]
    fn connection_counter_counts_ipv6_per_64_and_handles_zero() {
        let counter = ConnectionCounter::new(1);
        let _held = counter.try_acquire(ip("2001:db8::1")).expect("first");
        assert!(counter.try_acquire(ip("2001:db8::2")).is_none(), "same /64");
        assert!(
            counter.try_acquire(ip("2001:db8:0:1::1")).is_some(),
            "another /64"
        );

        let none = ConnectionCounter::new(0);
        assert!(none.try_acquire(ip("192.0.2.1")).is_none());
        assert_eq!(none.n_addresses(), 0);
    }
}
