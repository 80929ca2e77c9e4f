//! Who may connect at all: IP allow and deny lists and a country policy,
//! checked once per accepted socket before any byte is read, and a log that
//! reports each refused address once a minute rather than once per attempt.
//!
//! The rules, in order (the first that decides wins):
//!
//! 1. Loopback (`127.0.0.0/8`, `::1`, and `::ffff:127.0.0.0/104`) is always
//!    allowed, whatever the lists say, so an operator on the host can never
//!    lock themselves out (the seed server did the same).
//! 2. An address in a `deny` range is refused.
//! 3. If `allow` is not empty, an address outside every `allow` range is
//!    refused.
//! 4. If country rules are set, the address's country (`country.iso_code` in
//!    the `.mmdb` database) decides: with `allow_countries` set it must be
//!    listed, and one in `deny_countries` is refused. An address the database
//!    has no country for is refused when `allow_countries` is set (we cannot
//!    show it is allowed) and let through when only `deny_countries` is set
//!    (we cannot show it is denied).
//!
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack listener
//! reports IPv4 clients) are treated as the IPv4 address they carry, in every
//! rule.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::rate::{client_key, lock};

/// The `[ip_policy]` section of the configuration. The default lets every
/// address in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpPolicyConfig {
    /// CIDR ranges allowed to connect, e.g. `["203.0.113.0/24"]`. Empty means
    /// every address (subject to `deny` and the country rules).
    pub allow: Vec<IpNet>,
    /// CIDR ranges refused. Wins over `allow` and the country rules.
    pub deny: Vec<IpNet>,
    /// ISO 3166-1 alpha-2 codes allowed to connect, e.g. `["KR"]`. Empty
    /// means every country. Needs `country_db`. Addresses the database has no
    /// country for are refused while this is set.
    pub allow_countries: Vec<String>,
    /// ISO 3166-1 alpha-2 codes refused. Needs `country_db`.
    pub deny_countries: Vec<String>,
    /// A MaxMind-format country database (`.mmdb`), read whole into memory
    /// at startup. See docs/security.md for where to get one.
    pub country_db: Option<PathBuf>,
}

/// The compiled policy: ranges parsed, country codes normalised, the
/// database loaded. Shared by the accept loop behind an `Arc`; `check` takes
/// `&self` and never locks.
pub(crate) struct IpPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    allow_countries: Vec<CountryCode>,
    deny_countries: Vec<CountryCode>,
    /// Present only when there are country rules to apply.
    countries: Option<maxminddb::Reader<Vec<u8>>>,
}

/// What the policy says about one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let it in.
    Allow,
    /// Refuse it, for this reason.
    Deny(Reason),
}

/// Which rule refused an address. `Display` gives the text for the log and
/// the client's IP_REFUSED frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The address is in this `deny` range.
    DeniedRange(IpNet),
    /// `allow` is set and the address is in none of its ranges.
    NotInAllowList,
    /// The address's country is in `deny_countries`, or not in
    /// `allow_countries`.
    Country(CountryCode),
    /// `allow_countries` is set and the database has no country for the
    /// address (or the lookup failed).
    CountryUnknown,
}

/// An ISO 3166-1 alpha-2 country code, upper case. Two bytes, so comparing
/// it with a database record needs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CountryCode([u8; 2]);

/// Why an [`IpPolicyConfig`] cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    /// `allow_countries` or `deny_countries` is set but `country_db` is not.
    #[error("country rules need a country database (ip_policy.country_db)")]
    CountriesWithoutDatabase,
    /// A country code is not two ASCII letters.
    #[error("invalid country code {0:?}: expected two letters such as \"KR\"")]
    InvalidCountryCode(String),
    /// The country database could not be read or is not a MaxMind DB.
    #[error("opening country database {path}: {source}")]
    OpenDatabase {
        /// The configured path.
        path: PathBuf,
        /// What the reader reported.
        source: maxminddb::MaxMindDbError,
    },
}

/// Remembers which addresses were refused recently, so a refused address is
/// logged once per window (a minute by default) however often it retries,
/// and counts every refusal.
///
/// IPv6 addresses are grouped by /64 (see [`client_key`]), since one host
/// usually has a whole /64 to rotate through.
pub(crate) struct RefusalLog {
    window: Duration,
    cap: usize,
    /// A std mutex: held for one map operation, never across `.await`.
    state: Mutex<LogState>,
    refusals: AtomicU64,
}

struct LogState {
    /// When each address was last logged.
    last_logged: HashMap<IpAddr, Instant>,
    /// When the map may next be swept for stale entries; sweeping is O(n),
    /// so a flood of new addresses at the cap does not sweep on every call.
    next_prune: Option<Instant>,
}

impl IpPolicy {
    /// Compiles a configuration, loading the country database if country
    /// rules are set.
    pub(crate) fn new(config: &IpPolicyConfig) -> Result<IpPolicy, PolicyError> {
        let allow_countries = parse_codes(&config.allow_countries)?;
        let deny_countries = parse_codes(&config.deny_countries)?;
        let has_country_rules = !allow_countries.is_empty() || !deny_countries.is_empty();
        let countries = match (&config.country_db, has_country_rules) {
            (None, true) => return Err(PolicyError::CountriesWithoutDatabase),
            (Some(path), _) => {
                let reader = maxminddb::Reader::open_readfile(path).map_err(|source| {
                    PolicyError::OpenDatabase {
                        path: path.clone(),
                        source,
                    }
                })?;
                // A database with no country rules to apply is still opened,
                // so a wrong path is reported at startup, then dropped.
                has_country_rules.then_some(reader)
            }
            (None, false) => None,
        };
        Ok(IpPolicy {
            allow: config.allow.iter().map(IpNet::trunc).collect(),
            deny: config.deny.iter().map(IpNet::trunc).collect(),
            allow_countries,
            deny_countries,
            countries,
        })
    }

    /// Decides whether `ip` may connect. Allocates nothing; the lists are
    /// scanned in order, which is fast for the tens of ranges they are meant
    /// for (block larger sets in the firewall or through the country rules).
    pub(crate) fn check(&self, ip: IpAddr) -> Verdict {
        let ip = ip.to_canonical();
        if ip.is_loopback() {
            return Verdict::Allow;
        }
        if let Some(range) = self.deny.iter().find(|range| range.contains(&ip)) {
            return Verdict::Deny(Reason::DeniedRange(*range));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|range| range.contains(&ip)) {
            return Verdict::Deny(Reason::NotInAllowList);
        }
        let Some(reader) = &self.countries else {
            return Verdict::Allow;
        };
        match country_of(reader, ip) {
            Some(code) if self.deny_countries.contains(&code) => {
                Verdict::Deny(Reason::Country(code))
            }
            Some(code)
                if !self.allow_countries.is_empty() && !self.allow_countries.contains(&code) =>
            {
                Verdict::Deny(Reason::Country(code))
            }
            Some(_) => Verdict::Allow,
            None if self.allow_countries.is_empty() => Verdict::Allow,
            None => Verdict::Deny(Reason::CountryUnknown),
        }
    }
}

impl RefusalLog {
    /// A log that reports each address at most once per `window` and tracks
    /// at most `cap` addresses.
    pub(crate) fn new(window: Duration, cap: usize) -> Self {
        RefusalLog {
            window,
            cap,
            state: Mutex::new(LogState {
                last_logged: HashMap::new(),
                next_prune: None,
            }),
            refusals: AtomicU64::new(0),
        }
    }

    /// Counts one refusal of `ip` and says whether to log it: true the first
    /// time the address is seen in a window.
    ///
    /// Past `cap` addresses logged within the window (a flood from many
    /// addresses), new addresses are counted but not logged until old
    /// entries age out: the log stays bounded, the counter stays exact.
    pub(crate) fn should_log(&self, ip: IpAddr, now: Instant) -> bool {
        self.refusals.fetch_add(1, Ordering::Relaxed);
        let key = client_key(ip);
        let mut state = lock(&self.state);
        if let Some(last) = state.last_logged.get_mut(&key) {
            if now.saturating_duration_since(*last) < self.window {
                return false;
            }
            *last = now;
            return true;
        }
        if state.last_logged.len() >= self.cap {
            if state.next_prune.is_some_and(|next| now < next) {
                return false;
            }
            let window = self.window;
            state
                .last_logged
                .retain(|_, last| now.saturating_duration_since(*last) < window);
            state.next_prune = Some(now + PRUNE_BACKOFF);
            if state.last_logged.len() >= self.cap {
                return false;
            }
        }
        state.last_logged.insert(key, now);
        true
    }

    #[cfg(test)]
    /// Refusals counted since the start.
    pub(crate) fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }
}

impl Default for RefusalLog {
    /// Once per address per minute, at most 10,000 addresses remembered
    /// (well under a megabyte).
    fn default() -> Self {
        RefusalLog::new(Duration::from_secs(60), 10_000)
    }
}

/// After a sweep of a full map, how long before the next one may run.
const PRUNE_BACKOFF: Duration = Duration::from_secs(1);

impl CountryCode {
    /// Parses two ASCII letters, in either case.
    pub(crate) fn parse(code: &str) -> Option<CountryCode> {
        match code.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The code as text, e.g. `"KR"`.
    pub(crate) fn as_str(&self) -> &str {
        // Invariant: `parse` only builds codes from two ASCII letters.
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::DeniedRange(range) => write!(f, "address in denied range {range}"),
            Reason::NotInAllowList => f.write_str("address not in the allow list"),
            Reason::Country(code) => write!(f, "connections from country {code} are not allowed"),
            Reason::CountryUnknown => f.write_str("the address's country is unknown"),
        }
    }
}

fn parse_codes(codes: &[String]) -> Result<Vec<CountryCode>, PolicyError> {
    codes
        .iter()
        .map(|code| {
            CountryCode::parse(code).ok_or_else(|| PolicyError::InvalidCountryCode(code.clone()))
        })
        .collect()
}

/// The country the database gives for `ip`, borrowed from the database
/// (no allocation). A failed lookup (a corrupt record) counts as unknown.
fn country_of(reader: &maxminddb::Reader<Vec<u8>>, ip: IpAddr) -> Option<CountryCode> {
    let found = reader.lookup(ip).ok()?;
    let iso_code: &str = found
        .decode_path(&maxminddb::path!["country", "iso_code"])
        .ok()??;
    CountryCode::parse(iso_code)
}

#[cfg(test)]
mod tests;
