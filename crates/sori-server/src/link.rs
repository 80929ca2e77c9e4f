//! Delivery: how the core reaches a session of this server. A session's
//! [`SessionLink`] puts the shared bytes of each event, in the session's
//! wire format, into its bounded outbox and wakes its writer, at once or at
//! the end of the coalescing window. Only this layer knows wakers.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sori_core::event::{Event, Wrapping};
use sori_core::peer::{Link, Peer};

use crate::flush::Coalescer;
use crate::outbox::Outbox;

/// A session of this server, as its own task holds it.
pub(crate) type SessionPeer = Peer<SessionLink>;

/// How a session's frames travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Sori frames, back to back on the stream.
    Sori,
    /// One binary WebSocket message per Sori frame.
    WebSocket,
}

/// A session's delivery handle: its outbox, and the coalescer that wakes
/// its writer once per window for room messages.
pub(crate) struct SessionLink {
    pub(crate) outbox: Outbox,
    coalescer: Arc<Coalescer>,
    format: Format,
}

impl SessionLink {
    pub(crate) fn new(queue_limit: usize, coalescer: Arc<Coalescer>, format: Format) -> Self {
        SessionLink {
            outbox: Outbox::new(queue_limit),
            coalescer,
            format,
        }
    }

    /// The event's bytes in this session's format: shared by every session
    /// of the format (a broadcast is wrapped once).
    fn bytes(&self, event: &Event) -> Bytes {
        match self.format {
            Format::Sori => event.frame().clone(),
            Format::WebSocket => event
                .wrapped(Wrapping::WebSocket, |frame| {
                    sori_ws::frame(sori_ws::Opcode::Binary, frame)
                })
                .clone(),
        }
    }

    /// Queues bytes that are already in the session's wire format (a
    /// WebSocket pong or close frame).
    pub(crate) fn push_raw(&self, bytes: Bytes) {
        self.outbox.push(bytes, None);
    }

    /// Ends the session with `last`; a WebSocket session then sends its
    /// close frame (`ws_close`, 1000 when the protocol was kept).
    pub(crate) fn close_with(&self, last: &Event, ws_close: Option<u16>) {
        self.outbox.finish(Some(self.last_words(last, ws_close)));
    }

    /// A session's last frame, and on WebSocket the close frame after it.
    pub(crate) fn last_words(&self, last: &Event, ws_close: Option<u16>) -> Bytes {
        let bytes = self.bytes(last);
        if self.format != Format::WebSocket {
            return bytes;
        }
        let mut both = BytesMut::from(&bytes[..]);
        both.extend_from_slice(&sori_ws::close(ws_close.unwrap_or(1000), ""));
        both.freeze()
    }
}

impl Link for SessionLink {
    fn push(&self, event: &Event) {
        self.outbox.push(self.bytes(event), event.probe());
    }

    fn push_batched(&self, event: &Event) {
        let (_, waker) = self.outbox.push_deferred(self.bytes(event), event.probe());
        if let Some(waker) = waker {
            self.coalescer.defer(waker);
        }
    }

    fn close(&self, last: Option<&Event>) {
        match last {
            Some(last) => self.close_with(last, None),
            None => {
                self.outbox.finish(None);
            }
        }
    }
}
