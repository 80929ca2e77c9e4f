//! The `sori-server` binary: parse flags and config, set up logging, bind,
//! open the database, then hand over to `sori_server::Server::run`.

// Idle sessions are a few small long-lived allocations each (the session's
// task, its peer, its hub entries); glibc's malloc fragments around them
// and jemalloc does not: 2.58 against 2.05 KiB of RSS per idle session at
// 19,000 sessions, at the same CPU per delivery (docs/BENCHMARKS.md).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sori_server::config::{Config, DuplicateLogin, TlsFiles};
use sori_store::SqliteStore;

/// Sori: a high-performance chat server for games and apps.
///
/// Settings come from the defaults, then the TOML file given with --config,
/// then these flags (each flag overrides the file).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration file (keys as in the README's config reference).
    #[arg(long, short = 'c', env = "SORI_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5252].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Server name sent to clients in Welcome [default: sori].
    #[arg(long)]
    server_name: Option<String>,
    /// Tokio worker threads [default: one per core].
    #[arg(long)]
    worker_threads: Option<usize>,
    /// SQLite database file, created on first run [default: data/sori.db].
    #[arg(long)]
    database: Option<PathBuf>,
    /// Most concurrent sessions; lowered to fit the open-file limit [default: 10000].
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Largest frame body accepted, in bytes [default: 16384].
    #[arg(long)]
    max_frame_len: Option<u32>,
    /// Longest chat or whisper text, in bytes [default: 2000].
    #[arg(long)]
    max_text_len: Option<usize>,
    /// Outbound queue bound per session, in bytes; past it the client is cut off
    /// as a slow consumer [default: 1048576].
    #[arg(long)]
    outbound_queue_bytes: Option<usize>,
    /// How long room messages may wait to be written together, e.g. "2ms"; "0s" writes at once [default: 2ms].
    #[arg(long, value_parser = humantime::parse_duration)]
    write_coalesce: Option<Duration>,
    /// Close connections not logged in within this time, e.g. "10s" [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    login_timeout: Option<Duration>,
    /// Ping a client after this much silence [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    heartbeat_interval: Option<Duration>,
    /// Close a session after this much silence [default: 30s].
    #[arg(long, value_parser = humantime::parse_duration)]
    idle_timeout: Option<Duration>,
    /// On shutdown, how long sessions may take to flush [default: 5s].
    #[arg(long, value_parser = humantime::parse_duration)]
    shutdown_grace: Option<Duration>,
    /// Status line interval, e.g. "1s"; "0s" turns it off [default: 1s].
    #[arg(long, value_parser = humantime::parse_duration)]
    status_interval: Option<Duration>,
    /// What a second login to a logged-in account does [default: replace].
    #[arg(long, value_enum)]
    duplicate_login: Option<DuplicateLogin>,
    /// Argon2id memory per password hash, in KiB [default: 19456].
    #[arg(long)]
    hash_memory_kib: Option<u32>,
    /// Argon2id passes [default: 2].
    #[arg(long)]
    hash_iterations: Option<u32>,
    /// Argon2id lanes [default: 1].
    #[arg(long)]
    hash_parallelism: Option<u32>,
    /// Password hashes computed at once [default: half the cores, at least 1].
    #[arg(long)]
    hash_max_concurrent: Option<usize>,
    /// Keep room history in the database (true/false) [default: true].
    #[arg(long)]
    history: Option<bool>,
    /// Store whispers to offline users for their next login (true/false) [default: true].
    #[arg(long)]
    offline_whispers: Option<bool>,
    /// Most whispers stored for one offline user [default: 100].
    #[arg(long)]
    max_offline_whispers: Option<usize>,
    /// Most bytes of messages in one history answer [default: 262144].
    #[arg(long)]
    history_max_bytes: Option<usize>,
    /// TLS certificate chain (PEM); with --tls-key, the listener speaks TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics (GET /metrics) on this address [default: off].
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Push UserJoined/UserLeft only while at most this many users are online [default: 1000].
    #[arg(long)]
    presence_limit: Option<usize>,
    /// Frames a session may send per second, sustained [default: 20].
    #[arg(long)]
    messages_per_sec: Option<f32>,
    /// Frames a session may send at once after a pause [default: 40].
    #[arg(long)]
    messages_burst: Option<f32>,
    /// Bytes a session may send per second, sustained [default: 65536].
    #[arg(long)]
    bytes_per_sec: Option<f32>,
    /// Bytes a session may send at once after a pause [default: 262144].
    #[arg(long)]
    bytes_burst: Option<f32>,
    /// Open connections from one address (IPv6: per /64) [default: 64].
    #[arg(long)]
    max_connections_per_ip: Option<u32>,
    /// New connections one address may open per second [default: 20].
    #[arg(long)]
    new_connections_per_ip_per_sec: Option<f32>,
    /// New connections one address may open at once [default: 40].
    #[arg(long)]
    new_connections_per_ip_burst: Option<f32>,
    /// Close a client that leaves a frame unfinished this long (slowloris) [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    partial_frame_timeout: Option<Duration>,
    /// A server admin's username; repeat for several [default: none].
    #[arg(long = "admin", value_name = "USERNAME")]
    admins: Vec<String>,
    /// Rooms on the server, the lobby included [default: 10000].
    #[arg(long)]
    max_rooms: Option<usize>,
    /// Members of one room [default: 10000].
    #[arg(long)]
    max_room_members: Option<usize>,
    /// Rooms one user may be a member of, the lobby not counted [default: 100].
    #[arg(long)]
    max_rooms_per_user: Option<usize>,
    /// Longest room name, in characters [default: 32].
    #[arg(long)]
    max_room_name_chars: Option<usize>,
    /// Longest room topic, in characters [default: 256].
    #[arg(long)]
    max_topic_chars: Option<usize>,
    /// Messages sent on join and per history page when the client asks for 0 [default: 50].
    #[arg(long)]
    history_default: Option<u32>,
    /// Most messages sent on join or per history page [default: 500].
    #[arg(long)]
    history_max: Option<u32>,
    /// Most missed messages a resume sends before telling the client to reload [default: 1000].
    #[arg(long)]
    resume_max: Option<u32>,
    /// Newest messages each room keeps in memory beyond those not yet on disk [default: 256].
    #[arg(long)]
    room_tail_len: Option<usize>,
}

impl Args {
    /// Builds the configuration: defaults, then the file, then the flags.
    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                Config::from_toml(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => Config::default(),
        };
        let hash = &mut config.password_hash;
        set(&mut hash.memory_kib, self.hash_memory_kib);
        set(&mut hash.iterations, self.hash_iterations);
        set(&mut hash.parallelism, self.hash_parallelism);
        set(&mut hash.max_concurrent, self.hash_max_concurrent);
        set(&mut config.listen, self.listen);
        set(&mut config.server_name, self.server_name);
        if self.worker_threads.is_some() {
            config.worker_threads = self.worker_threads;
        }
        set(&mut config.database, self.database);
        set(&mut config.max_sessions, self.max_sessions);
        set(&mut config.max_frame_len, self.max_frame_len);
        set(&mut config.max_text_len, self.max_text_len);
        set(&mut config.outbound_queue_bytes, self.outbound_queue_bytes);
        set(&mut config.write_coalesce, self.write_coalesce);
        set(&mut config.login_timeout, self.login_timeout);
        set(&mut config.heartbeat_interval, self.heartbeat_interval);
        set(&mut config.idle_timeout, self.idle_timeout);
        set(&mut config.shutdown_grace, self.shutdown_grace);
        if let Some(interval) = self.status_interval {
            config.status_interval = (!interval.is_zero()).then_some(interval);
        }
        set(&mut config.duplicate_login, self.duplicate_login);
        set(&mut config.history, self.history);
        set(&mut config.offline_whispers, self.offline_whispers);
        set(&mut config.presence_limit, self.presence_limit);
        let limits = &mut config.limits;
        set(&mut limits.messages_per_sec, self.messages_per_sec);
        set(&mut limits.messages_burst, self.messages_burst);
        set(&mut limits.bytes_per_sec, self.bytes_per_sec);
        set(&mut limits.bytes_burst, self.bytes_burst);
        set(
            &mut limits.max_connections_per_ip,
            self.max_connections_per_ip,
        );
        set(
            &mut limits.new_connections_per_ip_per_sec,
            self.new_connections_per_ip_per_sec,
        );
        set(
            &mut limits.new_connections_per_ip_burst,
            self.new_connections_per_ip_burst,
        );
        set(
            &mut limits.partial_frame_timeout,
            self.partial_frame_timeout,
        );
        if self.metrics_listen.is_some() {
            config.metrics_listen = self.metrics_listen;
        }
        if !self.admins.is_empty() {
            config.admins = self.admins;
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            config.tls = Some(TlsFiles { cert, key });
        }
        set(&mut config.max_offline_whispers, self.max_offline_whispers);
        let rooms = &mut config.rooms;
        set(&mut rooms.max_rooms, self.max_rooms);
        set(&mut rooms.max_members, self.max_room_members);
        set(&mut rooms.max_rooms_per_user, self.max_rooms_per_user);
        set(&mut rooms.max_name_chars, self.max_room_name_chars);
        set(&mut rooms.max_topic_chars, self.max_topic_chars);
        set(&mut rooms.history_default, self.history_default);
        set(&mut rooms.history_max, self.history_max);
        set(&mut rooms.resume_max, self.resume_max);
        set(&mut rooms.history_max_bytes, self.history_max_bytes);
        set(&mut rooms.tail_len, self.room_tail_len);
        Ok(config)
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn main() -> anyhow::Result<()> {
    let config = Args::parse().into_config()?;
    // Logs go to stderr, so stdout stays free for whoever runs the server.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Memory freed after a burst (a login storm's read buffers, a grown
    // table's old copy) goes back to the system even while the server then
    // sits idle: without a background thread, jemalloc only purges when
    // something allocates.
    #[cfg(feature = "jemalloc")]
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(%err, "could not start jemalloc's background purging");
    }
    // Sessions are sockets: take every file descriptor the hard limit allows.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "could not raise the open-file limit");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = config.worker_threads {
        runtime.worker_threads(n);
    }
    runtime
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = SqliteStore::open(&config.database)
        .await
        .with_context(|| format!("opening database {}", config.database.display()))?;
    let listener =
        sori_server::bind(config.listen).with_context(|| format!("binding {}", config.listen))?;
    sori_server::run(listener, config, Arc::new(store), shutdown_signal()).await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        // Invariant: installing a signal handler only fails outside a runtime.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
