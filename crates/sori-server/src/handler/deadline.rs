//! The session's timers: the login and idle timeouts, the heartbeat, and
//! the slowloris clock of an unfinished frame; and the session's clock.

use std::num::NonZeroU64;
use std::time::Duration;

use sori_core::refusal::Refusal;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::time::Instant;

use super::{End, Handler, State};

/// A time on a session's clock: microseconds since the connection was
/// accepted. Eight bytes where an `Instant` takes sixteen (and an
/// `Option<Instant>` as many), in the state every idle session carries.
/// Kept off by one so that it has a niche: an `Option<Stamp>` is eight
/// bytes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Stamp(NonZeroU64);

impl Stamp {
    /// The moment the connection was accepted.
    pub(super) const ZERO: Stamp = Stamp(NonZeroU64::MIN);

    /// The time since the connection was accepted.
    pub(super) fn since_start(self) -> Duration {
        Duration::from_micros(self.0.get() - 1)
    }

    /// The instant, given when the connection was accepted.
    pub(super) fn at(self, accepted_at: Instant) -> Instant {
        accepted_at + self.since_start()
    }
}

impl Handler {
    /// The session's clock now.
    pub(super) fn now(&self) -> Stamp {
        let micros = Instant::now()
            .saturating_duration_since(self.accepted_at)
            .as_micros();
        // 2^64 µs is over half a million years.
        Stamp(NonZeroU64::MIN.saturating_add(u64::try_from(micros).unwrap_or(u64::MAX - 1)))
    }

    /// Works out what the timer means now: a timeout, a heartbeat to send,
    /// or a later deadline.
    pub(super) fn next_deadline(&mut self) -> Result<Instant, End> {
        let next = self.next_session_deadline()?;
        let Some(since) = self.partial_since else {
            return Ok(next);
        };
        let since = since.at(self.accepted_at);
        let timeout = self.shared.config.limits.partial_frame_timeout;
        if Instant::now() >= since + timeout {
            return Err(End::Kick(Refusal::new(
                ErrorCode::ReadTimeout,
                format!("a frame was started and not finished within {timeout:?}"),
            )));
        }
        Ok(next.min(since + timeout))
    }

    fn next_session_deadline(&mut self) -> Result<Instant, End> {
        let config = &self.shared.config;
        let now = Instant::now();
        match self.state {
            State::Connected => {
                let login_deadline = self.accepted_at + config.login_timeout;
                if now >= login_deadline {
                    return Err(End::Kick(Refusal::new(
                        ErrorCode::LoginTimeout,
                        format!("not logged in within {:?}", config.login_timeout),
                    )));
                }
                Ok(login_deadline)
            }
            State::Authenticated(_) => {
                let last_rx = self.last_rx.at(self.accepted_at);
                let idle_at = last_rx + config.idle_timeout;
                if now >= idle_at {
                    return Err(End::Kick(Refusal::new(
                        ErrorCode::IdleTimeout,
                        format!("nothing received for {:?}", config.idle_timeout),
                    )));
                }
                let ping_at = last_rx + config.heartbeat_interval;
                if self.pinged || ping_at >= idle_at {
                    return Ok(idle_at);
                }
                if now >= ping_at {
                    self.pinged = true;
                    let nonce = self.peer.id.to_u64();
                    self.push(0, Message::Ping(pb::Ping { nonce }));
                    return Ok(idle_at);
                }
                Ok(ping_at)
            }
        }
    }

    /// Starts (or restarts, after progress) the slowloris clock while the
    /// buffer holds an unfinished frame.
    pub(super) fn track_partial(&mut self, frames_before: u32) {
        if !self.conn.has_partial_frame() {
            self.partial_since = None;
        } else if self.partial_since.is_none() || self.frames_seen != frames_before {
            self.partial_since = Some(self.now());
            self.rearm = true;
        }
    }
}
