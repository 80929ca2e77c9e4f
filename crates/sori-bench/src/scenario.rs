//! The scenarios, and the pieces they share: opening receivers, and one
//! measured publishing phase ([`phase`]) that `storm`, its peak search,
//! `ramp` and `broadcast-once` are all made of.

use std::time::Duration;

use anyhow::{Context as _, bail};
use indicatif::ProgressBar;
use tokio::time::Instant;

use crate::clock;
use crate::engine::{EngineOptions, Group, SendPlan};
use crate::pool::Pool;
use crate::progress;
use crate::report::{Latency, StormRun, rate};
use crate::server::Probe;
use crate::target::{Role, TargetSpec};

pub mod broadcast;
pub mod chat;
pub mod connections;
pub mod ramp;
pub mod smoke;
pub mod storm;

/// A server to drive, and how to watch its process.
#[derive(Debug, Clone)]
pub struct Subject {
    /// How to reach and speak to it.
    pub spec: TargetSpec,
    /// Its process, for CPU time and memory.
    pub probe: Probe,
    /// Sori's Prometheus endpoint, for the server's own fan-out time.
    pub metrics: Option<std::net::SocketAddr>,
}

/// One measured publishing phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Publishing connections.
    pub senders: u64,
    /// Publishes per second, all senders together; 0 for as fast as the
    /// sockets take them.
    pub rate: f64,
    /// How long to publish.
    pub duration: Duration,
    /// Cap on publishes, all senders together.
    pub max_messages: u64,
    /// Payload size, bytes.
    pub payload_len: usize,
    /// How long to wait after the last publish for deliveries still in
    /// flight; whatever has not arrived then is lost.
    pub drain: Duration,
}

/// How often the live view refreshes and the timeline is sampled.
const SAMPLE: Duration = Duration::from_millis(250);
/// How often a phase checks whether it is done.
const POLL: Duration = Duration::from_millis(20);

/// Opens `count` receivers and waits until all have subscribed and the
/// server has gone quiet (Sori announces every login to every member).
/// Fails if any receiver fails or `timeout` passes.
pub async fn open_receivers(
    subject: &Subject,
    opts: &EngineOptions,
    count: u64,
    timeout: Duration,
) -> anyhow::Result<Pool> {
    let mut pool = Pool::start(&subject.spec, opts, count).await?;
    let bar = progress::counter(count, &format!("{}: receivers ready", subject.spec.kind));
    let res = wait_ready(&mut pool, count, timeout, &bar).await;
    bar.finish_and_clear();
    if let Err(err) = res {
        pool.stop().await;
        return Err(err);
    }
    settle(
        &mut pool,
        Duration::from_millis(300),
        Duration::from_secs(120),
    )
    .await?;
    Ok(pool)
}

async fn wait_ready(
    pool: &mut Pool,
    count: u64,
    timeout: Duration,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = pool.status().await?;
        bar.set_position(status.ready);
        if status.ready >= count {
            return Ok(());
        }
        if status.errors > 0 {
            let first = pool.snapshot(false).await?.first_error.unwrap_or_default();
            bail!(
                "{} of {count} receivers failed; first: {first}",
                status.errors
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "only {} of {count} receivers ready after {timeout:?}",
                status.ready
            );
        }
        tokio::time::sleep(POLL * 5).await;
    }
}

/// Waits until the receivers have read nothing for `quiet` (at most `max`).
pub async fn settle(pool: &mut Pool, quiet: Duration, max: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + max;
    let mut bytes = pool.status().await?.bytes;
    let mut since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(POLL * 2).await;
        let now_bytes = pool.status().await?.bytes;
        if now_bytes != bytes {
            bytes = now_bytes;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    Ok(())
}

/// Runs one publishing phase against receivers already open in `pool`.
pub async fn phase(
    pool: &mut Pool,
    receivers: u64,
    subject: &Subject,
    opts: &EngineOptions,
    phase: &Phase,
) -> anyhow::Result<StormRun> {
    let target = subject.spec.build();
    let n_senders = phase.senders.max(1);
    let plan = SendPlan {
        rate: phase.rate / n_senders as f64,
        count: if phase.rate > 0.0 {
            ((phase.rate * phase.duration.as_secs_f64()) as u64).min(phase.max_messages)
        } else {
            phase.max_messages
        }
        .div_ceil(n_senders),
        duration: phase.duration,
        payload_len: phase.payload_len,
    };
    let senders = Group::new(opts);
    // Senders are numbered from 0 too: Sori names them apart from the
    // receivers by role. They always use the main address, even when the
    // receivers spread over other nodes.
    senders.spawn(
        target.as_ref(),
        std::slice::from_ref(&subject.spec.addr),
        opts,
        Role::Sender,
        (0, n_senders),
        Some(plan),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = senders.recorder.status();
        if status.ready >= n_senders {
            break;
        }
        if status.errors > 0 || Instant::now() >= deadline {
            let first = senders.recorder.snapshot(false).first_error;
            senders.stop().await;
            bail!(
                "senders did not log in: {}",
                first.unwrap_or_else(|| "timed out".into())
            );
        }
        tokio::time::sleep(POLL).await;
    }
    // Let the receivers read the senders' arrival notices first.
    settle(pool, Duration::from_millis(200), Duration::from_secs(10)).await?;
    pool.snapshot(true).await?;
    senders.recorder.snapshot(true);
    let errors_before = pool.status().await?.errors;
    let audience = receivers
        + if target.senders_receive() {
            n_senders - 1
        } else {
            0
        };

    let bar = progress::counter(
        plan.count * n_senders * audience,
        &format!("{}: deliveries", subject.spec.kind),
    );
    let cpu_before = subject.probe.cpu_seconds();
    let start_ns = clock::now_ns();
    let started = Instant::now();
    senders.go();
    let mut timeline = Vec::new();
    let mut last_sample = (started, 0u64);
    let mut sample =
        |received: u64, sent: u64, bar: &ProgressBar, timeline: &mut Vec<(f64, f64)>| {
            let now = Instant::now();
            let dt = now.duration_since(last_sample.0).as_secs_f64();
            if dt >= SAMPLE.as_secs_f64() {
                let per_s = (received - last_sample.1.min(received)) as f64 / dt;
                timeline.push((now.duration_since(started).as_secs_f64(), per_s));
                bar.set_message(format!("{} deliveries/s, {} sent", rate(per_s), sent));
                last_sample = (now, received);
            }
            bar.set_position(received);
        };
    let hard_stop = phase.duration + Duration::from_secs(10);
    while senders
        .senders_done
        .load(std::sync::atomic::Ordering::Relaxed)
        < n_senders
        && started.elapsed() < hard_stop
    {
        tokio::time::sleep(POLL).await;
        let received = pool.status().await?.received + senders.recorder.status().received;
        sample(
            received,
            senders.sent.load(std::sync::atomic::Ordering::Relaxed),
            &bar,
            &mut timeline,
        );
    }
    let send_time = started.elapsed();
    let sent = senders.sent.load(std::sync::atomic::Ordering::Relaxed);
    let expected = sent * audience;
    let drain_end = Instant::now() + phase.drain;
    loop {
        let received = pool.status().await?.received + senders.recorder.status().received;
        sample(received, sent, &bar, &mut timeline);
        if received >= expected || Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let cpu_after = subject.probe.cpu_seconds();
    bar.finish_and_clear();
    let mut snapshot = pool
        .snapshot(true)
        .await
        .context("collecting receiver statistics")?;
    let sender_snapshot = senders.recorder.snapshot(true);
    let sender_errors = sender_snapshot.errors;
    snapshot.merge(sender_snapshot);
    senders.stop().await;

    let window_s = if snapshot.last_ns > start_ns {
        (snapshot.last_ns - start_ns) as f64 / 1e9
    } else {
        send_time.as_secs_f64()
    };
    let server_cpu_s = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| after - before);
    let received = snapshot.received;
    Ok(StormRun {
        target: subject.spec.kind,
        receivers,
        senders: n_senders,
        offered_rate: phase.rate,
        publish_rate: sent as f64 / send_time.as_secs_f64().max(1e-9),
        sent,
        expected,
        received,
        lost: expected.saturating_sub(received),
        errors: snapshot.errors.saturating_sub(errors_before) + sender_errors,
        first_error: snapshot.first_error.clone(),
        deliveries_per_s: received as f64 / window_s.max(1e-9),
        latency: Latency::from_histogram(&snapshot.histogram()),
        server_cpu_s,
        cpu_s_per_million: server_cpu_s
            .filter(|_| received > 0)
            .map(|cpu| cpu / (received as f64 / 1e6)),
        timeline,
    })
}
