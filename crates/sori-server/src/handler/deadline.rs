//! The session's timers: the login and idle timeouts, the heartbeat, and
//! the slowloris clock of an unfinished frame.

use sori_core::refusal::Refusal;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use tokio::time::Instant;

use super::{End, Handler, State};

impl Handler {
    /// Works out what the timer means now: a timeout, a heartbeat to send,
    /// or a later deadline.
    pub(super) fn next_deadline(&mut self, login_deadline: Instant) -> Result<Instant, End> {
        let next = self.next_session_deadline(login_deadline)?;
        let Some(since) = self.partial_since else {
            return Ok(next);
        };
        let timeout = self.shared.config.limits.partial_frame_timeout;
        if Instant::now() >= since + timeout {
            return Err(End::Kick(Refusal::new(
                ErrorCode::ReadTimeout,
                format!("a frame was started and not finished within {timeout:?}"),
            )));
        }
        Ok(next.min(since + timeout))
    }

    fn next_session_deadline(&mut self, login_deadline: Instant) -> Result<Instant, End> {
        let config = &self.shared.config;
        let now = Instant::now();
        match self.state {
            State::Connected => {
                if now >= login_deadline {
                    return Err(End::Kick(Refusal::new(
                        ErrorCode::LoginTimeout,
                        format!("not logged in within {:?}", config.login_timeout),
                    )));
                }
                Ok(login_deadline)
            }
            State::Authenticated(_) => {
                let idle_at = self.last_rx + config.idle_timeout;
                if now >= idle_at {
                    return Err(End::Kick(Refusal::new(
                        ErrorCode::IdleTimeout,
                        format!("nothing received for {:?}", config.idle_timeout),
                    )));
                }
                let ping_at = self.last_rx + config.heartbeat_interval;
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
            self.partial_since = Some(Instant::now());
            self.rearm = true;
        }
    }
}
