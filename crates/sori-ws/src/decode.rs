//! The frame decoder: client frames in, whole messages and control frames out.
//!
//! [`Decoder::decode`] consumes whole frames only, straight from the session's
//! read buffer, so the server can call it after every `poll_fill` until it
//! returns `Ok(None)` ("need more bytes"). Payloads are unmasked in place and
//! split off the buffer, so an unfragmented message costs no copy; fragments
//! are copied into one buffer as they arrive. Limits are checked against the
//! length header before anything is buffered.

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{MAX_CONTROL_PAYLOAD, Opcode, close_code_is_valid};

/// Something the client sent, decoded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole binary message, fragments reassembled.
    Binary(Bytes),
    /// A whole text message, fragments reassembled. Always valid UTF-8.
    Text(Bytes),
    /// A ping: answer it with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong, solicited or not.
    Pong(Bytes),
    /// The client started (or answered) the closing handshake.
    Close {
        /// The status code, or `None` when the close frame had no payload.
        code: Option<u16>,
        /// The reason, possibly empty.
        reason: String,
    },
}

/// Why the client's bytes are not a valid frame stream. The connection must be
/// failed: send a close frame with [`ProtocolError::close_code`], then drop it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A client frame came without a mask (RFC 6455 §5.1).
    #[error("client frame is not masked")]
    Unmasked,
    /// One of the RSV bits is set, but no extension was negotiated.
    #[error("reserved bits set without an extension")]
    ReservedBits,
    /// The opcode is one of the reserved values.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A close, ping or pong frame without the FIN bit.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A close, ping or pong frame's payload is longer than 125 bytes.
    #[error("control frame payload longer than 125 bytes")]
    ControlTooLong,
    /// A 64-bit payload length with its most significant bit set.
    #[error("payload length has its most significant bit set")]
    LengthTooLarge,
    /// A continuation frame arrived with no fragmented message in progress.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A text or binary frame arrived while a fragmented message was still
    /// in progress.
    #[error("new message before the previous fragmented one finished")]
    UnfinishedMessage,
    /// The message (or the fragments so far plus this frame) is too long.
    #[error("message of at least {len} bytes exceeds the limit of {max}")]
    MessageTooLong {
        /// The length that the frame headers announce so far.
        len: u64,
        /// The decoder's limit.
        max: usize,
    },
    /// A text message is not valid UTF-8.
    #[error("text message is not valid utf-8")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload, which cannot hold a status code.
    #[error("close frame payload of 1 byte")]
    CloseTooShort,
    /// A close frame with a status code a peer may not send (RFC 6455 §7.4).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8.
    #[error("close reason is not valid utf-8")]
    InvalidCloseReason,
}

impl ProtocolError {
    /// The status code to put in the close frame that fails the connection:
    /// 1009 (message too big), 1007 (invalid payload data) or 1002 (protocol
    /// error).
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::MessageTooLong { .. } => 1009,
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => 1007,
            _ => 1002,
        }
    }
}

/// Decodes the frames a client sends, reassembling fragmented messages.
///
/// One per connection. After it returns an error the connection must be
/// failed; decoding further is allowed (it never panics) but meaningless.
#[derive(Debug)]
pub struct Decoder {
    /// The longest message accepted, in payload bytes after reassembly.
    max_message_len: usize,
    /// The fragmented message in progress, if any.
    partial: Option<Partial>,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    /// Whether the first frame was text (so every fragment is validated).
    text: bool,
    /// The payload so far.
    payload: BytesMut,
    /// How many leading bytes of `payload` are known to be whole, valid UTF-8
    /// code points; what follows is at most an incomplete code point, which
    /// the next fragment may complete. Validating from here keeps the total
    /// work linear and lets an invalid sequence fail at once (fail fast).
    utf8_valid_up_to: usize,
}

/// A frame header, parsed and checked, with the frame's total length.
struct FrameHead {
    /// Whether this is the message's final frame.
    fin: bool,
    opcode: Opcode,
    /// The client's masking key.
    mask: [u8; 4],
    /// Length of the header, mask key included.
    header_len: usize,
    /// Length of the payload; fits the message limit, so it fits a `usize`.
    payload_len: usize,
}

impl Decoder {
    /// A decoder accepting messages of up to `max_message_len` payload bytes.
    pub fn new(max_message_len: usize) -> Decoder {
        Decoder {
            max_message_len,
            partial: None,
        }
    }

    /// Decodes the next event from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole frame, or only
    /// held fragments of a message still in progress (which it consumed). It
    /// consumes whole frames only, and reserves room in `buf` for the rest of
    /// a frame whose header has arrived. Header errors are reported as soon
    /// as the header arrives, before the payload.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        loop {
            let Some(head) = self.parse_head(buf)? else {
                return Ok(None);
            };
            let frame_len = head.header_len + head.payload_len;
            if buf.len() < frame_len {
                buf.reserve(frame_len - buf.len());
                return Ok(None);
            }
            buf.advance(head.header_len);
            let mut payload = buf.split_to(head.payload_len);
            unmask(&mut payload, head.mask);
            if let Some(event) = self.on_frame(head.fin, head.opcode, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// Parses and checks the header at the front of `buf`, or `None` if it has
    /// not fully arrived.
    fn parse_head(&self, buf: &[u8]) -> Result<Option<FrameHead>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        let opcode = Opcode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        if b1 & 0x80 == 0 {
            return Err(ProtocolError::Unmasked);
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlTooLong);
            }
        } else {
            match (opcode, &self.partial) {
                (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
                (Opcode::Text | Opcode::Binary, Some(_)) => {
                    return Err(ProtocolError::UnfinishedMessage);
                }
                _ => {}
            }
        }
        let (len_bytes, payload_len) = match len7 {
            126 => match buf.get(2..4) {
                Some(&[hi, lo]) => (2, u64::from(u16::from_be_bytes([hi, lo]))),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::LengthTooLarge);
                    }
                    (8, len)
                }
                None => return Ok(None),
            },
            len => (0, u64::from(len)),
        };
        // Control frames were bounded above and are not part of the message
        // in progress; data frames are bounded by the message limit, counting
        // the fragments already buffered.
        let buffered = match &self.partial {
            Some(partial) if !opcode.is_control() => partial.payload.len(),
            _ => 0,
        };
        let total = (buffered as u64).saturating_add(payload_len);
        if total > self.max_message_len as u64 {
            return Err(ProtocolError::MessageTooLong {
                len: total,
                max: self.max_message_len,
            });
        }
        let header_len = 2 + len_bytes + 4;
        let Some(&[m0, m1, m2, m3]) = buf.get(header_len - 4..header_len) else {
            return Ok(None);
        };
        // `payload_len <= max_message_len`, a `usize`, so this cannot truncate.
        let payload_len = payload_len as usize;
        Ok(Some(FrameHead {
            fin,
            opcode,
            mask: [m0, m1, m2, m3],
            header_len,
            payload_len,
        }))
    }

    /// Acts on one whole, unmasked frame; `None` if it only added a fragment.
    fn on_frame(
        &mut self,
        fin: bool,
        opcode: Opcode,
        payload: BytesMut,
    ) -> Result<Option<Event>, ProtocolError> {
        match opcode {
            Opcode::Ping => Ok(Some(Event::Ping(payload.freeze()))),
            Opcode::Pong => Ok(Some(Event::Pong(payload.freeze()))),
            Opcode::Close => parse_close(&payload).map(Some),
            Opcode::Text | Opcode::Binary if fin => {
                if opcode == Opcode::Text {
                    std::str::from_utf8(&payload).map_err(|_| ProtocolError::InvalidUtf8)?;
                    Ok(Some(Event::Text(payload.freeze())))
                } else {
                    Ok(Some(Event::Binary(payload.freeze())))
                }
            }
            Opcode::Text | Opcode::Binary => {
                let mut partial = Partial {
                    text: opcode == Opcode::Text,
                    payload,
                    utf8_valid_up_to: 0,
                };
                partial.check_utf8(false)?;
                self.partial = Some(partial);
                Ok(None)
            }
            Opcode::Continuation => {
                // parse_head rejected a continuation with no message in progress.
                let Some(partial) = self.partial.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                partial.payload.extend_from_slice(&payload);
                partial.check_utf8(fin)?;
                if !fin {
                    return Ok(None);
                }
                let Some(partial) = self.partial.take() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                let payload = partial.payload.freeze();
                Ok(Some(if partial.text {
                    Event::Text(payload)
                } else {
                    Event::Binary(payload)
                }))
            }
        }
    }
}

impl Partial {
    /// Validates the text received since the last call. An incomplete code
    /// point at the end is fine unless this is the final fragment.
    fn check_utf8(&mut self, fin: bool) -> Result<(), ProtocolError> {
        if !self.text {
            return Ok(());
        }
        let Some(unchecked) = self.payload.get(self.utf8_valid_up_to..) else {
            return Ok(());
        };
        match std::str::from_utf8(unchecked) {
            Ok(_) => {
                self.utf8_valid_up_to = self.payload.len();
                Ok(())
            }
            // `error_len() == None`: the input ends inside a code point that
            // more bytes could still complete.
            Err(err) if err.error_len().is_none() && !fin => {
                self.utf8_valid_up_to += err.valid_up_to();
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }
}

/// Parses a close frame's payload: nothing, or a valid code and a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Event, ProtocolError> {
    match payload {
        [] => Ok(Event::Close {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(ProtocolError::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close_code_is_valid(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Event::Close {
                code: Some(code),
                reason: reason.to_owned(),
            })
        }
    }
}

/// XORs `payload` with the 4-byte masking key, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let [m0, m1, m2, m3] = mask;
    let mask64 = u64::from_ne_bytes([m0, m1, m2, m3, m0, m1, m2, m3]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ mask64).to_ne_bytes());
    }
    // Whole words cover a multiple of 4 bytes, so the key restarts at 0 here.
    for (idx, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[idx % 4];
    }
}

#[cfg(test)]
mod tests;
