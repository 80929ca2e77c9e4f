//! What the decoder and the encoder share: opcodes and the rules for close
//! codes (RFC 6455 §5.2, §5.5 and §7.4).

/// The largest payload a control frame (close, ping, pong) may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (RFC 6455 §5.2). Opcodes 3-7 and 11-15 are reserved and
/// have no variant: the decoder rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// A further fragment of a message started by a text or binary frame.
    Continuation,
    /// The first (or only) frame of a UTF-8 text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// Starts or answers the closing handshake.
    Close,
    /// Asks the peer for a pong with the same payload.
    Ping,
    /// Answers a ping, or serves as an unsolicited heartbeat.
    Pong,
}

impl Opcode {
    /// The opcode's 4-bit wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value, or `None` for a reserved one.
    pub fn from_u8(value: u8) -> Option<Opcode> {
        match value {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// Whether this is a control frame, which must not be fragmented and may
    /// carry at most [`MAX_CONTROL_PAYLOAD`] bytes.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Whether a peer may send `code` in a close frame (RFC 6455 §7.4).
///
/// 1000-1003 and 1007-1011 are the defined codes, 3000-4999 are for libraries
/// and applications. 1004 is reserved, and 1005, 1006 and 1015 are only for
/// reporting locally, never for the wire; everything else is unassigned.
pub fn close_code_is_valid(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}
