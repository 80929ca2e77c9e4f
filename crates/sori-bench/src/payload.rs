//! The benchmark payload: a send timestamp and a message number, as ASCII.
//!
//! Sori's chat text must be UTF-8, and NATS and Redis take any bytes, so one
//! printable format serves all three targets:
//!
//! ```text
//! sb<16 hex digits: send time, ns><16 hex digits: message number>....
//! ```
//!
//! padded with `.` to the configured size (64 bytes by default).

#[cfg(test)]
mod tests;

/// Bytes before the padding: marker, timestamp and number.
pub const MIN_LEN: usize = 2 + 16 + 16;

/// Default payload size, as in the issue's figures.
pub const DEFAULT_LEN: usize = 64;

const MARKER: &[u8; 2] = b"sb";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// What a receiver learns from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// When it was sent, on [`crate::clock::now_ns`]'s clock.
    pub sent_ns: u64,
    /// The sender's message number.
    pub number: u64,
}

/// Writes a payload of `len` bytes (at least [`MIN_LEN`]) into `dst`,
/// replacing what it held.
pub fn write(dst: &mut Vec<u8>, len: usize, stamp: Stamp) {
    dst.clear();
    dst.extend_from_slice(MARKER);
    put_hex(dst, stamp.sent_ns);
    put_hex(dst, stamp.number);
    dst.resize(len.max(MIN_LEN), b'.');
}

/// Reads the stamp at the start of `src`; `None` when `src` is not a bench
/// payload (for example a chat line typed by a person).
pub fn read(src: &[u8]) -> Option<Stamp> {
    if src.len() < MIN_LEN || &src[..2] != MARKER {
        return None;
    }
    Some(Stamp {
        sent_ns: get_hex(&src[2..18])?,
        number: get_hex(&src[18..34])?,
    })
}

fn put_hex(dst: &mut Vec<u8>, value: u64) {
    for shift in (0..16).rev() {
        dst.push(HEX[((value >> (shift * 4)) & 0xf) as usize]);
    }
}

fn get_hex(src: &[u8]) -> Option<u64> {
    src.iter().try_fold(0u64, |acc, &c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(digit))
    })
}
