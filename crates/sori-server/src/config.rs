//! Server configuration: every tunable with its default, loadable from TOML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use sori_core::config::{DuplicateLogin, HashCost, RoomLimits};

use crate::ip_policy::IpPolicyConfig;
use crate::rate::LimitsConfig;

#[cfg(test)]
mod tests;

mod off;
use off::{interval, off_or_addr, parse_interval, parse_listen};

/// Everything the server can be told. `Config::default()` is what a bare
/// `sori-server` runs with; a TOML file and command-line flags override it.
///
/// One struct is the flags, the TOML keys and the defaults: serde reads the
/// file into it, and clap's `update_from_arg_matches` then overwrites only
/// the fields whose flags were given. So no flag here has a clap default
/// (`default_value` would count as "given" and reset the file's value): the
/// defaults live in `Default` alone, and each doc comment, which is also the
/// flag's help, states its default in `[default: ...]` (a unit test checks
/// that it is the real one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the TCP listener binds [default: 127.0.0.1:5252].
    // Bound by the binary: `run` takes a bound listener.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Server name sent to clients in Welcome [default: sori].
    #[arg(long, value_name = "NAME")]
    pub server_name: String,
    /// SQLite database file, created on first run, or a PostgreSQL URL
    /// (postgres://user:password@host/db?sslmode=require) [default: data/sori.db].
    #[arg(long, value_name = "FILE|URL")]
    pub database: PathBuf,
    /// Most concurrent sessions; lowered to fit the open-file limit [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_sessions: usize,
    /// Largest frame body accepted from a client, in bytes [default: 16384].
    ///
    /// Also bounds a WebSocket message, which carries one frame: at most
    /// this plus the 12-byte frame header.
    #[arg(long, value_name = "BYTES")]
    pub max_frame_len: u32,
    /// Longest chat or whisper text, in bytes of UTF-8 [default: 2000].
    #[arg(long, value_name = "BYTES")]
    pub max_text_len: usize,
    /// Outbound queue bound per session, in bytes; past it the session is
    /// cut off as a slow consumer [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub outbound_queue_bytes: usize,
    /// Longest a room message waits to share a write with others while
    /// the server is busy, e.g. "20ms"; "0s" writes every message at once
    /// [default: 20ms].
    ///
    /// While writer wake-ups stay within `write_wakes_per_sec`, messages go
    /// out in the next scheduler pass; past it, each recipient's messages
    /// gather (at most this long) and go out in one writev.
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub write_coalesce: Duration,
    /// Writer wake-ups per second for room messages that go out without
    /// waiting [default: 20000].
    ///
    /// The kernel's cost of a write is most of a delivery's, so fewer,
    /// larger writes under load save CPU. The default is tuned on a
    /// 2-core machine; one with more cores can spend more.
    #[arg(long, value_name = "N")]
    pub write_wakes_per_sec: f64,
    /// Close connections not logged in within this time [default: 10s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub login_timeout: Duration,
    /// Ping a client after this much silence from it [default: 10s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,
    /// Close a session after this much silence from its client [default: 30s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Park a logged-in session after this long with nothing read or
    /// written; "0s" never parks [default: 2s].
    ///
    /// A parked session keeps its state (about 300 bytes) and gives up its
    /// task and its socket's registration with the runtime (about 900
    /// bytes); anything for it or from it, or its heartbeat, wakes it.
    /// Plain TCP and WebSocket sessions park; TLS sessions do not.
    // `None` is off, written "0s" in the file too, as `status_interval`.
    #[serde(with = "interval")]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub park_idle: std::option::Option<Duration>,
    /// On shutdown, how long sessions may take to flush their queues [default: 5s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Interval of the status log line; "0s" turns it off [default: 1s].
    // `None` is off, written "0s" in the file too. The type is spelled out
    // in full so that clap parses the value whole ("0s" is `None`) instead
    // of reading `Option` as "the flag may be absent".
    #[serde(with = "interval")]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub status_interval: std::option::Option<Duration>,
    /// What a second login to a logged-in account does [default: replace].
    #[arg(long, value_name = "POLICY", value_enum)]
    pub duplicate_login: DuplicateLogin,
    /// How long a session token logs its account in again without the
    /// password, e.g. "12h"; "0s" turns tokens off [default: 30days].
    ///
    /// A password login gets a new token; a token login gets the same one
    /// back, its expiry unchanged. Logout, a ban, a password change and
    /// AdminRevokeTokens revoke them (docs/security.md).
    // `None` is off, written "0s" in the file too, as `status_interval`.
    #[serde(with = "interval")]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub session_token_ttl: std::option::Option<Duration>,
    /// Argon2id cost of password hashes.
    #[command(flatten, next_help_heading = "Password hashing")]
    pub password_hash: HashCost,
    /// Keep room history in the database (true/false) [default: true].
    ///
    /// Off: history and resume come from the in-memory tail only, and
    /// ChatAck means "fanned out".
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, help_heading = "Chat")]
    pub history: bool,
    /// Store whispers to offline users for their next login (true/false) [default: true].
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, help_heading = "Chat")]
    pub offline_whispers: bool,
    /// Most whispers stored for one offline user (MAILBOX_FULL past it) [default: 100].
    #[arg(long, value_name = "N", help_heading = "Chat")]
    pub max_offline_whispers: usize,
    /// Room limits and history sizes.
    #[command(flatten, next_help_heading = "Rooms")]
    pub rooms: RoomLimits,
    /// TLS on both listeners, TCP and WebSocket (wss); `None` (the default)
    /// serves both in the clear.
    // Its flags (`--tls-cert`, `--tls-key`) are the binary's: they come as a
    // pair, and clap's derive cannot update an optional flattened struct
    // without building it from flags that were not given.
    #[arg(skip)]
    pub tls: Option<TlsFiles>,
    /// A server admin's username; repeat for several [default: none].
    ///
    /// Case-insensitive. Admins may kick, ban and mute anyone.
    #[arg(long = "admin", value_name = "USERNAME", help_heading = "Chat")]
    pub admins: Vec<String>,
    /// Serve Prometheus metrics (GET /metrics) on this address [default: off].
    // No heading: `next_help_heading` of the flattened tables above carries on.
    #[arg(long, value_name = "ADDR", help_heading = None)]
    pub metrics_listen: Option<SocketAddr>,
    /// Address the WebSocket listener binds; "off" turns it off [default: 127.0.0.1:5280].
    // `None` is off, written "off" in the file too. Spelled out in full for
    // clap, as `status_interval` is.
    #[serde(with = "off_or_addr")]
    #[arg(long, value_name = "ADDR|off", value_parser = parse_listen, help_heading = "WebSocket")]
    pub ws_listen: std::option::Option<SocketAddr>,
    /// HTTP path of the WebSocket endpoint [default: /ws].
    #[arg(long, value_name = "PATH", help_heading = "WebSocket")]
    pub ws_path: String,
    /// WebSocket settings that live in the `[ws]` table.
    #[command(flatten)]
    pub ws: WsConfig,
    /// A proxy whose word on the client's address is believed, as a CIDR
    /// range (e.g. 10.0.0.5/32); repeat for several [default: none].
    ///
    /// Its `X-Forwarded-For` on a WebSocket upgrade, and its PROXY protocol
    /// header on TCP when `proxy_protocol` is on, name the client. Anyone
    /// else's `X-Forwarded-For` is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", help_heading = "Proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// TCP connections from a trusted proxy start with a PROXY protocol v2
    /// header (true/false) [default: false].
    ///
    /// When on, every TCP connection whose peer is in `trusted_proxies` must
    /// begin with a v2 header, and the client address is taken from it;
    /// connections from any other address must not send one (they are
    /// read as plain Sori frames).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, help_heading = "Proxies")]
    pub proxy_protocol: bool,
    /// Rate limits, per-IP limits, login throttling, the slowloris timeout.
    #[command(flatten, next_help_heading = "Rate limits")]
    pub limits: LimitsConfig,
    /// IP allow and deny lists and the country policy (file only).
    #[arg(skip)]
    pub ip_policy: IpPolicyConfig,
    /// Push UserJoined/UserLeft only while at most this many users are
    /// online [default: 1000].
    ///
    /// Past it, every login would cost a frame per user online (a login
    /// storm costs N² frames), and clients of a server that large use
    /// ListUsers instead.
    #[arg(long, value_name = "N", help_heading = "Chat")]
    pub presence_limit: usize,
    /// Several nodes as one chat over Redis (the `[cluster]` table).
    #[command(flatten, next_help_heading = "Cluster")]
    pub cluster: ClusterTable,
}

/// The `[cluster]` table: run this node as one of several over Redis (and a
/// shared PostgreSQL `database`). See docs/deploy.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterTable {
    /// Redis URL, e.g. redis://:password@10.0.0.7:6379/0, or rediss:// for
    /// TLS [default: none].
    ///
    /// Unset, the server is a single node. Set, the node numbers room messages, fans out, and keeps presence
    /// through this Redis; `database` must then be the PostgreSQL every
    /// node shares.
    #[arg(long = "redis", value_name = "URL")]
    pub redis: std::option::Option<String>,
    /// This node's name, unique in the cluster: letters, digits, '-', '_',
    /// '.' [default: none].
    ///
    /// Empty, the node is named after the host and the listen port
    /// (`myhost-5252`).
    #[arg(long, value_name = "NAME")]
    pub node_id: String,
    /// How long a node's users stay listed after it stops refreshing them
    /// (it died) [default: 30s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub presence_ttl: Duration,
    /// Messages each room's log keeps in Redis for filling gaps [default:
    /// 10000].
    #[arg(long, value_name = "N")]
    pub room_log_len: u64,
    /// How often every room's counter in Redis is compared with what this
    /// node delivered [default: 2s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub check_every: Duration,
}

impl Default for ClusterTable {
    fn default() -> Self {
        ClusterTable {
            redis: None,
            node_id: String::new(),
            presence_ttl: Duration::from_secs(30),
            room_log_len: 10_000,
            check_every: Duration::from_secs(2),
        }
    }
}

/// The `[ws]` table: WebSocket settings beyond the listener's address and
/// path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    /// An Origin besides the listener's own host allowed to open a
    /// WebSocket, e.g. "https://chat.example.com", or "*" for any; repeat for
    /// several [default: none].
    ///
    /// Browsers send the Origin of the page that opens the socket; an empty
    /// list accepts only an Origin whose host is the Host the request was
    /// sent to. Non-browser clients, which send no Origin, are accepted.
    #[arg(
        long = "ws-allowed-origin",
        value_name = "ORIGIN",
        help_heading = "WebSocket"
    )]
    pub allowed_origins: Vec<String>,
}

/// Why a [`Config`] cannot be used. [`Config::validate`] finds these at
/// startup, before anything is bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `ws_path` is not an absolute HTTP path.
    #[error("ws_path {0:?} must start with '/'")]
    WsPathNotAbsolute(String),
    /// `ws_listen` and `listen` would bind the same port.
    #[error("ws_listen {ws} and listen {tcp} are the same address")]
    WsListenIsListen {
        /// The TCP listener's address.
        tcp: SocketAddr,
        /// The WebSocket listener's address.
        ws: SocketAddr,
    },
    /// An entry of `ws.allowed_origins` is neither "*" nor an origin.
    #[error(
        "ws.allowed_origins entry {0:?} is not \"*\" or an origin like \"https://chat.example.com\" (scheme and host, no path)"
    )]
    BadOrigin(String),
    /// `cluster.redis` is set but `database` is not a PostgreSQL URL.
    #[error(
        "a cluster node needs the PostgreSQL all nodes share as its database (a postgres:// URL)"
    )]
    ClusterWithoutPostgres,
    /// `cluster.presence_ttl` under a second, or `cluster.check_every` or
    /// `cluster.room_log_len` 0.
    #[error(
        "cluster.presence_ttl must be at least 1s, and cluster.check_every and cluster.room_log_len more than 0"
    )]
    ClusterTimings,
    /// `write_wakes_per_sec` is not a number of at least 1.
    #[error("write_wakes_per_sec must be at least 1, not {0}")]
    WriteWakes(String),
    /// `proxy_protocol` is on, but no address could send a header.
    #[error("proxy_protocol is on but trusted_proxies is empty: no connection would send a header")]
    ProxyProtocolWithoutProxies,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5252)),
            server_name: "sori".to_owned(),
            database: PathBuf::from("data/sori.db"),
            max_sessions: 10_000,
            max_frame_len: sori_protocol::DEFAULT_MAX_BODY_LEN,
            max_text_len: 2_000,
            outbound_queue_bytes: 1024 * 1024,
            write_coalesce: Duration::from_millis(20),
            write_wakes_per_sec: 20_000.0,
            login_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            park_idle: Some(Duration::from_secs(2)),
            shutdown_grace: Duration::from_secs(5),
            status_interval: Some(Duration::from_secs(1)),
            duplicate_login: DuplicateLogin::Replace,
            session_token_ttl: Some(sori_core::config::DEFAULT_SESSION_TOKEN_TTL),
            password_hash: HashCost::default(),
            history: true,
            offline_whispers: true,
            max_offline_whispers: 100,
            rooms: RoomLimits::default(),
            tls: None,
            admins: Vec::new(),
            metrics_listen: None,
            ws_listen: Some(SocketAddr::from(([127, 0, 0, 1], 5280))),
            ws_path: "/ws".to_owned(),
            ws: WsConfig::default(),
            trusted_proxies: Vec::new(),
            proxy_protocol: false,
            presence_limit: 1_000,
            limits: LimitsConfig::default(),
            ip_policy: IpPolicyConfig::default(),
            cluster: ClusterTable::default(),
        }
    }
}

impl Config {
    /// Parses a TOML document; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks what no single field's type can: run it at startup, after the
    /// file and the flags, so a bad setting stops the server with a clear
    /// message instead of surfacing later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.ws_path.starts_with('/') {
            return Err(ConfigError::WsPathNotAbsolute(self.ws_path.clone()));
        }
        if let Some(ws) = self.ws_listen.filter(|&ws| same_port(ws, self.listen)) {
            return Err(ConfigError::WsListenIsListen {
                tcp: self.listen,
                ws,
            });
        }
        if let Some(origin) = self
            .ws
            .allowed_origins
            .iter()
            .find(|origin| !is_origin_pattern(origin))
        {
            return Err(ConfigError::BadOrigin(origin.clone()));
        }
        if !(self.write_wakes_per_sec.is_finite() && self.write_wakes_per_sec >= 1.0) {
            return Err(ConfigError::WriteWakes(
                self.write_wakes_per_sec.to_string(),
            ));
        }
        if self.proxy_protocol && self.trusted_proxies.is_empty() {
            return Err(ConfigError::ProxyProtocolWithoutProxies);
        }
        if self.cluster.redis.is_some() {
            let database = self.database.to_string_lossy();
            if !(database.starts_with("postgres://") || database.starts_with("postgresql://")) {
                return Err(ConfigError::ClusterWithoutPostgres);
            }
            if self.cluster.presence_ttl < Duration::from_secs(1)
                || self.cluster.check_every.is_zero()
                || self.cluster.room_log_len == 0
            {
                return Err(ConfigError::ClusterTimings);
            }
        }
        Ok(())
    }
}

/// Whether two listeners would fight over one port: the same port, not 0
/// (the system picks a free one for each), on the same address or where one
/// of them is the wildcard address.
fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// "*", or an origin as browsers send it: a scheme, "://" and a host (with
/// an optional port), and no path, not even a trailing '/'.
fn is_origin_pattern(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !host.is_empty()
        && !host.contains(['/', '?', '#', ' '])
}
