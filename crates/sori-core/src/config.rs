//! The chat's settings: room limits, password hashing, login policy,
//! session tokens, and what the core needs of the server's configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the chat core is told by the server's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Longest chat or whisper text, in bytes of UTF-8.
    pub max_text_len: usize,
    /// Keep room history in the database.
    pub history: bool,
    /// Store whispers to offline users.
    pub offline_whispers: bool,
    /// Most whispers stored for one offline user.
    pub max_offline_whispers: usize,
    /// Room limits and history sizes.
    pub rooms: RoomLimits,
    /// What a second login to a logged-in account does.
    pub duplicate_login: DuplicateLogin,
    /// Argon2id cost of password hashes.
    pub password_hash: HashCost,
    /// Presence notices go out only while at most this many are online.
    pub presence_limit: usize,
    /// Usernames of server admins (case-insensitive).
    pub admins: Vec<String>,
    /// How long a session token logs its account in again without the
    /// password; `None` turns tokens off (LoginOk carries none, and Login
    /// by token is refused).
    pub session_token_ttl: Option<Duration>,
}

/// The default [`Settings::session_token_ttl`]: 30 days.
pub const DEFAULT_SESSION_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_text_len: 2_000,
            history: true,
            offline_whispers: true,
            max_offline_whispers: 100,
            rooms: RoomLimits::default(),
            duplicate_login: DuplicateLogin::Replace,
            password_hash: HashCost::default(),
            presence_limit: 1_000,
            admins: Vec::new(),
            session_token_ttl: Some(DEFAULT_SESSION_TOKEN_TTL),
        }
    }
}

/// Room limits and history sizes. Each limit is refused with its own code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct RoomLimits {
    /// Rooms on the server, the lobby included (TOO_MANY_ROOMS) [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_rooms: usize,
    /// Members of one room (ROOM_FULL) [default: 10000].
    #[arg(long = "max-room-members", value_name = "N")]
    pub max_members: usize,
    /// Rooms one user may be a member of, the lobby not counted
    /// (TOO_MANY_MEMBERSHIPS) [default: 100].
    #[arg(long, value_name = "N")]
    pub max_rooms_per_user: usize,
    /// Longest room name, in characters (INVALID_ROOM_NAME) [default: 32].
    #[arg(long = "max-room-name-chars", value_name = "N")]
    pub max_name_chars: usize,
    /// Longest topic, in characters (INVALID_TOPIC) [default: 256].
    #[arg(long, value_name = "N")]
    pub max_topic_chars: usize,
    /// Messages sent on join and per history page when the client asks for
    /// 0 [default: 50].
    #[arg(long, value_name = "N")]
    pub history_default: u32,
    /// Most messages sent on join or per history page [default: 500].
    #[arg(long, value_name = "N")]
    pub history_max: u32,
    /// Most missed messages a resume sends before telling the client to
    /// reload [default: 1000].
    #[arg(long, value_name = "N")]
    pub resume_max: u32,
    /// Most bytes of messages in one history answer [default: 262144].
    ///
    /// A RoomJoined or HistoryPage is cut to its newest messages that fit
    /// (has_more tells), and a resume that does not fit is told to reload.
    /// Keeps every answer well inside the outbound queue bound.
    #[arg(long, value_name = "BYTES")]
    pub history_max_bytes: usize,
    /// Newest messages each room keeps in memory beyond those not yet on
    /// disk [default: 256].
    ///
    /// So joins and resumes never miss what the database has not committed
    /// yet.
    #[arg(long = "room-tail-len", value_name = "N")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct HashCost {
    /// Argon2id memory per password hash, in KiB [default: 19456].
    #[arg(long = "hash-memory-kib", value_name = "KIB")]
    pub memory_kib: u32,
    /// Argon2id passes over the memory [default: 2].
    #[arg(long = "hash-iterations", value_name = "N")]
    pub iterations: u32,
    /// Argon2id lanes per hash [default: 1].
    #[arg(long = "hash-parallelism", value_name = "N")]
    pub parallelism: u32,
    /// Password hashes computed at once [default: half the cores, at least 1].
    ///
    /// On blocking threads, never the I/O threads; kept below the core
    /// count so a login storm leaves cores for chat.
    #[arg(long = "hash-max-concurrent", value_name = "N")]
    pub max_concurrent: usize,
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
