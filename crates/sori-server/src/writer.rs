//! A session's writes: drains the outbox in as few syscalls as it can.
//!
//! Everything queued since the last write goes out in one call, so a busy
//! session pays one syscall for many frames, as the seed servers' batched
//! sends did: small frames are first gathered into one buffer of the worker
//! thread (up to 64 KiB a call), large ones go out as they are with
//! `writev` (up to [`MAX_IOVECS`] frames a call).
//!
//! There is no writer task: the session's own task polls
//! [`Writer::poll_drive`] beside its reads and timers. The outbox keeps that
//! task's waker and pushes wake it, so one task (and one allocation) per
//! session serves both directions, which is most of what keeps an idle
//! session small.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use sori_core::event::Event;
use sori_protocol::{Message, pb::ErrorCode};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::link::SessionLink;
use crate::outbox::Mode;
use crate::outbox::Outbox;
use crate::transport;
use sori_core::metrics::Metrics;

/// Most frames handed to one `writev` call.
const MAX_IOVECS: usize = 256;

/// A batch whose first frame is shorter than this is copied into one
/// buffer before it is written.
const GATHER_BELOW: usize = 2048;

/// Most bytes gathered into one write.
const SCRATCH_LEN: usize = 64 * 1024;

thread_local! {
    /// The gathering buffer of this worker thread (see `poll_write_batch`).
    static SCRATCH: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(SCRATCH_LEN));
}

/// How long a cut-off session's last frame may take to leave.
const LAST_WORDS_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a session's writes stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The outbox is finishing (someone closed the session): what is
    /// queued goes out, then the connection closes.
    Closing,
    /// The outbox overflowed: the session is a slow consumer.
    Overflowed,
    /// The outbox was abandoned.
    Dead,
    /// The socket failed.
    Failed(io::Error),
}

/// The write side of a session.
pub(crate) struct Writer {
    socket: transport::Writer,
    /// Frames taken from the outbox and not yet fully written. Empty, and
    /// holding no memory, while the session is idle.
    batch: VecDeque<Bytes>,
    /// The front frame is partly written: the stream is not at a frame
    /// boundary.
    mid_frame: bool,
    /// Bytes were written since the last flush (TLS buffers records).
    unflushed: bool,
    /// Bytes were written since [`Writer::take_wrote`] last looked: the
    /// session is not idle.
    wrote: bool,
}

impl Writer {
    pub(crate) fn new(socket: transport::Writer) -> Self {
        Writer {
            socket,
            batch: VecDeque::new(),
            mid_frame: false,
            unflushed: false,
            wrote: false,
        }
    }

    /// Nothing taken from the outbox is left to write.
    pub(crate) fn is_idle(&self) -> bool {
        self.batch.is_empty() && !self.unflushed
    }

    /// Whether bytes were written since the last call.
    pub(crate) fn take_wrote(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// The socket's write half.
    pub(crate) fn socket(&self) -> &transport::Writer {
        &self.socket
    }

    /// The socket's write half, for the parking lot to take and give back.
    pub(crate) fn socket_mut(&mut self) -> &mut transport::Writer {
        &mut self.socket
    }

    /// Writes what is queued, as far as the socket takes it. Pending while
    /// the session is open (woken by a push, or by the socket once it has
    /// room); ready once the session must end.
    pub(crate) fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        outbox: &Outbox,
        metrics: &Metrics,
    ) -> Poll<Stop> {
        loop {
            if self.batch.is_empty() && !self.unflushed {
                match outbox.poll_take(cx, &mut self.batch) {
                    Poll::Ready(Mode::Open) => {}
                    Poll::Ready(Mode::Finishing) => return Poll::Ready(Stop::Closing),
                    Poll::Ready(Mode::Overflowed) => return Poll::Ready(Stop::Overflowed),
                    Poll::Ready(Mode::Dead) => return Poll::Ready(Stop::Dead),
                    Poll::Pending => return Poll::Pending,
                }
            }
            match self.poll_write_batch(cx, outbox, metrics) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Stop::Failed(err)),
                Poll::Pending => {
                    // The socket is full: wait for room, or for the session
                    // to be cut off (which must not wait for a client that
                    // does not read).
                    return match outbox.poll_abort(cx) {
                        Poll::Ready(Mode::Overflowed) => Poll::Ready(Stop::Overflowed),
                        Poll::Ready(_) => Poll::Ready(Stop::Dead),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    /// Writes the whole batch (and flushes), then gives its memory back.
    fn poll_write_batch(
        &mut self,
        cx: &mut Context<'_>,
        outbox: &Outbox,
        metrics: &Metrics,
    ) -> Poll<io::Result<()>> {
        while !self.batch.is_empty() {
            let written = if self.batch.len() > 1 && self.batch[0].len() < GATHER_BELOW {
                // Several small frames: one copy into a contiguous buffer
                // is cheaper than the kernel's per-segment cost of a long
                // iovec (a 64-byte frame per segment spent more time
                // starting copies than copying). The buffer belongs to the
                // worker thread and lives only inside this call.
                SCRATCH.with_borrow_mut(|scratch| {
                    scratch.clear();
                    for frame in self.batch.iter() {
                        if scratch.len() + frame.len() > SCRATCH_LEN && !scratch.is_empty() {
                            break;
                        }
                        scratch.extend_from_slice(frame);
                    }
                    Pin::new(&mut self.socket).poll_write(cx, scratch)
                })
            } else {
                // The IoSlice array lives only inside this call, never in
                // the session's task.
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n_slices = 0;
                for (slot, frame) in slices.iter_mut().zip(self.batch.iter()) {
                    *slot = IoSlice::new(frame);
                    n_slices += 1;
                }
                Pin::new(&mut self.socket).poll_write_vectored(cx, &slices[..n_slices])
            };
            let n_bytes = match ready!(written) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => n,
                Err(err) => return Poll::Ready(Err(err)),
            };
            self.unflushed = true;
            self.wrote = true;
            self.consume(n_bytes, outbox, metrics);
        }
        if self.unflushed {
            // TLS buffers records inside rustls; a plain socket's flush is
            // a no-op.
            ready!(Pin::new(&mut self.socket).poll_flush(cx))?;
            self.unflushed = false;
        }
        // Idle sessions keep no queue memory: the next burst allocates anew
        // (one small allocation per write, against a syscall).
        if self.batch.capacity() > 0 {
            self.batch = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Removes what a write took from the batch and counts it.
    fn consume(&mut self, n_bytes: usize, outbox: &Outbox, metrics: &Metrics) {
        let mut left = n_bytes;
        let mut n_frames = 0;
        while left > 0 {
            // Invariant: the kernel never reports more bytes than we offered.
            let front = self
                .batch
                .front_mut()
                .expect("written bytes come from queued frames");
            if front.len() <= left {
                left -= front.len();
                self.batch.pop_front();
                n_frames += 1;
                self.mid_frame = false;
            } else {
                front.advance(left);
                left = 0;
                self.mid_frame = true;
            }
        }
        outbox.release(n_bytes, n_frames);
        metrics.frames_out.add(n_frames);
        metrics.bytes_out.add(n_bytes as u64);
    }

    /// Ends the session's writes as its outbox says: a finishing outbox is
    /// written out within `flush_timeout`; a slow consumer is told why (if
    /// the stream is at a frame boundary); an abandoned one gets nothing.
    /// Then the socket is shut down.
    pub(crate) async fn finish(
        mut self,
        link: &SessionLink,
        metrics: &Metrics,
        flush_timeout: Duration,
    ) {
        let outbox = &link.outbox;
        match outbox.mode() {
            Mode::Finishing => {
                let drain = poll_fn(|cx| self.poll_drain(cx, outbox, metrics));
                let _ = tokio::time::timeout(flush_timeout, drain).await;
            }
            Mode::Overflowed if !self.mid_frame => {
                // Best effort: a client that reads nothing will not see it,
                // but one that was merely slow learns why it was cut off.
                let kicked = Message::kicked(
                    ErrorCode::SlowConsumer,
                    "outbound queue overflowed: the client did not read fast enough",
                );
                // 1008: the policy (the queue bound) was violated.
                let last = link.last_words(&Event::push(kicked), Some(1008));
                self.batch = VecDeque::from([last]);
                let write = poll_fn(|cx| self.poll_write_batch(cx, outbox, metrics));
                let _ = tokio::time::timeout(LAST_WORDS_TIMEOUT, write).await;
            }
            Mode::Open | Mode::Overflowed | Mode::Dead => {}
        }
        let _ = tokio::time::timeout(LAST_WORDS_TIMEOUT, self.socket.shutdown()).await;
    }

    /// Writes everything a finishing outbox still holds.
    fn poll_drain(
        &mut self,
        cx: &mut Context<'_>,
        outbox: &Outbox,
        metrics: &Metrics,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.batch.is_empty() && !self.unflushed {
                match outbox.poll_take(cx, &mut self.batch) {
                    Poll::Ready(Mode::Open | Mode::Finishing) if !self.batch.is_empty() => {}
                    // Drained, or abandoned meanwhile.
                    _ => return Poll::Ready(Ok(())),
                }
            }
            ready!(self.poll_write_batch(cx, outbox, metrics))?;
        }
    }
}
