//! NATS core, in its text protocol.
//!
//! A connection sends `CONNECT`, a receiver also `SUB <subject> 1`, then a
//! `PING`: the `PONG` proves the subscription is in place. Deliveries are
//! `MSG <subject> <sid> [reply-to] <len>\r\n<payload>\r\n`; the server's
//! `PING` is answered with `PONG`.

use bytes::{Buf, BufMut, BytesMut};

use crate::payload;
use crate::target::{Codec, Parsed, ProtocolError, Role, Target, TargetKind};

/// The NATS target.
#[derive(Debug, Clone)]
pub struct Nats {
    subject: String,
}

impl Nats {
    /// Publishes to and subscribes to `subject` (the room name, or
    /// `sori.bench` for the lobby).
    pub fn new(room: &str) -> Nats {
        let subject = if room.is_empty() { "sori.bench" } else { room };
        Nats {
            subject: subject.to_owned(),
        }
    }
}

impl Target for Nats {
    fn kind(&self) -> TargetKind {
        TargetKind::Nats
    }

    fn codec(&self, _conn_idx: u64, role: Role) -> Box<dyn Codec> {
        Box::new(NatsCodec {
            subject: self.subject.clone(),
            role,
        })
    }

    fn senders_receive(&self) -> bool {
        false
    }
}

struct NatsCodec {
    subject: String,
    role: Role,
}

impl Codec for NatsCodec {
    fn handshake(&mut self, out: &mut BytesMut) {
        out.put_slice(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"sori-bench\"}\r\n",
        );
        if self.role == Role::Receiver {
            out.put_slice(format!("SUB {} 1\r\n", self.subject).as_bytes());
        }
        out.put_slice(b"PING\r\n");
    }

    fn parse(&mut self, buf: &mut BytesMut, parsed: &mut Parsed) -> Result<(), ProtocolError> {
        while let Some(line_end) = find_crlf(buf) {
            let line = &buf[..line_end];
            let consumed = if starts_with_op(line, b"MSG ") {
                let payload_len = msg_payload_len(line)?;
                let total = line_end + 2 + payload_len + 2;
                if buf.len() < total {
                    return Ok(());
                }
                let body = &buf[line_end + 2..line_end + 2 + payload_len];
                parsed.stamps.extend(payload::read(body));
                total
            } else {
                if starts_with_op(line, b"PING") {
                    parsed.replies.put_slice(b"PONG\r\n");
                } else if starts_with_op(line, b"PONG") {
                    parsed.ready = true;
                } else if starts_with_op(line, b"-ERR") {
                    let text = String::from_utf8_lossy(line).into_owned();
                    return Err(ProtocolError::Refused(text));
                } else if !(starts_with_op(line, b"INFO") || starts_with_op(line, b"+OK")) {
                    let text = String::from_utf8_lossy(line).into_owned();
                    return Err(ProtocolError::Malformed(format!(
                        "unexpected line {text:?}"
                    )));
                }
                line_end + 2
            };
            buf.advance(consumed);
        }
        Ok(())
    }

    fn encode_publish(&mut self, payload: &[u8], out: &mut BytesMut) {
        out.put_slice(b"PUB ");
        out.put_slice(self.subject.as_bytes());
        out.put_u8(b' ');
        out.put_slice(payload.len().to_string().as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(payload);
        out.put_slice(b"\r\n");
    }
}

fn starts_with_op(line: &[u8], op: &[u8]) -> bool {
    line.len() >= op.len() && line[..op.len()].eq_ignore_ascii_case(op)
}

/// Position of the first `\r\n` in `buf`.
pub(crate) fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|pair| pair == b"\r\n")
}

/// The payload length: the last token of a MSG line.
fn msg_payload_len(line: &[u8]) -> Result<usize, ProtocolError> {
    let last = line.rsplit(|&c| c == b' ').next().unwrap_or_default();
    std::str::from_utf8(last)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| {
            let text = String::from_utf8_lossy(line).into_owned();
            ProtocolError::Malformed(format!("bad MSG line {text:?}"))
        })
}
