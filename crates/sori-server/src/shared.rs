//! What every connection task shares: the server's state ([`Shared`]), a
//! session's place under the limits ([`Place`]), and the admit checks a new
//! connection passes.

use std::net::IpAddr;
use std::sync::Arc;

use sori_core::Core;
use sori_core::metrics::Metrics;
use sori_core::moderation;
use sori_protocol::Message;
use sori_protocol::pb::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::connections::{ConnectionCounter, ConnectionGuard};
use crate::flush::Coalescer;
use crate::ip_policy::{IpPolicy, RefusalLog, Verdict};
use crate::lot::Lot;
use crate::rate::{KeyedLimiter, LoginThrottle, client_key};

/// Everything the connection tasks share. Cheap to reach through an `Arc`.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The chat: every edge calls it.
    pub(crate) core: Arc<Core>,
    pub(crate) metrics: Arc<Metrics>,
    /// Fires once when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// Every session's task, so shutdown can wait for them.
    pub(crate) tracker: TaskTracker,
    /// Set when the listeners speak TLS.
    pub(crate) tls: Option<TlsAcceptor>,
    /// The session limit, one for every listener.
    pub(crate) sessions: Arc<Semaphore>,
    /// Wakes fan-out writers at the end of each coalescing window.
    pub(crate) coalescer: Arc<Coalescer>,
    /// The IP allow/deny lists and country policy.
    pub(crate) ip_policy: IpPolicy,
    /// Refused addresses, logged once per address per minute.
    pub(crate) refusal_log: RefusalLog,
    /// Open connections per address.
    pub(crate) connections_per_ip: ConnectionCounter,
    /// New connections per address per second.
    pub(crate) new_connections: KeyedLimiter<IpAddr>,
    /// Failed-login delays per account and per address.
    pub(crate) login_throttle: LoginThrottle,
    /// Where quiet sessions park; `None` when `park_idle` is off.
    pub(crate) lot: Option<Lot>,
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tcp,
    WebSocket,
}

/// What a session holds while it lives: its place under the session limit
/// and under its address's connection limit.
pub(crate) struct Place {
    pub(crate) _permit: OwnedSemaphorePermit,
    /// The client's place under its address's limit. `None` until the
    /// WebSocket handshake names the client behind a trusted proxy (the
    /// proxy's own address is not limited).
    pub(crate) per_ip: Option<ConnectionGuard>,
}

/// Checks a new connection's address: bans, the IP and country policy, and
/// the per-address limits. Returns the per-address guard, or the Kicked
/// message that tells the client why it is refused.
pub(crate) fn admit(shared: &Shared, ip: IpAddr) -> Result<ConnectionGuard, Box<Message>> {
    if let Some(ban) = shared.core.ip_bans.check(ip) {
        return Err(Box::new(moderation::banned_kick(&ban)));
    }
    let now = std::time::Instant::now();
    if let Verdict::Deny(reason) = shared.ip_policy.check(ip) {
        if shared.refusal_log.should_log(ip, now) {
            tracing::info!(%ip, %reason, "connection refused by the IP policy");
        }
        let kicked = Message::kicked(
            ErrorCode::IpRefused,
            "connections from your address are not allowed here",
        );
        return Err(Box::new(kicked));
    }
    if !shared.new_connections.check(client_key(ip), now) {
        let kicked = Message::kicked(
            ErrorCode::TooManyConnections,
            "too many new connections from your address; slow down",
        );
        return Err(Box::new(kicked));
    }
    shared
        .core
        .bus
        .limit_event(sori_core::bus::LimitEvent::Accepted(ip));
    shared.connections_per_ip.try_acquire(ip).ok_or_else(|| {
        Box::new(Message::kicked(
            ErrorCode::TooManyConnections,
            "too many connections from your address",
        ))
    })
}
