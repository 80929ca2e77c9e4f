//! What nodes send each other over Redis, versioned so nodes can be
//! upgraded one at a time.
//!
//! Every payload starts with its format version. A room message is
//! `"<version> <seq> <timestamp_ms> "` followed by a protobuf [`RoomPost`]:
//! the Lua script that numbers it writes the header, so the number every
//! node reads is the one Redis gave. Everything else is a version byte
//! followed by a protobuf [`Envelope`]. A node drops (and logs) a payload
//! whose version it does not know. Version 1 is the only one so far; a
//! change that old nodes cannot read gets a new version, which new nodes
//! read alongside the old during an upgrade (protobuf fields added to an
//! existing message need no new version: old nodes skip them).

use std::net::IpAddr;

use bytes::Bytes;
use prost::Message as _;
use sori_core::bus::LimitEvent;
use sori_protocol::{Message, pb};

/// The format version this node writes.
pub(crate) const VERSION: u8 = 1;

/// A room message as a node publishes it (before Redis numbers it).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RoomPost {
    /// The node the sender is on.
    #[prost(string, tag = "1")]
    pub(crate) node: String,
    /// The sender's session id there.
    #[prost(uint64, tag = "2")]
    pub(crate) session: u64,
    /// The message; its `seq` and `timestamp_ms` are in the header.
    #[prost(message, optional, tag = "3")]
    pub(crate) msg: Option<pb::ChatMessage>,
}

/// A numbered room message as every node receives it.
#[derive(Debug)]
pub(crate) struct Numbered {
    pub(crate) seq: u64,
    pub(crate) post: RoomPost,
    pub(crate) msg: pb::ChatMessage,
}

/// Why a payload was dropped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("format version {0} is not one this node reads")]
    Version(String),
    #[error("malformed payload: {0}")]
    Malformed(&'static str),
    #[error("undecodable body: {0}")]
    Body(#[from] prost::DecodeError),
}

/// Reads a numbered room message (from a channel or the room's log).
pub(crate) fn read_room(payload: &[u8]) -> Result<Numbered, WireError> {
    let mut parts = payload.splitn(4, |&b| b == b' ');
    let version = parts.next().ok_or(WireError::Malformed("no version"))?;
    if version != VERSION.to_string().as_bytes() {
        return Err(WireError::Version(
            String::from_utf8_lossy(version).into_owned(),
        ));
    }
    let number = |part: Option<&[u8]>, what| {
        part.and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or(WireError::Malformed(what))
    };
    let seq = number(parts.next(), "seq")?;
    let timestamp_ms = number(parts.next(), "timestamp")?;
    let body = parts.next().ok_or(WireError::Malformed("no body"))?;
    let post = RoomPost::decode(body)?;
    let mut msg = post.msg.clone().ok_or(WireError::Malformed("no message"))?;
    msg.seq = seq;
    msg.timestamp_ms =
        i64::try_from(timestamp_ms).map_err(|_| WireError::Malformed("timestamp"))?;
    Ok(Numbered { seq, post, msg })
}

/// What a node tells one node or all of them.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Envelope {
    /// The node that sent it.
    #[prost(string, tag = "1")]
    pub(crate) from_node: String,
    /// What to do.
    #[prost(enumeration = "Kind", tag = "2")]
    pub(crate) kind: i32,
    /// The user it is about (Push, Replace).
    #[prost(string, tag = "3")]
    pub(crate) username: String,
    /// The account it is about (Close, Mute).
    #[prost(int64, tag = "4")]
    pub(crate) account: i64,
    /// The session it is about (Replace).
    #[prost(uint64, tag = "5")]
    pub(crate) session: u64,
    /// A Sori frame to push or to close with.
    #[prost(bytes = "bytes", tag = "6")]
    pub(crate) frame: Bytes,
    /// Mute until (ms since the epoch; 0 unmutes).
    #[prost(int64, tag = "7")]
    pub(crate) until_ms: i64,
    /// An address range (CloseNet).
    #[prost(string, tag = "8")]
    pub(crate) net: String,
    /// Who came online or went offline (Online, Offline).
    #[prost(message, optional, tag = "9")]
    pub(crate) entry: Option<Entry>,
    /// A room that changed (RoomChanged).
    #[prost(int64, tag = "10")]
    pub(crate) room_id: i64,
    /// Online/Offline: tell the users (UserJoined/UserLeft); false when the
    /// entry only moved (a login replaced one on another node).
    #[prost(bool, tag = "11")]
    pub(crate) announce: bool,
    /// Notices to push to a room's members (RoomChanged).
    #[prost(bytes = "bytes", repeated, tag = "12")]
    pub(crate) frames: Vec<Bytes>,
    /// What the sender's limits saw (Limits), in order.
    #[prost(message, repeated, tag = "13")]
    pub(crate) limits: Vec<LimitRecord>,
}

/// One [`LimitEvent`] on the wire.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct LimitRecord {
    /// 1 Accepted, 2 Opened, 3 Closed, 4 LoginFailed, 5 LoginSucceeded,
    /// 6 Snapshot (with `entries`).
    #[prost(uint32, tag = "1")]
    pub(crate) kind: u32,
    #[prost(string, tag = "2")]
    pub(crate) ip: String,
    #[prost(string, tag = "3")]
    pub(crate) account: String,
    /// Snapshot: address and count pairs.
    #[prost(message, repeated, tag = "4")]
    pub(crate) entries: Vec<IpCount>,
}

/// Open connections from one address.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct IpCount {
    #[prost(string, tag = "1")]
    pub(crate) ip: String,
    #[prost(uint32, tag = "2")]
    pub(crate) count: u32,
}

impl LimitRecord {
    pub(crate) fn from_event(event: &LimitEvent) -> LimitRecord {
        let record = |kind: u32, ip: &IpAddr, account: &str| LimitRecord {
            kind,
            ip: ip.to_string(),
            account: account.to_owned(),
            entries: Vec::new(),
        };
        match event {
            LimitEvent::Accepted(ip) => record(1, ip, ""),
            LimitEvent::Opened(ip) => record(2, ip, ""),
            LimitEvent::Closed(ip) => record(3, ip, ""),
            LimitEvent::LoginFailed { account, ip } => record(4, ip, account),
            LimitEvent::LoginSucceeded { account, ip } => record(5, ip, account),
            LimitEvent::Snapshot(counts) => LimitRecord {
                kind: 6,
                entries: counts
                    .iter()
                    .map(|(ip, count)| IpCount {
                        ip: ip.to_string(),
                        count: *count,
                    })
                    .collect(),
                ..Default::default()
            },
        }
    }

    /// The event, or `None` for a record this node cannot read.
    pub(crate) fn to_event(&self) -> Option<LimitEvent> {
        let ip = || self.ip.parse::<IpAddr>().ok();
        Some(match self.kind {
            1 => LimitEvent::Accepted(ip()?),
            2 => LimitEvent::Opened(ip()?),
            3 => LimitEvent::Closed(ip()?),
            4 => LimitEvent::LoginFailed {
                account: self.account.clone(),
                ip: ip()?,
            },
            5 => LimitEvent::LoginSucceeded {
                account: self.account.clone(),
                ip: ip()?,
            },
            6 => LimitEvent::Snapshot(
                self.entries
                    .iter()
                    .filter_map(|e| Some((e.ip.parse().ok()?, e.count)))
                    .collect(),
            ),
            _ => return None,
        })
    }
}

/// What an [`Envelope`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum Kind {
    Unspecified = 0,
    /// Push `frame` to `username`'s session.
    Push = 1,
    /// Close `account`'s session with `frame`.
    Close = 2,
    /// Close `username`'s session `session` (a newer login elsewhere).
    Replace = 3,
    /// Mute `account`'s session until `until_ms`.
    Mute = 4,
    /// Reload IP bans and close sessions from `net` with `frame`.
    CloseNet = 5,
    /// `entry` came online.
    Online = 6,
    /// `entry` went offline.
    Offline = 7,
    /// Reload room `room_id`.
    RoomChanged = 8,
    /// Apply `limits`.
    Limits = 9,
    /// Nothing: proves the subscription alive.
    Heartbeat = 10,
}

/// Who is online where: the value of the presence hash.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub(crate) struct Entry {
    #[prost(string, tag = "1")]
    pub(crate) node: String,
    #[prost(uint64, tag = "2")]
    pub(crate) session: u64,
    #[prost(int64, tag = "3")]
    pub(crate) account: i64,
    #[prost(message, optional, tag = "4")]
    pub(crate) user: Option<pb::UserInfo>,
}

impl Entry {
    pub(crate) fn username(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.username.as_str())
    }

    /// The value in the presence hash: `"<node> <session> "` (what the
    /// scripts tell logins apart by) and the protobuf entry.
    pub(crate) fn to_value(&self) -> Vec<u8> {
        let mut value = format!("{} {} ", self.node, self.session).into_bytes();
        self.encode(&mut value).expect("a Vec grows");
        value
    }

    /// An entry read from the presence hash.
    pub(crate) fn from_value(value: &[u8]) -> Option<Entry> {
        let mut parts = value.splitn(3, |&b| b == b' ');
        let (_node, _session, body) = (parts.next()?, parts.next()?, parts.next()?);
        Entry::decode(body).ok()
    }
}

/// A versioned envelope.
pub(crate) fn write_envelope(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + envelope.encoded_len());
    out.push(VERSION);
    envelope.encode(&mut out).expect("a Vec grows");
    out
}

/// Reads a versioned envelope.
pub(crate) fn read_envelope(payload: &[u8]) -> Result<Envelope, WireError> {
    match payload.split_first() {
        Some((&VERSION, body)) => Ok(Envelope::decode(body)?),
        Some((version, _)) => Err(WireError::Version(version.to_string())),
        None => Err(WireError::Malformed("empty")),
    }
}

/// A message as a Sori frame, for an envelope.
pub(crate) fn frame_of(msg: &Message) -> Bytes {
    sori_protocol::encode_to_bytes(0, msg)
}

/// The message in an envelope's frame.
pub(crate) fn message_of(frame: &[u8]) -> Option<Message> {
    let (frame, _) = sori_protocol::decode(frame, u32::MAX).ok()?;
    Some(frame.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_payload_reads_back_with_the_number_redis_wrote() {
        let post = RoomPost {
            node: "n1".into(),
            session: 7,
            msg: Some(pb::ChatMessage {
                room: "rust".into(),
                text: "hi there".into(),
                ..Default::default()
            }),
        };
        let mut payload = b"1 42 1700000000000 ".to_vec();
        post.encode(&mut payload).unwrap();
        let read = read_room(&payload).unwrap();
        assert_eq!(read.seq, 42);
        assert_eq!(read.msg.seq, 42);
        assert_eq!(read.msg.timestamp_ms, 1_700_000_000_000);
        assert_eq!(read.msg.text, "hi there");
        assert_eq!(read.post.node, "n1");

        let mut future = b"2 42 1700000000000 ".to_vec();
        post.encode(&mut future).unwrap();
        assert!(matches!(read_room(&future), Err(WireError::Version(v)) if v == "2"));
        assert!(read_room(b"1 x 5 ").is_err());
    }

    #[test]
    fn limit_events_read_back() {
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let events = [
            LimitEvent::Accepted(ip),
            LimitEvent::Opened(ip),
            LimitEvent::Closed(ip),
            LimitEvent::LoginFailed {
                account: "alice".into(),
                ip,
            },
            LimitEvent::LoginSucceeded {
                account: "alice".into(),
                ip,
            },
            LimitEvent::Snapshot(vec![(ip, 3), ("10.0.0.1".parse().unwrap(), 1)]),
        ];
        for event in events {
            assert_eq!(LimitRecord::from_event(&event).to_event(), Some(event));
        }
        let unknown = LimitRecord {
            kind: 99,
            ..Default::default()
        };
        assert_eq!(unknown.to_event(), None);
    }

    #[test]
    fn presence_values_lead_with_node_and_session() {
        let entry = Entry {
            node: "n1".into(),
            session: 42,
            account: 7,
            user: Some(pb::UserInfo {
                username: "alice".into(),
                display_name: "Alice A".into(),
            }),
        };
        let value = entry.to_value();
        assert!(value.starts_with(b"n1 42 "));
        assert_eq!(Entry::from_value(&value), Some(entry));
        assert_eq!(Entry::from_value(b"n1"), None);
    }

    #[test]
    fn envelopes_carry_their_version() {
        let envelope = Envelope {
            from_node: "n2".into(),
            kind: Kind::Push as i32,
            username: "alice".into(),
            frame: frame_of(&Message::Ok(pb::Ok {})),
            ..Default::default()
        };
        let bytes = write_envelope(&envelope);
        assert_eq!(bytes[0], VERSION);
        let back = read_envelope(&bytes).unwrap();
        assert_eq!(back, envelope);
        assert!(matches!(message_of(&back.frame), Some(Message::Ok(_))));
        let mut newer = bytes.clone();
        newer[0] = 9;
        assert!(matches!(read_envelope(&newer), Err(WireError::Version(_))));
    }
}
