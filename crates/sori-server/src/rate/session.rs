//! [`SessionLimits`]: a session's own frames and bytes per second, and the
//! strikes that turn repeated over-limit frames into a disconnect.

use std::time::Duration;

use crate::rate::config::LimitsConfig;

/// A session's own limits: frames per second, bytes per second, and the
/// strikes that turn repeated over-limit frames into a disconnect. Owned by
/// the session's own task; no locks.
///
/// Every session carries one, idle or not, so it holds only what is the
/// session's own: three buckets' tokens and one clock reading, 16 bytes.
/// The rates and bursts are the configuration's, passed in on each call;
/// the three buckets are refilled together, which gives what refilling
/// each on its own would (a refill is capped at the burst, and capping
/// twice is capping once).
#[derive(Debug, Clone)]
pub(crate) struct SessionLimits {
    /// Tokens in the frame bucket.
    messages: f32,
    /// Tokens in the byte bucket.
    bytes: f32,
    /// Each over-limit frame takes a token; none left means disconnect.
    strikes: f32,
    /// When the tokens were last brought up to date: milliseconds on the
    /// session's clock, wrapping (see [`SessionLimits::check_frame`]).
    last_ms: u32,
}

/// What to do with one frame a session sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameVerdict {
    /// Within the limits: handle it.
    Accept,
    /// Over a limit: skip it and answer Error RATE_LIMITED.
    OverLimit,
    /// Over a limit too often: send Kicked RATE_LIMITED and close.
    Disconnect,
}

impl SessionLimits {
    /// Full buckets for a new session. Full buckets need no clock reading:
    /// whenever they are next refilled, they stay full.
    pub(crate) fn new(config: &LimitsConfig) -> Self {
        SessionLimits {
            messages: config.messages_burst,
            bytes: config.bytes_burst,
            strikes: config.abuse_strikes as f32,
            last_ms: 0,
        }
    }

    /// Counts one frame of `frame_len` bytes (header included) against the
    /// session's limits, at `now` on the session's clock (the time since it
    /// started). An over-limit frame costs a strike and none of the frame
    /// or byte budget.
    ///
    /// The clock is kept in wrapping milliseconds: a session whose frames
    /// are more than 49 days apart refills by that gap modulo 2^32 ms, and
    /// the idle timeout ends sessions long before that.
    pub(crate) fn check_frame(
        &mut self,
        config: &LimitsConfig,
        frame_len: usize,
        now: Duration,
    ) -> FrameVerdict {
        self.refill(config, now);
        let len = frame_len as f32;
        if self.messages >= 1.0 && self.bytes >= len {
            self.messages -= 1.0;
            self.bytes -= len;
            FrameVerdict::Accept
        } else if self.strikes >= 1.0 {
            self.strikes -= 1.0;
            FrameVerdict::OverLimit
        } else {
            FrameVerdict::Disconnect
        }
    }

    /// How long until a frame of `frame_len` bytes would pass, at `now` on
    /// the session's clock; for the RATE_LIMITED answer's retry-after hint.
    pub(crate) fn retry_after(
        &self,
        config: &LimitsConfig,
        frame_len: usize,
        now: Duration,
    ) -> Duration {
        let mut at_now = self.clone();
        at_now.refill(config, now);
        let messages = wait_for(
            1.0,
            at_now.messages,
            config.messages_per_sec,
            config.messages_burst,
        );
        let bytes = wait_for(
            frame_len as f32,
            at_now.bytes,
            config.bytes_per_sec,
            config.bytes_burst,
        );
        messages.max(bytes)
    }

    /// Brings the three buckets up to `now`.
    fn refill(&mut self, config: &LimitsConfig, now: Duration) {
        // Truncated, and `last_ms` is the truncated value too, so what the
        // truncation leaves out is counted on the next call.
        let now_ms = now.as_millis() as u32;
        // Only the session's own task reads its clock, so readings never
        // go back.
        let elapsed_ms = now_ms.wrapping_sub(self.last_ms);
        if elapsed_ms == 0 {
            return;
        }
        let elapsed = elapsed_ms as f32 / 1000.0;
        let strikes = config.abuse_strikes as f32;
        let window = config.abuse_window.as_secs_f32().max(f32::MIN_POSITIVE);
        self.messages =
            (self.messages + elapsed * config.messages_per_sec).min(config.messages_burst);
        self.bytes = (self.bytes + elapsed * config.bytes_per_sec).min(config.bytes_burst);
        self.strikes = (self.strikes + elapsed * strikes / window).min(strikes);
        self.last_ms = now_ms;
    }
}

/// How long a bucket of `rate_per_sec` and `burst` that holds `tokens` takes
/// to hold `n`: zero if it does, `Duration::MAX` if `n` is over the burst.
pub(super) fn wait_for(n: f32, tokens: f32, rate_per_sec: f32, burst: f32) -> Duration {
    if n > burst {
        return Duration::MAX;
    }
    let missing = n - tokens;
    if missing <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f32(missing / rate_per_sec).unwrap_or(Duration::MAX)
    }
}
