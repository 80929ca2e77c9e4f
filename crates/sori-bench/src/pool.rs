//! The receivers of a run: in this process when they fit, otherwise spread
//! over worker processes (this same binary, re-executed with the hidden
//! `worker` subcommand), each holding at most `per_worker` connections.
//!
//! A worker is driven over its stdin and stdout, one JSON [`Request`] or
//! [`Response`] per line, and holds its receivers until told to stop or its
//! stdin closes.

use std::process::Stdio;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::engine::{EngineOptions, Group, Leave};
use crate::stats::{RecvSnapshot, Status};
use crate::target::{Role, TargetSpec};

/// Receivers, wherever they live.
#[derive(Debug)]
pub enum Pool {
    /// All in this process.
    Local(Group),
    /// In worker processes.
    Workers(Vec<Worker>),
}

/// A worker process and its control pipes.
#[derive(Debug)]
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// A line from the parent to a worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Open receivers `first_idx..first_idx + count`.
    Start {
        /// The server.
        spec: TargetSpec,
        /// How to connect.
        opts: EngineOptions,
        /// First connection number.
        first_idx: u64,
        /// How many.
        count: u64,
    },
    /// Send the live counters.
    Status,
    /// Send what was recorded, optionally starting afresh.
    Snapshot {
        /// Reset after taking it.
        reset: bool,
    },
    /// Tell every receiver to leave, and answer at once.
    Leave {
        /// How.
        how: Leave,
    },
    /// Close everything and exit.
    Stop,
}

/// A line from a worker to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// Answer to Start: the connections are being opened.
    Started,
    /// Answer to Status.
    Status(Status),
    /// Answer to Snapshot.
    Snapshot(RecvSnapshot),
    /// Answer to Leave: the receivers are leaving.
    Leaving,
}

impl Pool {
    /// Starts `count` receivers numbered from 0. Returns at once; poll
    /// [`Pool::status`] until they are ready.
    pub async fn start(
        spec: &TargetSpec,
        opts: &EngineOptions,
        count: u64,
    ) -> anyhow::Result<Pool> {
        let per_worker = opts.per_worker.max(1) as u64;
        if count <= per_worker {
            let group = Group::new(opts);
            group.spawn(
                spec.build().as_ref(),
                spec.receiver_addrs(),
                opts,
                Role::Receiver,
                (0, count),
                None,
            );
            return Ok(Pool::Local(group));
        }
        let exe =
            std::env::current_exe().context("finding this executable for worker processes")?;
        let mut workers = Vec::new();
        let mut first_idx = 0;
        while first_idx < count {
            let share = per_worker.min(count - first_idx);
            let mut child = Command::new(&exe)
                .arg("worker")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting worker process {}", exe.display()))?;
            // Invariant: both pipes were requested just above.
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
            let mut worker = Worker {
                child,
                stdin,
                stdout,
            };
            let start = Request::Start {
                spec: spec.clone(),
                opts: opts.clone(),
                first_idx,
                count: share,
            };
            match worker.call(&start).await? {
                Response::Started => {}
                other => bail!("worker answered Start with {other:?}"),
            }
            workers.push(worker);
            first_idx += share;
        }
        Ok(Pool::Workers(workers))
    }

    /// The live counters, summed over every process.
    pub async fn status(&mut self) -> anyhow::Result<Status> {
        match self {
            Pool::Local(group) => Ok(group.recorder.status()),
            Pool::Workers(workers) => {
                let mut total = Status::default();
                for worker in workers {
                    match worker.call(&Request::Status).await? {
                        Response::Status(status) => total.merge(status),
                        other => bail!("worker answered Status with {other:?}"),
                    }
                }
                Ok(total)
            }
        }
    }

    /// What every process recorded, merged.
    pub async fn snapshot(&mut self, reset: bool) -> anyhow::Result<RecvSnapshot> {
        match self {
            Pool::Local(group) => Ok(group.recorder.snapshot(reset)),
            Pool::Workers(workers) => {
                let mut total = RecvSnapshot::default();
                for worker in workers {
                    match worker.call(&Request::Snapshot { reset }).await? {
                        Response::Snapshot(snapshot) => total.merge(snapshot),
                        other => bail!("worker answered Snapshot with {other:?}"),
                    }
                }
                Ok(total)
            }
        }
    }

    /// Tells every receiver, in every process, to leave `how`, all at
    /// once; returns when all have been told, not when they are gone
    /// (watch [`Status::left`]).
    pub async fn leave(&mut self, how: Leave) -> anyhow::Result<()> {
        match self {
            Pool::Local(group) => group.leave(how),
            Pool::Workers(workers) => {
                // Every worker is told before any answer is awaited.
                for worker in workers.iter_mut() {
                    worker.send(&Request::Leave { how }).await?;
                }
                for worker in workers {
                    match worker.receive().await? {
                        Response::Leaving => {}
                        other => bail!("worker answered Leave with {other:?}"),
                    }
                }
            }
        }
        Ok(())
    }

    /// Closes every receiver (and worker process).
    pub async fn stop(self) {
        match self {
            Pool::Local(group) => group.stop().await,
            Pool::Workers(workers) => {
                for mut worker in workers {
                    let _ = worker.send(&Request::Stop).await;
                    let _ = worker.child.wait().await;
                }
            }
        }
    }
}

impl Worker {
    async fn send(&mut self, request: &Request) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .await
            .context("writing to a worker")?;
        Ok(())
    }

    async fn call(&mut self, request: &Request) -> anyhow::Result<Response> {
        self.send(request).await?;
        self.receive().await
    }

    async fn receive(&mut self) -> anyhow::Result<Response> {
        let line = self
            .stdout
            .next_line()
            .await
            .context("reading from a worker")?
            .context("a worker process exited")?;
        serde_json::from_str(&line).with_context(|| format!("a worker sent {line:?}"))
    }
}

/// The worker process's side: obeys requests on stdin until Stop or EOF.
pub async fn serve_worker() -> anyhow::Result<()> {
    crate::procfs::raise_nofile_limit();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    let mut group: Option<Group> = None;
    while let Some(line) = lines.next_line().await? {
        let request: Request =
            serde_json::from_str(&line).with_context(|| format!("parent sent {line:?}"))?;
        let response = match request {
            Request::Start {
                spec,
                opts,
                first_idx,
                count,
            } => {
                let new = Group::new(&opts);
                new.spawn(
                    spec.build().as_ref(),
                    spec.receiver_addrs(),
                    &opts,
                    Role::Receiver,
                    (first_idx, count),
                    None,
                );
                group = Some(new);
                Response::Started
            }
            Request::Status => Response::Status(
                group
                    .as_ref()
                    .map(|g| g.recorder.status())
                    .unwrap_or_default(),
            ),
            Request::Snapshot { reset } => Response::Snapshot(
                group
                    .as_ref()
                    .map(|g| g.recorder.snapshot(reset))
                    .unwrap_or_default(),
            ),
            Request::Leave { how } => {
                if let Some(group) = &group {
                    group.leave(how);
                }
                Response::Leaving
            }
            Request::Stop => break,
        };
        let mut out = serde_json::to_vec(&response)?;
        out.push(b'\n');
        stdout.write_all(&out).await?;
        stdout.flush().await?;
    }
    if let Some(group) = group {
        group.stop().await;
    }
    Ok(())
}
