//! The fixed frame header: magic, version, message type, request id, body length.

use bytes::BufMut;
use thiserror::Error;

/// The first byte of every frame (the seed servers' "packet code" 52).
pub const MAGIC: u8 = 0x34;

/// The protocol version this crate speaks, carried in every header.
pub const PROTOCOL_VERSION: u8 = 1;

/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 12;

/// Default largest body a peer accepts (16 KiB).
pub const DEFAULT_MAX_BODY_LEN: u32 = 16 * 1024;

/// A parsed, validated frame header.
///
/// Layout (all integers little-endian):
///
/// | offset | size | field        |
/// |--------|------|--------------|
/// | 0      | 1    | magic (0x34) |
/// | 1      | 1    | version      |
/// | 2      | 2    | message type |
/// | 4      | 4    | request id   |
/// | 8      | 4    | body length  |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Raw message type number; may be unknown to this build.
    pub msg_type: u16,
    /// Client-chosen id echoed by the response; 0 on server pushes.
    pub request_id: u32,
    /// Length of the body that follows the header.
    pub body_len: u32,
}

/// A header that cannot be trusted: the stream is out of step or hostile, so
/// the only safe answer is to close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// The first byte was not [`MAGIC`].
    #[error("bad magic byte 0x{0:02x}")]
    BadMagic(u8),
    /// The version byte is not [`PROTOCOL_VERSION`].
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The announced body is longer than the receiver's limit.
    #[error("frame body of {len} bytes is over the limit of {max}")]
    FrameTooLarge {
        /// Announced body length.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },
}

impl Header {
    /// Writes the header into `dst`.
    pub fn put(&self, dst: &mut impl BufMut) {
        dst.put_u8(MAGIC);
        dst.put_u8(PROTOCOL_VERSION);
        dst.put_u16_le(self.msg_type);
        dst.put_u32_le(self.request_id);
        dst.put_u32_le(self.body_len);
    }
}

/// Parses and validates the header at the start of `src`.
///
/// Returns `Ok(None)` when fewer than [`HEADER_LEN`] bytes are present, but
/// checks the magic and version bytes as soon as they arrive, so a stream of
/// garbage is refused at its first byte. The body length is checked against
/// `max_body_len` before anyone buffers the body.
pub fn parse_header(src: &[u8], max_body_len: u32) -> Result<Option<Header>, HeaderError> {
    if let Some(&magic) = src.first()
        && magic != MAGIC
    {
        return Err(HeaderError::BadMagic(magic));
    }
    if let Some(&version) = src.get(1)
        && version != PROTOCOL_VERSION
    {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    let Some(fixed) = src.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let msg_type = u16::from_le_bytes([fixed[2], fixed[3]]);
    let request_id = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let body_len = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    if body_len > max_body_len {
        return Err(HeaderError::FrameTooLarge {
            len: body_len,
            max: max_body_len,
        });
    }
    Ok(Some(Header {
        msg_type,
        request_id,
        body_len,
    }))
}
