//! The Sori chat, free of transports.
//!
//! [`Core`] holds the chat: the [`hub::Hub`] of sessions, users and rooms,
//! accounts, history, moderation, and the [`bus::Bus`] that carries
//! everything that crosses sessions. Its request methods take who is asking
//! (a [`Caller`]) and plain arguments, and return an outcome or a
//! [`Refusal`]; they never see sockets, frames in flight, wakers or TLS.
//! Each edge (TCP, WebSocket, later IRC and an admin HTTP API) decodes its
//! own wire format into these calls, and delivers what the core hands its
//! sessions through a [`peer::Link`].
//!
//! One file per request family: `chat`, `whisper`, `membership`,
//! `room_admin`, `listing`, `moderation`, `login` (with session tokens and
//! password changes).
#![warn(missing_docs, unreachable_pub)]

pub mod accounts;
pub mod bus;
mod chat;
mod checks;
pub mod clock;
pub mod config;
pub mod event;
mod history;
pub mod hub;
pub mod ip_bans;
mod listing;
mod login;
mod membership;
pub mod metrics;
pub mod moderation;
mod node;
pub mod peer;
pub mod presence;
pub mod refusal;
mod registry;
mod remote;
pub mod room;
mod room_admin;
pub mod session;
mod whisper;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use crate::chat::ChatStep;
pub use crate::login::LoggedIn;
pub use crate::node::{Caller, Core, OpenError, Outcome, Session};
pub use crate::remote::Delivered;
