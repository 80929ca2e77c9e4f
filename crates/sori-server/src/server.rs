//! The accept loop, the session limit, and graceful shutdown.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sori_protocol::pb::ErrorCode;
use sori_protocol::{Message, encode_to_bytes};
use sori_store::{NewRoom, Store, StoreError, StoredRoom};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::flush::Coalescer;
use crate::handler;
use crate::history::Persister;
use crate::hub::Hub;
use crate::ip_policy::{IpPolicy, RefusalLog, Verdict};
use crate::metrics::{self, Metrics};
use crate::moderation::{self, IpBans};
use crate::rate::{ConnectionCounter, ConnectionGuard, KeyedLimiter, LoginThrottle, client_key};
use crate::transport;

/// File descriptors kept free for everything that is not a session
/// (listener, database, logs, refused connections in flight).
const RESERVED_FDS: u64 = 64;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The store could not be read at startup.
    #[error("loading rooms: {0}")]
    Store(#[from] StoreError),
}

/// Everything the connection tasks share. Cheap to reach through an `Arc`.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) hub: Hub,
    pub(crate) accounts: Accounts,
    /// Rooms, history and offline whispers.
    pub(crate) store: Arc<dyn Store>,
    /// Writes room messages to the store; `None` when history is off.
    pub(crate) persister: Option<Persister>,
    pub(crate) metrics: Arc<Metrics>,
    /// Fires once when the server starts shutting down.
    pub(crate) shutdown: CancellationToken,
    /// Every session's task, so shutdown can wait for them.
    pub(crate) tracker: TaskTracker,
    /// Set when the listener speaks TLS.
    pub(crate) tls: Option<TlsAcceptor>,
    /// IP bans in force, checked on every accept.
    pub(crate) ip_bans: IpBans,
    /// Wakes fan-out writers at the end of each coalescing window.
    pub(crate) coalescer: Coalescer,
    /// The IP allow/deny lists and country policy.
    pub(crate) ip_policy: IpPolicy,
    /// Refused addresses, logged once per address per minute.
    pub(crate) refusal_log: RefusalLog,
    /// Open connections per address.
    pub(crate) connections_per_ip: ConnectionCounter,
    /// New connections per address per second.
    pub(crate) new_connections: KeyedLimiter<IpAddr>,
    /// Failed-login delays per account and per address.
    pub(crate) login_throttle: LoginThrottle,
}

/// A configured server, ready to run on a listener.
pub struct Server {
    config: Config,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// A server with this configuration and store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Server {
            config,
            store,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The server's live counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves `listener` until `shutdown` completes, then stops accepting,
    /// tells every client, lets their queues drain for at most
    /// `shutdown_grace`, and returns.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RunError> {
        let mut config = self.config;
        config.max_sessions = clamp_to_fd_limit(config.max_sessions);
        let store = self.store;
        let accounts =
            Accounts::new(store.clone(), &config.password_hash).map_err(RunError::Config)?;
        let ip_policy =
            IpPolicy::new(&config.ip_policy).map_err(|err| RunError::Config(err.to_string()))?;
        config
            .limits
            .validate(config.max_frame_len)
            .map_err(RunError::Config)?;
        let limits = &config.limits;
        let connections_per_ip = ConnectionCounter::new(limits.max_connections_per_ip);
        let new_connections = KeyedLimiter::new(
            limits.new_connections_per_ip_per_sec,
            limits.new_connections_per_ip_burst,
            limits.max_tracked_ips,
        );
        let login_throttle = LoginThrottle::new(limits.login.clone());
        let tls = match &config.tls {
            Some(tls) => Some(transport::acceptor(&tls.cert, &tls.key).map_err(RunError::Config)?),
            None => None,
        };
        let (lobby, rooms) = load_rooms(store.as_ref()).await?;
        let ip_bans = IpBans::load(store.as_ref()).await?;
        let (persister, persister_task) = if config.history {
            let (persister, task) =
                Persister::start(store.clone(), config.rooms.tail_len, self.metrics.clone());
            (Some(persister), Some(task))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            hub: Hub::new(
                lobby,
                rooms,
                config.duplicate_login,
                config.outbound_queue_bytes,
                config.presence_limit,
            ),
            accounts,
            store,
            persister,
            metrics: self.metrics,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            tls,
            ip_bans,
            coalescer: Coalescer::new(config.write_coalesce),
            ip_policy,
            refusal_log: RefusalLog::default(),
            connections_per_ip,
            new_connections,
            login_throttle,
            config,
        });
        if let Some(addr) = shared.config.metrics_listen {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .map_err(|err| RunError::Config(format!("binding metrics_listen {addr}: {err}")))?;
            tracing::info!(%addr, "metrics at http://{addr}/metrics");
            tokio::spawn(metrics::serve(
                metrics_listener,
                shared.metrics.clone(),
                shared.shutdown.clone(),
            ));
        }
        // The flusher outlives the sessions: their last frames may still
        // be waiting for a window while they drain.
        let flusher_stop = CancellationToken::new();
        let flusher = {
            let shared = shared.clone();
            let stop = flusher_stop.clone();
            tokio::spawn(async move { shared.coalescer.run(stop).await })
        };
        if let Some(interval) = shared.config.status_interval {
            tokio::spawn(metrics::report(
                shared.metrics.clone(),
                interval,
                shared.shutdown.clone(),
            ));
        }
        tracing::info!(
            addr = ?listener.local_addr().ok(),
            max_sessions = shared.config.max_sessions,
            "sori-server listening"
        );

        tokio::select! {
            () = accept_loop(&shared, &listener) => {}
            () = shutdown => {}
        }
        drop(listener);
        tracing::info!(sessions = shared.hub.n_sessions(), "shutting down");
        shared.shutdown.cancel();
        // Every session is told and closed through its queue; one that
        // connects after this look sees the cancellation itself.
        let bye = handler::shutting_down();
        for peer in shared.hub.peers() {
            peer.close(Some(bye.clone()));
        }
        shared.tracker.close();
        let grace = shared.config.shutdown_grace;
        if tokio::time::timeout(grace, shared.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "some sessions did not finish within the shutdown grace"
            );
        }
        flusher_stop.cancel();
        let _ = flusher.await;
        // Every session has ended: write what is left of the history.
        if let (Some(persister), Some(task)) = (&shared.persister, persister_task) {
            persister.close();
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!(
                    ?grace,
                    "history was not all written within the shutdown grace"
                );
            }
        }
        tracing::info!("shut down");
        Ok(())
    }
}

/// Runs `Server::new(config, store).run(listener, shutdown)`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    Server::new(config, store).run(listener, shutdown).await
}

/// Binds a listener with a deep accept backlog (4096): a reconnect storm
/// after a network blip arrives all at once, and a shallow queue makes the
/// overflow wait out SYN retransmits (a second or more each).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    let sessions = Arc::new(Semaphore::new(shared.config.max_sessions));
    let mut backoff = Duration::from_millis(1);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _addr)) => {
                backoff = Duration::from_millis(1);
                stream
            }
            Err(err) => {
                // Out of file descriptors or a transient network error:
                // wait a little rather than spin, then go on.
                tracing::warn!(%err, ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        shared.metrics.accepts.inc();
        let ip = match stream.peer_addr() {
            Ok(addr) => addr.ip(),
            // The peer is already gone.
            Err(_) => continue,
        };
        let per_ip = match admit(shared, ip) {
            Ok(guard) => guard,
            Err(kicked) => {
                shared.metrics.refused_ip.inc();
                refuse(stream, &kicked);
                continue;
            }
        };
        match sessions.clone().try_acquire_owned() {
            Ok(permit) => {
                let place = Place {
                    _permit: permit,
                    _per_ip: per_ip,
                };
                handler::spawn(shared, stream, place);
            }
            Err(_) => {
                shared.metrics.refused_full.inc();
                let kicked =
                    Message::kicked(ErrorCode::ServerFull, "the server is full; try again later");
                refuse(stream, &encode_to_bytes(0, &kicked));
            }
        }
    }
}

/// What a session holds while it lives: its place under the session limit
/// and under its address's connection limit.
pub(crate) struct Place {
    _permit: OwnedSemaphorePermit,
    _per_ip: ConnectionGuard,
}

/// Checks a new connection's address: bans, the IP and country policy, and
/// the per-address limits. Returns the per-address guard, or the Kicked
/// frame that tells the client why it is refused.
fn admit(shared: &Shared, ip: IpAddr) -> Result<ConnectionGuard, Bytes> {
    if let Some(ban) = shared.ip_bans.check(ip) {
        return Err(encode_to_bytes(0, &moderation::banned_kick(&ban)));
    }
    let now = std::time::Instant::now();
    if let Verdict::Deny(reason) = shared.ip_policy.check(ip) {
        if shared.refusal_log.should_log(ip, now) {
            tracing::info!(%ip, %reason, "connection refused by the IP policy");
        }
        let kicked = Message::kicked(
            ErrorCode::IpRefused,
            "connections from your address are not allowed here",
        );
        return Err(encode_to_bytes(0, &kicked));
    }
    if !shared.new_connections.check(client_key(ip), now) {
        let kicked = Message::kicked(
            ErrorCode::TooManyConnections,
            "too many new connections from your address; slow down",
        );
        return Err(encode_to_bytes(0, &kicked));
    }
    shared.connections_per_ip.try_acquire(ip).ok_or_else(|| {
        let kicked = Message::kicked(
            ErrorCode::TooManyConnections,
            "too many connections from your address",
        );
        encode_to_bytes(0, &kicked)
    })
}

/// Tells a refused connection why it is closed. The write cannot block: a
/// new socket's send buffer is empty.
fn refuse(stream: TcpStream, kicked: &[u8]) {
    let _ = stream.try_write(kicked);
    // Shut down our side; dropping the socket then closes it. Lingering to
    // read the client's bytes would tie up a descriptor per refused client,
    // exactly when descriptors are scarce.
    if let Ok(std) = stream.into_std() {
        let _ = std.shutdown(std::net::Shutdown::Write);
    }
}

/// Lowers `max_sessions` to what the open-file limit allows.
fn clamp_to_fd_limit(max_sessions: usize) -> usize {
    let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return max_sessions;
    };
    let allowed = usize::try_from(soft.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    if max_sessions > allowed {
        tracing::warn!(
            configured = max_sessions,
            allowed,
            "max_sessions lowered to fit the open-file limit"
        );
        return allowed;
    }
    max_sessions
}

/// Loads every room, creating the lobby (the room named "") on first run.
async fn load_rooms(store: &dyn Store) -> Result<(StoredRoom, Vec<StoredRoom>), StoreError> {
    let mut rooms = store.load_rooms().await?;
    let lobby = match rooms.iter().position(|room| room.name.is_empty()) {
        Some(pos) => rooms.swap_remove(pos),
        None => {
            store
                .create_room(NewRoom {
                    name: String::new(),
                    topic: String::new(),
                    invite_only: false,
                    owner: None,
                })
                .await?
        }
    };
    Ok((lobby, rooms))
}
