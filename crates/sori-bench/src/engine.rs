//! The load engine: one tokio task per connection, each with its own read
//! buffer and direct, non-blocking socket reads and writes. No channels sit
//! in the hot path; deliveries go straight into the process's [`Recorder`].
//!
//! A [`Group`] is a set of connections in this process that share a
//! recorder: the receivers of a run (or of one worker process), or the
//! senders of one storm step.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock;
use crate::payload::{self, Stamp};
use crate::stats::Recorder;
use crate::target::{Codec, Parsed, Role, Target};

/// Free space offered to each socket read.
const READ_CHUNK: usize = 64 * 1024;
/// How often a rate-limited sender wakes up to publish what is due.
const TICK: Duration = Duration::from_millis(1);
/// Most publishes encoded per wake-up, so that a sender that fell behind
/// does not build an unbounded burst.
const MAX_BATCH: u64 = 1024;
/// A sender stops encoding while this much is still unwritten: the server
/// is not keeping up, and the backlog would only measure the bench's queue.
const HIGH_WATER: usize = 256 * 1024;

/// How connections are opened; the same in every bench process of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOptions {
    /// Loopback source addresses to spread connections over: 127.0.0.2,
    /// 127.0.0.3, ... (0: let the system choose). Each (source, server)
    /// pair has its own ~28,000 ephemeral ports.
    pub source_addrs: u8,
    /// Handshakes in flight at once per process: logins are queued by the
    /// server (password hashes), and a connection waiting too long for its
    /// turn would hit the login timeout.
    pub connect_concurrency: usize,
    /// Most connections one process holds before the receivers move to
    /// worker processes (the open-file limit here is 20,000).
    pub per_worker: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            source_addrs: 8,
            connect_concurrency: 256,
            per_worker: 9_000,
        }
    }
}

impl EngineOptions {
    /// The source address of connection `conn_idx`.
    pub fn source_addr(&self, conn_idx: u64) -> Option<IpAddr> {
        (self.source_addrs > 0).then(|| {
            let last = 2 + (conn_idx % u64::from(self.source_addrs)) as u8;
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
        })
    }
}

/// What a sender publishes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendPlan {
    /// Publishes per second for this sender; 0 publishes as fast as the
    /// socket takes them.
    pub rate: f64,
    /// Publishes in all.
    pub count: u64,
    /// Stop after this long even if `count` is not reached.
    pub duration: Duration,
    /// Payload size in bytes.
    pub payload_len: usize,
}

/// How connections leave when told to ([`Group::leave`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Leave {
    /// Reset at once: SO_LINGER 0, then close, so the server sees an RST.
    #[default]
    Abrupt,
    /// Say goodbye (Sori: Logout; Redis: QUIT; NATS has none), wait for the
    /// server to close, then close.
    Logout,
    /// Plain close (FIN).
    Close,
}

impl fmt::Display for Leave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Leave::Abrupt => "abrupt",
            Leave::Logout => "logout",
            Leave::Close => "close",
        })
    }
}

/// Connections in this process sharing one [`Recorder`].
#[derive(Debug)]
pub struct Group {
    /// Where the connections count what they receive.
    pub recorder: Arc<Recorder>,
    /// Publishes written by the senders, for live rates.
    pub sent: Arc<AtomicU64>,
    /// Senders that have finished their plan.
    pub senders_done: Arc<AtomicU64>,
    go: CancellationToken,
    cancel: CancellationToken,
    leave: CancellationToken,
    leave_how: Arc<OnceLock<Leave>>,
    tasks: TaskTracker,
    handshakes: Arc<Semaphore>,
}

impl Group {
    /// An empty group.
    pub fn new(opts: &EngineOptions) -> Group {
        Group {
            recorder: Arc::default(),
            sent: Arc::default(),
            senders_done: Arc::default(),
            go: CancellationToken::new(),
            cancel: CancellationToken::new(),
            leave: CancellationToken::new(),
            leave_how: Arc::default(),
            tasks: TaskTracker::new(),
            handshakes: Arc::new(Semaphore::new(opts.connect_concurrency.max(1))),
        }
    }

    /// Opens `count` connections numbered from `first_idx`, connection
    /// `i` to [`addr_of`]`(addrs, i)`. They connect and shake hands in the
    /// background; watch `recorder.status().ready`.
    ///
    /// # Panics
    ///
    /// If `addrs` is empty.
    pub fn spawn(
        &self,
        target: &dyn Target,
        addrs: &[SocketAddr],
        opts: &EngineOptions,
        role: Role,
        (first_idx, count): (u64, u64),
        plan: Option<SendPlan>,
    ) {
        assert!(!addrs.is_empty(), "connections need an address");
        for conn_idx in first_idx..first_idx + count {
            let addr = addr_of(addrs, conn_idx);
            let conn = Conn {
                codec: target.codec(conn_idx, role),
                recorder: Arc::clone(&self.recorder),
                plan,
                sent: Arc::clone(&self.sent),
                senders_done: Arc::clone(&self.senders_done),
                go: self.go.clone(),
                cancel: self.cancel.clone(),
                leave: self.leave.clone(),
                leave_how: Arc::clone(&self.leave_how),
            };
            let local = if target.any_loopback_source() {
                opts.source_addr(conn_idx)
            } else {
                None
            };
            let handshakes = Arc::clone(&self.handshakes);
            self.tasks.spawn(async move {
                // Invariant: the semaphore is never closed.
                let permit = handshakes.acquire_owned().await.expect("semaphore open");
                let recorder = Arc::clone(&conn.recorder);
                let res = match connect(addr, local).await {
                    Ok(stream) => conn.run(stream, permit).await,
                    Err(err) => Err(format!("connect from {local:?}: {err}")),
                };
                if let Err(reason) = res {
                    recorder.add_error(reason);
                }
            });
        }
    }

    /// Lets the senders start publishing.
    pub fn go(&self) {
        self.go.cancel();
    }

    /// Tells every connection to leave `how`, all at once, and returns
    /// without waiting: watch `recorder.status().left`. Only the first call
    /// counts.
    pub fn leave(&self, how: Leave) {
        let _ = self.leave_how.set(how);
        self.leave.cancel();
    }

    /// Closes every connection and waits for their tasks.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The server address of connection `conn_idx`: `addrs[conn_idx % len]`,
/// so that connections numbered across worker processes spread evenly.
///
/// # Panics
///
/// If `addrs` is empty.
pub fn addr_of(addrs: &[SocketAddr], conn_idx: u64) -> SocketAddr {
    addrs[(conn_idx % addrs.len() as u64) as usize]
}

/// Opens a TCP connection from `local` (port chosen at connect time, so
/// that ports are only unique per destination), with Nagle off.
pub async fn connect(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = local.filter(|local| local.is_ipv4() == addr.is_ipv4()) {
        bind_address_no_port(&socket);
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Sets IP_BIND_ADDRESS_NO_PORT, so `bind` to port 0 does not use up an
/// ephemeral port for every destination. Best effort: without it, binding
/// still works, with fewer ports.
fn bind_address_no_port(socket: &TcpSocket) {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a c_int option value of the stated size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// One connection's task state.
struct Conn {
    codec: Box<dyn Codec>,
    recorder: Arc<Recorder>,
    plan: Option<SendPlan>,
    sent: Arc<AtomicU64>,
    senders_done: Arc<AtomicU64>,
    go: CancellationToken,
    cancel: CancellationToken,
    leave: CancellationToken,
    leave_how: Arc<OnceLock<Leave>>,
}

/// A sender's progress through its plan.
struct Sending {
    plan: SendPlan,
    started: Instant,
    sent: u64,
    payload: Vec<u8>,
}

impl Conn {
    async fn run(mut self, stream: TcpStream, permit: OwnedSemaphorePermit) -> Result<(), String> {
        // Held until the handshake is answered: see `connect_concurrency`.
        let mut permit = Some(permit);
        let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
        let mut out = BytesMut::new();
        let mut parsed = Parsed::default();
        let mut ready = false;
        let mut sending: Option<Sending> = None;
        let mut finished = false;
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.codec.handshake(&mut out);
        write_some(&stream, &mut out).map_err(|err| format!("write: {err}"))?;
        loop {
            let waiting_for_go = ready && self.plan.is_some() && sending.is_none() && !finished;
            let may_send = sending.is_some() && out.len() < HIGH_WATER;
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(()),
                _ = self.leave.cancelled() => {
                    // Invariant: `Group::leave` sets the mode before it
                    // cancels the token.
                    let how = *self.leave_how.get().expect("leave mode set");
                    return self.depart(stream, how, out, rbuf).await;
                }
                _ = self.go.cancelled(), if waiting_for_go => {
                    // Invariant: `waiting_for_go` implies a plan.
                    let plan = self.plan.expect("a sender has a plan");
                    sending = Some(Sending { plan, started: Instant::now(), sent: 0, payload: Vec::new() });
                }
                _ = ticker.tick(), if may_send => {
                    // Invariant: `may_send` implies `sending`.
                    let state = sending.as_mut().expect("sending");
                    if state.fill(self.codec.as_mut(), &mut out, &self.sent) {
                        sending = None;
                        finished = true;
                        self.senders_done.fetch_add(1, Ordering::Relaxed);
                    }
                    write_some(&stream, &mut out).map_err(|err| format!("write: {err}"))?;
                }
                res = stream.writable(), if !out.is_empty() => {
                    res.map_err(|err| format!("write: {err}"))?;
                    write_some(&stream, &mut out).map_err(|err| format!("write: {err}"))?;
                }
                res = stream.readable() => {
                    res.map_err(|err| format!("read: {err}"))?;
                    rbuf.reserve(READ_CHUNK);
                    match stream.try_read_buf(&mut rbuf) {
                        Ok(0) => return Err("connection closed by the server".to_owned()),
                        Ok(n) => self.recorder.add_bytes(n),
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(err) => return Err(format!("read: {err}")),
                    }
                    self.codec.parse(&mut rbuf, &mut parsed).map_err(|err| err.to_string())?;
                    self.recorder.record(clock::now_ns(), &parsed.stamps);
                    parsed.stamps.clear();
                    if parsed.ready && !ready {
                        ready = true;
                        drop(permit.take());
                        self.recorder.add_ready();
                    }
                    if !parsed.replies.is_empty() {
                        out.extend_from_slice(&parsed.replies);
                        parsed.replies.clear();
                        write_some(&stream, &mut out).map_err(|err| format!("write: {err}"))?;
                    }
                }
            }
        }
    }
}

impl Conn {
    /// Leaves `how`, counting the connection as left once it is closed.
    async fn depart(
        &mut self,
        stream: TcpStream,
        how: Leave,
        mut out: BytesMut,
        mut rbuf: BytesMut,
    ) -> Result<(), String> {
        match how {
            Leave::Abrupt => {
                stream
                    .set_zero_linger()
                    .map_err(|err| format!("leave: SO_LINGER: {err}"))?;
            }
            Leave::Close => {}
            Leave::Logout => {
                // No time limit of its own: a server slow to close is what
                // the watch measures, and `Group::stop` ends the wait.
                if self.codec.goodbye(&mut out) {
                    tokio::select! {
                        biased;
                        _ = self.cancel.cancelled() => return Ok(()),
                        res = say_goodbye(&stream, &mut out, &mut rbuf) => {
                            res.map_err(|err| format!("logout: {err}"))?;
                        }
                    }
                }
            }
        }
        drop(stream);
        self.recorder.add_left();
        Ok(())
    }
}

/// Writes `out` (a goodbye), then reads and discards whatever the server
/// still sends until it closes the connection.
async fn say_goodbye(
    stream: &TcpStream,
    out: &mut BytesMut,
    rbuf: &mut BytesMut,
) -> io::Result<()> {
    while !out.is_empty() {
        stream.writable().await?;
        write_some(stream, out)?;
    }
    loop {
        stream.readable().await?;
        rbuf.clear();
        rbuf.reserve(READ_CHUNK);
        match stream.try_read_buf(rbuf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
}

impl Sending {
    /// Encodes the publishes due by now; true once the plan is complete.
    fn fill(&mut self, codec: &mut dyn Codec, out: &mut BytesMut, sent_total: &AtomicU64) -> bool {
        let elapsed = self.started.elapsed();
        let due = if self.plan.rate > 0.0 {
            (self.plan.rate * elapsed.as_secs_f64()) as u64
        } else {
            self.sent + MAX_BATCH
        };
        let batch = due
            .min(self.plan.count)
            .saturating_sub(self.sent)
            .min(MAX_BATCH);
        let now_ns = clock::now_ns();
        for _ in 0..batch {
            let stamp = Stamp {
                sent_ns: now_ns,
                number: self.sent,
            };
            payload::write(&mut self.payload, self.plan.payload_len, stamp);
            codec.encode_publish(&self.payload, out);
            self.sent += 1;
        }
        sent_total.fetch_add(batch, Ordering::Relaxed);
        self.sent >= self.plan.count || elapsed >= self.plan.duration
    }
}

/// Writes as much of `out` as the socket takes now.
fn write_some(stream: &TcpStream, out: &mut BytesMut) -> io::Result<()> {
    while !out.is_empty() {
        match stream.try_write(out) {
            Ok(n) => out.advance(n),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
