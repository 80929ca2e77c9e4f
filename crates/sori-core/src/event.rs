//! What the core hands to sessions: a message, encoded at most once per
//! wire format and shared by every recipient.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use sori_protocol::{Message, encode_to_bytes};

use crate::metrics::Probe;

/// A message on its way to one or many sessions.
///
/// The binary frame (which TCP and WebSocket sessions both carry: a
/// WebSocket session writes its few header bytes before the same frame) is
/// encoded on first use and shared: a broadcast to ten thousand sessions
/// encodes once. A wire format added later (IRC lines) gets a cell of its
/// own here.
pub struct Event {
    request_id: u32,
    message: Message,
    frame: OnceLock<Bytes>,
    /// The frame in other wire formats, each encoded on first use.
    wrapped: [OnceLock<Bytes>; Wrapping::COUNT],
    /// Times a sampled broadcast until its last copy reaches the kernel.
    probe: Option<Arc<Probe>>,
}

impl Event {
    /// An answer to request `request_id` (0 for a push).
    pub fn new(request_id: u32, message: Message) -> Self {
        Event {
            request_id,
            message,
            frame: OnceLock::new(),
            wrapped: Default::default(),
            probe: None,
        }
    }

    /// A push: no request asked for it.
    pub fn push(message: Message) -> Self {
        Event::new(0, message)
    }

    /// The same event, timed by `probe`.
    pub fn with_probe(mut self, probe: Option<Arc<Probe>>) -> Self {
        self.probe = probe;
        self
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message, taken back.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// The Sori frame (header and body), encoded on the first call.
    pub fn frame(&self) -> &Bytes {
        self.frame
            .get_or_init(|| encode_to_bytes(self.request_id, &self.message))
    }

    /// The frame as wrapped for another wire format (`wrap` is called on
    /// the first use only): a broadcast is wrapped once per format, and
    /// every session of that format shares the bytes.
    pub fn wrapped(&self, wrapping: Wrapping, wrap: impl FnOnce(&Bytes) -> Bytes) -> &Bytes {
        self.wrapped[wrapping as usize].get_or_init(|| wrap(self.frame()))
    }

    /// The broadcast's probe, if it is timed.
    pub fn probe(&self) -> Option<&Arc<Probe>> {
        self.probe.as_ref()
    }
}

/// Wire formats that carry Sori frames inside their own framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// One binary WebSocket message per frame.
    WebSocket = 0,
}

impl Wrapping {
    const COUNT: usize = 1;
}
