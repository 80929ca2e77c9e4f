//! [`SeqTracker`]: the last sequence number a [`Session`](crate::Session)
//! has seen in each of its rooms, which decides what a resume asks for and
//! which messages are duplicates.
//!
//! Pure bookkeeping, with no I/O and no clock, so that it is tested directly.
//!
//! One number per room serves both purposes. Every message with a sequence
//! number at or below it has been delivered (or is the user's own, see
//! [`SeqTracker::acked`]), so a message at or below it is a duplicate, and a
//! resume asks for what comes after it. This relies on the server's
//! guarantee that a room's messages reach a member in sequence order with no
//! gap.

use std::collections::BTreeMap;

use sori_protocol::pb;

/// The last sequence number seen in each room, by room.
#[derive(Debug, Default)]
pub(crate) struct SeqTracker {
    /// By [`room_key`]: the server compares room names case-insensitively,
    /// and the same room may come back spelled as created, not as asked for.
    rooms: BTreeMap<String, TrackedRoom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TrackedRoom {
    /// The name as the server last spelled it, for `JoinRoom`.
    name: String,
    /// The highest sequence number delivered; 0 before the first.
    last_seq: u64,
}

impl SeqTracker {
    /// Takes in a login's `LoginOk.rooms` and returns the rooms to resume,
    /// as `(name, since_seq)`, in name order (the lobby first).
    ///
    /// - A tracked room the account is no longer a member of (it was kicked,
    ///   banned or left on another connection while this one was away) is
    ///   forgotten and not resumed: joining it again would make the user a
    ///   member again, or fail.
    /// - A tracked room it is still a member of is resumed from its last
    ///   sequence number.
    /// - A room it is a member of but that is not tracked (the first login,
    ///   or a room joined elsewhere) starts at the room's `last_seq` in
    ///   `LoginOk`: the session receives every message after that.
    ///
    /// The lobby is always a member. When `LoginOk` does not list it, its
    /// last sequence number is not known, and it starts at 0; a resume from
    /// 0 then gets the lobby's newest messages, which were not delivered
    /// before either.
    pub(crate) fn logged_in(&mut self, rooms: &[pb::RoomInfo]) -> Vec<(String, u64)> {
        let mut members: BTreeMap<String, TrackedRoom> = rooms
            .iter()
            .map(|room| {
                let tracked = TrackedRoom {
                    name: room.name.clone(),
                    last_seq: room.last_seq,
                };
                (room_key(&room.name), tracked)
            })
            .collect();
        members.entry(String::new()).or_insert(TrackedRoom {
            name: String::new(),
            last_seq: 0,
        });
        self.rooms.retain(|key, _| members.contains_key(key));
        let mut resume = Vec::new();
        for (key, member) in members {
            match self.rooms.get(&key) {
                Some(tracked) => resume.push((tracked.name.clone(), tracked.last_seq)),
                None => {
                    self.rooms.insert(key, member);
                }
            }
        }
        resume
    }

    /// Whether a chat message is new, and if so records it: true when its
    /// sequence number is above the room's last one (a room not tracked yet
    /// is tracked from it).
    pub(crate) fn accept(&mut self, msg: &pb::ChatMessage) -> bool {
        let tracked = self
            .rooms
            .entry(room_key(&msg.room))
            .or_insert_with(|| TrackedRoom {
                name: msg.room.clone(),
                last_seq: 0,
            });
        if msg.seq <= tracked.last_seq {
            return false;
        }
        tracked.last_seq = msg.seq;
        true
    }

    /// Takes in the ack of the user's own message, which the server does not
    /// push back to its sender.
    ///
    /// The ack counts only when its sequence number is exactly the next one,
    /// because the ack and the pushes arrive by different paths: the ack
    /// goes to the task that sent the message, the pushes to whoever reads
    /// [`SessionEvents`](crate::SessionEvents). An ack of `last_seq + 2`
    /// means that message `last_seq + 1`, someone else's, was pushed and not
    /// yet read, or was lost with the connection; recording the ack would
    /// make the first a duplicate and hide the second from a resume. Left
    /// as it is, the worst case is that a resume returns the user's own
    /// message once (it was never an event, so it is not delivered twice).
    pub(crate) fn acked(&mut self, ack: &pb::ChatAck) {
        if let Some(tracked) = self.rooms.get_mut(&room_key(&ack.room)) {
            if tracked.last_seq.checked_add(1) == Some(ack.seq) {
                tracked.last_seq = ack.seq;
            }
        }
    }

    /// Takes in the answer to a `CreateRoom` or `JoinRoom` the user asked
    /// for. A room not tracked yet starts at the answer's `last_seq` (the
    /// history went to the caller, and the pushes continue after it). A room
    /// already tracked is left alone: its pushes keep arriving, and moving
    /// its number up here could drop pushes not yet read.
    pub(crate) fn joined(&mut self, joined: &pb::RoomJoined) {
        let name = joined.room.as_ref().map_or("", |room| room.name.as_str());
        self.rooms
            .entry(room_key(name))
            .or_insert_with(|| TrackedRoom {
                name: name.to_owned(),
                last_seq: joined.last_seq,
            });
    }

    /// Takes in the answer to a resume's `JoinRoom`, before its history is
    /// delivered through [`SeqTracker::accept`].
    ///
    /// If the room's newest sequence number is below the last one seen, the
    /// server lost messages (an unacknowledged message may be lost by a
    /// crash, and its number reused): the numbers above are counted as not
    /// seen again, so that the new messages that reuse them are delivered.
    pub(crate) fn resumed(&mut self, joined: &pb::RoomJoined) {
        let name = joined.room.as_ref().map_or("", |room| room.name.as_str());
        if let Some(tracked) = self.rooms.get_mut(&room_key(name)) {
            tracked.last_seq = tracked.last_seq.min(joined.last_seq);
        }
    }

    /// Stops tracking a room the user is no longer a member of.
    pub(crate) fn forget(&mut self, room: &str) {
        self.rooms.remove(&room_key(room));
    }

    /// The last sequence number seen in a room; `None` when not tracked.
    pub(crate) fn last_seq(&self, room: &str) -> Option<u64> {
        self.rooms
            .get(&room_key(room))
            .map(|tracked| tracked.last_seq)
    }
}

/// How the server compares room names: case-insensitively.
fn room_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests;
