//! Rate limits: token buckets per session and per client address, a count of
//! open connections per address, and a growing delay after failed logins.
//!
//! Everything here takes the time as an argument (`now: Instant`) instead of
//! reading a clock, so tests drive it with explicit instants and no sleeps,
//! and a caller reads the clock once per event. Shared maps sit behind std
//! mutexes that are held for one map operation and never across `.await`;
//! every map is bounded and swept of entries that no longer matter.
//!
//! One file per limiter: `session.rs` (a session's frames and bytes),
//! `keyed.rs` (new connections per address) and `login.rs` (failed
//! logins), built on `bucket.rs` (the token bucket) and `bounded_map.rs`
//! (the maps the shared ones keep); `config.rs` holds their settings.

pub(crate) use bounded_map::lock;
pub use config::{LimitsConfig, LoginThrottleConfig};
pub(crate) use keyed::{KeyedLimiter, client_key};
pub(crate) use login::{Announce, LoginThrottle};
pub(crate) use session::{FrameVerdict, SessionLimits};

// What the unit tests reach through `use super::*`, besides the above.
#[cfg(test)]
use bucket::TokenBucket;
#[cfg(test)]
use login::MAX_ACCOUNT_KEY_LEN;
#[cfg(test)]
use session::wait_for;

mod bounded_map;
mod bucket;
mod config;
mod keyed;
mod login;
mod session;

#[cfg(test)]
mod tests;
