//! The slot table of live sessions, which hands out their ids.

use std::sync::Arc;

use crate::peer::Peer;
use crate::session::SessionId;

#[cfg(test)]
mod tests;

/// The slot table of live sessions.
///
/// A slot is only its session (16 bytes, as many slots as sessions at the
/// busiest): a live session's generation is in its id, and an empty slot's
/// next generation waits in the free list.
#[derive(Default)]
pub(crate) struct Registry {
    slots: Vec<Option<Arc<Peer>>>,
    /// Empty slots, reused last-in first-out.
    free: Vec<FreeSlot>,
    live: usize,
}

/// An empty slot.
struct FreeSlot {
    /// Its index in `slots`.
    slot: u32,
    /// The generation of its next occupant; never 0, so no id is 0.
    generation: u32,
}

impl Registry {
    /// Puts a new session in a free slot; `make` builds it from its id.
    pub(crate) fn insert(&mut self, make: impl FnOnce(SessionId) -> Arc<Peer>) -> Arc<Peer> {
        let free = match self.free.pop() {
            Some(free) => free,
            None => {
                self.slots.push(None);
                FreeSlot {
                    // Slots are bounded by max_sessions, itself far below
                    // u32::MAX.
                    slot: u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 slots"),
                    generation: 1,
                }
            }
        };
        let peer = make(SessionId::new(free.slot, free.generation));
        self.slots[free.slot as usize] = Some(peer.clone());
        self.live += 1;
        peer
    }

    /// Frees the slot of this id; a stale id frees nothing.
    pub(crate) fn remove(&mut self, id: SessionId) -> Option<Arc<Peer>> {
        let slot = self.slots.get_mut(id.slot() as usize)?;
        if slot.as_ref()?.id != id {
            return None;
        }
        let peer = slot.take()?;
        self.free.push(FreeSlot {
            slot: id.slot(),
            generation: match id.generation().wrapping_add(1) {
                0 => 1,
                next => next,
            },
        });
        self.live -= 1;
        Some(peer)
    }

    /// Every live session.
    pub(crate) fn peers(&self) -> Vec<Arc<Peer>> {
        self.slots.iter().flatten().cloned().collect()
    }

    /// Number of live sessions.
    pub(crate) fn len(&self) -> usize {
        self.live
    }
}
