//! Counting deliveries: the shared [`Recorder`] every connection of a
//! process writes into, and the [`RecvSnapshot`] it hands out (and worker
//! processes send to their parent).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::payload::Stamp;

/// Lowest latency the histograms resolve: 1 µs, in ns.
const LOWEST_NS: u64 = 1_000;
/// Highest latency recorded without saturating: 120 s, in ns.
const HIGHEST_NS: u64 = 120_000_000_000;

/// A new, empty latency histogram in nanoseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Invariant: constant, valid bounds.
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, 3).expect("valid histogram bounds")
}

/// Where every connection of one process records what it received.
///
/// Atomics for the counters; one mutex for the histogram, taken once per
/// socket read (not per delivery), and never held across an `.await`.
#[derive(Debug)]
pub struct Recorder {
    received: AtomicU64,
    bytes: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    ready: AtomicU64,
    left: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    hist: Mutex<Histogram<u64>>,
}

/// A live view of a [`Recorder`], cheap to take and send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Connections whose handshake was answered.
    pub ready: u64,
    /// Deliveries counted so far.
    pub received: u64,
    /// Bytes read so far (any kind of frame); lets a caller wait for quiet.
    pub bytes: u64,
    /// Connections that failed.
    pub errors: u64,
    /// Connections closed by [`crate::engine::Group::leave`] (after a
    /// logout: closed by the server, as it should).
    #[serde(default)]
    pub left: u64,
}

/// Everything a recorder counted since its last reset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecvSnapshot {
    /// Deliveries.
    pub received: u64,
    /// The first and last delivery's arrival, on [`crate::clock::now_ns`]'s
    /// clock; 0 when there was none.
    pub first_ns: u64,
    /// See `first_ns`.
    pub last_ns: u64,
    /// Connections that failed (not reset: failures are for the whole run).
    pub errors: u64,
    /// The first failure's reason.
    pub first_error: Option<String>,
    /// The latency histogram as (nanoseconds, count) pairs: small, and
    /// mergeable across processes without a serialization format.
    pub latency_ns: Vec<(u64, u64)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            received: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            first_ns: AtomicU64::new(u64::MAX),
            last_ns: AtomicU64::new(0),
            ready: AtomicU64::new(0),
            left: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            hist: Mutex::new(new_histogram()),
        }
    }
}

impl Recorder {
    /// Records the deliveries of one read, all arrived at `now_ns`.
    pub fn record(&self, now_ns: u64, stamps: &[Stamp]) {
        if stamps.is_empty() {
            return;
        }
        // Relaxed everywhere: these are statistics, read after the fact.
        self.received
            .fetch_add(stamps.len() as u64, Ordering::Relaxed);
        self.first_ns.fetch_min(now_ns, Ordering::Relaxed);
        self.last_ns.fetch_max(now_ns, Ordering::Relaxed);
        let mut hist = self
            .hist
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for stamp in stamps {
            hist.saturating_record(now_ns.saturating_sub(stamp.sent_ns).max(LOWEST_NS));
        }
    }

    /// Counts bytes read.
    pub fn add_bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a connection whose handshake was answered.
    pub fn add_ready(&self) {
        self.ready.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection that left as told.
    pub fn add_left(&self) {
        self.left.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed connection, keeping the first reason.
    pub fn add_error(&self, reason: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        first.get_or_insert(reason);
    }

    /// The live counters.
    pub fn status(&self) -> Status {
        Status {
            ready: self.ready.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            left: self.left.load(Ordering::Relaxed),
        }
    }

    /// What was recorded, optionally starting afresh.
    pub fn snapshot(&self, reset: bool) -> RecvSnapshot {
        let mut hist = self
            .hist
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let latency_ns = hist
            .iter_recorded()
            .map(|value| (value.value_iterated_to(), value.count_at_value()))
            .collect();
        let snapshot = RecvSnapshot {
            received: self.received.load(Ordering::Relaxed),
            first_ns: match self.first_ns.load(Ordering::Relaxed) {
                u64::MAX => 0,
                first => first,
            },
            last_ns: self.last_ns.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            first_error: self
                .first_error
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone(),
            latency_ns,
        };
        if reset {
            hist.reset();
            self.received.store(0, Ordering::Relaxed);
            self.first_ns.store(u64::MAX, Ordering::Relaxed);
            self.last_ns.store(0, Ordering::Relaxed);
        }
        snapshot
    }
}

impl Status {
    /// Adds another process's counters.
    pub fn merge(&mut self, other: Status) {
        self.ready += other.ready;
        self.received += other.received;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.left += other.left;
    }
}

impl RecvSnapshot {
    /// Adds another recorder's snapshot.
    pub fn merge(&mut self, other: RecvSnapshot) {
        self.received += other.received;
        self.first_ns = match (self.first_ns, other.first_ns) {
            (0, other) => other,
            (mine, 0) => mine,
            (mine, other) => mine.min(other),
        };
        self.last_ns = self.last_ns.max(other.last_ns);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency_ns.extend(other.latency_ns);
    }

    /// The latencies as a histogram.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut hist = new_histogram();
        for &(value, count) in &self.latency_ns {
            hist.saturating_record_n(value, count);
        }
        hist
    }
}
