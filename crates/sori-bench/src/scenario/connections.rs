//! `connections`: K idle logged-in sessions; how fast they connect, the
//! server's resident memory per session, and what that memory does when
//! they all leave at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::engine::{EngineOptions, Leave};
use crate::pool::Pool;
use crate::progress;
use crate::report::ConnectionsRun;
use crate::report::connections::{LeaveRss, LeaveRun};
use crate::scenario::storm::setup_timeout;
use crate::scenario::{Subject, settle};
use crate::server::Probe;

/// How often the server's RSS is read while the sessions leave.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// What a `connections` run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionsConfig {
    /// Sessions.
    pub sessions: u64,
    /// How long they stay open and idle once all are ready.
    pub hold: Duration,
    /// How they leave.
    pub leave: Leave,
    /// How long the server's RSS is watched after they leave; zero: not at
    /// all, they are just closed.
    pub leave_watch: Duration,
}

/// Runs it: sessions stay open for `hold` after the last is ready, then
/// leave, all at once.
pub async fn run(
    subject: &Subject,
    opts: &EngineOptions,
    config: &ConnectionsConfig,
) -> anyhow::Result<ConnectionsRun> {
    let sessions = config.sessions;
    let rss_before = subject.probe.rss_bytes();
    let peak = PeakRss::start(subject.probe);
    let started = Instant::now();
    let mut pool = Pool::start(&subject.spec, opts, sessions).await?;
    let bar = progress::counter(sessions, &format!("{}: sessions", subject.spec.kind));
    let deadline = started + setup_timeout(sessions);
    let mut status = pool.status().await?;
    while status.ready + status.errors < sessions && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = pool.status().await?;
        bar.set_position(status.ready);
    }
    bar.finish_and_clear();
    let connect_s = started.elapsed().as_secs_f64();
    // Idle means idle: wait out the arrival notices, then let the server's
    // allocator settle before reading its memory.
    settle(
        &mut pool,
        Duration::from_millis(500),
        Duration::from_secs(120),
    )
    .await?;
    tokio::time::sleep(config.hold).await;
    let rss_connected = subject.probe.rss_bytes();
    let rss_connected_peak = peak.stop().max(rss_connected);
    let status = pool.status().await?;
    let leave = if config.leave_watch.is_zero() {
        None
    } else {
        let leaving = Leaving {
            how: config.leave,
            watch: config.leave_watch,
            ready: status.ready,
            errors_before: status.errors,
            rss_before,
            rss_connected_peak,
        };
        Some(leaving.run(subject, &mut pool).await?)
    };
    let first_error = pool.snapshot(false).await?.first_error;
    pool.stop().await;
    let rss_per_session = rss_before
        .zip(rss_connected)
        .filter(|_| status.ready > 0)
        .map(|(before, after)| (after as f64 - before as f64) / status.ready as f64);
    Ok(ConnectionsRun {
        target: subject.spec.kind,
        sessions,
        ready: status.ready,
        errors: status.errors,
        first_error,
        connect_s,
        connect_rate: status.ready as f64 / connect_s.max(1e-9),
        rss_before,
        rss_connected,
        rss_connected_peak,
        rss_per_session,
        leave,
    })
}

/// The leave, and what is known before it.
struct Leaving {
    how: Leave,
    watch: Duration,
    ready: u64,
    errors_before: u64,
    rss_before: Option<u64>,
    rss_connected_peak: Option<u64>,
}

impl Leaving {
    /// Tells every session to leave, then reads the server's RSS every
    /// [`RSS_EVERY`] for the watch.
    async fn run(self, subject: &Subject, pool: &mut Pool) -> anyhow::Result<LeaveRun> {
        let bar = progress::counter(self.ready, &format!("{}: sessions left", subject.spec.kind));
        let started = Instant::now();
        pool.leave(self.how).await?;
        let n_samples = self
            .watch
            .as_millis()
            .div_ceil(RSS_EVERY.as_millis())
            .max(1);
        let mut ticker = tokio::time::interval_at(started + RSS_EVERY, RSS_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut samples = Vec::new();
        let mut all_left_s = None;
        let mut status = pool.status().await?;
        for _ in 0..n_samples {
            ticker.tick().await;
            let t = started.elapsed().as_secs_f64();
            if let Some(rss) = subject.probe.rss_bytes() {
                samples.push((t, rss));
            }
            status = pool.status().await?;
            bar.set_position(status.left);
            if all_left_s.is_none() && status.left >= self.ready {
                all_left_s = Some(t);
            }
        }
        bar.finish_and_clear();
        Ok(LeaveRun {
            leave: self.how,
            leave_watch_s: self.watch.as_secs_f64(),
            left: status.left,
            leave_errors: status.errors.saturating_sub(self.errors_before),
            all_left_s,
            rss: LeaveRss::from_samples(self.rss_before, self.rss_connected_peak, &samples),
            leave_rss: samples,
        })
    }
}

/// The server's highest RSS, read every [`RSS_EVERY`] in the background
/// until dropped.
struct PeakRss {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start(probe: Probe) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let peak = Arc::clone(&peak);
            async move {
                let mut ticker = tokio::time::interval(RSS_EVERY);
                loop {
                    ticker.tick().await;
                    if let Some(rss) = probe.rss_bytes() {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                }
            }
        });
        PeakRss { peak, task }
    }

    /// Stops reading; the highest reading, if any.
    fn stop(self) -> Option<u64> {
        Some(self.peak.load(Ordering::Relaxed)).filter(|&peak| peak > 0)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.task.abort();
    }
}
