//! A connected session as the core sees it: an id, an address, its mute,
//! and a [`Link`] the edge that owns the session delivers through.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::event::Event;
use crate::session::SessionId;

/// How the core reaches a session: implemented by each edge's delivery
/// layer (a bounded outbox, vectored writes). Every method returns at once:
/// a push never waits for a socket, and a session that cannot keep up is
/// the delivery layer's to cut off.
pub trait Link: Send + Sync {
    /// Queues `event` and lets the session's writer run now: answers,
    /// notices, whispers.
    fn push(&self, event: &Event);

    /// Queues `event` for the next write window: room messages, which a
    /// recipient may receive many of at once and writes together.
    fn push_batched(&self, event: &Event);

    /// Ends the session: `last` (usually a `Kicked`) is written after what
    /// is queued, then the connection closes.
    fn close(&self, last: Option<&Event>);
}

/// A connected session. Edges build a `Peer<TheirLink>` and hand the core
/// the same allocation as a `Peer` (`Peer<dyn Link>`).
pub struct Peer<L: ?Sized = dyn Link> {
    /// The session's id, unique among live sessions.
    pub id: SessionId,
    /// The client's address (behind trusted proxies, the client's own),
    /// for IP bans.
    pub ip: IpAddr,
    /// Muted until this time (ms since the epoch); 0: not muted,
    /// `i64::MAX`: forever. Atomic so an admin's mute reaches a session
    /// without a lock on the chat path.
    muted_until_ms: AtomicI64,
    /// The edge's delivery handle.
    pub link: L,
}

impl<L> Peer<L> {
    /// A session with this id and address, delivered through `link`.
    pub fn new(id: SessionId, ip: IpAddr, link: L) -> Self {
        Peer {
            id,
            ip,
            muted_until_ms: AtomicI64::new(0),
            link,
        }
    }
}

impl<L: ?Sized + Link> Peer<L> {
    /// Queues an event for this session at once.
    pub fn push(&self, event: &Event) {
        self.link.push(event);
    }

    /// Ends the session after what is queued, with `last` written last.
    pub fn close(&self, last: Option<&Event>) {
        self.link.close(last);
    }
}

impl<L: ?Sized> Peer<L> {
    /// Mutes the session until `until_ms` (`i64::MAX`: forever; 0: unmute).
    pub fn set_muted_until(&self, until_ms: i64) {
        self.muted_until_ms.store(until_ms, Ordering::Relaxed);
    }

    /// When the session's mute ends, if it is muted at `now_ms`.
    pub fn muted_until(&self, now_ms: i64) -> Option<i64> {
        let until = self.muted_until_ms.load(Ordering::Relaxed);
        (until > now_ms).then_some(until)
    }
}
