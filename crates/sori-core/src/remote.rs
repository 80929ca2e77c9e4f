//! What a bus that numbers off this node (a cluster's) calls into: the
//! numbered room messages it receives, the rooms' positions it keeps in
//! step, and the state other nodes changed.

use std::sync::Arc;

use sori_protocol::{Message, pb};
use sori_store::RoomId;

use crate::checks::wire_message;
use crate::ip_bans::IpBans;
use crate::metrics::Probe;
use crate::node::Core;
use crate::room::Room;
use crate::session::SessionId;

/// What [`Core::deliver`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Fanned out to the room's members here.
    Done,
    /// Its number was already delivered here: dropped.
    Old,
    /// Numbers between the room's position here (`after`) and the message
    /// are missing: fill them first, or deliver with `skip_gap`.
    Gap {
        /// The last number delivered here.
        after: u64,
    },
    /// No such room on this node (deleted, or not loaded yet).
    NoRoom,
}

impl Core {
    /// Delivers a message a bus numbered to the room's members on this
    /// node, in the room's order: only the number after the room's
    /// position is taken, unless `skip_gap` says the numbers between will
    /// never come. `from` is the sending session if it is on this node
    /// (it gets a ChatAck, not the message).
    pub fn deliver(
        &self,
        room_id: RoomId,
        msg: pb::ChatMessage,
        from: Option<SessionId>,
        skip_gap: bool,
    ) -> Delivered {
        let Some(room) = self.hub.room_by_id(room_id) else {
            return Delivered::NoRoom;
        };
        let tail_len = self.settings.rooms.tail_len;
        let mut state = room.lock();
        if state.deleted {
            return Delivered::NoRoom;
        }
        let last = state.last_seq();
        if msg.seq <= last {
            return Delivered::Old;
        }
        if msg.seq > last + 1 && !skip_gap {
            return Delivered::Gap { after: last };
        }
        let read_at = tokio::time::Instant::now();
        let metrics = &self.metrics;
        let probe = |recipients| Some(Arc::new(Probe::new(read_at, recipients, metrics.clone())));
        state.accept_numbered(msg, from, probe, tail_len);
        Delivered::Done
    }

    /// Every room on this node with its position (the last number
    /// delivered here).
    pub fn room_positions(&self) -> Vec<(RoomId, u64)> {
        self.hub
            .all_rooms()
            .iter()
            .map(|room| (room.id, room.lock().last_seq()))
            .collect()
    }

    /// Sets a room's position to a bus's counter when the node starts
    /// serving it: the next number delivered here is `seq + 1`.
    pub fn set_room_position(&self, room_id: RoomId, seq: u64) {
        if let Some(room) = self.hub.room_by_id(room_id) {
            room.lock().set_position(seq);
        }
    }

    /// Up to `limit` stored messages of a room after `after`, to fill a gap
    /// the bus's own log no longer holds.
    pub async fn stored_after(
        &self,
        room_id: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<pb::ChatMessage>, sori_store::StoreError> {
        let Some(room) = self.hub.room_by_id(room_id) else {
            return Ok(Vec::new());
        };
        let stored = self.store.messages_after(room_id, after, limit).await?;
        Ok(stored
            .into_iter()
            .map(|m| wire_message(&room.name, m))
            .collect())
    }

    /// Queues a presence notice (UserJoined, UserLeft) from the cluster for
    /// this node's lobby, while fewer than `presence_limit` are online:
    /// here, or `online` in the whole cluster, whichever is more. It goes
    /// out with the node's own in the presence batch (`presence.rs`).
    pub fn presence_notice(&self, msg: Message, online: usize) {
        self.hub.relayed_presence(msg, online);
    }

    /// Pushes notices another node sent about a room to its members online
    /// here.
    pub fn room_notices(&self, room_id: RoomId, notices: Vec<Message>) {
        if let Some(room) = self.hub.room_by_id(room_id) {
            let mut state = room.lock();
            for notice in notices {
                state.notify(notice, None);
            }
        }
    }

    /// Reloads the IP bans another node changed.
    pub async fn reload_ip_bans(&self) -> Result<(), sori_store::StoreError> {
        let fresh = IpBans::load(self.store.as_ref()).await?;
        self.ip_bans.replace_with(fresh);
        Ok(())
    }

    /// Reloads every room (after a time without the bus, when other nodes'
    /// changes could not be heard): rooms changed, created or deleted
    /// elsewhere. Returns the rooms new here.
    pub async fn reload_all_rooms(&self) -> Result<Vec<RoomId>, sori_store::StoreError> {
        let stored = self.store.load_rooms().await?;
        let mut new = Vec::new();
        let ids: std::collections::HashSet<RoomId> = stored.iter().map(|r| r.id).collect();
        for fresh in stored {
            let id = fresh.id;
            match self.hub.room_by_id(id) {
                Some(room) => {
                    let _admin = room.admin().await;
                    self.hub.refresh_room(Room::new(fresh));
                }
                None => {
                    self.hub.refresh_room(Room::new(fresh));
                    new.push(id);
                }
            }
        }
        for room in self.hub.all_rooms() {
            if !ids.contains(&room.id) {
                {
                    let mut state = room.lock();
                    state.deleted = true;
                    state.detach_all();
                }
                self.hub.remove_room(&room);
            }
        }
        Ok(new)
    }

    /// Reloads a room another node changed (members, roles, topic, bans,
    /// invites), or adds one it created, keeping the sessions online here
    /// and the room's position; drops one it deleted. True if the room is
    /// new here: its position is the store's, which the bus should set to
    /// its counter.
    pub async fn reload_room(&self, room_id: RoomId) -> Result<bool, sori_store::StoreError> {
        let existing = self.hub.room_by_id(room_id);
        // Held across the read and the apply: a change made here meanwhile
        // is either in what is read, or made after it is applied.
        let _admin = match &existing {
            Some(room) => Some(room.admin().await),
            None => None,
        };
        let stored = self.store.load_rooms().await?;
        match stored.into_iter().find(|room| room.id == room_id) {
            Some(fresh) => {
                self.hub.refresh_room(Room::new(fresh));
                Ok(existing.is_none())
            }
            None => {
                if let Some(room) = &existing {
                    {
                        let mut state = room.lock();
                        state.deleted = true;
                        state.detach_all();
                    }
                    self.hub.remove_room(room);
                }
                Ok(false)
            }
        }
    }
}
