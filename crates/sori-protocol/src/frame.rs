//! Whole frames: encoding into one buffer, decoding from a byte slice.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::header::{HEADER_LEN, Header, HeaderError, parse_header};
use crate::message::{Message, MessageType};

/// A decoded frame: the request id from the header and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Client-chosen id echoed by the response; 0 on pushes.
    pub request_id: u32,
    /// The body.
    pub message: Message,
}

/// Why [`decode`] produced no frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not a whole frame yet: read more bytes and call again.
    #[error("incomplete frame")]
    Incomplete,
    /// The header cannot be trusted; close the connection.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A well-framed frame whose type this build does not know. The stream is
    /// still in step: skip `frame_len` bytes and go on.
    #[error("unknown message type {msg_type}")]
    UnknownType {
        /// The unknown type number.
        msg_type: u16,
        /// The frame's request id, to answer it.
        request_id: u32,
        /// Bytes to skip (header and body).
        frame_len: usize,
    },
    /// A well-framed frame whose body is not valid protobuf for its type.
    /// The stream is still in step: skip `frame_len` bytes and go on.
    #[error("malformed {msg_type:?} body: {reason}")]
    MalformedBody {
        /// The frame's type.
        msg_type: MessageType,
        /// The frame's request id, to answer it.
        request_id: u32,
        /// Bytes to skip (header and body).
        frame_len: usize,
        /// What prost reported.
        reason: String,
    },
}

impl DecodeError {
    /// Bytes to skip to stay in step after a recoverable error, or `None` when
    /// the stream is broken and the connection must close.
    pub fn skip_len(&self) -> Option<usize> {
        match self {
            DecodeError::UnknownType { frame_len, .. }
            | DecodeError::MalformedBody { frame_len, .. } => Some(*frame_len),
            DecodeError::Incomplete | DecodeError::Header(_) => None,
        }
    }
}

/// Decodes one frame from the start of `src`.
///
/// On success returns the frame and how many bytes it took. The header is
/// validated (magic, version, length against `max_body_len`) before the body
/// is looked at, and the type is checked before the body is decoded.
pub fn decode(src: &[u8], max_body_len: u32) -> Result<(Frame, usize), DecodeError> {
    let header = parse_header(src, max_body_len)?.ok_or(DecodeError::Incomplete)?;
    let frame_len = HEADER_LEN + header.body_len as usize;
    let Some(msg_type) = MessageType::from_u16(header.msg_type) else {
        return Err(DecodeError::UnknownType {
            msg_type: header.msg_type,
            request_id: header.request_id,
            frame_len,
        });
    };
    let Some(body) = src.get(HEADER_LEN..frame_len) else {
        return Err(DecodeError::Incomplete);
    };
    let message = msg_type
        .decode_body(body)
        .map_err(|err| DecodeError::MalformedBody {
            msg_type,
            request_id: header.request_id,
            frame_len,
            reason: err.to_string(),
        })?;
    let frame = Frame {
        request_id: header.request_id,
        message,
    };
    Ok((frame, frame_len))
}

/// Encodes a whole frame (header and body) into `dst`.
pub fn encode(request_id: u32, message: &Message, dst: &mut impl BufMut) {
    let body_len = message.body_len();
    let header = Header {
        msg_type: message.msg_type() as u16,
        request_id,
        // A body is bounded by the sender's own limits, far below 4 GiB.
        body_len: u32::try_from(body_len).unwrap_or(u32::MAX),
    };
    header.put(dst);
    message.put_body(dst);
}

/// Encodes a whole frame into a new [`Bytes`], sized exactly, ready to be
/// shared between many recipients without copying.
pub fn encode_to_bytes(request_id: u32, message: &Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER_LEN + message.body_len());
    encode(request_id, message, &mut buf);
    buf.freeze()
}
