//! What the core hands to sessions: a message, or a batch of pushes (the
//! lobby's presence notices), encoded at most once per wire format and
//! shared by every recipient.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use sori_protocol::{HEADER_LEN, Message, encode, encode_to_bytes};

use crate::metrics::Probe;

#[cfg(test)]
mod tests;

/// A message on its way to one or many sessions.
///
/// The binary frame (which TCP and WebSocket sessions both carry: a
/// WebSocket session writes its few header bytes before the same frame) is
/// encoded on first use and shared: a broadcast to ten thousand sessions
/// encodes once. A wire format added later (IRC lines) gets a cell of its
/// own here.
///
/// A batch ([`Event::batch`]) is several pushes in one event: its frames
/// back to back, which is still a valid Sori stream, and in another wire
/// format each frame wrapped on its own (one binary WebSocket message per
/// frame). A recipient queues it as one entry. [`Event::tail`] and
/// [`Event::slice`] give part of the same batch, sharing the bytes.
pub struct Event {
    body: Body,
    frame: OnceLock<Bytes>,
    /// The frame in other wire formats, each encoded on first use.
    wrapped: [OnceLock<Bytes>; Wrapping::COUNT],
    /// Times a sampled broadcast until its last copy reaches the kernel.
    probe: Option<Arc<Probe>>,
}

/// What an event carries.
enum Body {
    /// One message, answering request `request_id` (0: a push).
    One { request_id: u32, message: Message },
    /// The pushes of `batch` with indexes `from..to` (never none:
    /// `from < to <= batch.messages.len()`).
    Batch {
        batch: Arc<Batch>,
        from: usize,
        to: usize,
    },
}

/// The pushes of a batch and their encodings, shared by the batch's tails.
struct Batch {
    /// Never empty.
    messages: Vec<Message>,
    /// The Sori frames back to back, on first use.
    frames: OnceLock<Framed>,
    /// The same frames in other wire formats, each wrapped on its own.
    wrapped: [OnceLock<Framed>; Wrapping::COUNT],
}

/// A batch's bytes in one wire format, and where each message's starts, so
/// a tail is a slice of the same buffer.
struct Framed {
    bytes: Bytes,
    starts: Vec<usize>,
}

impl Event {
    /// An answer to request `request_id` (0 for a push).
    pub fn new(request_id: u32, message: Message) -> Self {
        Event::with_body(Body::One {
            request_id,
            message,
        })
    }

    /// A push: no request asked for it.
    pub fn push(message: Message) -> Self {
        Event::new(0, message)
    }

    /// Several pushes, in this order, delivered as one event; `None` if
    /// there are none.
    pub fn batch(messages: Vec<Message>) -> Option<Self> {
        if messages.is_empty() {
            return None;
        }
        let to = messages.len();
        let batch = Arc::new(Batch {
            messages,
            frames: OnceLock::new(),
            wrapped: Default::default(),
        });
        Some(Event::with_body(Body::Batch { batch, from: 0, to }))
    }

    /// The same pushes without the first `skip`, sharing this batch's
    /// bytes (a single message is a batch of one); `None` if none is left.
    /// The probe stays with this event.
    pub fn tail(&self, skip: usize) -> Option<Self> {
        match &self.body {
            Body::One { .. } if skip > 0 => None,
            Body::One {
                request_id,
                message,
            } => Some(Event::new(*request_id, message.clone())),
            Body::Batch { batch, from, to } => {
                let from = from.checked_add(skip)?;
                (from < *to).then(|| {
                    Event::with_body(Body::Batch {
                        batch: batch.clone(),
                        from,
                        to: *to,
                    })
                })
            }
        }
    }

    /// The messages `range` of this event (indexes into
    /// [`Event::messages`]), sharing a batch's bytes; `None` if the range
    /// is empty or out of bounds. The probe stays with this event.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Option<Self> {
        if range.start >= range.end {
            return None;
        }
        match &self.body {
            Body::One { .. } if range == (0..1) => self.tail(0),
            Body::One { .. } => None,
            Body::Batch { batch, from, to } => {
                let start = from.checked_add(range.start)?;
                let end = from.checked_add(range.end)?;
                (end <= *to).then(|| {
                    Event::with_body(Body::Batch {
                        batch: batch.clone(),
                        from: start,
                        to: end,
                    })
                })
            }
        }
    }

    fn with_body(body: Body) -> Self {
        Event {
            body,
            frame: OnceLock::new(),
            wrapped: Default::default(),
            probe: None,
        }
    }

    /// The same event, timed by `probe`.
    pub fn with_probe(mut self, probe: Option<Arc<Probe>>) -> Self {
        self.probe = probe;
        self
    }

    /// The message (of a batch, the first).
    pub fn message(&self) -> &Message {
        &self.messages()[0]
    }

    /// Every message this event carries, in order: one, or a batch's.
    pub fn messages(&self) -> &[Message] {
        match &self.body {
            Body::One { message, .. } => std::slice::from_ref(message),
            Body::Batch { batch, from, to } => &batch.messages[*from..*to],
        }
    }

    /// The message, taken back (of a batch, a copy of the first).
    pub fn into_message(self) -> Message {
        match self.body {
            Body::One { message, .. } => message,
            Body::Batch { batch, from, .. } => batch.messages[from].clone(),
        }
    }

    /// The Sori frame (header and body), encoded on the first call; a
    /// batch's frames back to back.
    pub fn frame(&self) -> &Bytes {
        self.frame.get_or_init(|| match &self.body {
            Body::One {
                request_id,
                message,
            } => encode_to_bytes(*request_id, message),
            Body::Batch { batch, from, to } => batch.frames().slice(*from, *to),
        })
    }

    /// The frame as wrapped for another wire format (`wrap` takes one
    /// frame, and is called on the first use only): a broadcast is wrapped
    /// once per format, and every session of that format shares the bytes.
    /// A batch wraps each of its frames on its own, back to back.
    pub fn wrapped(&self, wrapping: Wrapping, wrap: impl Fn(&Bytes) -> Bytes) -> &Bytes {
        self.wrapped[wrapping as usize].get_or_init(|| match &self.body {
            Body::One { .. } => wrap(self.frame()),
            Body::Batch { batch, from, to } => batch.wrapped(wrapping, &wrap).slice(*from, *to),
        })
    }

    /// The broadcast's probe, if it is timed.
    pub fn probe(&self) -> Option<&Arc<Probe>> {
        self.probe.as_ref()
    }
}

impl Batch {
    fn frames(&self) -> &Framed {
        self.frames.get_or_init(|| {
            let len = self
                .messages
                .iter()
                .map(|m| HEADER_LEN + m.body_len())
                .sum();
            let mut bytes = BytesMut::with_capacity(len);
            let mut starts = Vec::with_capacity(self.messages.len());
            for message in &self.messages {
                starts.push(bytes.len());
                encode(0, message, &mut bytes);
            }
            Framed {
                bytes: bytes.freeze(),
                starts,
            }
        })
    }

    fn wrapped(&self, wrapping: Wrapping, wrap: &dyn Fn(&Bytes) -> Bytes) -> &Framed {
        self.wrapped[wrapping as usize].get_or_init(|| {
            let frames = self.frames();
            let mut bytes = BytesMut::new();
            let mut starts = Vec::with_capacity(frames.starts.len());
            for (i, &start) in frames.starts.iter().enumerate() {
                let end = frames
                    .starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(frames.bytes.len());
                starts.push(bytes.len());
                bytes.extend_from_slice(&wrap(&frames.bytes.slice(start..end)));
            }
            Framed {
                bytes: bytes.freeze(),
                starts,
            }
        })
    }
}

impl Framed {
    /// The bytes of messages `from..to`: the whole buffer, shared, for all.
    fn slice(&self, from: usize, to: usize) -> Bytes {
        let end = self.starts.get(to).copied().unwrap_or(self.bytes.len());
        self.bytes.slice(self.starts[from]..end)
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
