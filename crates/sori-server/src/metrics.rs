//! The once-a-second status line (the seeds' TPS monitor) and the
//! Prometheus endpoint, over the core's counters.

use std::sync::Arc;
use std::time::Duration;

use sori_core::metrics::Metrics;
use tokio_util::sync::CancellationToken;

/// Whether the node serves: `Err` says why not.
pub(crate) type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Serves `GET /readyz` (200 `ready`, or 503 and why not: shutting down,
/// or a cluster node without its bus) and, on every other path, `GET
/// /metrics` (Prometheus text) on `listener` until `shutdown`.
///
/// Hand-written HTTP/1.0 rather than a web framework: two fixed responses,
/// so a few lines beat a dependency tree.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    ready: Readiness,
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
        let ready = ready.clone();
        tokio::spawn(async move {
            // Read the request head (bounded); only its path matters.
            let mut head = [0u8; 1024];
            let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut head))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            let readyz = head[..n].starts_with(b"GET /readyz ");
            let (status, body) = match (readyz, readyz.then(|| ready())) {
                (true, Some(Ok(()))) => ("200 OK", "ready\n".to_owned()),
                (true, Some(Err(why))) => ("503 Service Unavailable", format!("{why}\n")),
                _ => ("200 OK", metrics.prometheus()),
            };
            let response = format!(
                "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

fn snapshot(metrics: &Metrics) -> Snapshot {
    Snapshot {
        accepts: metrics.accepts.get(),
        frames_in: metrics.frames_in.get(),
        frames_out: metrics.frames_out.get(),
        messages: metrics.messages.get(),
    }
}

/// Logs one status line every `interval` until `shutdown` fires.
pub(crate) async fn report(metrics: Arc<Metrics>, interval: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = snapshot(&metrics);
    let secs = interval.as_secs_f64();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = snapshot(&metrics);
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
