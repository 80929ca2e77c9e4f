//! The `sori-server` binary: parse flags and config, set up logging, bind,
//! open the database, then hand over to `sori_server::Server::run`.

#[cfg(feature = "jemalloc")]
#[path = "main/alloc.rs"]
mod alloc;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _};
use serde::Deserialize as _;
use sori_server::config::{Config, TlsFiles};
use sori_store::SqliteStore;

#[cfg(test)]
#[path = "main/tests.rs"]
mod tests;

/// Sori: a high-performance chat server for games and apps.
///
/// Settings come from the defaults, then the TOML file given with --config,
/// then these flags (each flag overrides the file; a flag not given leaves
/// the file's value).
// The library's `Config` is flattened in, so its flags, TOML keys and
// defaults have one definition; this adds what only the binary reads.
#[derive(Debug, Default, clap::Parser)]
#[command(version)]
struct Cli {
    /// TOML configuration file (keys as in the README's config reference).
    #[arg(long = "config", short = 'c', env = "SORI_CONFIG", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Tokio worker threads [default: one per core].
    // Also read from the file (`worker_threads`): the runtime is the
    // binary's, so the library's `Config` does not carry it.
    #[arg(long, value_name = "N")]
    worker_threads: Option<usize>,
    /// TLS certificate chain (PEM); with --tls-key, both listeners (TCP and
    /// WebSocket) speak TLS [default: off].
    // Here rather than in `Config`: clap's derive cannot update an optional
    // flattened struct (`Config::tls`) from flags that were not given.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert [default: off].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    config: Config,
}

impl Cli {
    /// Builds the settings: defaults, then the file, then the flags. The
    /// arguments are parsed once, with the "update" form of the command, in
    /// which no flag is required and none has a default, so an absent flag
    /// leaves the file's value alone. (`Cli::parse` would use the other
    /// form, where every field of `Config` is a required flag.)
    ///
    /// A bad flag, `--help` and `--version` come back as a `clap::Error`
    /// inside the `anyhow::Error`, for the caller to `exit` with.
    fn load<I, T>(args: I) -> anyhow::Result<Cli>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command_for_update().try_get_matches_from(args)?;
        let mut cli = match matches.get_one::<PathBuf>("config_file") {
            Some(path) => Cli::from_file(path)?,
            None => Cli::default(),
        };
        cli.update_from_arg_matches(&matches)?;
        if let (Some(cert), Some(key)) = (cli.tls_cert.take(), cli.tls_key.take()) {
            cli.config.tls = Some(TlsFiles { cert, key });
        }
        Ok(cli)
    }

    /// Reads a TOML file: `worker_threads` is the binary's, and the rest is
    /// the library's `Config`, whose unknown keys are errors.
    fn from_file(path: &Path) -> anyhow::Result<Cli> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let parse = || -> anyhow::Result<Cli> {
            let mut table: toml::Table = toml::from_str(&text)?;
            let worker_threads = table
                .remove("worker_threads")
                .map(usize::deserialize)
                .transpose()
                .context("worker_threads")?;
            Ok(Cli {
                worker_threads,
                config: Config::deserialize(toml::Value::Table(table))?,
                ..Cli::default()
            })
        };
        parse().with_context(|| format!("parsing config file {}", path.display()))
    }
}

fn main() -> anyhow::Result<()> {
    let cli = match Cli::load(std::env::args_os()) {
        Ok(cli) => cli,
        // clap prints its own errors, help and version, with its exit codes.
        Err(err) => match err.downcast::<clap::Error>() {
            Ok(err) => err.exit(),
            Err(err) => return Err(err),
        },
    };
    let config = cli.config;
    config.validate().context("invalid configuration")?;
    // Logs go to stderr, so stdout stays free for whoever runs the server.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    #[cfg(feature = "jemalloc")]
    alloc::check_background_thread();
    // Sessions are sockets: take every file descriptor the hard limit allows.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "could not raise the open-file limit");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = cli.worker_threads {
        runtime.worker_threads(n);
    }
    #[cfg(feature = "jemalloc")]
    runtime.on_thread_park(alloc::flush_idle_thread_cache);
    runtime
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config.database).await?;
    let mut listeners = vec![sori_server::Listener::Tcp(
        sori_server::bind(config.listen).with_context(|| format!("binding {}", config.listen))?,
    )];
    if let Some(addr) = config.ws_listen {
        let ws = sori_server::bind(addr).with_context(|| format!("binding ws_listen {addr}"))?;
        listeners.push(sori_server::Listener::WebSocket(ws));
    }
    let mut server = sori_server::Server::new(config.clone(), store);
    if let Some(redis) = &config.cluster.redis {
        let bus = connect_cluster(&config, redis).await?;
        server = server.with_cluster(Arc::new(bus));
    }
    server.run(listeners, shutdown_signal()).await?;
    Ok(())
}

/// Joins the cluster on the Redis at `redis`.
async fn connect_cluster(config: &Config, redis: &str) -> anyhow::Result<sori_bus::RedisBus> {
    let table = &config.cluster;
    let node_id = if table.node_id.is_empty() {
        let host = hostname().unwrap_or_else(|| "sori".to_owned());
        format!("{host}-{}", config.listen.port())
    } else {
        table.node_id.clone()
    };
    let mut cluster = sori_bus::ClusterConfig::new(redis, node_id);
    cluster.presence_ttl = table.presence_ttl;
    cluster.log_len = table.room_log_len;
    cluster.check_every = table.check_every;
    let bus = sori_bus::RedisBus::connect(cluster)
        .await
        .context("joining the cluster (the [cluster] redis URL)")?;
    tracing::info!(node = bus.node_id(), "cluster node");
    Ok(bus)
}

/// This machine's host name, as a node id can carry it.
fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The store `database` names: a `postgres://` (or `postgresql://`) URL
/// is PostgreSQL, with its password and TLS settings in the URL; anything
/// else is a SQLite file, created with its folder on first run.
async fn open_store(database: &std::path::Path) -> anyhow::Result<Arc<dyn sori_store::Store>> {
    let text = database.to_string_lossy();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = sori_store::PgStore::connect(&text)
                .await
                .context("connecting to PostgreSQL (the database URL)")?;
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        anyhow::bail!("this sori-server was built without the postgres feature");
    }
    let store = SqliteStore::open(database)
        .await
        .with_context(|| format!("opening database {}", database.display()))?;
    Ok(Arc::new(store))
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
