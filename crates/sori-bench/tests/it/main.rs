//! sori-bench end to end: `smoke` and a small `storm` against an in-process
//! Sori server, and the same storm against NATS and Redis when they run on
//! this machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use sori_bench::engine::{EngineOptions, Leave};
use sori_bench::report::Report;
use sori_bench::{Cli, run_scenario, subjects};
use sori_core::config::HashCost;
use sori_server::{Config, Server};
use sori_store::SqliteStore;
use tokio::sync::oneshot;

/// Bound on each scenario in these tests.
const LIMIT: Duration = Duration::from_secs(10);

/// Starts a Sori server in this process; it stops when the sender drops.
async fn start_sori() -> (SocketAddr, oneshot::Sender<()>) {
    let config = Config {
        status_interval: None,
        password_hash: HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        },
        // Many connections from one address, fast: past the real limits.
        limits: sori_server::rate::LimitsConfig::unlimited(),
        ..Config::default()
    };
    let store = SqliteStore::in_memory().await.expect("in-memory sqlite");
    let listener = sori_server::bind("127.0.0.1:0".parse().expect("address")).expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::new(config, Arc::new(store));
    tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Parses a command line and runs it, within [`LIMIT`].
async fn bench(args: &[&str]) -> Report {
    let cli = Cli::try_parse_from(std::iter::once("sori-bench").chain(args.iter().copied()))
        .expect("valid command line");
    let opts = EngineOptions {
        source_addrs: cli.common.source_addrs,
        connect_concurrency: cli.common.connect_concurrency,
        per_worker: cli.common.per_worker,
    };
    let subjects = subjects(&cli.common, None).expect("subjects");
    tokio::time::timeout(
        LIMIT,
        run_scenario(&cli.command, &cli.common, &opts, &subjects),
    )
    .await
    .expect("scenario finishes in time")
    .expect("scenario runs")
}

/// A storm of 5 receivers and 200 messages must lose nothing.
fn check_tiny_storm(report: &Report) {
    let Report::Storm(runs) = report else {
        panic!("expected a storm report, got {report:?}");
    };
    let run = &runs[0];
    assert_eq!(run.sent, 200, "{run:?}");
    assert_eq!(run.expected, 1_000, "{run:?}");
    assert_eq!(run.received, 1_000, "{run:?}");
    assert_eq!(run.lost, 0, "{run:?}");
    assert_eq!(run.errors, 0, "{run:?}");
    assert!(run.latency.max_ms > 0.0, "{run:?}");
}

const TINY_STORM: [&str; 9] = [
    "storm",
    "--receivers",
    "5",
    "--rate",
    "400",
    "--messages",
    "200",
    "--duration",
    "2s",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_and_tiny_storm_against_sori() {
    let (addr, _stop) = start_sori().await;
    let addr = addr.to_string();

    let report = bench(&["--sori-addr", &addr, "smoke"]).await;
    let Report::Smoke(smoke) = &report else {
        panic!("expected a smoke report, got {report:?}");
    };
    assert!(smoke.passed, "{report}");

    let mut args = vec!["--sori-addr", addr.as_str(), "--target", "sori"];
    args.extend(TINY_STORM);
    let report = bench(&args).await;
    check_tiny_storm(&report);
}

/// `--receiver-addrs` spreads the receivers round robin while the sender
/// stays on `--sori-addr`: with two separate (unclustered) servers, the
/// receivers on the sender's server get every message and the others none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_spread_over_receiver_addrs() {
    let (first, _stop_first) = start_sori().await;
    let (second, _stop_second) = start_sori().await;
    let (first, spread) = (first.to_string(), format!("{first},{second}"));
    let report = bench(&[
        "--sori-addr",
        &first,
        "--receiver-addrs",
        &spread,
        "storm",
        "--receivers",
        "4",
        "--rate",
        "400",
        "--messages",
        "100",
        "--duration",
        "2s",
        "--drain",
        "1s",
    ])
    .await;
    let Report::Storm(runs) = &report else {
        panic!("expected a storm report, got {report:?}");
    };
    let run = &runs[0];
    assert_eq!(run.sent, 100, "{run:?}");
    assert_eq!(run.expected, 400, "{run:?}");
    // Receivers 0 and 2 on the first server, 1 and 3 on the second.
    assert_eq!(run.received, 200, "{run:?}");
    assert_eq!(run.errors, 0, "{run:?}");
}

/// The same storm against another server, if it is running here.
async fn tiny_storm_against(name: &str, flag: &str, addr: &str) {
    if tokio::net::TcpStream::connect(addr).await.is_err() {
        println!("skipped: {name} not reachable on {addr}");
        return;
    }
    let mut args = vec![flag, addr, "--target", name];
    // A room of its own, so parallel runs do not count each other.
    let room = format!("sori.bench.test.{}", std::process::id());
    args.extend(["--room", room.as_str()]);
    args.extend(TINY_STORM);
    check_tiny_storm(&bench(&args).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_storm_against_nats() {
    tiny_storm_against("nats", "--nats-addr", "127.0.0.1:4222").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_storm_against_redis() {
    tiny_storm_against("redis", "--redis-addr", "127.0.0.1:6379").await;
}

/// The chat mix against Sori: every kind of action runs and none fails,
/// rooms are created, switched and read back, and chats are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_mix_with_rooms_against_sori() {
    let (addr, _stop) = start_sori().await;
    let addr = addr.to_string();
    let report = bench(&[
        "--sori-addr",
        &addr,
        "chat",
        "--users",
        "12",
        "--rooms",
        "4",
        "--duration",
        "3s",
        "--mean-interval",
        "40ms",
    ])
    .await;
    let Report::Chat(run) = &report else {
        panic!("expected a chat report, got {report:?}");
    };
    let kinds: Vec<&str> = run.requests.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "chat",
            "whisper",
            "list-users",
            "switch-room",
            "history",
            "rejoin"
        ]
    );
    for kind in &run.requests {
        // About 900 actions in all: each kind's share is dozens at least.
        assert!(kind.count > 0, "no {} ran: {report}", kind.kind);
        assert_eq!(kind.errors, 0, "{} failed: {report}", kind.kind);
    }
    assert!(run.deliveries > 0, "{report}");
    assert!(run.rejoins > 0, "{report}");
}

/// `connections` against Sori: every session leaves as told (after a
/// Logout, the server closes each), and the server's memory is sampled
/// while they do; `--leave-watch 0s` leaves the old report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_leave_and_watch_against_sori() {
    let (addr, _stop) = start_sori().await;
    let addr = addr.to_string();
    for (how, leave) in [("logout", Leave::Logout), ("abrupt", Leave::Abrupt)] {
        let report = bench(&[
            "--sori-addr",
            &addr,
            "--user-prefix",
            how,
            "connections",
            "--sessions",
            "20",
            "--hold",
            "0s",
            "--leave",
            how,
            "--leave-watch",
            "1500ms",
        ])
        .await;
        let Report::Connections(runs) = &report else {
            panic!("expected a connections report, got {report:?}");
        };
        let run = &runs[0];
        assert_eq!(run.ready, 20, "{report}");
        let leaving = run.leave.as_ref().expect("watched");
        assert_eq!(leaving.leave, leave, "{report}");
        assert_eq!(leaving.left, 20, "{report}");
        assert_eq!(leaving.leave_errors, 0, "{report}");
        assert!(leaving.all_left_s.is_some(), "{report}");
        // The server is this process: its memory is readable.
        assert_eq!(leaving.leave_rss.len(), 15, "{report}");
        assert!(leaving.rss.rss_after_leave_1s.is_some(), "{report}");
    }

    let report = bench(&[
        "--sori-addr",
        &addr,
        "connections",
        "--sessions",
        "5",
        "--hold",
        "0s",
        "--leave-watch",
        "0s",
    ])
    .await;
    let Report::Connections(runs) = &report else {
        panic!("expected a connections report, got {report:?}");
    };
    assert_eq!(runs[0].ready, 5, "{report}");
    assert!(runs[0].leave.is_none(), "{report}");
}
