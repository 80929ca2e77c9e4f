//! [`BoundedMap`]: the bounded, swept map the shared limiters keep, and
//! [`lock`], how they lock it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A `HashMap` with a ceiling on its length, swept of stale entries now and
/// then: at most once per [`PRUNE_INTERVAL`] in the ordinary course, and
/// when full (but at most once per [`PRUNE_BACKOFF`], since a sweep is O(n)).
pub(super) struct BoundedMap<K, V> {
    pub(super) entries: HashMap<K, V>,
    cap: usize,
    next_sweep: Option<Instant>,
    next_full_sweep: Option<Instant>,
}

/// How often a bounded map is swept of stale entries in the ordinary course.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// After a sweep of a full map, how long before the next one may run.
const PRUNE_BACKOFF: Duration = Duration::from_secs(1);

/// Locks a mutex, going on past poisoning: every critical section in this
/// module leaves its map consistent at each step, so a panic elsewhere
/// while it was held does not make the data wrong.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Hash + Eq, V> BoundedMap<K, V> {
    pub(super) fn new(cap: usize) -> Self {
        BoundedMap {
            entries: HashMap::new(),
            cap,
            next_sweep: None,
            next_full_sweep: None,
        }
    }

    pub(super) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key)
    }

    /// Sweeps stale entries if [`PRUNE_INTERVAL`] has passed since the last
    /// ordinary sweep.
    pub(super) fn sweep_if_due(&mut self, now: Instant, is_stale: impl FnMut(&V) -> bool) {
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
    pub(super) fn make_room(&mut self, now: Instant, is_stale: impl FnMut(&V) -> bool) -> bool {
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
