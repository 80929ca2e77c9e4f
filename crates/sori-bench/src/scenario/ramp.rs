//! `ramp`: storm steps with more and more receivers, each at the same
//! publish rate, until p99 or loss gives way; reports the last that held.

use crate::engine::EngineOptions;
use crate::report::RampRun;
use crate::scenario::storm::{holds, setup_timeout};
use crate::scenario::{Phase, Subject, open_receivers, phase};

/// Runs it.
pub async fn run(
    subject: &Subject,
    opts: &EngineOptions,
    step_receivers: &[u64],
    step_phase: &Phase,
    p99_limit_ms: f64,
) -> anyhow::Result<RampRun> {
    let mut steps = Vec::new();
    let mut held = None;
    for &receivers in step_receivers {
        let mut pool =
            match open_receivers(subject, opts, receivers, setup_timeout(receivers)).await {
                Ok(pool) => pool,
                Err(err) => {
                    eprintln!(
                        "{}: ramp stopped at {receivers} receivers: {err:#}",
                        subject.spec.kind
                    );
                    break;
                }
            };
        let res = phase(&mut pool, receivers, subject, opts, step_phase).await;
        pool.stop().await;
        let step = res?;
        let ok = holds(&step, p99_limit_ms);
        steps.push(step);
        if !ok {
            break;
        }
        held = Some(receivers);
    }
    Ok(RampRun {
        target: subject.spec.kind,
        p99_limit_ms,
        steps,
        held,
    })
}
