//! The Sori chat server as a library.
//!
//! The caller binds the listener and chooses when to stop; [`run`] (or
//! [`Server::run`]) does the rest. The binary in `main.rs` is a thin shell
//! around it, and the integration tests start it on port 0 in-process.
#![warn(missing_docs, unreachable_pub)]

#[doc(hidden)]
pub mod bench;
mod cluster_limits;
pub mod config;
mod connection;
mod connections;
mod dispatch;
mod flush;
mod handler;
mod handshake;
pub mod ip_policy;
mod link;
mod lot;
pub mod metrics;
mod outbox;
mod proxy_protocol;
pub mod rate;
mod server;
mod shared;
#[cfg(test)]
mod test_support;
mod transport;
mod upgrade;
mod web;
mod writer;

pub use config::Config;
pub use server::{Listener, Listeners, RunError, Server, bind, run};
