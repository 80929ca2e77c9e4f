//! `connections`: K idle logged-in sessions; how fast they connect, and the
//! server's resident memory per session.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine::EngineOptions;
use crate::pool::Pool;
use crate::progress;
use crate::report::ConnectionsRun;
use crate::scenario::storm::setup_timeout;
use crate::scenario::{Subject, settle};

/// Runs it: sessions stay open for `hold` after the last is ready.
pub async fn run(
    subject: &Subject,
    opts: &EngineOptions,
    sessions: u64,
    hold: Duration,
) -> anyhow::Result<ConnectionsRun> {
    let rss_before = subject.probe.rss_bytes();
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
    tokio::time::sleep(hold).await;
    let rss_after = subject.probe.rss_bytes();
    let status = pool.status().await?;
    let first_error = pool.snapshot(false).await?.first_error;
    pool.stop().await;
    let rss_per_session = rss_before
        .zip(rss_after)
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
        rss_after,
        rss_per_session,
    })
}
