//! The Sori wire format: a fixed 12-byte frame header followed by a Protocol
//! Buffers body.
//!
//! This crate does no I/O, reads no clock and does not depend on tokio, so any
//! client (async or not) can reuse it. Encoding writes a whole frame into one
//! buffer; decoding reads from a byte slice and tells "need more bytes"
//! ([`DecodeError::Incomplete`]) apart from bad bytes. See `docs/protocol.md`.
#![warn(missing_docs, unreachable_pub)]

mod frame;
mod header;
mod message;

#[cfg(test)]
mod tests;

pub use frame::{DecodeError, Frame, decode, encode, encode_to_bytes};
pub use header::{
    DEFAULT_MAX_BODY_LEN, HEADER_LEN, Header, HeaderError, MAGIC, PROTOCOL_VERSION, parse_header,
};
pub use message::{Direction, Message, MessageType};

/// The generated Protocol Buffers bodies from `proto/sori.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/sori.v1.rs"));
}
