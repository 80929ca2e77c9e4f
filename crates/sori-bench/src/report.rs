//! Results: what each scenario measured, as serializable structs (for
//! `--json`), and as side-by-side tables (one column per target).

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::target::TargetKind;

pub mod connections;

pub use connections::ConnectionsRun;

/// Everything one invocation measured.
#[derive(Debug, Serialize)]
#[serde(tag = "scenario", content = "runs", rename_all = "kebab-case")]
pub enum Report {
    /// `smoke`.
    Smoke(SmokeRun),
    /// `broadcast-once`, one run per target.
    BroadcastOnce(Vec<BroadcastRun>),
    /// `storm`, one run per target.
    Storm(Vec<StormRun>),
    /// `storm --peak`, one search per target.
    StormPeak(Vec<PeakRun>),
    /// `chat`.
    Chat(ChatRun),
    /// `ramp`, one per target.
    Ramp(Vec<RampRun>),
    /// `connections`, one per target.
    Connections(Vec<ConnectionsRun>),
}

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// (percentile, ms) points for the plot.
    pub curve: Vec<(f64, f64)>,
}

/// One `storm` run (or one step of a peak search or a ramp).
#[derive(Debug, Clone, Serialize)]
pub struct StormRun {
    /// The server.
    pub target: TargetKind,
    /// Subscribed receivers.
    pub receivers: u64,
    /// Publishing connections.
    pub senders: u64,
    /// Publishes per second asked for, all senders together (0: as fast as
    /// possible).
    pub offered_rate: f64,
    /// Publishes per second reached.
    pub publish_rate: f64,
    /// Publishes written.
    pub sent: u64,
    /// Deliveries due: each publish times its audience.
    pub expected: u64,
    /// Deliveries counted.
    pub received: u64,
    /// `expected - received`.
    pub lost: u64,
    /// Connections that failed during the run.
    pub errors: u64,
    /// The first failure's reason.
    pub first_error: Option<String>,
    /// Deliveries per second, from the first publish to the last delivery.
    pub deliveries_per_s: f64,
    /// End-to-end latency of every delivery.
    pub latency: Latency,
    /// Server CPU time over the window, when the server process is known.
    pub server_cpu_s: Option<f64>,
    /// Server CPU seconds per million deliveries.
    pub cpu_s_per_million: Option<f64>,
    /// (seconds since start, deliveries/s) samples.
    pub timeline: Vec<(f64, f64)>,
}

/// A `storm --peak` search: the steps tried, and the best that held.
#[derive(Debug, Clone, Serialize)]
pub struct PeakRun {
    /// The server.
    pub target: TargetKind,
    /// Subscribed receivers.
    pub receivers: u64,
    /// The p99 bound a step must meet, ms.
    pub p99_limit_ms: f64,
    /// Every step, in order.
    pub steps: Vec<StormRun>,
    /// Highest delivery rate of a step with p99 under the limit, no loss,
    /// no errors and at least 95% of the offered rate published.
    pub peak_deliveries_per_s: Option<f64>,
}

/// One `broadcast-once` run.
#[derive(Debug, Clone, Serialize)]
pub struct BroadcastRun {
    /// The server.
    pub target: TargetKind,
    /// Receivers subscribed.
    pub receivers: u64,
    /// How long connecting and subscribing them took, s.
    pub setup_s: f64,
    /// Receivers that got the message.
    pub received: u64,
    /// Receivers that did not, within the timeout.
    pub lost: u64,
    /// Connections that failed.
    pub errors: u64,
    /// The first failure's reason.
    pub first_error: Option<String>,
    /// From sending to the first receipt, ms.
    pub first_ms: f64,
    /// From sending to the last receipt, ms: the headline figure.
    pub last_ms: f64,
    /// Receipt times across receivers.
    pub latency: Latency,
    /// The server's own fan-out time (reading the message to handing the
    /// last recipient's bytes to the kernel), when the server reports it.
    /// No target exposes it yet.
    pub server_fanout_ms: Option<f64>,
    /// Server CPU time spent on the broadcast.
    pub server_cpu_s: Option<f64>,
}

/// One `ramp`: storm steps with more and more receivers.
#[derive(Debug, Clone, Serialize)]
pub struct RampRun {
    /// The server.
    pub target: TargetKind,
    /// The p99 bound, ms.
    pub p99_limit_ms: f64,
    /// Every step, in order.
    pub steps: Vec<StormRun>,
    /// Receivers of the last step that held.
    pub held: Option<u64>,
}

/// One `smoke` walk-through.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeRun {
    /// Every check, in order.
    pub steps: Vec<SmokeStep>,
    /// Whether all passed.
    pub passed: bool,
}

/// One smoke check.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeStep {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// How long it took, ms.
    pub ms: f64,
    /// The failure, if any.
    pub detail: Option<String>,
}

/// One `chat` run.
#[derive(Debug, Clone, Serialize)]
pub struct ChatRun {
    /// Simulated users.
    pub users: u64,
    /// Wall time, s.
    pub duration_s: f64,
    /// Requests by kind: (kind, count, errors, latency).
    pub requests: Vec<ChatRequestStats>,
    /// Chat messages pushed to the users.
    pub deliveries: u64,
    /// Times a user left and came back.
    pub rejoins: u64,
}

/// One request kind in `chat`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatRequestStats {
    /// chat, whisper, list-users or rejoin.
    pub kind: String,
    /// Requests made.
    pub count: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Request-to-answer time.
    pub latency: Latency,
}

impl Latency {
    /// Summarizes a histogram in nanoseconds.
    pub fn from_histogram(hist: &Histogram<u64>) -> Latency {
        if hist.is_empty() {
            return Latency::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        let curve = [
            0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
        ]
        .iter()
        .map(|&pct| (pct, ms(hist.value_at_percentile(pct))))
        .collect();
        Latency {
            p50_ms: ms(hist.value_at_quantile(0.5)),
            p90_ms: ms(hist.value_at_quantile(0.9)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            p999_ms: ms(hist.value_at_quantile(0.999)),
            max_ms: ms(hist.max()),
            curve,
        }
    }
}

/// A text table: a header row and aligned columns.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new(header: Vec<String>) -> Table {
        Table { rows: vec![header] }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n_cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..n_cols)
            .map(|col| {
                self.rows
                    .iter()
                    .map(|row| row.get(col).map_or(0, |cell| cell.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (row_idx, row) in self.rows.iter().enumerate() {
            for (col, cell) in row.iter().enumerate() {
                if col == 0 {
                    write!(f, "{cell:<width$}", width = widths[col])?;
                } else {
                    write!(f, "  {cell:>width$}", width = widths[col])?;
                }
            }
            writeln!(f)?;
            if row_idx == 0 {
                let total = widths.iter().sum::<usize>() + 2 * n_cols.saturating_sub(1);
                writeln!(f, "{}", "-".repeat(total))?;
            }
        }
        Ok(())
    }
}

/// A number with thousands separators, or with a `M`/`k` suffix when big.
pub fn rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Milliseconds with a sensible precision.
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// An optional figure, or `n/a`.
pub fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "n/a".to_owned(), |value| format!("{value:.digits$}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Smoke(run) => {
                let mut table = Table::new(vec!["check".into(), "result".into(), "ms".into()]);
                for step in &run.steps {
                    let result = match &step.detail {
                        None => "ok".to_owned(),
                        Some(detail) => format!("FAILED: {detail}"),
                    };
                    table.row(vec![step.name.clone(), result, ms(step.ms)]);
                }
                write!(f, "{table}")?;
                writeln!(f, "smoke: {}", if run.passed { "passed" } else { "FAILED" })
            }
            Report::Storm(runs) => write!(f, "{}", storm_table(runs)),
            Report::StormPeak(runs) => {
                for run in runs {
                    writeln!(
                        f,
                        "{} peak search, {} receivers:",
                        run.target, run.receivers
                    )?;
                    write!(f, "{}", storm_table(&run.steps))?;
                    writeln!(f)?;
                }
                let mut table = Table::new(peak_header(runs));
                table.row(
                    std::iter::once(format!(
                        "peak deliveries/s (p99 < {} ms, no loss)",
                        runs.first().map_or(0.0, |run| run.p99_limit_ms)
                    ))
                    .chain(runs.iter().map(|run| {
                        run.peak_deliveries_per_s
                            .map_or_else(|| "none held".to_owned(), rate)
                    }))
                    .collect(),
                );
                write!(f, "{table}")
            }
            Report::BroadcastOnce(runs) => {
                let mut table = Table::new(
                    std::iter::once("broadcast-once".to_owned())
                        .chain(runs.iter().map(|run| run.target.to_string()))
                        .collect(),
                );
                let mut row = |name: &str, cell: &dyn Fn(&BroadcastRun) -> String| {
                    table.row(
                        std::iter::once(name.to_owned())
                            .chain(runs.iter().map(cell))
                            .collect(),
                    );
                };
                row("receivers", &|run| run.receivers.to_string());
                row("setup s", &|run| format!("{:.1}", run.setup_s));
                row("received", &|run| run.received.to_string());
                row("lost", &|run| run.lost.to_string());
                row("errors", &|run| run.errors.to_string());
                row("first receipt ms", &|run| ms(run.first_ms));
                row("median receipt ms", &|run| ms(run.latency.p50_ms));
                row("last receipt ms", &|run| ms(run.last_ms));
                row("server fan-out ms", &|run| opt(run.server_fanout_ms, 3));
                row("server cpu s", &|run| opt(run.server_cpu_s, 3));
                write!(f, "{table}")?;
                first_errors(f, runs.iter().map(|run| (run.target, &run.first_error)))
            }
            Report::Connections(runs) => connections::write_table(f, runs),
            Report::Ramp(runs) => {
                for run in runs {
                    writeln!(f, "{} ramp (p99 < {} ms):", run.target, run.p99_limit_ms)?;
                    write!(f, "{}", storm_table(&run.steps))?;
                    match run.held {
                        Some(held) => writeln!(f, "last step that held: {held} receivers\n")?,
                        None => writeln!(f, "no step held\n")?,
                    }
                }
                Ok(())
            }
            Report::Chat(run) => {
                let mut table = Table::new(
                    ["request", "count", "errors", "p50 ms", "p99 ms", "max ms"]
                        .map(String::from)
                        .to_vec(),
                );
                for req in &run.requests {
                    table.row(vec![
                        req.kind.clone(),
                        req.count.to_string(),
                        req.errors.to_string(),
                        ms(req.latency.p50_ms),
                        ms(req.latency.p99_ms),
                        ms(req.latency.max_ms),
                    ]);
                }
                write!(f, "{table}")?;
                writeln!(
                    f,
                    "{} users for {:.1} s: {} chat deliveries, {} leave-and-rejoin",
                    run.users, run.duration_s, run.deliveries, run.rejoins
                )
            }
        }
    }
}

fn peak_header(runs: &[PeakRun]) -> Vec<String> {
    std::iter::once(String::new())
        .chain(
            runs.iter()
                .map(|run| format!("{} ({} rcv)", run.target, run.receivers)),
        )
        .collect()
}

/// Storm runs side by side: one column per run.
pub fn storm_table(runs: &[StormRun]) -> Table {
    let mut table = Table::new(
        std::iter::once("storm".to_owned())
            .chain(runs.iter().map(|run| run.target.to_string()))
            .collect(),
    );
    let mut row = |name: &str, cell: &dyn Fn(&StormRun) -> String| {
        table.row(
            std::iter::once(name.to_owned())
                .chain(runs.iter().map(cell))
                .collect(),
        );
    };
    row("receivers", &|run| run.receivers.to_string());
    row("senders", &|run| run.senders.to_string());
    row("offered publishes/s", &|run| {
        if run.offered_rate > 0.0 {
            rate(run.offered_rate)
        } else {
            "max".to_owned()
        }
    });
    row("publishes/s", &|run| rate(run.publish_rate));
    row("deliveries/s", &|run| rate(run.deliveries_per_s));
    row("expected", &|run| run.expected.to_string());
    row("lost", &|run| run.lost.to_string());
    row("errors", &|run| run.errors.to_string());
    row("p50 ms", &|run| ms(run.latency.p50_ms));
    row("p90 ms", &|run| ms(run.latency.p90_ms));
    row("p99 ms", &|run| ms(run.latency.p99_ms));
    row("p99.9 ms", &|run| ms(run.latency.p999_ms));
    row("max ms", &|run| ms(run.latency.max_ms));
    row("server cpu s", &|run| opt(run.server_cpu_s, 2));
    row("cpu s / M deliveries", &|run| opt(run.cpu_s_per_million, 3));
    table
}

fn first_errors<'a>(
    f: &mut fmt::Formatter<'_>,
    errors: impl Iterator<Item = (TargetKind, &'a Option<String>)>,
) -> fmt::Result {
    for (target, error) in errors {
        if let Some(error) = error {
            writeln!(f, "{target}: first error: {error}")?;
        }
    }
    Ok(())
}
