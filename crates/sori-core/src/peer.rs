//! The shared half of a session: what other sessions need to reach it.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::Waker;

use bytes::Bytes;

use crate::metrics::Probe;
use crate::outbox::Outbox;
use crate::session::SessionId;

/// A connected session as seen from outside its own task: its id and its
/// outbound queue. Ending a session goes through the queue too: its task
/// polls the queue on every wake and stops once the queue says so.
pub(crate) struct Peer {
    pub(crate) id: SessionId,
    /// The client's address, for IP bans.
    pub(crate) ip: IpAddr,
    pub(crate) outbox: Outbox,
    /// Muted until this time (ms since the epoch); 0: not muted,
    /// `i64::MAX`: forever. Atomic so an admin's mute reaches a session
    /// without a lock on the chat path.
    muted_until_ms: AtomicI64,
}

impl Peer {
    pub(crate) fn new(id: SessionId, ip: IpAddr, queue_limit: usize) -> Self {
        Peer {
            id,
            ip,
            outbox: Outbox::new(queue_limit),
            muted_until_ms: AtomicI64::new(0),
        }
    }

    /// Queues an encoded frame for this session. Never waits; a session whose
    /// queue overflows is stopped as a slow consumer.
    pub(crate) fn send(&self, frame: Bytes) {
        self.outbox.push(frame, None);
    }

    /// As `send`, but leaves waking the writer to the caller: its waker (if
    /// it was idle) goes into `wakers`. `probe` is told when the frame
    /// reaches the kernel.
    pub(crate) fn send_deferred(
        &self,
        frame: Bytes,
        probe: Option<&Arc<Probe>>,
        wakers: &mut Vec<Waker>,
    ) {
        let (_, waker) = self.outbox.push_deferred(frame, probe);
        wakers.extend(waker);
    }

    /// Ends the session from outside: `last` is written after what is queued,
    /// then the connection closes.
    pub(crate) fn close(&self, last: Option<Bytes>) {
        self.outbox.finish(last);
    }

    /// Mutes the session until `until_ms` (`i64::MAX`: forever; 0: unmute).
    pub(crate) fn set_muted_until(&self, until_ms: i64) {
        self.muted_until_ms.store(until_ms, Ordering::Relaxed);
    }

    /// When the session's mute ends, if it is muted at `now_ms`.
    pub(crate) fn muted_until(&self, now_ms: i64) -> Option<i64> {
        let until = self.muted_until_ms.load(Ordering::Relaxed);
        (until > now_ms).then_some(until)
    }
}
