//! Rate limits: token buckets per session and per client address, a count of
//! open connections per address, and a growing delay after failed logins.
//!
//! Everything here takes the time as an argument (`now: Instant`) instead of
//! reading a clock, so tests drive it with explicit instants and no sleeps,
//! and a caller reads the clock once per event. Shared maps sit behind std
//! mutexes that are held for one map operation and never across `.await`;
//! every map is bounded and swept of entries that no longer matter.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sori_core::bus::LimitEvent;

/// Where a limit tells the cluster's other nodes what it saw.
pub(crate) type Announce = Arc<dyn Fn(LimitEvent) + Send + Sync>;

/// The `[limits]` section of the configuration: every rate limit, with the
/// defaults documented in docs/security.md. The doc comments of the fields
/// with flags are also the flags' help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Frames a session may send per second, sustained [default: 20].
    #[arg(long, value_name = "N")]
    pub messages_per_sec: f32,
    /// Frames a session may send at once after being quiet [default: 40].
    #[arg(long, value_name = "N")]
    pub messages_burst: f32,
    /// Bytes (headers and bodies) a session may send per second, sustained
    /// [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub bytes_per_sec: f32,
    /// Bytes a session may send at once after being quiet [default: 262144].
    ///
    /// Keep it at least the largest frame, or such frames never pass.
    #[arg(long, value_name = "BYTES")]
    pub bytes_burst: f32,
    /// Over-limit frames tolerated within `abuse_window` before the session
    /// is disconnected (default 10). Each one is answered RATE_LIMITED.
    #[arg(skip)]
    pub abuse_strikes: u32,
    /// The window for `abuse_strikes` (default 60 s): strikes are forgiven
    /// at `abuse_strikes` per window.
    #[serde(with = "humantime_serde")]
    #[arg(skip)]
    pub abuse_window: Duration,
    /// Open connections from one address, IPv6 counted per /64 [default: 64].
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: u32,
    /// New connections one address may open per second, sustained
    /// [default: 20].
    #[arg(long, value_name = "N")]
    pub new_connections_per_ip_per_sec: f32,
    /// New connections one address may open at once [default: 40].
    #[arg(long, value_name = "N")]
    pub new_connections_per_ip_burst: f32,
    /// Addresses tracked for `new_connections_per_ip_*` (default 100,000);
    /// past it, addresses not yet tracked are not limited until idle ones
    /// are swept (the session limit still holds).
    #[arg(skip)]
    pub max_tracked_ips: usize,
    /// Close a client that leaves a frame unfinished (half a header or half
    /// a body) this long, READ_TIMEOUT: the slowloris timeout
    /// [default: 10s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub partial_frame_timeout: Duration,
    /// Failed-login throttling.
    #[arg(skip)]
    pub login: LoginThrottleConfig,
}

/// Failed-login throttling: after a few free failures, each further attempt
/// on the same account, or from the same address, waits a delay that doubles
/// with every failure up to a cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginThrottleConfig {
    /// Failures on one account before its attempts are delayed (default 3).
    pub account_free_failures: u32,
    /// Failures from one address (any accounts) before its attempts are
    /// delayed (default 10: higher, since many users can share an address).
    pub ip_free_failures: u32,
    /// The first delay (default 1 s); each further failure doubles it.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest delay (default 60 s). Also bounds how long an attacker
    /// can keep a victim's account slowed down.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Failures are forgotten this long after the last one (default 15 min).
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
    /// Accounts and addresses tracked, each (default 100,000). Past it, keys
    /// not yet tracked are not throttled until old entries are forgotten.
    pub max_tracked: usize,
}

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

/// One token bucket per key (a client address, through [`client_key`]),
/// shared by the accept loop. Keys whose bucket has refilled are swept, and
/// at most `cap` keys are tracked.
pub(crate) struct KeyedLimiter<K> {
    rate_per_sec: f32,
    burst: f32,
    /// A std mutex: held for one map operation, never across `.await`.
    buckets: Mutex<BoundedMap<K, TokenBucket>>,
}

/// Failed-login throttling per account and per client address.
///
/// Each account and address has a failure count and a time before which
/// its next attempt must wait. [`LoginThrottle::delay`] answers how long an
/// attempt must still wait; when it lets a throttled key through, it
/// reserves the next slot at once, so parallel attempts on many connections
/// cannot all pass in the same instant.
pub(crate) struct LoginThrottle {
    config: LoginThrottleConfig,
    /// A std mutex: held for a few map operations, never across `.await`.
    state: Mutex<ThrottleState>,
    /// Tells the other nodes of each attempt's result (a cluster node).
    pub(crate) announce: OnceLock<Announce>,
}

struct ThrottleState {
    accounts: BoundedMap<Box<str>, Failures>,
    ips: BoundedMap<IpAddr, Failures>,
}

/// One key's failures.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_failure: Instant,
    /// No attempt before this; moved forward by failures and reservations.
    next_allowed: Instant,
}

/// A `HashMap` with a ceiling on its length, swept of stale entries now and
/// then: at most once per [`PRUNE_INTERVAL`] in the ordinary course, and
/// when full (but at most once per [`PRUNE_BACKOFF`], since a sweep is O(n)).
struct BoundedMap<K, V> {
    entries: HashMap<K, V>,
    cap: usize,
    next_sweep: Option<Instant>,
    next_full_sweep: Option<Instant>,
}

/// How often a bounded map is swept of stale entries in the ordinary course.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// After a sweep of a full map, how long before the next one may run.
const PRUNE_BACKOFF: Duration = Duration::from_secs(1);

/// Longest account key kept, in bytes; longer ones are cut (on a character
/// boundary) so a hostile name cannot make the map big. Real usernames are
/// far shorter.
const MAX_ACCOUNT_KEY_LEN: usize = 64;

/// The key rate limits and counts use for a client address: IPv4 (also
/// IPv4-mapped IPv6) as is, IPv6 by its /64, since one host or household
/// usually holds a whole /64 and could otherwise rotate through it.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let masked = v6.to_bits() & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from_bits(masked))
        }
        v4 => v4,
    }
}

/// Locks a mutex, going on past poisoning: every critical section in this
/// module leaves its map consistent at each step, so a panic elsewhere
/// while it was held does not make the data wrong.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            messages_per_sec: 20.0,
            messages_burst: 40.0,
            bytes_per_sec: 64.0 * 1024.0,
            bytes_burst: 256.0 * 1024.0,
            abuse_strikes: 10,
            abuse_window: Duration::from_secs(60),
            max_connections_per_ip: 64,
            new_connections_per_ip_per_sec: 20.0,
            new_connections_per_ip_burst: 40.0,
            max_tracked_ips: 100_000,
            partial_frame_timeout: Duration::from_secs(10),
            login: LoginThrottleConfig::default(),
        }
    }
}

impl LimitsConfig {
    /// Limits no load test reaches: for load generators, fuzzers and tests
    /// that send faster, and from fewer addresses, than any person could.
    /// Never for a server that faces the internet.
    pub fn unlimited() -> Self {
        LimitsConfig {
            messages_per_sec: 1e9,
            messages_burst: 1e9,
            bytes_per_sec: 1e12,
            bytes_burst: 1e12,
            max_connections_per_ip: 1_000_000,
            new_connections_per_ip_per_sec: 1e9,
            new_connections_per_ip_burst: 1e9,
            ..LimitsConfig::default()
        }
    }

    /// Checks the settings make sense together: rates and bursts finite and
    /// positive, and a byte burst that lets the largest frame (a header and
    /// `max_frame_len` of body) through.
    pub(crate) fn validate(&self, max_frame_len: u32) -> Result<(), String> {
        let rates = [
            ("messages_per_sec", self.messages_per_sec),
            ("messages_burst", self.messages_burst),
            ("bytes_per_sec", self.bytes_per_sec),
            ("bytes_burst", self.bytes_burst),
            (
                "new_connections_per_ip_per_sec",
                self.new_connections_per_ip_per_sec,
            ),
            (
                "new_connections_per_ip_burst",
                self.new_connections_per_ip_burst,
            ),
        ];
        for (name, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "limits.{name} must be a positive number, not {value}"
                ));
            }
        }
        for (name, burst) in [
            ("messages_burst", self.messages_burst),
            (
                "new_connections_per_ip_burst",
                self.new_connections_per_ip_burst,
            ),
        ] {
            if burst < 1.0 {
                return Err(format!("limits.{name} must be at least 1, not {burst}"));
            }
        }
        let largest_frame = sori_protocol::HEADER_LEN as f32 + max_frame_len as f32;
        if self.bytes_burst < largest_frame {
            return Err(format!(
                "limits.bytes_burst ({}) must be at least the largest frame ({largest_frame} bytes)",
                self.bytes_burst
            ));
        }
        if self.abuse_window.is_zero() {
            return Err("limits.abuse_window must be longer than zero".to_owned());
        }
        let login = &self.login;
        if login.base_delay > login.max_delay {
            return Err(
                "limits.login.base_delay must not exceed limits.login.max_delay".to_owned(),
            );
        }
        Ok(())
    }
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        LoginThrottleConfig {
            account_free_failures: 3,
            ip_free_failures: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
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
    fn is_full(&self, now: Instant) -> bool {
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
fn wait_for(n: f32, tokens: f32, rate_per_sec: f32, burst: f32) -> Duration {
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

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// One bucket of `rate_per_sec` and `burst` per key, at most `cap` keys.
    pub(crate) fn new(rate_per_sec: f32, burst: f32, cap: usize) -> Self {
        KeyedLimiter {
            rate_per_sec,
            burst,
            buckets: Mutex::new(BoundedMap::new(cap)),
        }
    }

    /// Takes one token from `key`'s bucket: true if the event may go ahead.
    /// A key that cannot be tracked because the map is full of keys that
    /// are all still active passes (the limit fails open, the map stays
    /// bounded).
    pub(crate) fn check(&self, key: K, now: Instant) -> bool {
        let mut buckets = lock(&self.buckets);
        buckets.sweep_if_due(now, |bucket| bucket.is_full(now));
        if let Some(bucket) = buckets.get_mut(&key) {
            return bucket.try_take(1.0, now);
        }
        if !buckets.make_room(now, |bucket| bucket.is_full(now)) {
            return true;
        }
        let mut bucket = TokenBucket::new(self.rate_per_sec, self.burst, now);
        let allowed = bucket.try_take(1.0, now);
        buckets.entries.insert(key, bucket);
        allowed
    }

    #[cfg(test)]
    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.buckets).entries.len()
    }
}

impl LoginThrottle {
    /// A throttle with these settings.
    pub(crate) fn new(config: LoginThrottleConfig) -> Self {
        let cap = config.max_tracked;
        LoginThrottle {
            config,
            state: Mutex::new(ThrottleState {
                accounts: BoundedMap::new(cap),
                ips: BoundedMap::new(cap),
            }),
            announce: OnceLock::new(),
        }
    }

    /// How long this login attempt must still wait, or `None` to go ahead.
    ///
    /// `account_key` should be the normalised username (as the store
    /// compares names). When the answer is `None` for a key that is being
    /// throttled, the next slot is reserved for this attempt: a second
    /// attempt right after it waits even before this one's result is known.
    pub(crate) fn delay(&self, account_key: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let account_key = truncate(account_key, MAX_ACCOUNT_KEY_LEN);
        let ip_key = client_key(ip);
        let mut state = lock(&self.state);
        let forget = self.config.forget_after;
        state
            .accounts
            .sweep_if_due(now, |entry| entry.is_stale(now, forget));
        state
            .ips
            .sweep_if_due(now, |entry| entry.is_stale(now, forget));
        let wait_account = state
            .accounts
            .get_mut(account_key)
            .map_or(Duration::ZERO, |entry| {
                entry.forget_if_stale(now, forget);
                entry.next_allowed.saturating_duration_since(now)
            });
        let wait_ip = state.ips.get_mut(&ip_key).map_or(Duration::ZERO, |entry| {
            entry.forget_if_stale(now, forget);
            entry.next_allowed.saturating_duration_since(now)
        });
        let wait = wait_account.max(wait_ip);
        if !wait.is_zero() {
            return Some(wait);
        }
        let account_free = self.config.account_free_failures;
        let ip_free = self.config.ip_free_failures;
        if let Some(entry) = state.accounts.get_mut(account_key) {
            entry.next_allowed = now + self.config.step(entry.count, account_free);
        }
        if let Some(entry) = state.ips.get_mut(&ip_key) {
            entry.next_allowed = now + self.config.step(entry.count, ip_free);
        }
        None
    }

    /// Records a failed attempt (wrong password or unknown account) on the
    /// account and the address, and tells the other nodes.
    pub(crate) fn record_failure(&self, account_key: &str, ip: IpAddr, now: Instant) {
        self.apply_failure(account_key, ip, now);
        if let Some(announce) = self.announce.get() {
            let account = truncate(account_key, MAX_ACCOUNT_KEY_LEN).to_owned();
            announce(LimitEvent::LoginFailed { account, ip });
        }
    }

    /// Records a failed attempt another node saw.
    pub(crate) fn apply_failure(&self, account_key: &str, ip: IpAddr, now: Instant) {
        let account_key = truncate(account_key, MAX_ACCOUNT_KEY_LEN);
        let ip_key = client_key(ip);
        let config = &self.config;
        let mut state = lock(&self.state);
        let ThrottleState { accounts, ips } = &mut *state;
        if accounts.get_mut(account_key).is_none() {
            accounts.insert_fresh(account_key.into(), now, config.forget_after);
        }
        if let Some(entry) = accounts.get_mut(account_key) {
            entry.fail(now, config, config.account_free_failures);
        }
        if ips.get_mut(&ip_key).is_none() {
            ips.insert_fresh(ip_key, now, config.forget_after);
        }
        if let Some(entry) = ips.get_mut(&ip_key) {
            entry.fail(now, config, config.ip_free_failures);
        }
    }

    /// Records a successful login: the account's failures are cleared, and
    /// the slot the attempt reserved on the address is given back (the
    /// address's failures stay until they are forgotten).
    pub(crate) fn record_success(&self, account_key: &str, ip: IpAddr) {
        self.apply_success(account_key, ip);
        if let Some(announce) = self.announce.get() {
            let account = truncate(account_key, MAX_ACCOUNT_KEY_LEN).to_owned();
            announce(LimitEvent::LoginSucceeded { account, ip });
        }
    }

    /// Records a successful attempt another node saw.
    pub(crate) fn apply_success(&self, account_key: &str, ip: IpAddr) {
        let account_key = truncate(account_key, MAX_ACCOUNT_KEY_LEN);
        let ip_key = client_key(ip);
        let mut state = lock(&self.state);
        state.accounts.entries.remove(account_key);
        let ip_free = self.config.ip_free_failures;
        if let Some(entry) = state.ips.get_mut(&ip_key) {
            let earned = entry.last_failure + self.config.step(entry.count, ip_free);
            entry.next_allowed = entry.next_allowed.min(earned);
        }
    }

    #[cfg(test)]
    /// Accounts and addresses tracked now.
    pub(crate) fn len(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.accounts.entries.len(), state.ips.entries.len())
    }
}

impl LoginThrottleConfig {
    /// The wait after `count` failures when the first `free` cost nothing:
    /// zero, then `base_delay` doubling up to `max_delay`.
    fn step(&self, count: u32, free: u32) -> Duration {
        if count < free {
            return Duration::ZERO;
        }
        let doublings = (count - free).min(31);
        self.base_delay
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl Failures {
    fn is_stale(&self, now: Instant, forget_after: Duration) -> bool {
        now >= self.next_allowed && now.saturating_duration_since(self.last_failure) >= forget_after
    }

    /// Starts over once the failures are old enough to forget, even if the
    /// sweep has not removed the entry yet.
    fn forget_if_stale(&mut self, now: Instant, forget_after: Duration) {
        if self.is_stale(now, forget_after) {
            self.count = 0;
        }
    }

    fn fail(&mut self, now: Instant, config: &LoginThrottleConfig, free: u32) {
        self.forget_if_stale(now, config.forget_after);
        self.count = self.count.saturating_add(1);
        self.last_failure = now;
        self.next_allowed = self.next_allowed.max(now + config.step(self.count, free));
    }
}

impl<K: Hash + Eq> BoundedMap<K, Failures> {
    /// Inserts a zero-failure entry for `key` if there is room (sweeping
    /// forgotten entries when full); past the cap the key goes untracked.
    fn insert_fresh(&mut self, key: K, now: Instant, forget_after: Duration) {
        if self.make_room(now, |entry| entry.is_stale(now, forget_after)) {
            self.entries.insert(
                key,
                Failures {
                    count: 0,
                    last_failure: now,
                    next_allowed: now,
                },
            );
        }
    }
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    fn new(cap: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            cap,
            next_sweep: None,
            next_full_sweep: None,
        }
    }

    fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key)
    }

    /// Sweeps stale entries if [`PRUNE_INTERVAL`] has passed since the last
    /// ordinary sweep.
    fn sweep_if_due(&mut self, now: Instant, is_stale: impl FnMut(&V) -> bool) {
        match self.next_sweep {
            Some(next) if now < next => {}
            _ => {
                self.sweep(is_stale);
                self.next_sweep = Some(now + PRUNE_INTERVAL);
            }
        }
    }

    /// True if one more entry fits, sweeping stale entries first when the
    /// map is full (at most once per [`PRUNE_BACKOFF`]).
    fn make_room(&mut self, now: Instant, is_stale: impl FnMut(&V) -> bool) -> bool {
        if self.entries.len() < self.cap {
            return true;
        }
        if self.next_full_sweep.is_some_and(|next| now < next) {
            return false;
        }
        self.sweep(is_stale);
        self.next_full_sweep = Some(now + PRUNE_BACKOFF);
        self.entries.len() < self.cap
    }

    fn sweep(&mut self, mut is_stale: impl FnMut(&V) -> bool) {
        self.entries.retain(|_, value| !is_stale(value));
    }
}

/// `key` cut to at most `max` bytes, on a character boundary.
fn truncate(key: &str, max: usize) -> &str {
    if key.len() <= max {
        return key;
    }
    let mut end = max;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    &key[..end]
}

#[cfg(test)]
mod tests;
