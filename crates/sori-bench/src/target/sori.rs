//! Sori: binary frames through `sori-protocol`.
//!
//! Each connection registers its own account (an answer of USERNAME_TAKEN
//! is fine: the accounts are reused across runs) and logs in, pipelined in
//! one write; LoginOk makes it a lobby member, which is all "subscribing"
//! means until rooms exist. When they do, a join request goes after the
//! login here, and nothing else in the engine changes.
//!
//! Deliveries are the hot path, so ChatMessage bodies are not decoded into
//! owned strings: only the text field is located. Everything else goes
//! through `sori_protocol::decode`.

use bytes::{Buf, BytesMut};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{DEFAULT_MAX_BODY_LEN, DecodeError, HEADER_LEN, Message, MessageType};

use crate::payload;
use crate::target::{Codec, Parsed, ProtocolError, Role, Target, TargetKind};

/// The password of every bench account.
pub(crate) const PASSWORD: &str = "sori-bench-password";

/// Request id of the pipelined Register.
const REGISTER_ID: u32 = 1;
/// Request id of the pipelined Login.
const LOGIN_ID: u32 = 2;
/// Request id of the Logout a leaving connection sends.
const LOGOUT_ID: u32 = 3;
/// Publishes count up from here.
const FIRST_CHAT_ID: u32 = 16;

/// The Sori target.
#[derive(Debug, Clone)]
pub struct Sori {
    room: String,
    user_prefix: String,
}

impl Sori {
    /// Chats go to `room` ("" is the lobby); accounts are named
    /// `<user_prefix>r<n>` (receivers) and `<user_prefix>s<n>` (senders).
    pub fn new(room: &str, user_prefix: &str) -> Sori {
        Sori {
            room: room.to_owned(),
            user_prefix: user_prefix.to_owned(),
        }
    }

    /// The username connection `conn_idx` in `role` logs in as.
    pub fn username(&self, conn_idx: u64, role: Role) -> String {
        let letter = match role {
            Role::Receiver => 'r',
            Role::Sender => 's',
        };
        format!("{}{letter}{conn_idx}", self.user_prefix)
    }
}

impl Target for Sori {
    fn kind(&self) -> TargetKind {
        TargetKind::Sori
    }

    fn codec(&self, conn_idx: u64, role: Role) -> Box<dyn Codec> {
        Box::new(SoriCodec {
            room: self.room.clone(),
            username: self.username(conn_idx, role),
            next_id: FIRST_CHAT_ID,
        })
    }

    fn senders_receive(&self) -> bool {
        true
    }
}

struct SoriCodec {
    room: String,
    username: String,
    next_id: u32,
}

impl Codec for SoriCodec {
    fn handshake(&mut self, out: &mut BytesMut) {
        let register = Message::Register(pb::Register {
            username: self.username.clone(),
            password: PASSWORD.to_owned(),
            display_name: String::new(),
        });
        let login = Message::Login(pb::Login {
            username: self.username.clone(),
            password: PASSWORD.to_owned(),
            token: String::new(),
        });
        sori_protocol::encode(REGISTER_ID, &register, out);
        sori_protocol::encode(LOGIN_ID, &login, out);
    }

    fn parse(&mut self, buf: &mut BytesMut, parsed: &mut Parsed) -> Result<(), ProtocolError> {
        loop {
            let header = match sori_protocol::parse_header(buf, DEFAULT_MAX_BODY_LEN) {
                Ok(Some(header)) => header,
                Ok(None) => return Ok(()),
                Err(err) => return Err(ProtocolError::Malformed(err.to_string())),
            };
            let frame_len = HEADER_LEN + header.body_len as usize;
            if buf.len() < frame_len {
                return Ok(());
            }
            if header.msg_type == MessageType::ChatMessage as u16 {
                let stamp = chat_text(&buf[HEADER_LEN..frame_len]).and_then(payload::read);
                parsed.stamps.extend(stamp);
            } else {
                self.other(&buf[..frame_len], parsed)?;
            }
            buf.advance(frame_len);
        }
    }

    fn encode_publish(&mut self, payload: &[u8], out: &mut BytesMut) {
        let chat = Message::Chat(pb::Chat {
            room: self.room.clone(),
            // The engine only hands out payloads built by `payload::write`,
            // which are ASCII.
            text: String::from_utf8_lossy(payload).into_owned(),
        });
        sori_protocol::encode(self.next_id, &chat, out);
        self.next_id = self.next_id.wrapping_add(1).max(FIRST_CHAT_ID);
    }

    /// Logout: answered with Ok, then Kicked LOGGED_OUT, then the server
    /// closes the connection (the engine reads those without parsing).
    fn goodbye(&mut self, out: &mut BytesMut) -> bool {
        sori_protocol::encode(LOGOUT_ID, &Message::Logout(pb::Logout {}), out);
        true
    }
}

impl SoriCodec {
    /// Handles a whole frame that is not a ChatMessage.
    fn other(&mut self, frame: &[u8], parsed: &mut Parsed) -> Result<(), ProtocolError> {
        let (frame, _) = match sori_protocol::decode(frame, DEFAULT_MAX_BODY_LEN) {
            Ok(decoded) => decoded,
            // A type newer than this build: skip it, the stream is in step.
            Err(DecodeError::UnknownType { .. }) => return Ok(()),
            Err(err) => return Err(ProtocolError::Malformed(err.to_string())),
        };
        match frame.message {
            Message::LoginOk(_) => parsed.ready = true,
            Message::Ping(ping) => {
                let pong = Message::Pong(pb::Pong { nonce: ping.nonce });
                sori_protocol::encode(frame.request_id, &pong, &mut parsed.replies);
            }
            Message::Error(err)
                if frame.request_id == REGISTER_ID && err.code() == ErrorCode::UsernameTaken => {}
            Message::Error(err) => {
                return Err(ProtocolError::Refused(format!(
                    "{:?} (request {}): {}",
                    err.code(),
                    frame.request_id,
                    err.message
                )));
            }
            Message::Kicked(kicked) => {
                return Err(ProtocolError::Refused(format!(
                    "kicked: {:?}: {}",
                    kicked.code(),
                    kicked.message
                )));
            }
            // Ok (register), ChatAck, joins and leaves, whispers: nothing to count.
            _ => {}
        }
        Ok(())
    }
}

/// The `text` field (5) of a ChatMessage body, found without decoding the
/// rest; `None` if the body is malformed or has no text.
pub(crate) fn chat_text(body: &[u8]) -> Option<&[u8]> {
    const TEXT_FIELD: u64 = 5;
    let mut pos = 0;
    let mut text = None;
    while pos < body.len() {
        let key = varint(body, &mut pos)?;
        match key & 7 {
            0 => {
                varint(body, &mut pos)?;
            }
            1 => pos += 8,
            2 => {
                let len = usize::try_from(varint(body, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                let value = body.get(pos..end)?;
                if key >> 3 == TEXT_FIELD {
                    text = Some(value);
                }
                pos = end;
            }
            5 => pos += 4,
            _ => return None,
        }
    }
    (pos == body.len()).then_some(text).flatten()
}

fn varint(src: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *src.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}
