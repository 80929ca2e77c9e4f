//! Server configuration: every tunable with its default, loadable from TOML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ip_policy::IpPolicyConfig;
use crate::rate::LimitsConfig;

#[cfg(test)]
mod tests;

/// Everything the server can be told. `Config::default()` is what a bare
/// `sori-server` runs with; a TOML file and command-line flags override it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the TCP listener binds (used by the binary; `run` takes a bound listener).
    pub listen: SocketAddr,
    /// Name sent in Welcome.
    pub server_name: String,
    /// Tokio worker threads; `None` means one per core.
    pub worker_threads: Option<usize>,
    /// SQLite database file, created on first run.
    pub database: PathBuf,
    /// Most concurrent sessions. Clamped to what the process may open.
    pub max_sessions: usize,
    /// Largest frame body accepted from a client, in bytes.
    pub max_frame_len: u32,
    /// Longest chat or whisper text, in bytes of UTF-8.
    pub max_text_len: usize,
    /// Bound on a session's outbound queue, in bytes; past it the session is
    /// cut off as a slow consumer.
    pub outbound_queue_bytes: usize,
    /// How long room messages may wait to be written together: each
    /// recipient gets one writev per window instead of one per message.
    /// `0s` writes at once.
    #[serde(with = "humantime_serde")]
    pub write_coalesce: Duration,
    /// A connection that has not logged in by then is closed.
    #[serde(with = "humantime_serde")]
    pub login_timeout: Duration,
    /// After this much silence from a client the server sends it a Ping.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// After this much silence from a client the session is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long closing sessions get to flush their queues on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Interval of the status log line; `None` turns it off.
    #[serde(with = "humantime_serde")]
    pub status_interval: Option<Duration>,
    /// What a second login to an account that is already logged in does.
    pub duplicate_login: DuplicateLogin,
    /// Argon2id cost of password hashes.
    pub password_hash: HashCost,
    /// Keep room history in the database. Off: history and resume come
    /// from the in-memory tail only, and ChatAck means "fanned out".
    pub history: bool,
    /// Store whispers to offline users and deliver them at their next login.
    pub offline_whispers: bool,
    /// Most whispers stored for one offline user (MAILBOX_FULL past it).
    pub max_offline_whispers: usize,
    /// Room limits and history sizes.
    pub rooms: RoomLimits,
    /// TLS on the listener; `None` (the default) serves plain TCP.
    pub tls: Option<TlsFiles>,
    /// Usernames of server admins (case-insensitive): they may kick, ban
    /// and mute anyone.
    pub admins: Vec<String>,
    /// Where to serve Prometheus metrics (`GET /metrics`); off by default.
    pub metrics_listen: Option<SocketAddr>,
    /// Rate limits, per-IP limits, login throttling, the slowloris timeout.
    pub limits: LimitsConfig,
    /// IP allow and deny lists and the country policy.
    pub ip_policy: IpPolicyConfig,
    /// UserJoined/UserLeft are pushed to everyone only while at most this
    /// many users are online: past it, every login would cost a frame per
    /// user online (a login storm costs N² frames), and clients of a server
    /// that large use ListUsers instead.
    pub presence_limit: usize,
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

/// Room limits and history sizes. Each limit is refused with its own code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomLimits {
    /// Rooms on the server, the lobby included (TOO_MANY_ROOMS).
    pub max_rooms: usize,
    /// Members of one room (ROOM_FULL).
    pub max_members: usize,
    /// Rooms one user may be a member of, the lobby not counted
    /// (TOO_MANY_MEMBERSHIPS).
    pub max_rooms_per_user: usize,
    /// Longest room name, in characters (INVALID_ROOM_NAME).
    pub max_name_chars: usize,
    /// Longest topic, in characters (INVALID_TOPIC).
    pub max_topic_chars: usize,
    /// Messages sent on join and per History page when the client asks for 0.
    pub history_default: u32,
    /// Most messages sent on join or per History page.
    pub history_max: u32,
    /// Most missed messages a resume sends; past it the client is told to
    /// reload instead.
    pub resume_max: u32,
    /// Most bytes of messages in one RoomJoined or HistoryPage: a page is
    /// cut to its newest messages that fit (has_more tells), and a resume
    /// that does not fit is told to reload. Keeps every answer well inside
    /// the outbound queue bound.
    pub history_max_bytes: usize,
    /// Newest messages each room keeps in memory (besides those not yet on
    /// disk), so joins and resumes never miss what the database has not
    /// committed yet.
    pub tail_len: usize,
}

/// Policy for a login to an account that already has a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicateLogin {
    /// The newer login wins; the older session is told why and closed.
    Replace,
    /// The newer login is refused with ALREADY_LOGGED_IN.
    Reject,
}

/// Argon2id parameters, and how many hashes may run at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashCost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes per hash.
    pub parallelism: u32,
    /// Hashes computed at once (on blocking threads, never the I/O threads).
    /// Kept below the core count so a login storm leaves cores for chat.
    pub max_concurrent: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5252)),
            server_name: "sori".to_owned(),
            worker_threads: None,
            database: PathBuf::from("data/sori.db"),
            max_sessions: 10_000,
            max_frame_len: sori_protocol::DEFAULT_MAX_BODY_LEN,
            max_text_len: 2_000,
            outbound_queue_bytes: 1024 * 1024,
            write_coalesce: Duration::from_millis(2),
            login_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            status_interval: Some(Duration::from_secs(1)),
            duplicate_login: DuplicateLogin::Replace,
            password_hash: HashCost::default(),
            history: true,
            offline_whispers: true,
            max_offline_whispers: 100,
            rooms: RoomLimits::default(),
            tls: None,
            admins: Vec::new(),
            metrics_listen: None,
            presence_limit: 1_000,
            limits: LimitsConfig::default(),
            ip_policy: IpPolicyConfig::default(),
        }
    }
}

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            max_rooms: 10_000,
            max_members: 10_000,
            max_rooms_per_user: 100,
            max_name_chars: 32,
            max_topic_chars: 256,
            history_default: 50,
            history_max: 500,
            resume_max: 1_000,
            history_max_bytes: 256 * 1024,
            tail_len: 256,
        }
    }
}

impl Default for HashCost {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: (cores / 2).max(1),
        }
    }
}

impl Config {
    /// Parses a TOML document; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }
}
