//! The Redis bus: several Sori nodes as one chat.
//!
//! PostgreSQL keeps what lasts (accounts, rooms, history, bans); Redis
//! carries what crosses nodes:
//!
//! - **Room order.** One Lua script per room message increments the room's
//!   counter, appends the message to the room's capped log (a stream) and
//!   publishes it, atomically ([`scripts::number`]): publish order is number
//!   order, and every node delivers each room's messages to its own
//!   sessions in that order. A node that sees a number skip fills the gap
//!   from the log (or the store) before delivering; after every reconnect
//!   it re-reads each room from its position, and a periodic check catches
//!   a lost last message.
//! - **Numbers never repeat.** A node asks for numbers only below its store
//!   reservation (the script refuses past it, and the node reserves more in
//!   PostgreSQL first); a counter Redis lost is seeded from PostgreSQL's
//!   record of what was handed out.
//! - **Presence.** Who is online and on which node is a hash plus a sorted
//!   set of expiry times, refreshed by each node; a node that dies stops
//!   refreshing, and its users expire.
//! - **Directed work.** Whispers, kicks, bans, mutes and duplicate-login
//!   replacement go to the node that holds the session, on its channel.
//!
//! While Redis is away, room messages are refused with `UNAVAILABLE`
//! (nothing is numbered by anyone else, so there is never a second order);
//! everything else on the node goes on, and it resynchronises when Redis
//! returns.
#![warn(missing_docs, unreachable_pub)]

mod bus;
mod config;
mod inner;
mod keys;
mod listen;
mod ops;
mod presence;
mod scripts;
mod wire;

pub use crate::bus::RedisBus;
pub use crate::config::{ClusterConfig, ConnectError};
