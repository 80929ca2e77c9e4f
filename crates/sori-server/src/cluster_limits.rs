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
//! within [`STALE_AFTER`](crate::connections).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sori_core::bus::{LimitEvent, LimitSink};

use crate::rate::{Announce, client_key};
use crate::shared::Shared;

/// How often a node sends every open connection per address.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(5);

/// Makes a cluster node's limits hold for the cluster: announces what they
/// see, applies what the others saw, and sends a snapshot of the open
/// connections now and then (until shutdown).
pub(crate) fn start(shared: &Arc<Shared>) {
    let bus = shared.core.bus.clone();
    let announce: Announce = Arc::new(move |event| bus.limit_event(event));
    let _ = shared
        .connections_per_ip
        .local
        .announce
        .set(announce.clone());
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
