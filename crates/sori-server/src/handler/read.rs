//! Reading: every whole frame a read brought, through the session's rate
//! limits, to the requests answered at once or boxed to wait.

use sori_core::refusal::Refusal;
use sori_protocol::pb::ErrorCode;
use sori_protocol::{Frame, Message};

use super::{End, Handler, MAX_READS_PER_WAKE, Step};
use crate::connection::Incoming;
use crate::rate::FrameVerdict;
use crate::transport::Fill;
use crate::writer::Writer;

impl Handler {
    /// Handles every whole frame that `first` and what else the kernel
    /// already has brought. Returns why the connection ends, or `None` to
    /// keep going.
    pub(super) async fn read_and_handle(
        &mut self,
        first: Fill,
        writer: &mut Writer,
    ) -> Option<End> {
        let frames_before = self.frames_seen;
        let mut fill = first;
        let end = loop {
            // The step is gone before the await: a request waiting on the
            // store lives in its box, not in every session's task.
            let slow = match self.read_step(fill) {
                Step::Done => break None,
                Step::End(end) => break Some(end),
                // Boxed: the slow paths' state is large, and an idle
                // session should not carry it.
                Step::Slow(request_id, message) => {
                    // A request that waits (a Logout in a storm of them, a
                    // login behind the hasher) does not hold 4 KiB of read
                    // buffer while it waits, unless more frames are in it.
                    self.conn.release_if_empty();
                    Box::pin(self.slow(request_id, message, writer))
                }
            };
            if let Some(end) = slow.await {
                break Some(end);
            }
            // Go on with what is still buffered.
            fill = Fill::Data(0);
        };
        if end.is_none() {
            self.track_partial(frames_before);
        }
        end
    }

    /// Answers a frame over the session's rate limit, saying when a frame
    /// of its size would pass.
    fn rate_limited(&mut self, request_id: u32, len: usize) {
        self.shared.metrics.rate_limited.inc();
        let now = self.now().since_start();
        let wait = self
            .limits
            .retry_after(&self.shared.config.limits, len, now);
        let until_ms = sori_core::clock::now_ms()
            .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        let refusal = Refusal::until(
            ErrorCode::RateLimited,
            format!("over the rate limit; retry in {} ms", wait.as_millis()),
            until_ms,
        );
        self.push(request_id, refusal.to_message());
    }

    /// Handles the frames that need no waiting, until the reads run dry,
    /// the connection ends, or a frame needs `slow`.
    fn read_step(&mut self, first: Fill) -> Step {
        let mut fill = first;
        for reads in 1..=MAX_READS_PER_WAKE {
            match fill {
                Fill::Empty => break,
                Fill::Eof if self.conn.has_partial_frame() => {
                    self.shared.metrics.bad_frames.inc();
                    return Step::End(End::Kick(Refusal::new(
                        ErrorCode::TruncatedFrame,
                        "the connection ended inside a frame",
                    )));
                }
                Fill::Eof => return Step::End(End::Eof),
                Fill::Data(n) => {
                    self.shared.metrics.bytes_in.add(n as u64);
                    self.last_rx = self.now();
                    self.pinged = false;
                }
            }
            while let Some(incoming) = self.conn.next_frame(self.shared.config.max_frame_len) {
                let (request_id, len) = match &incoming {
                    Incoming::Frame(frame, len) => (frame.request_id, *len),
                    Incoming::Skipped {
                        request_id, len, ..
                    } => (*request_id, *len),
                    Incoming::Fatal(refusal) => {
                        self.shared.metrics.bad_frames.inc();
                        return Step::End(End::Kick(refusal.clone()));
                    }
                    Incoming::Control(bytes) => {
                        self.peer.link.push_raw(bytes.clone());
                        continue;
                    }
                    Incoming::Closed(bytes) => {
                        self.peer.link.push_raw(bytes.clone());
                        return Step::End(End::Eof);
                    }
                };
                // Every frame counts against the rate limits, the ones
                // that are refused unread included.
                self.shared.metrics.frames_in.inc();
                self.frames_seen = self.frames_seen.wrapping_add(1);
                let stamp = self.now();
                let now = stamp.since_start();
                match self
                    .limits
                    .check_frame(&self.shared.config.limits, len, now)
                {
                    FrameVerdict::Accept => {}
                    FrameVerdict::OverLimit => {
                        self.rate_limited(request_id, len);
                        continue;
                    }
                    FrameVerdict::Disconnect => {
                        self.shared.metrics.rate_limited.inc();
                        return Step::End(End::Kick(Refusal::new(
                            ErrorCode::RateLimited,
                            "too many messages, too fast, too often",
                        )));
                    }
                }
                if !matches!(
                    &incoming,
                    Incoming::Frame(
                        Frame {
                            message: Message::Ping(_) | Message::Pong(_),
                            ..
                        },
                        _
                    )
                ) {
                    self.busy(stamp);
                }
                match incoming {
                    Incoming::Frame(frame, _) => {
                        if let slow @ Step::Slow(..) = self.handle(frame) {
                            return slow;
                        }
                    }
                    Incoming::Skipped { refusal, .. } => {
                        self.shared.metrics.bad_frames.inc();
                        self.push(request_id, refusal.to_message());
                    }
                    _ => {}
                }
            }
            if reads == MAX_READS_PER_WAKE {
                // Read no more than this pass handles: bytes read now and
                // left in the buffer would wait for the client's next
                // write, which may never come. The socket stays readable,
                // so the next `fill` picks up the rest.
                break;
            }
            fill = match self.conn.try_fill() {
                Ok(fill) => fill,
                Err(err) => return Step::End(End::Failed(err)),
            };
        }
        self.conn.release_if_empty();
        Step::Done
    }
}
