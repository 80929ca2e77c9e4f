//! `connections`' results: connect rate and memory per session, and what
//! the server's memory does while the sessions leave.

use std::fmt;

use serde::Serialize;

use crate::engine::Leave;
use crate::report::{Table, first_errors, opt, rate};
use crate::target::TargetKind;

/// How far above the baseline RSS may stay and still count as returned:
/// within 20%.
pub const SETTLED_RATIO: f64 = 1.2;

/// One `connections` run.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionsRun {
    /// The server.
    pub target: TargetKind,
    /// Sessions asked for.
    pub sessions: u64,
    /// Sessions logged in (subscribed).
    pub ready: u64,
    /// Connections that failed before the sessions were told to leave.
    pub errors: u64,
    /// The first failure's reason (leaving included).
    pub first_error: Option<String>,
    /// Time until all were ready (or the timeout), s.
    pub connect_s: f64,
    /// Sessions ready per second.
    pub connect_rate: f64,
    /// Server RSS before connecting, bytes.
    pub rss_before: Option<u64>,
    /// Server RSS with every session open and idle (after the hold), bytes.
    pub rss_connected: Option<u64>,
    /// Highest server RSS read (every 100 ms) from the first connection
    /// until the sessions were told to leave, bytes.
    pub rss_connected_peak: Option<u64>,
    /// (connected - before) / ready, bytes.
    pub rss_per_session: Option<f64>,
    /// How the sessions left and the server's memory meanwhile; `None`
    /// (no fields at all in JSON) with `--leave-watch 0s`.
    #[serde(flatten)]
    pub leave: Option<LeaveRun>,
}

/// The sessions leaving, all at once, and the server's RSS sampled after.
#[derive(Debug, Clone, Serialize)]
pub struct LeaveRun {
    /// How they left.
    pub leave: Leave,
    /// How long RSS was watched after they were told to leave, s.
    pub leave_watch_s: f64,
    /// Sessions closed as told by the end of the watch (after a logout:
    /// those the server had closed; the rest are closed after the watch).
    pub left: u64,
    /// Connections that failed while leaving (say, reset by the server
    /// while waiting for it to close after a logout).
    pub leave_errors: u64,
    /// Seconds from the leave until every ready session had left, if that
    /// happened within the watch.
    pub all_left_s: Option<f64>,
    /// What the samples show.
    #[serde(flatten)]
    pub rss: LeaveRss,
    /// Every sample: (seconds since the leave, RSS bytes).
    pub leave_rss: Vec<(f64, u64)>,
}

/// What the server's RSS did after the sessions were told to leave.
/// Every figure is `None` when the server's memory cannot be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LeaveRss {
    /// Highest sample, bytes.
    pub rss_leave_max: Option<u64>,
    /// The first sample 1 s or more after the leave, bytes.
    pub rss_after_leave_1s: Option<u64>,
    /// The last sample, bytes.
    pub rss_after_leave_end: Option<u64>,
    /// Time of the first sample at or below [`SETTLED_RATIO`] × the
    /// baseline, s; `None` if none was (or there is no baseline).
    pub settle_s: Option<f64>,
    /// Whether RSS came back within 20% of the baseline during the watch
    /// (`settle_s` is set).
    pub returned_to_baseline: Option<bool>,
    /// Whether no sample was above the connected peak
    /// ([`ConnectionsRun::rss_connected_peak`]).
    pub never_above_connected_peak: Option<bool>,
}

impl LeaveRss {
    /// Sums up `samples`, (seconds since the leave, RSS bytes) in time
    /// order, against the RSS `before` connecting and the `connected_peak`.
    pub fn from_samples(
        before: Option<u64>,
        connected_peak: Option<u64>,
        samples: &[(f64, u64)],
    ) -> LeaveRss {
        let rss_leave_max = samples.iter().map(|&(_, rss)| rss).max();
        let settle_s = before.and_then(|before| {
            let limit = before as f64 * SETTLED_RATIO;
            samples
                .iter()
                .find(|&&(_, rss)| rss as f64 <= limit)
                .map(|&(t, _)| t)
        });
        LeaveRss {
            rss_leave_max,
            rss_after_leave_1s: samples
                .iter()
                .find(|&&(t, _)| t >= 1.0)
                .map(|&(_, rss)| rss),
            rss_after_leave_end: samples.last().map(|&(_, rss)| rss),
            settle_s,
            returned_to_baseline: (before.is_some() && !samples.is_empty())
                .then_some(settle_s.is_some()),
            never_above_connected_peak: connected_peak
                .zip(rss_leave_max)
                .map(|(peak, max)| max <= peak),
        }
    }
}

/// Bytes as MiB, one decimal.
fn mib(bytes: Option<u64>) -> String {
    opt(bytes.map(|b| b as f64 / 1_048_576.0), 1)
}

/// A yes/no figure, or `n/a`.
fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes".to_owned(),
        Some(false) => "NO".to_owned(),
        None => "n/a".to_owned(),
    }
}

/// The runs side by side, one column per target.
pub(crate) fn write_table(f: &mut fmt::Formatter<'_>, runs: &[ConnectionsRun]) -> fmt::Result {
    let mut table = Table::new(
        std::iter::once("connections".to_owned())
            .chain(runs.iter().map(|run| run.target.to_string()))
            .collect(),
    );
    let mut row = |name: &str, cell: &dyn Fn(&ConnectionsRun) -> String| {
        table.row(
            std::iter::once(name.to_owned())
                .chain(runs.iter().map(cell))
                .collect(),
        );
    };
    row("sessions asked", &|run| run.sessions.to_string());
    row("sessions ready", &|run| run.ready.to_string());
    row("errors", &|run| run.errors.to_string());
    row("connect s", &|run| format!("{:.1}", run.connect_s));
    row("sessions/s", &|run| rate(run.connect_rate));
    row("rss before MiB", &|run| mib(run.rss_before));
    row("rss connected MiB", &|run| mib(run.rss_connected));
    row("rss connected peak MiB", &|run| mib(run.rss_connected_peak));
    row("rss per session KiB", &|run| {
        opt(run.rss_per_session.map(|b| b / 1024.0), 2)
    });
    if runs.iter().any(|run| run.leave.is_some()) {
        let mut leave_row = |name: &str, cell: &dyn Fn(&LeaveRun) -> String| {
            row(name, &|run| {
                run.leave.as_ref().map_or_else(|| "n/a".to_owned(), cell)
            });
        };
        leave_row("leave", &|l| l.leave.to_string());
        leave_row("sessions left", &|l| l.left.to_string());
        leave_row("errors while leaving", &|l| l.leave_errors.to_string());
        leave_row("all left after s", &|l| {
            l.all_left_s
                .map_or_else(|| "not all".to_owned(), |s| format!("{s:.1}"))
        });
        leave_row("rss max while leaving MiB", &|l| mib(l.rss.rss_leave_max));
        leave_row("rss 1 s after leave MiB", &|l| {
            mib(l.rss.rss_after_leave_1s)
        });
        leave_row("rss at end of watch MiB", &|l| {
            format!(
                "{} ({:.0} s)",
                mib(l.rss.rss_after_leave_end),
                l.leave_watch_s
            )
        });
        leave_row("settle s (rss <= 1.2 x before)", &|l| {
            l.rss
                .settle_s
                .map_or_else(|| "never".to_owned(), |s| format!("{s:.1}"))
        });
        leave_row("back within 20% of before", &|l| {
            yes_no(l.rss.returned_to_baseline)
        });
        leave_row("never above connected peak", &|l| {
            yes_no(l.rss.never_above_connected_peak)
        });
    }
    write!(f, "{table}")?;
    first_errors(f, runs.iter().map(|run| (run.target, &run.first_error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1_048_576;

    #[test]
    fn settles_at_the_first_sample_within_20_percent() {
        let samples = [
            (0.1, 120 * MIB),
            (0.5, 130 * MIB),
            (1.0, 80 * MIB),
            (1.5, 12 * MIB),
            (2.0, 11 * MIB),
            (2.5, 13 * MIB),
        ];
        let rss = LeaveRss::from_samples(Some(10 * MIB), Some(125 * MIB), &samples);
        assert_eq!(rss.rss_leave_max, Some(130 * MIB));
        assert_eq!(rss.rss_after_leave_1s, Some(80 * MIB));
        assert_eq!(rss.rss_after_leave_end, Some(13 * MIB));
        // 12 MiB is exactly 1.2 x 10 MiB: that counts.
        assert_eq!(rss.settle_s, Some(1.5));
        assert_eq!(rss.returned_to_baseline, Some(true));
        assert_eq!(rss.never_above_connected_peak, Some(false));
    }

    #[test]
    fn never_settles_when_memory_stays_up() {
        let samples = [(0.1, 100 * MIB), (0.2, 90 * MIB), (0.3, 60 * MIB)];
        let rss = LeaveRss::from_samples(Some(10 * MIB), Some(100 * MIB), &samples);
        assert_eq!(rss.settle_s, None);
        assert_eq!(rss.returned_to_baseline, Some(false));
        assert_eq!(rss.never_above_connected_peak, Some(true));
        // The watch ended before 1 s.
        assert_eq!(rss.rss_after_leave_1s, None);
        assert_eq!(rss.rss_after_leave_end, Some(60 * MIB));
    }

    #[test]
    fn unreadable_memory_gives_no_figures() {
        assert_eq!(
            LeaveRss::from_samples(Some(10 * MIB), Some(20 * MIB), &[]),
            LeaveRss::default()
        );
        let rss = LeaveRss::from_samples(None, None, &[(0.1, 5 * MIB)]);
        assert_eq!(rss.settle_s, None);
        assert_eq!(rss.returned_to_baseline, None);
        assert_eq!(rss.never_above_connected_peak, None);
        assert_eq!(rss.rss_leave_max, Some(5 * MIB));
    }
}
