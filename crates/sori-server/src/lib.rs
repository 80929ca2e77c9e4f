//! The Sori chat server as a library.
//!
//! The caller binds the listener and chooses when to stop; [`run`] (or
//! [`Server::run`]) does the rest. The binary in `main.rs` is a thin shell
//! around it, and the integration tests start it on port 0 in-process.
#![warn(missing_docs, unreachable_pub)]

mod accounts;
#[doc(hidden)]
pub mod bench;
pub mod config;
mod connection;
mod flush;
mod handler;
mod history;
mod hub;
pub mod ip_policy;
pub mod metrics;
mod moderation;
mod outbox;
mod peer;
pub mod rate;
mod refusal;
mod room;
mod rooms;
mod server;
pub mod session;
mod transport;
mod writer;

pub use config::Config;
pub use server::{RunError, Server, bind, run};
