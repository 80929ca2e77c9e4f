//! Session ids: which slot of the registry a session holds, and which
//! occupant of that slot it is.
//!
//! An id is 64 bits: the high 32 are the slot's generation, the low 32 the
//! slot index. Slots are reused from a free list, and every reuse bumps the
//! generation, so an id kept by anyone after its session ended can never
//! reach the session that holds the slot now (the seed servers' scheme).

use std::fmt;

/// A session's id: `generation << 32 | slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    /// An id no session ever has (its slot would be the 2^32-th).
    pub const NONE: SessionId = SessionId(u64::MAX);

    /// The id of a wire value (as sent by [`SessionId::to_u64`]).
    pub fn from_u64(id: u64) -> Self {
        SessionId(id)
    }

    /// Builds an id from its parts.
    pub fn new(slot: u32, generation: u32) -> Self {
        SessionId((u64::from(generation) << 32) | u64::from(slot))
    }

    /// The slot index.
    pub fn slot(self) -> u32 {
        self.0 as u32
    }

    /// The slot's generation when the id was issued.
    pub fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The id as sent on the wire.
    pub fn to_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.slot(), self.generation())
    }
}
