//! The servers under test, behind one small trait, so that one load engine
//! drives them all.
//!
//! A [`Target`] makes a [`Codec`] per connection. The codec is pure: it
//! writes the bytes that log in and subscribe, encodes publishes, and parses
//! whatever the server sent from a read buffer, answering keep-alives through
//! [`Parsed::replies`]. The engine owns the socket and the clock. No client
//! libraries are involved, so every target pays for the same engine.

use std::fmt;
use std::net::SocketAddr;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::payload::Stamp;

mod nats;
mod redis;
mod sori;

#[cfg(test)]
mod tests;

pub use nats::Nats;
pub use redis::Redis;
pub use sori::Sori;

/// Which server a target speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Sori's binary frames; every receiver is a logged-in lobby member.
    Sori,
    /// NATS core: one subject, a SUB per receiver.
    Nats,
    /// Redis pub/sub: one channel, a SUBSCRIBE per receiver.
    Redis,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Sori => "sori",
            TargetKind::Nats => "nats",
            TargetKind::Redis => "redis",
        })
    }
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Subscribes and counts deliveries.
    Receiver,
    /// Publishes (and, on Sori, also receives the other senders' messages,
    /// because every lobby member does).
    Sender,
}

/// Everything needed to build a target, in a form a worker process can be
/// sent over its stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// The server kind.
    pub kind: TargetKind,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where the receivers connect instead (Sori cluster nodes sharing one
    /// room): receiver `i` to `receiver_addrs[i % len]`. Empty: `addr`.
    /// Senders always use `addr`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receiver_addrs: Vec<SocketAddr>,
    /// The room (Sori; "" is the lobby), subject (NATS) or channel (Redis).
    pub room: String,
    /// Prefix of the bench accounts' usernames on Sori (letters only, short:
    /// usernames are at most 20 characters).
    pub user_prefix: String,
}

impl TargetSpec {
    /// Builds the target.
    pub fn build(&self) -> Box<dyn Target> {
        match self.kind {
            TargetKind::Sori => Box::new(Sori::new(&self.room, &self.user_prefix)),
            TargetKind::Nats => Box::new(Nats::new(&self.room)),
            TargetKind::Redis => Box::new(Redis::new(&self.room)),
        }
    }

    /// The addresses receivers spread over, connection `i` to entry
    /// `i % len` (see [`crate::engine::addr_of`]): never empty.
    pub fn receiver_addrs(&self) -> &[SocketAddr] {
        if self.receiver_addrs.is_empty() {
            std::slice::from_ref(&self.addr)
        } else {
            &self.receiver_addrs
        }
    }
}

/// A server under test.
pub trait Target: Send + Sync {
    /// Which kind it is.
    fn kind(&self) -> TargetKind;
    /// A codec for connection number `conn_idx` (unique across all bench
    /// processes of a run; Sori derives the username from it).
    fn codec(&self, conn_idx: u64, role: Role) -> Box<dyn Codec>;
    /// Whether a sender also receives the other senders' messages.
    fn senders_receive(&self) -> bool;
    /// Whether connections may come from any loopback address
    /// (127.0.0.2, ...), not only 127.0.0.1.
    fn any_loopback_source(&self) -> bool {
        true
    }
}

/// One connection's protocol state: no I/O, no clock.
pub trait Codec: Send {
    /// Appends what is written right after connecting: log in, subscribe,
    /// and a request whose answer proves the server processed both.
    fn handshake(&mut self, out: &mut BytesMut);
    /// Consumes every complete item at the front of `buf`, leaving a partial
    /// one for the next read.
    fn parse(&mut self, buf: &mut BytesMut, parsed: &mut Parsed) -> Result<(), ProtocolError>;
    /// Appends one publish of `payload` to the target's room.
    fn encode_publish(&mut self, payload: &[u8], out: &mut BytesMut);
    /// Appends what a client leaving gracefully writes before it closes,
    /// and returns whether the server closes the connection after reading
    /// it (the client then waits for that). The default: nothing to say,
    /// the client just closes.
    fn goodbye(&mut self, out: &mut BytesMut) -> bool {
        let _ = out;
        false
    }
}

/// What [`Codec::parse`] found. The engine clears it after each read.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The bench payloads delivered.
    pub stamps: Vec<Stamp>,
    /// Bytes the codec wants written back (keep-alive answers).
    pub replies: BytesMut,
    /// Set once the handshake has been answered: the connection is
    /// subscribed and counts from now on.
    pub ready: bool,
}

/// The server said or did something the bench cannot go on from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The bytes do not follow the protocol.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The server refused a request or closed the session, with its reason.
    #[error("server error: {0}")]
    Refused(String),
}
