//! Settings that a value turns off, alike in the file and on the command
//! line: a duration where "0s" is off, an address where "off" is.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a duration that "0s" turns off: the status interval, the
/// session token lifetime.
pub(super) fn parse_interval(text: &str) -> Result<Option<Duration>, humantime::DurationError> {
    let interval = humantime::parse_duration(text)?;
    Ok((!interval.is_zero()).then_some(interval))
}

/// Parses a listener address, with "off" meaning no listener.
pub(super) fn parse_listen(text: &str) -> Result<Option<SocketAddr>, std::net::AddrParseError> {
    if text == "off" {
        return Ok(None);
    }
    text.parse().map(Some)
}

/// `status_interval`, `session_token_ttl` and `park_idle` in TOML: a duration, "0s" for
/// off (`None`), as on the command line.
pub(super) mod interval {
    use super::*;

    pub(in crate::config) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(interval) => {
                serializer.serialize_str(&humantime::format_duration(*interval).to_string())
            }
            None => serializer.serialize_str("0s"),
        }
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_interval(&text).map_err(serde::de::Error::custom)
    }
}

/// `ws_listen` in TOML: an address, or "off" (`None`), as on the command
/// line. A missing key means the default, so `None` must be written out.
pub(super) mod off_or_addr {
    use super::*;

    pub(in crate::config) fn serialize<S: Serializer>(
        value: &Option<SocketAddr>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(addr) => serializer.collect_str(addr),
            None => serializer.serialize_str("off"),
        }
    }

    pub(in crate::config) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_listen(&text).map_err(serde::de::Error::custom)
    }
}
