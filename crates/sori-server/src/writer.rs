//! A session's writer task: drains the outbox with vectored writes.
//!
//! Everything queued since the last write goes out in one `writev` (up to
//! [`MAX_IOVECS`] frames a call), so a busy session pays one syscall for many
//! frames, as the seed servers' batched sends did.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes};
use sori_protocol::{Message, encode_to_bytes, pb::ErrorCode};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::metrics::{Metrics, Probe};
use crate::outbox::Mode;
use crate::peer::Peer;
use crate::transport::Writer;

/// Most frames handed to one `writev` call.
const MAX_IOVECS: usize = 256;

/// How long a closing session's last frames may take to leave.
const LAST_WORDS_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs until the session's outbox is finished and flushed, or abandoned.
pub(crate) async fn run(
    peer: Arc<Peer>,
    mut socket: Writer,
    metrics: Arc<Metrics>,
    flush_timeout: Duration,
) {
    let mut batch = VecDeque::new();
    // Probes of sampled broadcasts, by the index of their frame.
    let mut probes = VecDeque::new();
    // Frames fully written so far: the index of the batch's front frame.
    let mut written = 0u64;
    let mut mid_frame = false;
    let end = loop {
        let mode = poll_fn(|cx| peer.outbox.poll_take(cx, &mut batch, &mut probes)).await;
        match mode {
            Mode::Overflowed | Mode::Dead => break mode,
            Mode::Finishing => {
                let write = write_batch(
                    &mut socket,
                    &mut batch,
                    &mut mid_frame,
                    &peer,
                    &metrics,
                    &mut written,
                    &mut probes,
                );
                // Boxed, as below: rare, and an idle session should not carry it.
                let _ = Box::pin(tokio::time::timeout(flush_timeout, write)).await;
                break Mode::Finishing;
            }
            Mode::Open => {
                let write = write_batch(
                    &mut socket,
                    &mut batch,
                    &mut mid_frame,
                    &peer,
                    &metrics,
                    &mut written,
                    &mut probes,
                );
                let aborted = poll_fn(|cx| peer.outbox.poll_abort(cx));
                tokio::select! {
                    res = write => if res.is_err() {
                        break Mode::Dead;
                    },
                    mode = aborted => break mode,
                }
                if batch.capacity() > MAX_IOVECS {
                    // After a burst, give the memory back: idle sessions stay small.
                    batch = VecDeque::new();
                }
            }
        }
    };
    if end == Mode::Overflowed && !mid_frame {
        // Best effort: a client that reads nothing will not see it, but one
        // that was merely slow learns why it was cut off.
        let kicked = Message::kicked(
            ErrorCode::SlowConsumer,
            "outbound queue overflowed: the client did not read fast enough",
        );
        let mut last = VecDeque::from([encode_to_bytes(0, &kicked)]);
        let write = write_batch(
            &mut socket,
            &mut last,
            &mut mid_frame,
            &peer,
            &metrics,
            &mut written,
            &mut probes,
        );
        let _ = Box::pin(tokio::time::timeout(LAST_WORDS_TIMEOUT, write)).await;
    }
    if end == Mode::Dead {
        metrics.write_errors.inc();
    }
    let _ = socket.shutdown().await;
    // The reader may still be waiting on the socket: make it stop too.
    peer.abandon();
}

/// Writes every frame in `batch`, removing each once it is fully written.
/// `mid_frame` tells whether the front frame is partly written, so a caller
/// that abandons the batch knows whether the stream ended at a frame boundary.
async fn write_batch(
    socket: &mut Writer,
    batch: &mut VecDeque<Bytes>,
    mid_frame: &mut bool,
    peer: &Peer,
    metrics: &Metrics,
    written: &mut u64,
    probes: &mut VecDeque<(u64, Arc<Probe>)>,
) -> io::Result<()> {
    while !batch.is_empty() {
        // The IoSlice array lives only inside one poll, never across an
        // await, so it does not grow every session's task.
        let n_bytes = poll_fn(|cx| {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut n_slices = 0;
            for (slot, frame) in slices.iter_mut().zip(batch.iter()) {
                *slot = IoSlice::new(frame);
                n_slices += 1;
            }
            match Pin::new(&mut *socket).poll_write_vectored(cx, &slices[..n_slices]) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                other => other,
            }
        })
        .await?;
        let mut left = n_bytes;
        let mut n_frames = 0;
        while left > 0 {
            // Invariant: the kernel never reports more bytes than we offered.
            let front = batch
                .front_mut()
                .expect("written bytes come from queued frames");
            if front.len() <= left {
                left -= front.len();
                batch.pop_front();
                n_frames += 1;
                *mid_frame = false;
            } else {
                front.advance(left);
                left = 0;
                *mid_frame = true;
            }
        }
        peer.outbox.release(n_bytes);
        metrics.frames_out.add(n_frames);
        metrics.bytes_out.add(n_bytes as u64);
        *written += n_frames;
        while probes.front().is_some_and(|(index, _)| *index < *written) {
            if let Some((_, probe)) = probes.pop_front() {
                probe.done();
            }
        }
    }
    // TLS buffers records inside rustls; a plain socket's flush is a no-op.
    socket.flush().await
}
