//! The `[limits]` settings: [`LimitsConfig`] and its
//! [`LoginThrottleConfig`], their defaults, and the check that they make
//! sense together.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[limits]` section of the configuration: every rate limit, with the
/// defaults documented in docs/security.md. The doc comments of the fields
/// with flags are also the flags' help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Frames a session may send per second, sustained [default: 20].
    #[arg(long, value_name = "N")]
    pub messages_per_sec: f32,
    /// Frames a session may send at once after being quiet [default: 40].
    #[arg(long, value_name = "N")]
    pub messages_burst: f32,
    /// Bytes (headers and bodies) a session may send per second, sustained
    /// [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub bytes_per_sec: f32,
    /// Bytes a session may send at once after being quiet [default: 262144].
    ///
    /// Keep it at least the largest frame, or such frames never pass.
    #[arg(long, value_name = "BYTES")]
    pub bytes_burst: f32,
    /// Over-limit frames tolerated within `abuse_window` before the session
    /// is disconnected (default 10). Each one is answered RATE_LIMITED.
    #[arg(skip)]
    pub abuse_strikes: u32,
    /// The window for `abuse_strikes` (default 60 s): strikes are forgiven
    /// at `abuse_strikes` per window.
    #[serde(with = "humantime_serde")]
    #[arg(skip)]
    pub abuse_window: Duration,
    /// Open connections from one address, IPv6 counted per /64 [default: 64].
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: u32,
    /// New connections one address may open per second, sustained
    /// [default: 20].
    #[arg(long, value_name = "N")]
    pub new_connections_per_ip_per_sec: f32,
    /// New connections one address may open at once [default: 40].
    #[arg(long, value_name = "N")]
    pub new_connections_per_ip_burst: f32,
    /// Addresses tracked for `new_connections_per_ip_*` (default 100,000);
    /// past it, addresses not yet tracked are not limited until idle ones
    /// are swept (the session limit still holds).
    #[arg(skip)]
    pub max_tracked_ips: usize,
    /// Close a client that leaves a frame unfinished (half a header or half
    /// a body) this long, READ_TIMEOUT: the slowloris timeout
    /// [default: 10s].
    #[serde(with = "humantime_serde")]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub partial_frame_timeout: Duration,
    /// Failed-login throttling.
    #[arg(skip)]
    pub login: LoginThrottleConfig,
}

/// Failed-login throttling: after a few free failures, each further attempt
/// on the same account, or from the same address, waits a delay that doubles
/// with every failure up to a cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginThrottleConfig {
    /// Failures on one account before its attempts are delayed (default 3).
    pub account_free_failures: u32,
    /// Failures from one address (any accounts) before its attempts are
    /// delayed (default 10: higher, since many users can share an address).
    pub ip_free_failures: u32,
    /// The first delay (default 1 s); each further failure doubles it.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The longest delay (default 60 s). Also bounds how long an attacker
    /// can keep a victim's account slowed down.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Failures are forgotten this long after the last one (default 15 min).
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
    /// Accounts and addresses tracked, each (default 100,000). Past it, keys
    /// not yet tracked are not throttled until old entries are forgotten.
    pub max_tracked: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            messages_per_sec: 20.0,
            messages_burst: 40.0,
            bytes_per_sec: 64.0 * 1024.0,
            bytes_burst: 256.0 * 1024.0,
            abuse_strikes: 10,
            abuse_window: Duration::from_secs(60),
            max_connections_per_ip: 64,
            new_connections_per_ip_per_sec: 20.0,
            new_connections_per_ip_burst: 40.0,
            max_tracked_ips: 100_000,
            partial_frame_timeout: Duration::from_secs(10),
            login: LoginThrottleConfig::default(),
        }
    }
}

impl LimitsConfig {
    /// Limits no load test reaches: for load generators, fuzzers and tests
    /// that send faster, and from fewer addresses, than any person could.
    /// Never for a server that faces the internet.
    pub fn unlimited() -> Self {
        LimitsConfig {
            messages_per_sec: 1e9,
            messages_burst: 1e9,
            bytes_per_sec: 1e12,
            bytes_burst: 1e12,
            max_connections_per_ip: 1_000_000,
            new_connections_per_ip_per_sec: 1e9,
            new_connections_per_ip_burst: 1e9,
            ..LimitsConfig::default()
        }
    }

    /// Checks the settings make sense together: rates and bursts finite and
    /// positive, and a byte burst that lets the largest frame (a header and
    /// `max_frame_len` of body) through.
    pub(crate) fn validate(&self, max_frame_len: u32) -> Result<(), String> {
        let rates = [
            ("messages_per_sec", self.messages_per_sec),
            ("messages_burst", self.messages_burst),
            ("bytes_per_sec", self.bytes_per_sec),
            ("bytes_burst", self.bytes_burst),
            (
                "new_connections_per_ip_per_sec",
                self.new_connections_per_ip_per_sec,
            ),
            (
                "new_connections_per_ip_burst",
                self.new_connections_per_ip_burst,
            ),
        ];
        for (name, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "limits.{name} must be a positive number, not {value}"
                ));
            }
        }
        for (name, burst) in [
            ("messages_burst", self.messages_burst),
            (
                "new_connections_per_ip_burst",
                self.new_connections_per_ip_burst,
            ),
        ] {
            if burst < 1.0 {
                return Err(format!("limits.{name} must be at least 1, not {burst}"));
            }
        }
        let largest_frame = sori_protocol::HEADER_LEN as f32 + max_frame_len as f32;
        if self.bytes_burst < largest_frame {
            return Err(format!(
                "limits.bytes_burst ({}) must be at least the largest frame ({largest_frame} bytes)",
                self.bytes_burst
            ));
        }
        if self.abuse_window.is_zero() {
            return Err("limits.abuse_window must be longer than zero".to_owned());
        }
        let login = &self.login;
        if login.base_delay > login.max_delay {
            return Err(
                "limits.login.base_delay must not exceed limits.login.max_delay".to_owned(),
            );
        }
        Ok(())
    }
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        LoginThrottleConfig {
            account_free_failures: 3,
            ip_free_failures: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}
