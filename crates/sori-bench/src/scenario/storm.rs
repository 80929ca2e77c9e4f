//! `storm`: S receivers, P senders at a total rate; and `--peak`, which
//! steps the rate up on the same receivers until p99 or loss gives way.

use std::time::Duration;

use crate::engine::EngineOptions;
use crate::report::{PeakRun, StormRun};
use crate::scenario::{Phase, Subject, open_receivers, phase};

/// What `storm` runs.
#[derive(Debug, Clone)]
pub struct StormConfig {
    /// Receivers.
    pub receivers: u64,
    /// The publishing phase (for `--peak`, the first step).
    pub phase: Phase,
    /// Peak search: most steps, each multiplying the rate by `peak_factor`.
    pub peak_steps: Option<u32>,
    /// Rate multiplier between peak steps.
    pub peak_factor: f64,
    /// A peak step holds while p99 stays under this, ms.
    pub p99_limit_ms: f64,
}

/// Runs one storm.
pub async fn run(
    subject: &Subject,
    opts: &EngineOptions,
    config: &StormConfig,
) -> anyhow::Result<StormRun> {
    let mut pool = open_receivers(
        subject,
        opts,
        config.receivers,
        setup_timeout(config.receivers),
    )
    .await?;
    let res = phase(&mut pool, config.receivers, subject, opts, &config.phase).await;
    pool.stop().await;
    res
}

/// Runs the peak search.
pub async fn run_peak(
    subject: &Subject,
    opts: &EngineOptions,
    config: &StormConfig,
) -> anyhow::Result<PeakRun> {
    let mut pool = open_receivers(
        subject,
        opts,
        config.receivers,
        setup_timeout(config.receivers),
    )
    .await?;
    let mut steps = Vec::new();
    let mut step_phase = config.phase.clone();
    for _ in 0..config.peak_steps.unwrap_or(1) {
        let step = match phase(&mut pool, config.receivers, subject, opts, &step_phase).await {
            Ok(step) => step,
            Err(err) => {
                pool.stop().await;
                return Err(err);
            }
        };
        let held = holds(&step, config.p99_limit_ms);
        steps.push(step);
        if !held {
            break;
        }
        step_phase.rate *= config.peak_factor;
    }
    pool.stop().await;
    let peak_deliveries_per_s = steps
        .iter()
        .filter(|step| holds(step, config.p99_limit_ms))
        .map(|step| step.deliveries_per_s)
        .fold(None, |best: Option<f64>, rate| {
            Some(best.map_or(rate, |best| best.max(rate)))
        });
    Ok(PeakRun {
        target: subject.spec.kind,
        receivers: config.receivers,
        p99_limit_ms: config.p99_limit_ms,
        steps,
        peak_deliveries_per_s,
    })
}

/// Whether a step held: p99 under the limit, nothing lost, no failed
/// connection, and the senders reached 95% of the offered rate (otherwise
/// the bench, not the server, was the limit).
pub fn holds(step: &StormRun, p99_limit_ms: f64) -> bool {
    step.latency.p99_ms < p99_limit_ms
        && step.lost == 0
        && step.errors == 0
        && (step.offered_rate <= 0.0 || step.publish_rate >= 0.95 * step.offered_rate)
}

/// How long opening `count` receivers may take.
pub fn setup_timeout(count: u64) -> Duration {
    Duration::from_secs(30 + count / 20)
}
