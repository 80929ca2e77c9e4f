//! The writer task: the only code that writes the socket.
//!
//! Every [`Client`](crate::Client) handle queues whole encoded frames; the
//! writer takes everything queued at once and writes it with one
//! `write_all`, so many requests from many tasks share few system calls.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Frames that may wait in the queue before senders have to wait: enough to
/// batch well, small enough to push back on a sender that outruns the socket.
pub(crate) const QUEUE_FRAMES: usize = 1024;

/// Most frames written in one go.
const MAX_BATCH: usize = 256;

/// The batch buffer is kept between writes to save allocations, unless a
/// burst made it larger than this.
const KEEP_BUFFER: usize = 64 * 1024;

/// Writes queued frames until every sender is gone (then shuts down the
/// sending side, so the server sees end of stream), a write fails, or
/// `closed` is cancelled because the reader saw the connection end.
pub(crate) async fn run(
    mut socket: Box<dyn AsyncWrite + Send + Unpin>,
    mut queue: mpsc::Receiver<Bytes>,
    closed: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut joined = BytesMut::new();
    loop {
        let n_frames = tokio::select! {
            n_frames = queue.recv_many(&mut batch, MAX_BATCH) => n_frames,
            () = closed.cancelled() => return,
        };
        if n_frames == 0 {
            if let Err(err) = socket.shutdown().await {
                debug!(%err, "shutting down the sending side failed");
            }
            return;
        }
        let bytes: &[u8] = if let [frame] = batch.as_slice() {
            frame
        } else {
            joined.clear();
            for frame in &batch {
                joined.extend_from_slice(frame);
            }
            &joined
        };
        // The flush matters for TLS, which buffers records; for plain TCP
        // it does nothing.
        let write = async {
            socket.write_all(bytes).await?;
            socket.flush().await
        };
        let res = tokio::select! {
            res = write => res,
            () = closed.cancelled() => return,
        };
        batch.clear();
        if joined.capacity() > KEEP_BUFFER {
            joined = BytesMut::new();
        }
        if let Err(err) = res {
            debug!(%err, "write failed; closing the connection");
            closed.cancel();
            return;
        }
    }
}
