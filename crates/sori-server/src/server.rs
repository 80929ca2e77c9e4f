//! The accept loop, the session limit, and graceful shutdown.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sori_bus::RedisBus;
use sori_core::bus::{Bus, LocalBus};
use sori_core::config::Settings;
use sori_core::metrics::Metrics;
use sori_core::{Core, OpenError};
use sori_protocol::pb::ErrorCode;
use sori_protocol::{Message, encode_to_bytes};
use sori_store::{Store, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::connections::{ConnectionCounter, ConnectionGuard};
use crate::flush::{Coalescer, Pacing};
use crate::handler;
use crate::handshake;
use crate::ip_policy::{IpPolicy, RefusalLog};
use crate::lot::Lot;
use crate::metrics;
use crate::rate::{KeyedLimiter, LoginThrottle};
use crate::shared::{Kind, Place, Shared, admit};
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

/// A bound socket and the protocol it speaks.
pub enum Listener {
    /// Sori's binary frames over TCP (or TLS).
    Tcp(TcpListener),
    /// The same frames, one per binary WebSocket message, at `ws_path`.
    WebSocket(TcpListener),
}

/// The listeners one server serves: they share one session limit, one set
/// of IP and rate policies, and one shutdown.
pub struct Listeners(pub Vec<Listener>);

impl From<TcpListener> for Listeners {
    fn from(listener: TcpListener) -> Self {
        Listeners(vec![Listener::Tcp(listener)])
    }
}

impl From<Vec<Listener>> for Listeners {
    fn from(listeners: Vec<Listener>) -> Self {
        Listeners(listeners)
    }
}

/// A configured server, ready to run on its listeners.
pub struct Server {
    config: Config,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    /// The cluster's bus, when this is a node of one: started once the
    /// chat is loaded, stopped after the last session.
    cluster: Option<Arc<RedisBus>>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// A server with this configuration and store, on the in-process bus.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Server {
            config,
            store,
            bus: Arc::new(LocalBus),
            cluster: None,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// The same server on another bus.
    pub fn with_bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = bus;
        self
    }

    /// The same server as one node of a cluster over Redis.
    pub fn with_cluster(mut self, bus: Arc<RedisBus>) -> Self {
        self.bus = bus.clone();
        self.cluster = Some(bus);
        self
    }

    /// The server's live counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves `listeners` until `shutdown` completes, then stops accepting,
    /// tells every client, lets their queues drain for at most
    /// `shutdown_grace`, and returns.
    pub async fn run(
        self,
        listeners: impl Into<Listeners>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RunError> {
        let Listeners(listeners) = listeners.into();
        let mut config = self.config;
        config
            .validate()
            .map_err(|err| RunError::Config(err.to_string()))?;
        config.max_sessions = clamp_to_fd_limit(config.max_sessions);
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
        let core = Core::open(
            chat_settings(&config),
            self.store,
            self.bus,
            self.metrics.clone(),
        )
        .await
        .map_err(|err| match err {
            OpenError::Settings(msg) => RunError::Config(msg),
            OpenError::Store(err) => RunError::Store(err),
        })?;
        let core = Arc::new(core);
        if let Some(cluster) = &self.cluster {
            cluster.start(Arc::downgrade(&core)).await;
        }
        let lot = match config.park_idle.filter(|idle| !idle.is_zero()) {
            None => None,
            Some(_) => match Lot::start() {
                Ok(lot) => Some(lot),
                Err(err) => {
                    // Parking saves memory; a server without it still serves.
                    tracing::warn!(%err, "no parking lot: idle sessions keep their tasks");
                    None
                }
            },
        };
        let shared = Arc::new(Shared {
            lot,
            core,
            metrics: self.metrics,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            tls,
            sessions: Arc::new(Semaphore::new(config.max_sessions)),
            coalescer: Arc::new(Coalescer::new(Pacing {
                max_delay: config.write_coalesce,
                wakes_per_sec: config.write_wakes_per_sec,
            })),
            ip_policy,
            refusal_log: RefusalLog::default(),
            connections_per_ip,
            new_connections,
            login_throttle,
            config,
        });
        if shared.core.bus.numbers_remotely() {
            crate::cluster_limits::start(&shared);
        }
        if let Some(addr) = shared.config.metrics_listen {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .map_err(|err| RunError::Config(format!("binding metrics_listen {addr}: {err}")))?;
            tracing::info!(%addr, "metrics at http://{addr}/metrics");
            let ready: metrics::Readiness = {
                let shared = shared.clone();
                Arc::new(move || {
                    if shared.shutdown.is_cancelled() {
                        return Err("shutting down".to_owned());
                    }
                    shared.core.bus.ready()
                })
            };
            tokio::spawn(metrics::serve(
                metrics_listener,
                shared.metrics.clone(),
                ready,
                shared.shutdown.clone(),
            ));
        }
        // The flusher outlives the sessions: their last frames may still
        // be waiting for a window while they drain.
        let flusher_stop = CancellationToken::new();
        if !shared.config.write_coalesce.is_zero() {
            // Writes are paced: rooms gather their messages for the pass.
            shared
                .core
                .gather_room_messages(shared.coalescer.clone() as Arc<dyn sori_core::room::Pacer>);
        }
        let flusher = {
            let coalescer = shared.coalescer.clone();
            let core = shared.core.clone();
            let stop = flusher_stop.clone();
            tokio::spawn(async move { coalescer.run(stop, || core.flush_gathered()).await })
        };
        if let Some(interval) = shared.config.status_interval.filter(|d| !d.is_zero()) {
            tokio::spawn(metrics::report(
                shared.metrics.clone(),
                interval,
                shared.shutdown.clone(),
            ));
        }
        let mut accepting = tokio::task::JoinSet::new();
        for listener in listeners {
            let (listener, kind) = match listener {
                Listener::Tcp(l) => (l, Kind::Tcp),
                Listener::WebSocket(l) => (l, Kind::WebSocket),
            };
            tracing::info!(
                addr = ?listener.local_addr().ok(),
                ?kind,
                max_sessions = shared.config.max_sessions,
                "sori-server listening"
            );
            let shared = shared.clone();
            accepting.spawn(async move { accept_loop(&shared, &listener, kind).await });
        }

        shutdown.await;
        // Stop accepting: the listeners close as their loops end.
        accepting.shutdown().await;
        tracing::info!(sessions = shared.core.hub.n_sessions(), "shutting down");
        shared.shutdown.cancel();
        // Every session is told and closed through its queue; one that
        // connects after this look sees the cancellation itself.
        let bye = handler::shutting_down();
        for peer in shared.core.hub.peers() {
            peer.close(Some(&bye));
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
        if let Some(lot) = &shared.lot {
            // Sessions still parked after the grace are dropped with it.
            lot.stop();
        }
        flusher_stop.cancel();
        let _ = flusher.await;
        // Every session has ended: write what is left of the history.
        shared.core.close(grace).await;
        if let Some(cluster) = &self.cluster {
            cluster.stop().await;
        }
        tracing::info!("shut down");
        Ok(())
    }
}

/// What the core is told of the configuration.
fn chat_settings(config: &Config) -> Settings {
    Settings {
        max_text_len: config.max_text_len,
        history: config.history,
        offline_whispers: config.offline_whispers,
        max_offline_whispers: config.max_offline_whispers,
        rooms: config.rooms.clone(),
        duplicate_login: config.duplicate_login,
        password_hash: config.password_hash.clone(),
        presence_limit: config.presence_limit,
        admins: config.admins.clone(),
        session_token_ttl: config.session_token_ttl,
    }
}

/// Runs `Server::new(config, store).run(listener, shutdown)`.
pub async fn run(
    listeners: impl Into<Listeners>,
    config: Config,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    Server::new(config, store).run(listeners, shutdown).await
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

async fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, kind: Kind) {
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
        // The login timeout counts from here, for every transport: a TLS
        // or WebSocket handshake is part of it.
        let accepted_at = tokio::time::Instant::now();
        shared.metrics.accepts.inc();
        let ip = match stream.peer_addr() {
            Ok(addr) => addr.ip(),
            // The peer is already gone.
            Err(_) => continue,
        };
        let from_proxy = shared
            .config
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&ip));
        if from_proxy && kind == Kind::Tcp && shared.config.proxy_protocol {
            // The client's address comes first, in a PROXY v2 header; read
            // it in a task of its own so the accept loop never waits.
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let deadline = accepted_at + shared.config.login_timeout;
                let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
                match crate::proxy_protocol::read_v2(&mut stream, timeout).await {
                    Ok(addr) => {
                        let ip = addr.map_or(ip, |addr| addr.ip());
                        admit_and_spawn(&shared, stream, kind, ip, accepted_at);
                    }
                    Err(err) => tracing::debug!(%ip, %err, "bad PROXY protocol header"),
                }
            });
            continue;
        }
        if from_proxy && kind == Kind::WebSocket {
            // The client's address comes with the upgrade request; it is
            // admitted then (upgrade.rs), not the proxy's.
            start_session(shared, stream, kind, ip, None, accepted_at);
            continue;
        }
        admit_and_spawn(shared, stream, kind, ip, accepted_at);
    }
}

/// Admits a connection from `ip` (bans, policies, limits, the session
/// limit) and starts its session, or tells it why not.
fn admit_and_spawn(
    shared: &Arc<Shared>,
    stream: TcpStream,
    kind: Kind,
    ip: IpAddr,
    accepted_at: tokio::time::Instant,
) {
    let per_ip = match admit(shared, ip) {
        Ok(guard) => guard,
        Err(kicked) => {
            shared.metrics.refused_ip.inc();
            refuse(stream, kind, &kicked);
            return;
        }
    };
    start_session(shared, stream, kind, ip, Some(per_ip), accepted_at);
}

/// Starts a session under the session limit, or tells the client the
/// server is full.
fn start_session(
    shared: &Arc<Shared>,
    stream: TcpStream,
    kind: Kind,
    ip: IpAddr,
    per_ip: Option<ConnectionGuard>,
    accepted_at: tokio::time::Instant,
) {
    match shared.sessions.clone().try_acquire_owned() {
        Ok(permit) => {
            let place = Place {
                _permit: permit,
                per_ip,
            };
            handshake::spawn(shared, stream, kind, ip, place, accepted_at);
        }
        Err(_) => {
            shared.metrics.refused_full.inc();
            let kicked =
                Message::kicked(ErrorCode::ServerFull, "the server is full; try again later");
            refuse(stream, kind, &kicked);
        }
    }
}

/// Tells a refused connection why it is closed: a Kicked frame on the TCP
/// listener; on the WebSocket listener, whose clients (browsers among
/// them) speak HTTP first, an HTTP error with the Kicked's text (403 for a
/// ban or the IP policy, 429 for too many connections, 503 for a full
/// server). The write cannot block: a new socket's send buffer is empty.
fn refuse(stream: TcpStream, kind: Kind, kicked: &Message) {
    let bytes = match (kind, kicked) {
        (Kind::WebSocket, Message::Kicked(k)) => {
            let status = match ErrorCode::try_from(k.code) {
                Ok(ErrorCode::TooManyConnections) => 429,
                Ok(ErrorCode::ServerFull) => 503,
                _ => 403,
            };
            sori_ws::reject_response(status, &k.message)
        }
        _ => encode_to_bytes(0, kicked),
    };
    let _ = stream.try_write(&bytes);
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
