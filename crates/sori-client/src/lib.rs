//! An async client for the Sori chat server, on tokio.
//!
//! [`Client::connect`] opens a connection and returns two halves: a
//! [`Client`], a cheap-to-clone handle that sends requests and awaits their
//! responses, and [`Events`], the stream of server pushes (chat messages,
//! whispers, joins and leaves, kicks). Integration tests, the load tester and
//! the chat clients all build on it; [`raw::RawConnection`] is there for tests
//! that need to put exact bytes on the wire.
//!
//! Each connection runs two tasks. The reader decodes frames, routes
//! responses to the request that waits for them by request id, turns pushes
//! into [`Event`]s, and answers the server's keep-alive `Ping` by itself. The
//! writer drains every frame queued by any handle and writes them in one go,
//! so many concurrent requests cost few system calls. Dropping every
//! [`Client`] handle closes the sending side of the socket.
//!
//! [`Session`] sits on top: it keeps the credentials (a session token, not
//! the password, when the server gives one) and the last sequence
//! number seen in each room, and [`Session::reconnect`] replaces a broken
//! connection and resumes every room, so that [`SessionEvents`] yields each
//! room's messages in order with no gap and no duplicate.
#![warn(missing_docs, unreachable_pub)]

mod client;
mod error;
mod events;
mod pending;
pub mod raw;
mod reader;
mod seq_tracker;
mod session;
mod writer;

#[cfg(test)]
mod tests;

pub use client::{Client, ConnectOptions, DEFAULT_MAX_RESPONSE_LEN, TlsConnect};
pub use error::ClientError;
pub use events::{Event, Events};
pub use session::{Session, SessionEvents};
