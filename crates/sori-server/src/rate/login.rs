//! [`LoginThrottle`]: a growing delay after failed logins, per account and
//! per client address, shared with the cluster's other nodes.

use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sori_core::bus::LimitEvent;

use crate::rate::bounded_map::{BoundedMap, lock};
use crate::rate::config::LoginThrottleConfig;
use crate::rate::keyed::client_key;

/// Where a limit tells the cluster's other nodes what it saw.
pub(crate) type Announce = Arc<dyn Fn(LimitEvent) + Send + Sync>;

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
    pub(super) state: Mutex<ThrottleState>,
    /// Tells the other nodes of each attempt's result (a cluster node).
    pub(crate) announce: OnceLock<Announce>,
}

// `pub(super)` here, on `state` and on `Failures`: the unit tests
// (`tests.rs`) look inside.
pub(super) struct ThrottleState {
    pub(super) accounts: BoundedMap<Box<str>, Failures>,
    ips: BoundedMap<IpAddr, Failures>,
}

/// One key's failures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Failures {
    count: u32,
    last_failure: Instant,
    /// No attempt before this; moved forward by failures and reservations.
    next_allowed: Instant,
}

/// Longest account key kept, in bytes; longer ones are cut (on a character
/// boundary) so a hostile name cannot make the map big. Real usernames are
/// far shorter.
pub(super) const MAX_ACCOUNT_KEY_LEN: usize = 64;

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
