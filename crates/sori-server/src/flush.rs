//! Write pacing: wakes the writers a fan-out queued messages for, at once
//! while the server has writes to spare, later (up to a latency budget)
//! while it is busy, so each recipient's writer hands the kernel everything
//! that gathered meanwhile in one writev.
//!
//! The kernel's TCP path is most of what a delivery costs, and it is paid
//! per syscall, not per message. The coalescer keeps a budget of writer
//! wake-ups per second (a token bucket, [`Pacing::wakes_per_sec`]): a
//! fan-out whose writers fit in the budget is written in the next scheduler
//! pass, with no window at all; one that does not waits for the budget to
//! refill, but never longer than [`Pacing::max_delay`] (`write_coalesce`).
//! Under a light load every message goes out at once, as from Redis;
//! under a heavy one the writes per second stay near the budget and each
//! carries more messages, so the cost per delivery falls as the load rises.
//!
//! The coalescer is also the core's [`Pacer`]: rooms gather their messages
//! until the pass, and it has them pushed (one shared batch per recipient)
//! just before it decides whom to wake.

use std::sync::Mutex;
use std::task::Waker;
use std::time::Duration;

use sori_core::room::Pacer;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[cfg(test)]
mod tests;

/// How the coalescer spends its writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pacing {
    /// Longest a room message waits for others to share its write; zero
    /// wakes every writer at once (no pacing at all).
    pub(crate) max_delay: Duration,
    /// Writer wake-ups per second that go out without waiting.
    pub(crate) wakes_per_sec: f64,
}

impl Pacing {
    /// Wake-ups that may go out at once after a quiet spell: a broadcast
    /// to this many sessions from idle is written in the next pass. Half
    /// a second's budget (10,000 by default): a broadcast to 5,000 waited
    /// the whole `max_delay` with 50 ms' worth. Under steady load the
    /// bucket stays near empty, so this does not loosen the pace there.
    fn burst(&self) -> f64 {
        (self.wakes_per_sec * 0.5).max(1.0)
    }
}

/// Writers waiting to be woken.
pub(crate) struct Coalescer {
    pacing: Pacing,
    /// std Mutex: held to append or swap the list, never across `.await`.
    pending: Mutex<Vec<Waker>>,
    /// Wakes the flusher when the first waker of a batch arrives.
    started: Notify,
}

impl Coalescer {
    pub(crate) fn new(pacing: Pacing) -> Self {
        Coalescer {
            pacing,
            pending: Mutex::new(Vec::new()),
            started: Notify::new(),
        }
    }

    /// Wakes `waker` with the next batch (at once, with no pacing).
    pub(crate) fn defer(&self, waker: Waker) {
        if self.pacing.max_delay.is_zero() {
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

    fn n_waiting(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Writers waiting for the next batch (for the benches).
    pub(crate) fn n_pending(&self) -> usize {
        self.n_waiting()
    }

    /// Drops the writers waiting for the next batch (for the benches,
    /// which drive no writers).
    pub(crate) fn forget_pending(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The flusher task: wakes each batch of writers as soon as the budget
    /// allows, or once its first message has waited `max_delay`. `gathered`
    /// pushes the messages rooms gathered (`Core::flush_gathered`): it runs
    /// before each look at who waits, so the writers it gives work to are
    /// counted and woken in the same pass.
    pub(crate) async fn run(&self, shutdown: CancellationToken, gathered: impl Fn()) {
        let mut batch = Vec::new();
        let mut bucket = Bucket::new(self.pacing);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.started.notified() => {}
            }
            let first_at = Instant::now();
            // One scheduler pass: the other sessions that are reading and
            // fanning out right now add their writers to this batch.
            tokio::task::yield_now().await;
            let deadline = first_at + self.pacing.max_delay;
            loop {
                gathered();
                let now = Instant::now();
                let wait = bucket.wait_for(self.n_waiting(), now);
                if wait.is_zero() || now >= deadline {
                    break;
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep_until((now + wait).min(deadline)) => {}
                }
            }
            std::mem::swap(
                &mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()),
                &mut batch,
            );
            bucket.spend(batch.len(), Instant::now());
            batch.drain(..).for_each(Waker::wake);
            if shutdown.is_cancelled() {
                break;
            }
        }
        // Whatever is left must not wait for a batch that never comes.
        gathered();
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .for_each(Waker::wake);
    }
}

impl Pacer for Coalescer {
    fn gathered(&self) {
        self.started.notify_one();
    }
}

/// The wake-up budget: `wakes_per_sec` tokens a second, at most `burst`
/// saved up.
struct Bucket {
    pacing: Pacing,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(pacing: Pacing) -> Self {
        Bucket {
            pacing,
            tokens: pacing.burst(),
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned =
            now.saturating_duration_since(self.at).as_secs_f64() * self.pacing.wakes_per_sec;
        self.tokens = (self.tokens + earned).min(self.pacing.burst());
        self.at = now;
    }

    /// How long until `n` wake-ups fit in the budget.
    fn wait_for(&mut self, n: usize, now: Instant) -> Duration {
        self.refill(now);
        let missing = n as f64 - self.tokens;
        if missing <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(missing / self.pacing.wakes_per_sec)
    }

    /// Takes `n` wake-ups out of the budget. A batch sent at its deadline
    /// leaves the budget empty, not in debt: past the budget the pace is
    /// one batch per `max_delay`.
    fn spend(&mut self, n: usize, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - n as f64).max(0.0);
    }
}
