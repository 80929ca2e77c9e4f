//! The session's timers: the login and idle timeouts, the heartbeat, and
//! the slowloris clock of an unfinished frame; and the session's clock.

use std::num::NonZeroU64;
use std::time::Duration;

use sori_core::refusal::Refusal;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::time::Instant;

use super::{End, Handler, State};
use crate::transport;
use crate::writer::Writer;

/// What [`Handler::park_check`] found.
enum Park {
    /// Parking is off, or the session is not one that parks.
    Never,
    /// Not quiet long enough yet: look again then.
    LookAt(Instant),
    /// Quiet long enough.
    Now,
}

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

    /// This time plus `d`.
    pub(super) fn after(self, d: Duration) -> Stamp {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Stamp(self.0.saturating_add(micros))
    }

    /// The instant, given when the connection was accepted.
    pub(super) fn at(self, accepted_at: Instant) -> Instant {
        accepted_at + self.since_start()
    }
}

/// What the session's timer is set to next.
pub(super) enum Timer {
    /// Fire at this instant.
    At(Instant),
    /// The session has been quiet for `park_idle`: park it, with this as
    /// its deadline in the lot.
    Idle(Instant),
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
    /// a later deadline, or that the session may park.
    pub(super) fn timer_deadline(&mut self, writer: &mut Writer) -> Result<Timer, End> {
        let next = self.next_deadline()?;
        Ok(match self.park_check(writer) {
            Park::Never => Timer::At(next),
            Park::LookAt(at) => Timer::At(next.min(at)),
            Park::Now => Timer::Idle(next),
        })
    }

    /// Whether the session has been quiet for `park_idle` and may park,
    /// or when to look again.
    ///
    /// Quiet means: no request from the client (every frame but the
    /// heartbeat's Ping and Pong moves `park_at` on, as it is read) and
    /// nothing written to it since the last look (a flag, not a time: a
    /// session that was written to counts as busy until `park_idle` after
    /// the look that saw it). What a session writes while it parks (the
    /// heartbeat's Ping, a message that came on the way) does not count:
    /// a parked session woken by its heartbeat parks again at once.
    fn park_check(&mut self, writer: &mut Writer) -> Park {
        let Some(idle) = self.parks(writer) else {
            return Park::Never;
        };
        let now = self.now();
        let at = match self.park_at {
            Some(at) if at > now => at,
            Some(_) if !writer.take_wrote() && self.can_park(writer) => return Park::Now,
            // Not counting yet (just logged in, or back from a try that
            // did not park), busy, or holding something the lot cannot
            // keep: look again in a while.
            _ => {
                let at = now.after(idle);
                self.park_at = Some(at);
                at
            }
        };
        Park::LookAt(at.at(self.accepted_at))
    }

    /// Whether this is a session that parks when it is quiet (parking is
    /// on, it is logged in, its transport can be detached), and after how
    /// long.
    pub(super) fn parks(&self, writer: &Writer) -> Option<Duration> {
        let (Some(idle), Some(_)) = (self.shared.config.park_idle, &self.shared.lot) else {
            return None;
        };
        (matches!(self.state, State::Authenticated(_))
            && transport::can_detach(self.conn.socket(), writer.socket()))
        .then_some(idle)
    }

    /// When a session waiting for the answer to its Logout gives up on it:
    /// the idle timeout after the Logout was read.
    pub(super) fn closing_deadline(&self) -> Instant {
        self.last_rx.at(self.accepted_at) + self.shared.config.idle_timeout
    }

    /// A request from the client: the session is busy for another
    /// `park_idle` from `now`.
    pub(super) fn busy(&mut self, now: Stamp) {
        if let (Some(idle), Some(_)) = (self.shared.config.park_idle, self.park_at) {
            self.park_at = Some(now.after(idle));
        }
    }

    /// Whether the session holds nothing the lot cannot keep: no
    /// unfinished frame, nothing left to write, no shutdown.
    pub(super) fn can_park(&self, writer: &Writer) -> bool {
        self.partial_since.is_none()
            && self.conn.holds_nothing()
            && writer.is_idle()
            && !self.shared.shutdown.is_cancelled()
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
