//! [`KeyedLimiter`]: one token bucket per client address, for the accept
//! loop, and [`client_key`], the key limits and counts use for an address.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use crate::rate::bounded_map::{BoundedMap, lock};
use crate::rate::bucket::TokenBucket;

/// One token bucket per key (a client address, through [`client_key`]),
/// shared by the accept loop. Keys whose bucket has refilled are swept, and
/// at most `cap` keys are tracked.
pub(crate) struct KeyedLimiter<K> {
    rate_per_sec: f32,
    burst: f32,
    /// A std mutex: held for one map operation, never across `.await`.
    buckets: Mutex<BoundedMap<K, TokenBucket>>,
}

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
