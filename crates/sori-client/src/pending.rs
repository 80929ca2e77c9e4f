//! Request ids and the table of requests that wait for their response.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use sori_protocol::Message;
use tokio::sync::oneshot;

/// Hands out request ids: counting up from 1, wrapping past `u32::MAX`, and
/// never 0 (which marks pushes).
#[derive(Debug)]
pub(crate) struct RequestIds {
    next: AtomicU32,
}

impl RequestIds {
    pub(crate) fn starting_at(first: u32) -> Self {
        RequestIds {
            next: AtomicU32::new(first),
        }
    }

    pub(crate) fn next(&self) -> u32 {
        loop {
            // fetch_add wraps on overflow; the only id to skip is 0.
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::starting_at(1)
    }
}

/// The requests in flight, by request id.
///
/// A std `Mutex`: it is held only to insert, remove or drain, never across an
/// `.await`, so it is cheaper than an async lock.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    ids: RequestIds,
    inner: Mutex<PendingInner>,
}

#[derive(Debug, Default)]
struct PendingInner {
    waiting: HashMap<u32, oneshot::Sender<Message>>,
    /// Set by [`Pending::close`]. Checked under the same lock as inserts, so a
    /// request can never be registered after the table was drained and then
    /// wait forever.
    closed: bool,
}

impl Pending {
    #[cfg(test)]
    pub(crate) fn starting_at(first: u32) -> Self {
        Pending {
            ids: RequestIds::starting_at(first),
            inner: Mutex::default(),
        }
    }

    /// Registers a new request: its id and where its response will arrive.
    /// `None` when the connection has already closed.
    pub(crate) fn register(&self) -> Option<(u32, oneshot::Receiver<Message>)> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        // After 2^32 requests the counter comes round again; skip an id whose
        // request (a very slow one) is still waiting.
        let id = loop {
            let id = self.ids.next();
            if !inner.waiting.contains_key(&id) {
                break id;
            }
        };
        inner.waiting.insert(id, tx);
        Some((id, rx))
    }

    /// Hands a response to the request waiting for `id`. Returns the
    /// message back when no request waits for it (it timed out or was
    /// cancelled, or the id was never ours); boxed, since that is rare and
    /// a `Message` is large.
    pub(crate) fn complete(&self, id: u32, message: Message) -> Result<(), Box<Message>> {
        let waiter = self.lock().waiting.remove(&id);
        match waiter {
            // A send error means the request gave up just now; drop the answer.
            Some(tx) => {
                let _ = tx.send(message);
                Ok(())
            }
            None => Err(Box::new(message)),
        }
    }

    /// Forgets a request that stopped waiting (timeout or cancellation).
    pub(crate) fn forget(&self, id: u32) {
        self.lock().waiting.remove(&id);
    }

    /// Marks the connection closed and fails every waiting request: dropping
    /// its sender makes the receiver see the connection as closed.
    pub(crate) fn close(&self) {
        let waiting = {
            let mut inner = self.lock();
            inner.closed = true;
            std::mem::take(&mut inner.waiting)
        };
        drop(waiting);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingInner> {
        // The lock is never held across code that can panic, so it is never
        // poisoned; recover the data anyway rather than panic.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
