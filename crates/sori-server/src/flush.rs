//! Write coalescing: wakes the writers a fan-out queued messages for after
//! a short window, so each recipient's writer hands the kernel everything
//! from the window in one writev.
//!
//! The kernel's TCP path is most of what a delivery costs, and it is paid
//! per syscall, not per message: a writer woken for every read batch pays
//! it once per batch, a writer woken once a millisecond once per
//! millisecond. The window is the latency traded for that (2 ms by
//! default; 0 turns coalescing off).

use std::sync::Mutex;
use std::task::Waker;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[cfg(test)]
mod tests;

/// Writers waiting for the end of the current window.
pub(crate) struct Coalescer {
    window: Duration,
    /// std Mutex: held to append or swap the list, never across `.await`.
    pending: Mutex<Vec<Waker>>,
    /// Wakes the flusher when the first waker of a window arrives.
    started: Notify,
}

impl Coalescer {
    pub(crate) fn new(window: Duration) -> Self {
        Coalescer {
            window,
            pending: Mutex::new(Vec::new()),
            started: Notify::new(),
        }
    }

    /// Wakes `waker` at the end of the current window (at once, with no
    /// window).
    pub(crate) fn defer(&self, waker: Waker) {
        if self.window.is_zero() {
            waker.wake();
            return;
        }
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(waker);
            pending.len() == 1
        };
        if first {
            self.started.notify_one();
        }
    }

    /// Writers waiting for the window's end (for the benches).
    pub(crate) fn n_pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Drops the writers waiting for the window's end (for the benches,
    /// which drive no writers).
    pub(crate) fn forget_pending(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The flusher task: at the end of each window, wakes every writer that
    /// was queued for during it.
    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.started.notified() => {}
            }
            tokio::time::sleep(self.window).await;
            std::mem::swap(
                &mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()),
                &mut batch,
            );
            batch.drain(..).for_each(Waker::wake);
        }
        // Whatever is left must not wait for a window that never ends.
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .for_each(Waker::wake);
    }
}
