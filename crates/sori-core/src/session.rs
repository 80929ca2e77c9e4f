//! Session ids and the slot table that hands them out.
//!
//! An id is 64 bits: the high 32 are the slot's generation, the low 32 the
//! slot index. Slots are reused from a free list, and every reuse bumps the
//! generation, so an id kept by anyone after its session ended can never
//! reach the session that holds the slot now (the seed servers' scheme).

use std::fmt;
use std::sync::Arc;

use crate::peer::Peer;

#[cfg(test)]
mod tests;

/// A session's id: `generation << 32 | slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
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

/// The slot table of live sessions.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Vec<Slot>,
    /// Indices of empty slots, reused last-in first-out.
    free: Vec<u32>,
    live: usize,
}

struct Slot {
    /// Generation of the current (or next) occupant; never 0, so no id is 0.
    generation: u32,
    peer: Option<Arc<Peer>>,
}

impl Registry {
    /// Puts a new session in a free slot; `make` builds it from its id.
    pub(crate) fn insert(&mut self, make: impl FnOnce(SessionId) -> Arc<Peer>) -> Arc<Peer> {
        let slot_idx = match self.free.pop() {
            Some(idx) => idx,
            None => {
                self.slots.push(Slot {
                    generation: 1,
                    peer: None,
                });
                // Slots are bounded by max_sessions, itself far below u32::MAX.
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 slots")
            }
        };
        let slot = &mut self.slots[slot_idx as usize];
        let peer = make(SessionId::new(slot_idx, slot.generation));
        slot.peer = Some(peer.clone());
        self.live += 1;
        peer
    }

    /// Frees the slot of this id; a stale id frees nothing.
    pub(crate) fn remove(&mut self, id: SessionId) -> Option<Arc<Peer>> {
        let slot = self.slots.get_mut(id.slot() as usize)?;
        if slot.generation != id.generation() {
            return None;
        }
        let peer = slot.peer.take()?;
        slot.generation = match slot.generation.wrapping_add(1) {
            0 => 1,
            next => next,
        };
        self.free.push(id.slot());
        self.live -= 1;
        Some(peer)
    }

    /// Every live session.
    pub(crate) fn peers(&self) -> Vec<Arc<Peer>> {
        self.slots
            .iter()
            .filter_map(|slot| slot.peer.clone())
            .collect()
    }

    /// Number of live sessions.
    pub(crate) fn len(&self) -> usize {
        self.live
    }
}
