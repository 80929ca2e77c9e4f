//! The lobby's presence notices (UserJoined, UserLeft), batched per node.
//!
//! Pushing each notice to every lobby session at once costs one queue entry
//! per recipient per notice: when thousands of sessions drop together, the
//! last `presence_limit` of them each queue a notice to all the others,
//! which are mostly closing themselves, and the queues hold about
//! `presence_limit²/2` entries until those sessions' own ends are seen.
//! Instead a notice waits in this node's batch, and at the end of a window
//! ([`WINDOW`]) the batch goes out as one event: one queue entry per
//! recipient per window however many users came or went, its frames in the
//! order the notices were made, encoded once per wire format. A session
//! that left within the window is no longer in the lobby and gets nothing.
//!
//! Exactness: a session gets exactly the notices made after it started
//! receiving the lobby (its login read the lobby's state then), none from
//! before, none twice. A session attached while notices were waiting
//! records how many were waiting; at the flush it gets only the batch's
//! tail after those (the same bytes, sliced). A notice and an attach are
//! recorded, and the batch is taken and delivered, under the lobby's lock,
//! so no attach falls between a notice and its flush unseen.
//!
//! A user who leaves and comes back within one window keeps both notices,
//! UserLeft then UserJoined: dropping the pair would save bytes but not
//! queue entries, and clients show both (and the second may carry a new
//! display name).
//!
//! The flusher is a task like the persister: [`PresenceBatch::start`] in
//! `Core::open`, [`PresenceBatch::close`] in `Core::close`, which delivers
//! what is waiting. It holds the batch weakly, so a core dropped without
//! `close` ends it too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use sori_protocol::Message;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::room::{Room, RoomState};
use crate::session::SessionId;

/// How long a presence notice may wait for others to share its write: the
/// most it arrives late. Short next to what a person notices in a user
/// list; long enough that a storm of departures or logins is a handful of
/// writes per session.
pub const WINDOW: Duration = Duration::from_millis(WINDOW_MS);

const WINDOW_MS: u64 = 50;

/// The notices waiting for the end of the window, and the flusher's wake.
pub(crate) struct PresenceBatch {
    lobby: Arc<Room>,
    /// std Mutex: taken only with the lobby's lock held (lobby → this),
    /// never across `.await`.
    pending: Mutex<Pending>,
    /// Wakes the flusher when a window opens; `None` before `start` and
    /// after `close`, when notices are delivered at once instead.
    wake: Mutex<Option<mpsc::UnboundedSender<()>>>,
    /// [`WINDOW`], but for tests that end windows themselves.
    window_ms: AtomicU64,
}

#[derive(Default)]
struct Pending {
    /// The window's notices, oldest first.
    notices: Vec<Message>,
    /// Sessions that started receiving the lobby while notices were
    /// waiting, with how many were: they get only the later ones.
    late: HashMap<SessionId, usize>,
}

impl PresenceBatch {
    /// A batch for `lobby`'s sessions, delivering at once until started.
    pub(crate) fn new(lobby: Arc<Room>) -> Self {
        PresenceBatch {
            lobby,
            pending: Mutex::new(Pending::default()),
            wake: Mutex::new(None),
            window_ms: AtomicU64::new(WINDOW_MS),
        }
    }

    /// How long a window lasts.
    fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms.load(Ordering::Relaxed))
    }

    /// Makes the windows that open from now on last `window` (tests: an
    /// hour, and [`PresenceBatch::flush`] by hand).
    #[cfg(test)]
    pub(crate) fn set_window(&self, window: Duration) {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self.window_ms.store(ms, Ordering::Relaxed);
    }

    /// Starts the flusher task: from now on notices wait for the window.
    pub(crate) fn start(self: &Arc<Self>) -> JoinHandle<()> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.wake) = Some(tx);
        tokio::spawn(run(rx, Arc::downgrade(self)))
    }

    /// Stops the flusher: it delivers what is waiting and ends; later
    /// notices are delivered at once.
    pub(crate) fn close(&self) {
        lock(&self.wake).take();
    }

    /// Queues a notice for every lobby session. `lobby` is the lobby's
    /// state, locked by the caller.
    pub(crate) fn queue(&self, lobby: &RoomState, notice: Message) {
        let opened = {
            let mut pending = lock(&self.pending);
            pending.notices.push(notice);
            pending.notices.len() == 1
        };
        if opened {
            let woken = lock(&self.wake)
                .as_ref()
                .is_some_and(|tx| tx.send(()).is_ok());
            if !woken {
                self.deliver(lobby);
            }
        }
    }

    /// Records that session `id` has just started receiving the lobby
    /// (locked by the caller, as `lobby`): it gets no notice waiting now.
    pub(crate) fn attached(&self, _lobby: &RoomState, id: SessionId) {
        let mut pending = lock(&self.pending);
        let waiting = pending.notices.len();
        if waiting > 0 {
            pending.late.insert(id, waiting);
        }
    }

    /// Delivers the window's notices now.
    pub(crate) fn flush(&self) {
        let lobby = self.lobby.lock();
        self.deliver(&lobby);
    }

    /// Takes the window's notices and pushes them to the lobby's sessions,
    /// each from where it joined; `lobby` is the lobby's locked state.
    fn deliver(&self, lobby: &RoomState) {
        let Pending { notices, late } = std::mem::take(&mut *lock(&self.pending));
        let Some(all) = Event::batch(notices) else {
            return;
        };
        // The tails of the batch, by how many notices they skip: sessions
        // that attached at the same point share one.
        let mut tails: HashMap<usize, Option<Event>> = HashMap::new();
        for peer in lobby.sessions() {
            match late.get(&peer.id) {
                None => peer.push(&all),
                Some(&skip) => {
                    if let Some(tail) = tails.entry(skip).or_insert_with(|| all.tail(skip)) {
                        peer.push(tail);
                    }
                }
            }
        }
    }
}

/// The flusher: a window opens with a wake, and ends `window` later (or at
/// once when the batch is closed) with a flush. Ends, after a last flush,
/// once the batch is closed or dropped.
async fn run(mut rx: mpsc::UnboundedReceiver<()>, batch: Weak<PresenceBatch>) {
    let mut open = true;
    while open {
        open = rx.recv().await.is_some();
        if open {
            let Some(window) = batch.upgrade().map(|batch| batch.window()) else {
                return;
            };
            let end = tokio::time::sleep(window);
            tokio::pin!(end);
            // A wake within the window (a flush by hand emptied the batch,
            // and a notice opened it again) keeps this window's end.
            while open {
                tokio::select! {
                    () = &mut end => break,
                    wake = rx.recv() => open = wake.is_some(),
                }
            }
        }
        match batch.upgrade() {
            Some(batch) => batch.flush(),
            None => return,
        }
    }
}

// Every critical section here leaves its state consistent between
// statements that can panic, so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
