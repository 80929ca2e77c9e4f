//! Sori's WebSocket layer (RFC 6455): the opening handshake and the frame
//! codec that the server's WebSocket listener is built on.
//!
//! The core is sans-I/O, like `sori-protocol` and `quinn-proto`: nothing here
//! owns a socket, reads a clock or needs tokio (only the optional
//! [`read_request`] helper does, behind the default `tokio` feature).
//!
//! What the server does with it, per connection:
//!
//! 1. Reads the HTTP/1.1 upgrade request into a `BytesMut` and parses it with
//!    [`parse_request`] (or awaits [`read_request`]). Bytes after the headers
//!    stay in the buffer, since a client may pipeline its first frame.
//! 2. Decides: [`Request::validate`] says whether it is a well-formed upgrade,
//!    [`origin_allowed`] applies the Origin policy and [`client_ip`] finds the
//!    client's address behind trusted proxies (X-Forwarded-For). It answers
//!    with [`accept_response`] or [`reject_response`].
//! 3. Runs the session: its poll-based task appends socket bytes to the same
//!    buffer and calls [`Decoder::decode`] until it returns `Ok(None)`, acting
//!    on each [`Event`]. A [`ProtocolError`] carries the close code to send
//!    before the connection is dropped.
//! 4. Writes: a broadcast body is encoded once into shared `Bytes`, and each
//!    session writes `[header(..), body]` with one vectored write, so the
//!    payload is never copied per recipient ([`header`] returns a small stack
//!    array). Control frames come whole from [`ping`], [`pong`] and [`close`].
//!
//! Server frames are never masked; client frames must be. No extensions are
//! negotiated (no permessage-deflate) and no subprotocol is selected.
//! `examples/echo.rs` is an echo server built on exactly this API, which
//! `scripts/autobahn.sh` drives through the Autobahn test suite.
#![warn(missing_docs, unreachable_pub)]

mod decode;
mod encode;
mod frame;
mod handshake;

pub use decode::{Decoder, Event, ProtocolError};
pub use encode::{Header, close, frame, header, ping, pong};
pub use frame::{MAX_CONTROL_PAYLOAD, Opcode, close_code_is_valid};
#[cfg(feature = "tokio")]
pub use handshake::read_request;
pub use handshake::{
    HandshakeError, Request, UpgradeError, accept_key, accept_response, client_ip, origin_allowed,
    parse_request, reject_response,
};
