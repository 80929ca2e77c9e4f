//! Live counters: what the chat and its edges count, read by the status
//! line, the Prometheus endpoint and embedders.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        // Relaxed: counters order nothing; readers only want a recent value.
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts `n` (for gauges).
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The server's counters. Shared by every task; cheap to update.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections accepted.
    pub accepts: Counter,
    /// Sessions open now (a gauge).
    pub sessions: Counter,
    /// Sessions parked now: idle, without a task of their own (a gauge).
    pub sessions_parked: Counter,
    /// Connections refused because the server was full.
    pub refused_full: Counter,
    /// Connections refused by IP: bans, the IP and country policy, per-IP
    /// limits.
    pub refused_ip: Counter,
    /// Frames decoded from clients.
    pub frames_in: Counter,
    /// Bytes read from clients.
    pub bytes_in: Counter,
    /// Frames fully written to clients.
    pub frames_out: Counter,
    /// Bytes written to clients.
    pub bytes_out: Counter,
    /// Chat and whisper messages accepted.
    pub messages: Counter,
    /// Room messages committed to the database.
    pub messages_stored: Counter,
    /// Sessions cut off as slow consumers.
    pub slow_consumers: Counter,
    /// Sessions whose socket failed while writing.
    pub write_errors: Counter,
    /// Frames refused as malformed (any class).
    pub bad_frames: Counter,
    /// Sampled broadcasts whose fan-out was timed.
    pub fanouts: Counter,
    /// Fan-out time of the latest sampled broadcast, in ns: from reading the
    /// message to handing its last recipient's bytes to the kernel.
    pub fanout_last_ns: Counter,
    /// Longest sampled fan-out time, in ns.
    pub fanout_max_ns: Counter,
    /// Sum of sampled fan-out times, in ns (mean = this / fanouts).
    pub fanout_total_ns: Counter,
    /// Frames refused by a session's rate limits.
    pub rate_limited: Counter,
    /// Room messages a cluster node filled from the bus's log or the store
    /// after it saw a gap in a room's numbers.
    pub gaps_filled: Counter,
    /// A cluster node: 1 while connected to its bus (Redis), else 0.
    pub bus_up: Counter,
}

/// Times one broadcast's fan-out: created when the message is read, told
/// by each recipient's writer when its copy reaches the kernel.
pub struct Probe {
    start: tokio::time::Instant,
    remaining: AtomicUsize,
    metrics: Arc<Metrics>,
}

impl Probe {
    /// A probe for a message read at `start`, going to `recipients`.
    pub fn new(start: tokio::time::Instant, recipients: usize, metrics: Arc<Metrics>) -> Self {
        Probe {
            start,
            remaining: AtomicUsize::new(recipients),
            metrics,
        }
    }

    /// One recipient's copy was written (or dropped).
    pub fn done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let m = &self.metrics;
            m.fanouts.inc();
            m.fanout_last_ns.0.store(ns, Ordering::Relaxed);
            m.fanout_max_ns.0.fetch_max(ns, Ordering::Relaxed);
            m.fanout_total_ns.add(ns);
        }
    }
}

impl Metrics {
    /// The counters in the Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let counters: [(&str, &str, &str, &Counter); 21] = [
            (
                "sori_gaps_filled_total",
                "counter",
                "Room messages filled after a gap in a room's numbers (cluster).",
                &self.gaps_filled,
            ),
            (
                "sori_bus_up",
                "gauge",
                "1 while connected to the cluster's bus (Redis).",
                &self.bus_up,
            ),
            (
                "sori_accepts_total",
                "counter",
                "Connections accepted.",
                &self.accepts,
            ),
            (
                "sori_sessions",
                "gauge",
                "Sessions open now.",
                &self.sessions,
            ),
            (
                "sori_sessions_parked",
                "gauge",
                "Sessions parked now: idle, without a task of their own.",
                &self.sessions_parked,
            ),
            (
                "sori_refused_full_total",
                "counter",
                "Connections refused: server full.",
                &self.refused_full,
            ),
            (
                "sori_refused_ip_total",
                "counter",
                "Connections refused by IP.",
                &self.refused_ip,
            ),
            (
                "sori_frames_in_total",
                "counter",
                "Frames decoded from clients.",
                &self.frames_in,
            ),
            (
                "sori_bytes_in_total",
                "counter",
                "Bytes read from clients.",
                &self.bytes_in,
            ),
            (
                "sori_frames_out_total",
                "counter",
                "Frames written to clients.",
                &self.frames_out,
            ),
            (
                "sori_bytes_out_total",
                "counter",
                "Bytes written to clients.",
                &self.bytes_out,
            ),
            (
                "sori_messages_total",
                "counter",
                "Chat and whisper messages accepted.",
                &self.messages,
            ),
            (
                "sori_messages_stored_total",
                "counter",
                "Room messages committed.",
                &self.messages_stored,
            ),
            (
                "sori_slow_consumers_total",
                "counter",
                "Sessions cut off as slow consumers.",
                &self.slow_consumers,
            ),
            (
                "sori_write_errors_total",
                "counter",
                "Sessions whose socket failed.",
                &self.write_errors,
            ),
            (
                "sori_bad_frames_total",
                "counter",
                "Malformed frames.",
                &self.bad_frames,
            ),
            (
                "sori_fanouts_total",
                "counter",
                "Sampled broadcasts timed.",
                &self.fanouts,
            ),
            (
                "sori_fanout_last_ns",
                "gauge",
                "Latest sampled fan-out time, ns.",
                &self.fanout_last_ns,
            ),
            (
                "sori_fanout_max_ns",
                "gauge",
                "Longest sampled fan-out time, ns.",
                &self.fanout_max_ns,
            ),
            (
                "sori_fanout_ns_total",
                "counter",
                "Sum of sampled fan-out times, ns.",
                &self.fanout_total_ns,
            ),
            (
                "sori_rate_limited_total",
                "counter",
                "Frames refused by rate limits.",
                &self.rate_limited,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, counter) in counters {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                counter.get()
            ));
        }
        out
    }
}
