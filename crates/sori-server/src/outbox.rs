//! A session's outbound queue: FIFO, bounded in bytes, drained in batches.
//!
//! Anyone may push a frame (the session's own handler, a room fanning out a
//! broadcast, a whisperer); only the session's own task (see `writer`) takes frames out.
//! Pushing never waits: a frame that would take the queue past its byte bound
//! marks the session as a slow consumer instead, so one client that stops
//! reading can never hold up the sender or anyone else.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use sori_core::metrics::Probe;

#[cfg(test)]
mod tests;

/// Most frames the first push of a batch reserves room for (32 KiB of
/// `Bytes` handles); a longer batch grows as usual.
const MAX_RESERVE: usize = 1024;

/// The queue's life cycle, as the writer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Frames are accepted and written.
    Open,
    /// No more frames are accepted; what is queued is written, then the
    /// connection closes (a Kicked frame is usually last).
    Finishing,
    /// The byte bound was passed: the queue was dropped and the session is
    /// cut off as a slow consumer.
    Overflowed,
    /// The connection failed or was abandoned; nothing more is written.
    Dead,
}

/// What became of a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued for writing.
    Queued,
    /// This push passed the bound: the session is now a slow consumer.
    Overflowed,
    /// The session is closing or closed; the frame was dropped.
    Dropped,
}

/// A bounded FIFO of encoded frames.
pub(crate) struct Outbox {
    /// std Mutex: held only for a few pointer moves, never across `.await`.
    state: Mutex<State>,
    /// Most bytes queued or being written at once.
    limit: usize,
}

/// What is behind the lock. Every session's outbox holds one, idle or not,
/// so what only a sampled broadcast needs is boxed (see [`Probes`]).
struct State {
    frames: VecDeque<Bytes>,
    /// Bytes pushed and not yet written: queued plus taken by the writer.
    bytes: usize,
    /// Frames pushed and not yet fully written: queued plus taken by the
    /// writer. Where a probe's frame stands in line when it is pushed.
    unwritten: u32,
    mode: Mode,
    /// How many frames the writer took last time: the first push into an
    /// empty queue reserves room for as many (one allocation per batch,
    /// instead of growing 4, 8, 16, ... and copying at each step). The
    /// queue itself holds no memory between batches.
    last_take: u16,
    /// The writer's waker while it waits for frames or for an abort.
    waker: Option<Waker>,
    /// Fan-out probes waiting for their frame to be written; `None` unless
    /// a sampled broadcast is in flight.
    probes: Option<Box<Probes>>,
}

/// Fan-out probes waiting for their frame to be written.
struct Probes {
    /// Frames fully written since the box was made.
    written: u64,
    /// Each probe, by the index (counted from when the box was made) of
    /// its frame; in push order.
    waiting: VecDeque<(u64, Arc<Probe>)>,
}

impl State {
    /// Keeps the writer's waker, without cloning it again if it is the one
    /// already kept (the session's task polls this on every wake).
    fn set_waker(&mut self, cx: &Context<'_>) {
        if !self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            self.waker = Some(cx.waker().clone());
        }
    }
}

impl Outbox {
    /// An empty, open queue bounded to `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Outbox {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                bytes: 0,
                unwritten: 0,
                mode: Mode::Open,
                last_take: 0,
                waker: None,
                probes: None,
            }),
            limit,
        }
    }

    /// Queues a frame without waiting. A `probe` is told when the frame has
    /// been handed to the kernel (or at once, if it is dropped).
    pub(crate) fn push(&self, frame: Bytes, probe: Option<&Arc<Probe>>) -> Push {
        let (res, waker) = self.push_deferred(frame, probe);
        if let Some(waker) = waker {
            waker.wake();
        }
        res
    }

    /// As `push`, but hands back the writer's waker (if the writer is idle)
    /// instead of waking it, so a fan-out can wake every writer once, after
    /// queuing a whole batch of messages: one writev per recipient per
    /// batch, not per message.
    pub(crate) fn push_deferred(
        &self,
        frame: Bytes,
        probe: Option<&Arc<Probe>>,
    ) -> (Push, Option<Waker>) {
        let (res, waker) = {
            let mut st = self.lock();
            if st.mode != Mode::Open {
                drop(st);
                if let Some(probe) = probe {
                    probe.done();
                }
                return (Push::Dropped, None);
            }
            if st.bytes + frame.len() > self.limit {
                st.frames = VecDeque::new();
                st.probes = None;
                st.mode = Mode::Overflowed;
                (Push::Overflowed, st.waker.take())
            } else {
                st.bytes += frame.len();
                if st.frames.capacity() == 0 {
                    let hint = usize::from(st.last_take);
                    st.frames.reserve(hint);
                }
                st.frames.push_back(frame);
                if let Some(probe) = probe {
                    // The frames ahead of this one are the unwritten ones:
                    // it is done once that many more, and it, are written.
                    let ahead = u64::from(st.unwritten);
                    let probes = st.probes.get_or_insert_with(|| {
                        Box::new(Probes {
                            written: 0,
                            waiting: VecDeque::new(),
                        })
                    });
                    let index = probes.written + ahead;
                    probes.waiting.push_back((index, probe.clone()));
                }
                st.unwritten = st.unwritten.saturating_add(1);
                (Push::Queued, st.waker.take())
            }
        };
        if res == Push::Overflowed
            && let Some(probe) = probe
        {
            probe.done();
        }
        (res, waker)
    }

    /// Stops accepting frames; `last` (if any) is queued past the bound and
    /// written after everything already queued. Returns false if the queue
    /// was already closing.
    pub(crate) fn finish(&self, last: Option<Bytes>) -> bool {
        let waker = {
            let mut st = self.lock();
            if st.mode != Mode::Open {
                return false;
            }
            if let Some(frame) = last {
                st.bytes += frame.len();
                st.frames.push_back(frame);
                st.unwritten = st.unwritten.saturating_add(1);
            }
            st.mode = Mode::Finishing;
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Abandons the queue: nothing more is accepted or written.
    pub(crate) fn kill(&self) {
        let waker = {
            let mut st = self.lock();
            st.frames = VecDeque::new();
            if st.mode != Mode::Overflowed {
                st.mode = Mode::Dead;
            }
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The current mode.
    pub(crate) fn mode(&self) -> Mode {
        self.lock().mode
    }

    /// Nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().frames.is_empty()
    }

    /// Writer side: moves every queued frame into `batch` (which the writer
    /// keeps empty between calls) and returns the mode. Pending while the
    /// queue is open and empty.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Bytes>,
    ) -> Poll<Mode> {
        let mut st = self.lock();
        match st.mode {
            Mode::Overflowed | Mode::Dead => Poll::Ready(st.mode),
            Mode::Open | Mode::Finishing if !st.frames.is_empty() => {
                st.last_take = st.frames.len().min(MAX_RESERVE) as u16;
                if batch.is_empty() {
                    // Swap rather than copy: both buffers keep their capacity.
                    std::mem::swap(&mut st.frames, batch);
                } else {
                    batch.append(&mut st.frames);
                }
                Poll::Ready(st.mode)
            }
            Mode::Finishing => Poll::Ready(Mode::Finishing),
            Mode::Open => {
                st.set_waker(cx);
                Poll::Pending
            }
        }
    }

    /// Writer side: ready once the session must stop writing at once
    /// (overflow or kill), so a write stuck on a client that does not read
    /// can be abandoned.
    pub(crate) fn poll_abort(&self, cx: &mut Context<'_>) -> Poll<Mode> {
        let mut st = self.lock();
        match st.mode {
            Mode::Overflowed | Mode::Dead => Poll::Ready(st.mode),
            Mode::Open | Mode::Finishing => {
                st.set_waker(cx);
                Poll::Pending
            }
        }
    }

    /// Writer side: `n_bytes` of taken frames reached the kernel, which
    /// completed `n_frames` frames; their probes are told.
    pub(crate) fn release(&self, n_bytes: usize, n_frames: u64) {
        let mut st = self.lock();
        st.bytes = st.bytes.saturating_sub(n_bytes);
        let n_frames_u32 = u32::try_from(n_frames).unwrap_or(u32::MAX);
        st.unwritten = st.unwritten.saturating_sub(n_frames_u32);
        let Some(probes) = &mut st.probes else {
            return;
        };
        probes.written += n_frames;
        while let Some((index, probe)) = probes.waiting.front() {
            if *index >= probes.written {
                break;
            }
            // A few atomics: fine under this short lock.
            probe.done();
            probes.waiting.pop_front();
        }
        if probes.waiting.is_empty() {
            st.probes = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent
        // (every critical section is a few field writes), so poisoning is
        // ignored rather than spreading the panic to every session.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
