//! The frame encoder: server frames, which are never masked.
//!
//! Data frames are written as two pieces, [`header`] (2-10 bytes on the stack)
//! and the payload, in one vectored write, so a broadcast encoded once into
//! shared `Bytes` is never copied per recipient. Control frames are small and
//! come whole from [`ping`], [`pong`] and [`close`].

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::{MAX_CONTROL_PAYLOAD, Opcode};

/// A server frame header: 2 to 10 bytes, kept on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The encoded header; only the first `len` bytes are meaningful.
    bytes: [u8; 10],
    /// How many bytes of `bytes` are used.
    len: u8,
}

impl Header {
    /// The encoded header.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for Header {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Encodes the header of an unmasked frame carrying `payload_len` bytes.
///
/// `fin` is false for every fragment but the last; fragments after the first
/// use [`Opcode::Continuation`]. No RSV bit is set (no extensions).
pub fn header(opcode: Opcode, fin: bool, payload_len: usize) -> Header {
    let mut bytes = [0u8; 10];
    bytes[0] = if fin { 0x80 } else { 0 } | opcode.to_u8();
    let len = match payload_len {
        0..=125 => {
            // The match arm bounds it to 7 bits.
            bytes[1] = payload_len as u8;
            2
        }
        126..=0xFFFF => {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        }
    };
    Header { bytes, len }
}

/// Encodes a whole unfragmented frame into one buffer. Meant for small
/// payloads; for a shared payload, write [`header`] and the payload instead.
pub fn frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    let head = header(opcode, true, payload.len());
    let mut buf = BytesMut::with_capacity(head.as_bytes().len() + payload.len());
    buf.put_slice(head.as_bytes());
    buf.put_slice(payload);
    buf.freeze()
}

/// Encodes a ping. A control frame carries at most 125 bytes, so a longer
/// payload is truncated.
pub fn ping(payload: &[u8]) -> Bytes {
    frame(
        Opcode::Ping,
        &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)],
    )
}

/// Encodes a pong, the answer to a ping with the same payload. A control
/// frame carries at most 125 bytes, so a longer payload is truncated (a
/// decoded ping never has one).
pub fn pong(payload: &[u8]) -> Bytes {
    frame(
        Opcode::Pong,
        &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)],
    )
}

/// Encodes a close frame with a status code and a reason. The reason is cut
/// at a character boundary to fit the 125-byte control payload.
pub fn close(code: u16, reason: &str) -> Bytes {
    let max_reason = MAX_CONTROL_PAYLOAD - 2;
    let mut end = reason.len().min(max_reason);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    frame(Opcode::Close, &payload[..2 + end])
}

#[cfg(test)]
mod tests;
