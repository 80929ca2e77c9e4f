//! Redis pub/sub, in RESP2.
//!
//! A receiver sends `SUBSCRIBE <channel>` and is ready at the `subscribe`
//! confirmation; a sender sends `PING` and is ready at `+PONG`. Deliveries
//! are `*3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n$<n>\r\n<payload>\r\n`;
//! a `PUBLISH` is answered with the number of receivers, which is ignored.

use bytes::{Buf, BufMut, BytesMut};

use crate::payload;
use crate::target::{Codec, Parsed, ProtocolError, Role, Target, TargetKind};

/// The Redis target.
#[derive(Debug, Clone)]
pub struct Redis {
    channel: String,
}

impl Redis {
    /// Publishes to and subscribes to `channel` (the room name, or
    /// `sori.bench` for the lobby).
    pub fn new(room: &str) -> Redis {
        let channel = if room.is_empty() { "sori.bench" } else { room };
        Redis {
            channel: channel.to_owned(),
        }
    }
}

impl Target for Redis {
    fn kind(&self) -> TargetKind {
        TargetKind::Redis
    }

    fn codec(&self, _conn_idx: u64, role: Role) -> Box<dyn Codec> {
        Box::new(RedisCodec {
            channel: self.channel.clone(),
            role,
        })
    }

    fn senders_receive(&self) -> bool {
        false
    }

    /// Redis without a password runs in protected mode, which refuses every
    /// source address but 127.0.0.1 and ::1. Its default limit of 10,000
    /// clients fits in one source address's ephemeral ports anyway.
    fn any_loopback_source(&self) -> bool {
        false
    }
}

struct RedisCodec {
    channel: String,
    role: Role,
}

impl Codec for RedisCodec {
    fn handshake(&mut self, out: &mut BytesMut) {
        match self.role {
            Role::Receiver => put_command(out, &[b"SUBSCRIBE", self.channel.as_bytes()]),
            Role::Sender => put_command(out, &[b"PING"]),
        }
    }

    fn parse(&mut self, buf: &mut BytesMut, parsed: &mut Parsed) -> Result<(), ProtocolError> {
        loop {
            let Some((reply, len)) = parse_reply(buf)? else {
                return Ok(());
            };
            match reply {
                Reply::Push { kind, last } => {
                    if kind.eq_ignore_ascii_case(b"message") {
                        parsed.stamps.extend(last.and_then(payload::read));
                    } else if kind.eq_ignore_ascii_case(b"subscribe") {
                        parsed.ready = true;
                    }
                }
                Reply::Simple(text) if text.eq_ignore_ascii_case(b"PONG") => parsed.ready = true,
                Reply::Error(text) => {
                    return Err(ProtocolError::Refused(
                        String::from_utf8_lossy(text).into_owned(),
                    ));
                }
                Reply::Simple(_) | Reply::Integer | Reply::Bulk => {}
            }
            buf.advance(len);
        }
    }

    fn encode_publish(&mut self, payload: &[u8], out: &mut BytesMut) {
        put_command(out, &[b"PUBLISH", self.channel.as_bytes(), payload]);
    }

    /// QUIT: answered with +OK, then the server closes the connection.
    fn goodbye(&mut self, out: &mut BytesMut) -> bool {
        put_command(out, &[b"QUIT"]);
        true
    }
}

/// Appends a command as a RESP array of bulk strings.
fn put_command(out: &mut BytesMut, args: &[&[u8]]) {
    out.put_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.put_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

/// The replies pub/sub produces, borrowing from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply<'a> {
    /// `+...`
    Simple(&'a [u8]),
    /// `-...`
    Error(&'a [u8]),
    /// `:n`
    Integer,
    /// A bulk string outside an array.
    Bulk,
    /// An array (or a RESP3 `>` push): its first element, the kind
    /// (`message`, `subscribe`, ...), and its last element when that is a
    /// bulk string (the payload of a `message`).
    Push {
        kind: &'a [u8],
        last: Option<&'a [u8]>,
    },
}

/// One element: a line-type reply or a bulk string.
enum Element<'a> {
    Line(u8, &'a [u8]),
    Bulk(Option<&'a [u8]>),
}

/// Parses one whole reply at the start of `buf`; `Ok(None)` if it has not
/// all arrived.
pub(crate) fn parse_reply(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first != b'*' && first != b'>' {
        let Some((element, len)) = parse_element(buf, 0)? else {
            return Ok(None);
        };
        let reply = match element {
            Element::Line(b'+', text) => Reply::Simple(text),
            Element::Line(b'-', text) => Reply::Error(text),
            Element::Line(_, _) => Reply::Integer,
            Element::Bulk(_) => Reply::Bulk,
        };
        return Ok(Some((reply, len)));
    }
    let Some((count, mut pos)) = line(buf, 1)? else {
        return Ok(None);
    };
    let count: usize = parse_int(count)?.try_into().unwrap_or(0);
    let mut kind: &[u8] = b"";
    let mut last = None;
    for idx in 0..count {
        let Some((element, next)) = parse_element(buf, pos)? else {
            return Ok(None);
        };
        let bulk = match element {
            Element::Bulk(bulk) => bulk,
            Element::Line(_, text) => Some(text),
        };
        if idx == 0 {
            kind = bulk.unwrap_or_default();
        }
        last = bulk;
        pos = next;
    }
    Ok(Some((Reply::Push { kind, last }, pos)))
}

fn parse_element(buf: &[u8], pos: usize) -> Result<Option<(Element<'_>, usize)>, ProtocolError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, pos + 1)? else {
        return Ok(None);
    };
    match tag {
        b'+' | b'-' | b':' => Ok(Some((Element::Line(tag, text), next))),
        b'$' => {
            let len = parse_int(text)?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(Some((Element::Bulk(None), next)));
            };
            let end = next + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            Ok(Some((Element::Bulk(Some(&buf[next..end])), end + 2)))
        }
        _ => Err(ProtocolError::Malformed(format!(
            "unexpected RESP type byte 0x{tag:02x}"
        ))),
    }
}

/// The text from `pos` up to the next `\r\n`, and the position after it.
fn line(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let rest = buf.get(pos..).unwrap_or_default();
    Ok(crate::target::nats::find_crlf(rest).map(|end| (&rest[..end], pos + end + 2)))
}

fn parse_int(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| ProtocolError::Malformed(format!("bad RESP length {text:?}")))
}
