//! [`Clock`]: where the client's "now" comes from and the time zone its
//! times are shown in, so that tests can fix both.

use chrono::FixedOffset;

/// How timestamps are shown: in the local time zone, or (for tests) a
/// fixed offset, and where "now" comes from.
pub struct Clock {
    /// `None`: the system's local time zone.
    pub offset: Option<FixedOffset>,
    /// Milliseconds since the Unix epoch, for notices.
    pub now_ms: Box<dyn Fn() -> i64 + Send>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset: None,
            now_ms: Box::new(|| chrono::Utc::now().timestamp_millis()),
        }
    }
}
