//! [`TokenBucket`]: the one token bucket every rate limit is made of.

use std::time::Instant;

/// A token bucket: `rate_per_sec` tokens flow in per second, up to `burst`;
/// an event costing `n` passes if `n` tokens are there.
///
/// It lives in every session (two or three of them), so it is kept to 32
/// bytes: `f32` fields and one `Instant`. `f32` is exact to well under one
/// token at the sizes used here (a 256 KiB byte burst is 2^18, leaving 6
/// bits of fraction), and the refill is recomputed from the elapsed time on
/// every call, so rounding does not accumulate into drift that matters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TokenBucket {
    rate_per_sec: f32,
    burst: f32,
    tokens: f32,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate_per_sec: f32, burst: f32, now: Instant) -> Self {
        TokenBucket {
            rate_per_sec,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `n` tokens if there are that many, after refilling for the time
    /// since the last call. A refused take takes nothing. An `n` over the
    /// burst never passes.
    pub(crate) fn try_take(&mut self, n: f32, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// True when the bucket has refilled completely: forgetting it would
    /// change nothing.
    pub(super) fn is_full(&self, now: Instant) -> bool {
        self.tokens_at(now) >= self.burst
    }

    fn tokens_at(&self, now: Instant) -> f32 {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f32();
        (self.tokens + elapsed * self.rate_per_sec).min(self.burst)
    }

    fn refill(&mut self, now: Instant) {
        // Instants from several tasks may arrive slightly out of order; an
        // earlier one refills nothing and does not move `last` back.
        if now > self.last {
            self.tokens = self.tokens_at(now);
            self.last = now;
        }
    }
}
