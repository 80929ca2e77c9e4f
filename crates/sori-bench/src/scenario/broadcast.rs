//! `broadcast-once`: N receivers, then a single message; the time until
//! the last one has it.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine::EngineOptions;
use crate::report::BroadcastRun;
use crate::scenario::storm::setup_timeout;
use crate::scenario::{Phase, Subject, open_receivers, phase};

/// Runs it.
pub async fn run(
    subject: &Subject,
    opts: &EngineOptions,
    receivers: u64,
    payload_len: usize,
    timeout: Duration,
) -> anyhow::Result<BroadcastRun> {
    let setup = Instant::now();
    let mut pool = open_receivers(subject, opts, receivers, setup_timeout(receivers)).await?;
    let setup_s = setup.elapsed().as_secs_f64();
    let one = Phase {
        senders: 1,
        rate: 0.0,
        duration: Duration::from_secs(1),
        max_messages: 1,
        payload_len,
        drain: timeout,
    };
    let res = phase(&mut pool, receivers, subject, opts, &one).await;
    // Sori times every broadcast to 1,000 or more recipients: from reading
    // the message to handing the last recipient's bytes to the kernel.
    let server_fanout_ms = match subject.metrics {
        Some(metrics) => crate::server::read_metric(metrics, "sori_fanout_last_ns")
            .await
            .ok()
            .map(|ns| ns / 1e6),
        None => None,
    };
    pool.stop().await;
    let run = res?;
    Ok(BroadcastRun {
        target: run.target,
        receivers,
        setup_s,
        received: run.received,
        lost: run.lost,
        errors: run.errors,
        first_error: run.first_error,
        first_ms: run.latency.curve.first().map_or(0.0, |&(_, ms)| ms),
        last_ms: run.latency.max_ms,
        latency: run.latency,
        server_fanout_ms,
        server_cpu_s: run.server_cpu_s,
    })
}
