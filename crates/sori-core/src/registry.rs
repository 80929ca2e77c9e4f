//! The slot table of live sessions, which hands out their ids.

use std::sync::Arc;

use crate::peer::Peer;
use crate::session::SessionId;

#[cfg(test)]
mod tests;

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
