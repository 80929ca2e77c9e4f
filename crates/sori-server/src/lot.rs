//! The parking lot: where idle sessions wait without a task of their own.
//!
//! An idle session costs what its task and its socket's registration with
//! the runtime hold (a 640-byte task cell and a 256-byte registration, both
//! aligned to 128 bytes by tokio) more than anything it keeps of its own.
//! A parked session gives both up: its socket goes into the lot's epoll set
//! (one for the server, watched by one thread, `sori-lot`) and its state
//! into a box the session's waker points at (`handler/park.rs`). The lot
//! wakes that waker when the socket has something to read (bytes, EOF, a
//! reset) or when the session's deadline (heartbeat, idle timeout) comes;
//! its outbox wakes the same waker when a frame is queued for it. Woken,
//! the session takes its socket back to the runtime and goes on in a new
//! task.
//!
//! The lot does not wake more sessions than the runtime takes in: once
//! [`MAX_WAKING`] woken sessions wait for a worker to take their sockets
//! back, its thread waits for half of them before it wakes more. 19,000
//! clients logging out at once (or their heartbeats, due together) woke
//! 19,000 sessions within milliseconds, and each held a new task while it
//! waited for its turn on the two workers: 12 MB more than they held
//! parked, for the time the runtime took to go through them.
//!
//! The lot knows nothing of sessions: it keeps a waker and a deadline per
//! parked socket. Deadlines are checked by one sweep of the table, at most
//! every [`SWEEP_GAP`]: a heartbeat is due seconds after the last traffic,
//! so a few milliseconds late costs nothing, and the table holds no timer
//! entries that outlive their session.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;
use tokio::runtime::Handle;

/// The token of the lot's own waker (stop, an earlier deadline).
const WAKE: Token = Token(usize::MAX);

/// Shortest time between two sweeps for due deadlines.
const SWEEP_GAP: Duration = Duration::from_millis(5);

/// Events taken from epoll per wait.
const EVENTS: usize = 1024;

/// Most woken sessions waiting for a worker before the lot waits (for
/// half of them) to wake more: enough to keep every worker busy.
const MAX_WAKING: usize = 256;

/// How often the lot looks again while it waits for woken sessions.
const WAKING_POLL: Duration = Duration::from_micros(500);

/// No deadline: the sweep's "none found".
const NEVER: u64 = u64::MAX;

/// A parked socket's place in the lot, handed back to [`Lot::leave`].
#[derive(Debug)]
pub(crate) struct Ticket {
    key: u32,
}

/// One parked socket: whom to wake, and when at the latest.
struct Entry {
    waker: Waker,
    /// Milliseconds on the lot's clock.
    deadline: u64,
}

/// The lot: its epoll set, its table and its thread.
pub(crate) struct Lot {
    inner: Arc<Inner>,
    /// The runtime parked sessions resume on: the lot's thread wakes them
    /// from outside it.
    runtime: Handle,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    registry: Registry,
    waker: mio::Waker,
    table: Mutex<Slab<Entry>>,
    /// When the thread means to sweep next (the lot's clock, ms): a
    /// session parked with an earlier deadline wakes it.
    next_sweep: AtomicU64,
    stop: AtomicBool,
    /// Sessions woken (by anyone) whose task has not yet taken its socket
    /// back: [`Lot::waking`] and [`Lot::resumed`].
    waking: AtomicUsize,
    /// The zero of the lot's clock.
    epoch: Instant,
}

impl Lot {
    /// Opens the epoll set and starts the lot's thread. Call within the
    /// runtime the sessions run on.
    pub(crate) fn start() -> io::Result<Lot> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKE)?;
        let inner = Arc::new(Inner {
            registry,
            waker,
            table: Mutex::new(Slab::new()),
            next_sweep: AtomicU64::new(NEVER),
            stop: AtomicBool::new(false),
            waking: AtomicUsize::new(0),
            epoch: Instant::now(),
        });
        let thread = std::thread::Builder::new()
            .name("sori-lot".to_owned())
            .spawn({
                let inner = inner.clone();
                move || inner.watch(poll)
            })?;
        Ok(Lot {
            inner,
            runtime: Handle::current(),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The runtime parked sessions resume on.
    pub(crate) fn runtime(&self) -> &Handle {
        &self.runtime
    }

    /// Parks a socket: `waker` is woken once the socket is readable (or
    /// already is), at `deadline` at the latest, and maybe again after.
    pub(crate) fn enter(&self, fd: RawFd, waker: Waker, deadline: Instant) -> io::Result<Ticket> {
        let deadline = self.inner.clock(deadline);
        let key = {
            let mut table = self.inner.table();
            let entry = table.vacant_entry();
            let key = u32::try_from(entry.key())
                .map_err(|_| io::Error::other("the parking lot is full"))?;
            // Edge-triggered, and reported at once if the socket is
            // readable already: bytes that came before this are not lost.
            self.inner.registry.register(
                &mut SourceFd(&fd),
                Token(key as usize),
                Interest::READABLE,
            )?;
            entry.insert(Entry { waker, deadline });
            key
        };
        if deadline < self.inner.next_sweep.fetch_min(deadline, Ordering::AcqRel) {
            // The thread sleeps past this deadline: wake it to look again.
            self.inner.waker.wake()?;
        }
        Ok(Ticket { key })
    }

    /// Takes a socket out of the lot, before it goes back to the runtime.
    pub(crate) fn leave(&self, ticket: Ticket, fd: RawFd) {
        let mut table = self.inner.table();
        // Only fails if the socket is not in the set; either way it is not
        // once this returns.
        let _ = self.inner.registry.deregister(&mut SourceFd(&fd));
        table.try_remove(ticket.key as usize);
        if table.is_empty() && table.capacity() > 0 {
            // A slab never shrinks: once every session that parked has
            // left (they all logged out, the server drains), give its
            // memory back (1 MiB after 19,000).
            *table = Slab::new();
        }
    }

    /// A parked session was woken and its new task is on its way: the lot
    /// wakes no more while [`MAX_WAKING`] are.
    pub(crate) fn waking(&self) {
        self.inner.waking.fetch_add(1, Ordering::AcqRel);
    }

    /// A woken session's task has taken its socket back.
    pub(crate) fn resumed(&self) {
        // Saturating: a count off by one must not make the lot wait
        // forever.
        let _ = self
            .inner
            .waking
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// How many sockets are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.table().len()
    }

    /// How many sockets the table has room for.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.inner.table().capacity()
    }

    /// Stops the thread and drops every waker still parked, and with them
    /// whatever those sessions kept (their sockets close). For the end of
    /// the server, once its sessions have had their chance to end.
    pub(crate) fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        let _ = self.inner.waker.wake();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The lot's own thread may drop the last handle on the server (a
        // woken session's, when the runtime is gone): it cannot join
        // itself, and it ends by itself once it sees `stop`.
        if let Some(thread) = thread.filter(|t| t.thread().id() != std::thread::current().id()) {
            let _ = thread.join();
        }
        let parked = std::mem::take(&mut *self.inner.table());
        drop(parked);
    }
}

impl Drop for Lot {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn table(&self) -> MutexGuard<'_, Slab<Entry>> {
        // The table holds no invariant a panic could break half-way.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An instant on the lot's clock, in whole milliseconds rounded up (a
    /// deadline is never met early).
    fn clock(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(NEVER - 1)
    }

    /// The thread: waits for readable sockets and for the next deadline,
    /// wakes whose turn it is, until stopped.
    fn watch(&self, mut poll: Poll) {
        let mut events = Events::with_capacity(EVENTS);
        let mut due = Vec::new();
        let mut last_sweep = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            let next = self.next_sweep.load(Ordering::Acquire);
            let timeout = (next != NEVER).then(|| {
                let at = self.epoch + Duration::from_millis(next);
                at.saturating_duration_since(Instant::now())
                    .max(SWEEP_GAP.saturating_sub(last_sweep.elapsed()))
            });
            if let Err(err) = poll.poll(&mut events, timeout) {
                if err.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(%err, "the parking lot cannot wait on its sockets");
                    std::thread::sleep(SWEEP_GAP);
                }
                continue;
            }
            {
                let table = self.table();
                for event in events.iter().filter(|event| event.token() != WAKE) {
                    if let Some(entry) = table.get(event.token().0) {
                        due.push(entry.waker.clone());
                    }
                }
            }
            let now = self.clock(Instant::now());
            if self.next_sweep.load(Ordering::Acquire) <= now && last_sweep.elapsed() >= SWEEP_GAP {
                last_sweep = Instant::now();
                self.sweep(now, &mut due);
            }
            // Woken outside the table's lock: a session that resumes at
            // once takes it to leave.
            for waker in due.drain(..) {
                self.wait_for_workers();
                waker.wake();
            }
        }
    }

    /// Once [`MAX_WAKING`] woken sessions wait for a worker, waits until
    /// half of them have taken their sockets back (or the lot stops).
    fn wait_for_workers(&self) {
        if self.waking.load(Ordering::Acquire) < MAX_WAKING {
            return;
        }
        while self.waking.load(Ordering::Acquire) > MAX_WAKING / 2
            && !self.stop.load(Ordering::Acquire)
        {
            std::thread::sleep(WAKING_POLL);
        }
    }

    /// Collects the wakers whose deadline has come, and sets the next
    /// sweep to the earliest deadline left. A deadline met is set to
    /// "never": the session that wakes recomputes its own when it parks
    /// again.
    fn sweep(&self, now: u64, due: &mut Vec<Waker>) {
        let mut table = self.table();
        // Stored before the sweep reads the table: a session that parks
        // meanwhile with an earlier deadline lowers it again.
        self.next_sweep.store(NEVER, Ordering::Release);
        let mut earliest = NEVER;
        for (_, entry) in table.iter_mut() {
            if entry.deadline <= now {
                entry.deadline = NEVER;
                due.push(entry.waker.clone());
            } else {
                earliest = earliest.min(entry.deadline);
            }
        }
        self.next_sweep.fetch_min(earliest, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
