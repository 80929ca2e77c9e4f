//! sori-bench: a load generator for Sori, which drives NATS and Redis
//! pub/sub with the same engine so the results compare.
//!
//! The scenarios are in [`scenario`]; they share one load engine
//! ([`engine`]) that is generic over the server through the small
//! [`target::Target`] trait (Sori, NATS and Redis speak their own wire
//! protocols through it, with no client libraries). Connections spread over
//! loopback source addresses and, past what one process may open, over
//! worker processes ([`pool`]). The binary in `main.rs` only parses
//! [`Cli`] and calls [`run`].
#![warn(missing_docs, unreachable_pub)]

pub mod clock;
pub mod engine;
pub mod payload;
pub mod plot;
pub mod pool;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod server;
pub mod stats;
pub mod target;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::engine::{EngineOptions, Leave};
use crate::report::Report;
use crate::scenario::{Phase, Subject};
use crate::server::{Probe, SpawnedServer};
use crate::target::{TargetKind, TargetSpec};

/// Load tests for Sori, side by side with NATS and Redis pub/sub.
///
/// Every scenario is bounded in count and time and stops by itself. Point it
/// only at servers on this machine (loopback).
#[derive(Debug, Parser)]
#[command(version)]
pub struct Cli {
    /// The scenario.
    #[command(subcommand)]
    pub command: Command,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One client walks through every message type and checks the answers
    /// (Sori only).
    Smoke,
    /// N receivers, one message: the time until the last one has it.
    BroadcastOnce {
        /// Receivers.
        #[arg(long, default_value_t = 5_000)]
        receivers: u64,
        /// How long to wait for the last receipt.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// S receivers, P senders at a total publish rate: deliveries/s,
    /// latency percentiles, loss, server CPU per delivery.
    Storm(StormArgs),
    /// A realistic chat mix over sori-client (Sori only).
    Chat {
        /// Simulated users.
        #[arg(long, default_value_t = 100)]
        users: u64,
        /// How long they chat.
        #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Mean time between one user's actions (Poisson).
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        mean_interval: Duration,
        /// Rooms the users spread over, three per user at a time (0: every
        /// chat goes to `--room`).
        #[arg(long, default_value_t = 20)]
        rooms: u64,
    },
    /// Storm steps with more and more receivers until p99 or loss gives
    /// way; reports the last step that held.
    Ramp {
        /// Receivers of each step.
        #[arg(long, value_delimiter = ',', default_value = "100,500,1000,2000,5000")]
        steps: Vec<u64>,
        /// Publishes per second in every step.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// Length of each step.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        step_duration: Duration,
        /// A step holds while p99 stays under this, ms.
        #[arg(long, default_value_t = 50.0)]
        p99_ms: f64,
    },
    /// K idle logged-in sessions: connect rate and server memory per
    /// session; then they all leave at once and the server's memory is
    /// watched until it settles.
    Connections {
        /// Sessions.
        #[arg(long, default_value_t = 1_000)]
        sessions: u64,
        /// How long to hold them once all are ready and quiet.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        hold: Duration,
        /// How the sessions leave, all at once (across worker processes
        /// too).
        #[arg(long, value_enum, default_value_t = Leave::Abrupt)]
        leave: Leave,
        /// After they leave, read the server's RSS every 100 ms for this
        /// long, and report its peak, its value 1 s after and at the end, and
        /// when it is back within 20% of the value before connecting. 0s:
        /// no watching, the sessions are just closed.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        leave_watch: Duration,
    },
    /// Internal: a worker process holding receivers for its parent.
    #[command(hide = true)]
    Worker,
}

/// `storm`'s options.
#[derive(Debug, Args)]
pub struct StormArgs {
    /// Receivers.
    #[arg(long, default_value_t = 100)]
    pub receivers: u64,
    /// Publishing connections.
    #[arg(long, default_value_t = 1)]
    pub senders: u64,
    /// Publishes per second, all senders together; 0 for as fast as the
    /// sockets take them (open loop either way).
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// How long to publish (each step, with --peak).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Cap on publishes.
    #[arg(long, default_value_t = 10_000_000)]
    pub messages: u64,
    /// How long to wait for deliveries after the last publish.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
    /// Search for the peak rate: step the rate up by --peak-factor until
    /// p99 passes --p99-ms or a message is lost.
    #[arg(long)]
    pub peak: bool,
    /// Most steps of the peak search.
    #[arg(long, default_value_t = 8)]
    pub peak_steps: u32,
    /// Rate multiplier between peak steps.
    #[arg(long, default_value_t = 1.6)]
    pub peak_factor: f64,
    /// Latency bound of the peak search, ms.
    #[arg(long, default_value_t = 50.0)]
    pub p99_ms: f64,
}

/// Options every scenario takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Which server(s): `all` runs the same workload against each in turn.
    #[arg(long, global = true, default_value = "sori")]
    pub target: TargetChoice,
    /// Sori's address.
    #[arg(long, global = true, default_value = "127.0.0.1:5252")]
    pub sori_addr: SocketAddr,
    /// Sori cluster nodes the receivers spread over, comma-separated:
    /// receiver i connects to the (i mod n)-th; senders keep --sori-addr.
    /// Empty (the default): receivers use --sori-addr too.
    #[arg(long, global = true, value_delimiter = ',', value_name = "ADDR,...")]
    pub receiver_addrs: Vec<SocketAddr>,
    /// NATS's address.
    #[arg(long, global = true, default_value = "127.0.0.1:4222")]
    pub nats_addr: SocketAddr,
    /// Redis's address.
    #[arg(long, global = true, default_value = "127.0.0.1:6379")]
    pub redis_addr: SocketAddr,
    /// Start this sori-server binary for the run (temporary database, cheap
    /// password hashing, status line off) instead of using --sori-addr.
    #[arg(long, global = true)]
    pub spawn_server: Option<PathBuf>,
    /// Sori's Prometheus endpoint (its --metrics-listen), for the server's
    /// own fan-out time; set by itself with --spawn-server.
    #[arg(long, global = true)]
    pub sori_metrics: Option<SocketAddr>,
    /// An extra argument for the spawned sori-server, e.g.
    /// `--server-arg=--history=false`; repeat for several.
    #[arg(long = "server-arg", global = true, allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// The server's pid, for its CPU time and memory (one target only);
    /// otherwise found by its listening port.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Room (Sori; "" is the lobby), subject (NATS) or channel (Redis).
    #[arg(long, global = true, default_value = "")]
    pub room: String,
    /// Prefix of the bench accounts' usernames.
    #[arg(long, global = true, default_value = "bench")]
    pub user_prefix: String,
    /// Payload size, bytes (at least 34: timestamp and number).
    #[arg(long, global = true, default_value_t = payload::DEFAULT_LEN)]
    pub payload: usize,
    /// Loopback source addresses to spread connections over (127.0.0.2, ...).
    #[arg(long, global = true, default_value_t = 8)]
    pub source_addrs: u8,
    /// Handshakes in flight at once, per process.
    #[arg(long, global = true, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Most receivers per process before worker processes are used.
    #[arg(long, global = true, default_value_t = 9_000)]
    pub per_worker: usize,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the plots to this SVG file.
    #[arg(long, global = true)]
    pub svg: Option<PathBuf>,
}

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetChoice {
    /// Sori.
    Sori,
    /// NATS.
    Nats,
    /// Redis pub/sub.
    Redis,
    /// Each of them, one after the other.
    All,
}

/// Runs the command; the worker subcommand never returns a report.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Worker = cli.command {
        return pool::serve_worker().await;
    }
    procfs::raise_nofile_limit();
    let common = &cli.common;
    let opts = EngineOptions {
        source_addrs: common.source_addrs,
        connect_concurrency: common.connect_concurrency,
        per_worker: common.per_worker,
    };
    let spawned = match &common.spawn_server {
        Some(binary) => Some(SpawnedServer::start(binary, &common.server_args).await?),
        None => None,
    };
    let subjects = subjects(common, spawned.as_ref())?;
    let report = run_scenario(&cli.command, common, &opts, &subjects).await?;
    drop(spawned);
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if let Some(path) = &common.svg
        && plot::write(&report, path).with_context(|| format!("writing {}", path.display()))?
    {
        eprintln!("plot written to {}", path.display());
    }
    if let Report::Smoke(run) = &report
        && !run.passed
    {
        bail!("smoke failed");
    }
    Ok(())
}

/// Runs one scenario against every subject in turn.
pub async fn run_scenario(
    command: &Command,
    common: &Common,
    opts: &EngineOptions,
    subjects: &[Subject],
) -> anyhow::Result<Report> {
    let sori_addr = || -> anyhow::Result<SocketAddr> {
        subjects
            .iter()
            .find(|subject| subject.spec.kind == TargetKind::Sori)
            .map(|subject| subject.spec.addr)
            .context("this scenario speaks Sori only: use --target sori")
    };
    Ok(match command {
        Command::Smoke => Report::Smoke(scenario::smoke::run(sori_addr()?, &common.room).await),
        Command::Chat {
            users,
            duration,
            mean_interval,
            rooms,
        } => {
            let config = scenario::chat::ChatConfig {
                users: *users,
                duration: *duration,
                mean_interval: *mean_interval,
                rooms: *rooms,
                room: common.room.clone(),
                user_prefix: common.user_prefix.clone(),
            };
            Report::Chat(scenario::chat::run(sori_addr()?, opts, &config).await?)
        }
        Command::BroadcastOnce { receivers, timeout } => {
            let mut runs = Vec::new();
            for subject in subjects {
                runs.push(
                    scenario::broadcast::run(subject, opts, *receivers, common.payload, *timeout)
                        .await?,
                );
            }
            Report::BroadcastOnce(runs)
        }
        Command::Storm(args) => {
            let config = scenario::storm::StormConfig {
                receivers: args.receivers,
                phase: Phase {
                    senders: args.senders,
                    rate: args.rate,
                    duration: args.duration,
                    max_messages: args.messages,
                    payload_len: common.payload,
                    drain: args.drain,
                },
                peak_steps: args.peak.then_some(args.peak_steps),
                peak_factor: args.peak_factor,
                p99_limit_ms: args.p99_ms,
            };
            if args.peak {
                let mut runs = Vec::new();
                for subject in subjects {
                    runs.push(scenario::storm::run_peak(subject, opts, &config).await?);
                }
                Report::StormPeak(runs)
            } else {
                let mut runs = Vec::new();
                for subject in subjects {
                    runs.push(scenario::storm::run(subject, opts, &config).await?);
                }
                Report::Storm(runs)
            }
        }
        Command::Ramp {
            steps,
            rate,
            step_duration,
            p99_ms,
        } => {
            let step_phase = Phase {
                senders: 1,
                rate: *rate,
                duration: *step_duration,
                max_messages: u64::MAX,
                payload_len: common.payload,
                drain: Duration::from_secs(3),
            };
            let mut runs = Vec::new();
            for subject in subjects {
                runs.push(scenario::ramp::run(subject, opts, steps, &step_phase, *p99_ms).await?);
            }
            Report::Ramp(runs)
        }
        Command::Connections {
            sessions,
            hold,
            leave,
            leave_watch,
        } => {
            let config = scenario::connections::ConnectionsConfig {
                sessions: *sessions,
                hold: *hold,
                leave: *leave,
                leave_watch: *leave_watch,
            };
            let mut runs = Vec::new();
            for subject in subjects {
                runs.push(scenario::connections::run(subject, opts, &config).await?);
            }
            Report::Connections(runs)
        }
        Command::Worker => bail!("the worker subcommand is internal"),
    })
}

/// The servers `--target` names, with their processes.
pub fn subjects(common: &Common, spawned: Option<&SpawnedServer>) -> anyhow::Result<Vec<Subject>> {
    let kinds: &[TargetKind] = match common.target {
        TargetChoice::Sori => &[TargetKind::Sori],
        TargetChoice::Nats => &[TargetKind::Nats],
        TargetChoice::Redis => &[TargetKind::Redis],
        TargetChoice::All => &[TargetKind::Sori, TargetKind::Nats, TargetKind::Redis],
    };
    if common.server_pid.is_some() && kinds.len() > 1 {
        bail!("--server-pid names one process: use it with one --target");
    }
    if !common.receiver_addrs.is_empty() {
        if !kinds.contains(&TargetKind::Sori) {
            bail!("--receiver-addrs names Sori nodes: use it with --target sori");
        }
        if spawned.is_some() {
            bail!("--receiver-addrs names running Sori nodes: it does not go with --spawn-server");
        }
        if let Some(addr) = common.receiver_addrs.iter().find(|a| !a.ip().is_loopback()) {
            bail!(
                "receiver address {addr} is not a loopback address: sori-bench loads only this machine"
            );
        }
    }
    if common.payload < payload::MIN_LEN {
        bail!("--payload must be at least {} bytes", payload::MIN_LEN);
    }
    kinds
        .iter()
        .map(|&kind| {
            let addr = match (kind, spawned) {
                (TargetKind::Sori, Some(server)) => server.addr,
                (TargetKind::Sori, None) => common.sori_addr,
                (TargetKind::Nats, _) => common.nats_addr,
                (TargetKind::Redis, _) => common.redis_addr,
            };
            if !addr.ip().is_loopback() {
                bail!("{kind} address {addr} is not a loopback address: sori-bench loads only this machine");
            }
            let probe = match (kind, spawned) {
                (TargetKind::Sori, Some(server)) => server.probe(),
                _ => Probe::find(common.server_pid, addr),
            };
            let receiver_addrs = match kind {
                TargetKind::Sori => common.receiver_addrs.clone(),
                TargetKind::Nats | TargetKind::Redis => Vec::new(),
            };
            let spec = TargetSpec {
                kind,
                addr,
                receiver_addrs,
                room: common.room.clone(),
                user_prefix: common.user_prefix.clone(),
            };
            let metrics = match (kind, spawned) {
                (TargetKind::Sori, Some(server)) => Some(server.metrics_addr),
                (TargetKind::Sori, None) => common.sori_metrics,
                _ => None,
            };
            Ok(Subject {
                spec,
                probe,
                metrics,
            })
        })
        .collect()
}
