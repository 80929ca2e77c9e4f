//! Live counters and the once-a-second status line (the seeds' TPS monitor).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
}

/// Times one broadcast's fan-out: created when the message is read, told
/// by each recipient's writer when its copy reaches the kernel.
pub(crate) struct Probe {
    start: tokio::time::Instant,
    remaining: AtomicUsize,
    metrics: Arc<Metrics>,
}

impl Probe {
    /// A probe for a message read at `start`, going to `recipients`.
    pub(crate) fn new(
        start: tokio::time::Instant,
        recipients: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Probe {
            start,
            remaining: AtomicUsize::new(recipients),
            metrics,
        }
    }

    /// One recipient's copy was written (or dropped).
    pub(crate) fn done(&self) {
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
        let counters: [(&str, &str, &str, &Counter); 18] = [
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

/// Serves `GET /metrics` (Prometheus text) on `listener` until `shutdown`.
///
/// Hand-written HTTP/1.0 rather than a web framework: one fixed response
/// to any request, so a few lines beat a dependency tree.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut stream, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            res = listener.accept() => match res {
                Ok(conn) => conn,
                Err(_) => continue,
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            // Read the request head (bounded) and ignore it: every path is /metrics.
            let mut head = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut head)).await;
            let body = metrics.prometheus();
            let response = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

struct Snapshot {
    accepts: u64,
    frames_in: u64,
    frames_out: u64,
    messages: u64,
}

impl Metrics {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            accepts: self.accepts.get(),
            frames_in: self.frames_in.get(),
            frames_out: self.frames_out.get(),
            messages: self.messages.get(),
        }
    }
}

/// Logs one status line every `interval` until `shutdown` fires.
pub(crate) async fn report(metrics: Arc<Metrics>, interval: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = metrics.snapshot();
    let secs = interval.as_secs_f64();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = metrics.snapshot();
        let rate = |now: u64, then: u64| (now.saturating_sub(then)) as f64 / secs;
        tracing::info!(
            target: "sori::status",
            sessions = metrics.sessions.get(),
            fanout_last_us = metrics.fanout_last_ns.get() / 1000,
            fanout_max_us = metrics.fanout_max_ns.get() / 1000,
            "accept/s {:.0} recv/s {:.0} send/s {:.0} msg/s {:.0}",
            rate(now.accepts, last.accepts),
            rate(now.frames_in, last.frames_in),
            rate(now.frames_out, last.frames_out),
            rate(now.messages, last.messages),
        );
        last = now;
    }
}
