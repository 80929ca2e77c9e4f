//! A room: its members, its order, its fan-out, and the in-memory tail of
//! its newest messages.
//!
//! The lobby is a room too (the empty name): every logged-in session is
//! online in it, and it has no stored members. Other rooms have persistent
//! members (`members`) and, among them, the sessions online now (`online`),
//! which are who a message is pushed to.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use sori_protocol::Message;
use sori_protocol::pb::{self, RoomRole};
use sori_store::{AccountId, Role, RoomId, StoredRoom};

use crate::event::Event;
use crate::peer::Peer;
use crate::session::SessionId;

mod gather;
mod order;
#[cfg(test)]
mod tests;

pub(crate) use gather::{Gathered, Gathering};
pub use gather::{MAX_GATHERED, MAX_GATHERED_BYTES, Pacer};

/// Sequence numbers reserved in the store at a time: a room hands out
/// numbers only below its reservation, so a number handed out before a
/// crash is never handed out again after it.
pub const SEQ_BLOCK: u64 = 4096;

/// A room times one broadcast in this many...
const PROBE_EVERY: u64 = 64;

/// ...and the first after this long without one, so a rare broadcast to
/// a large room is timed too. A timed broadcast costs every recipient an
/// atomic on a shared counter and a probe queued in its outbox: timing
/// each one to a room of 1,000 was a tenth of the server's CPU.
const PROBE_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a table of `len` entries that grew to `capacity` should give
/// most of it back: past a crowd of a thousand, once three quarters have
/// left (halving it then costs one copy of what is left, so shrinking is
/// amortized over the departures that made it due).
pub(crate) fn mostly_empty(len: usize, capacity: usize) -> bool {
    capacity > 1024 && len < capacity / 4
}

/// A room. Its mutable state sits behind one lock: fan-out, joins, leaves
/// and role changes are serialized per room, which is what gives every
/// member one order.
pub struct Room {
    /// The database id: never reused, so a room created under a deleted
    /// room's name is told apart from it.
    pub id: RoomId,
    /// The name as created; "" for the lobby.
    pub name: String,
    state: Mutex<RoomState>,
    /// Held across a change of the room's stored state (the memory and the
    /// store write), and across a reload of it another node asked for: a
    /// reload never reads the store in the middle of a change here and then
    /// undoes it.
    admin: tokio::sync::Mutex<()>,
}

/// A stored member of a room.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's login name.
    pub username: String,
    /// The member's display name.
    pub display_name: String,
    /// What the member may do here.
    pub role: Role,
    /// Join order: lower joined earlier (ownership passes by it).
    pub joined: i64,
}

/// A room's state, behind its lock.
pub struct RoomState {
    pub(crate) topic: String,
    pub(crate) invite_only: bool,
    pub(crate) owner: Option<AccountId>,
    /// The room was deleted: nothing more happens in it.
    pub(crate) deleted: bool,
    /// Sequence number of the newest message.
    seq: u64,
    /// Highest sequence number the store has reserved for this room.
    reserved: u64,
    /// A reservation is being written.
    pub(crate) reserving: bool,
    /// Timestamp of the newest message: timestamps never go backwards in a
    /// room even if the wall clock does.
    last_ts: i64,
    pub(crate) members: HashMap<AccountId, Member>,
    pub(crate) bans: HashSet<AccountId>,
    pub(crate) invites: HashSet<AccountId>,
    /// Sessions receiving this room now.
    online: Vec<OnlineMember>,
    /// Position in `online` of each session, by its id's slot, for O(1)
    /// removal. The slot, not the whole id: no two live sessions share a
    /// slot, the entry it finds is checked against the whole id, and 8
    /// bytes an entry instead of 16 count in the lobby, where every
    /// logged-in session has one.
    index: HashMap<u32, u32>,
    /// The newest messages, oldest first: at least every message not yet
    /// on disk, and up to `tail_len` more. Joins and resumes read it to fill
    /// the gap between the database and the live stream.
    tail: VecDeque<pb::ChatMessage>,
    /// Highest sequence number known to be on disk (or, with history off,
    /// as durable as it will get).
    durable_seq: u64,
    /// ChatAcks waiting for their message to be delivered here (a bus that
    /// numbers off this node): an ack never overtakes a lower number.
    held_acks: Vec<(u64, Arc<Peer>, Event)>,
    /// When a broadcast here was last timed.
    probed_at: Option<std::time::Instant>,
    /// Messages numbered and not yet pushed (`gather.rs`).
    gathered: Gathered,
}

/// Why a number could not be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedReservation {
    /// Reserve up to here, then try again.
    pub up_to: u64,
}

struct OnlineMember {
    peer: Arc<Peer>,
    account_id: AccountId,
}

impl Room {
    /// A room as loaded from (or just created in) the store. Numbering
    /// resumes above both the newest stored message and the reservation:
    /// after a crash numbers may skip, but never repeat.
    pub fn new(stored: StoredRoom) -> Self {
        let members = stored
            .members
            .into_iter()
            .map(|m| {
                let member = Member {
                    username: m.username,
                    display_name: m.display_name,
                    role: m.role,
                    joined: m.joined_seq,
                };
                (m.account_id, member)
            })
            .collect();
        Room {
            id: stored.id,
            name: stored.name,
            state: Mutex::new(RoomState {
                topic: stored.topic,
                invite_only: stored.invite_only,
                owner: stored.owner,
                deleted: false,
                seq: stored.last_seq.max(stored.seq_reserved),
                reserved: stored.last_seq.max(stored.seq_reserved),
                reserving: false,
                last_ts: 0,
                members,
                bans: stored.bans.into_iter().collect(),
                invites: stored.invites.into_iter().collect(),
                online: Vec::new(),
                index: HashMap::new(),
                tail: VecDeque::new(),
                durable_seq: stored.last_seq.max(stored.seq_reserved),
                held_acks: Vec::new(),
                probed_at: None,
                gathered: Gathered::default(),
            }),
            admin: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits for other changes of the room's stored state to finish; hold
    /// the guard across one.
    pub(crate) async fn admin(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.admin.lock().await
    }

    /// The room's state, taken out of a room that was never shared.
    pub(crate) fn into_state(self) -> RoomState {
        self.state
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lobby is the room named "".
    pub fn is_lobby(&self) -> bool {
        self.name.is_empty()
    }

    /// The room's state. std Mutex: never held across `.await`.
    pub fn lock(&self) -> MutexGuard<'_, RoomState> {
        // Every critical section leaves the state consistent between
        // statements that can panic, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The room as listed, from its locked state.
    pub(crate) fn info(&self, state: &RoomState) -> pb::RoomInfo {
        let owner = state
            .owner
            .and_then(|id| state.members.get(&id))
            .map(|m| m.username.clone())
            .unwrap_or_default();
        let member_count = if self.is_lobby() {
            state.online.len()
        } else {
            state.members.len()
        };
        pb::RoomInfo {
            name: self.name.clone(),
            topic: state.topic.clone(),
            invite_only: state.invite_only,
            member_count: u32::try_from(member_count).unwrap_or(u32::MAX),
            owner,
            last_seq: state.seq,
            room_id: u64::try_from(self.id).unwrap_or_default(),
        }
    }
}

impl RoomState {
    /// Sequence number of the newest message.
    pub(crate) fn last_seq(&self) -> u64 {
        self.seq
    }

    /// The role of `account` here; the lobby makes everyone a member.
    pub(crate) fn role_of(&self, account: AccountId, is_lobby: bool) -> Option<Role> {
        match self.members.get(&account) {
            Some(member) => Some(member.role),
            None if is_lobby => Some(Role::Member),
            None => None,
        }
    }

    /// Starts pushing this room's messages to `peer`, from the next one
    /// numbered on.
    pub fn attach(&mut self, peer: Arc<Peer>, account_id: AccountId) {
        self.flush_gathered();
        if let Some(&pos) = self.index.get(&peer.id.slot()) {
            let member = &mut self.online[pos as usize];
            if member.peer.id != peer.id {
                // A session that ended without being detached: its slot
                // has a new occupant, which takes its place.
                *member = OnlineMember { peer, account_id };
            }
            return;
        }
        // Online sessions are bounded by max_sessions, far below u32::MAX.
        let pos = u32::try_from(self.online.len()).expect("fewer than 2^32 sessions");
        self.index.insert(peer.id.slot(), pos);
        self.online.push(OnlineMember { peer, account_id });
    }

    /// Where session `id` is in `online`, if it is there.
    fn position(&self, id: SessionId) -> Option<usize> {
        let pos = *self.index.get(&id.slot())? as usize;
        (self.online[pos].peer.id == id).then_some(pos)
    }

    /// Stops pushing this room's messages to session `id`.
    pub(crate) fn detach(&mut self, id: SessionId) {
        let Some(pos) = self.position(id) else {
            return;
        };
        // It receives what was numbered while it was here.
        self.flush_gathered();
        self.index.remove(&id.slot());
        self.online.swap_remove(pos);
        if let Some(moved) = self.online.get(pos) {
            // `pos` came from a u32.
            self.index.insert(moved.peer.id.slot(), pos as u32);
        }
        if mostly_empty(self.online.len(), self.online.capacity()) {
            // The lists grew for a crowd that has left: give them back.
            let keep = self.online.len() * 2;
            self.online.shrink_to(keep);
            self.index.shrink_to(keep);
        }
    }

    /// Stops pushing to every session of `account`.
    pub(crate) fn detach_account(&mut self, account: AccountId) {
        let ids: Vec<SessionId> = self
            .online
            .iter()
            .filter(|m| m.account_id == account)
            .map(|m| m.peer.id)
            .collect();
        for id in ids {
            self.detach(id);
        }
    }

    /// Whether any session of `account` receives this room now.
    pub(crate) fn is_online(&self, account: AccountId) -> bool {
        self.online.iter().any(|m| m.account_id == account)
    }

    /// Takes the stored state (topic, members, roles, bans, invites) of
    /// `fresh`, as reloaded after another node changed it; the sessions
    /// online, the position and the tail stay. Returns the accounts that
    /// joined and those that left.
    pub(crate) fn take_stored(&mut self, fresh: RoomState) -> (Vec<AccountId>, Vec<AccountId>) {
        let joined = fresh
            .members
            .keys()
            .filter(|id| !self.members.contains_key(id))
            .copied()
            .collect();
        let left: Vec<AccountId> = self
            .members
            .keys()
            .filter(|id| !fresh.members.contains_key(id))
            .copied()
            .collect();
        self.topic = fresh.topic;
        self.invite_only = fresh.invite_only;
        self.owner = fresh.owner;
        self.members = fresh.members;
        self.bans = fresh.bans;
        self.invites = fresh.invites;
        for account in &left {
            self.detach_account(*account);
        }
        (joined, left)
    }

    /// Stops pushing to anyone (the room was deleted).
    pub(crate) fn detach_all(&mut self) {
        self.flush_gathered();
        self.online.clear();
        self.index.clear();
    }

    /// Who inherits the room when its owner leaves: the operator who joined
    /// first, else the member who joined first.
    pub(crate) fn heir(&self) -> Option<AccountId> {
        let first = |role: Role| {
            self.members
                .iter()
                .filter(|(_, m)| m.role == role)
                .min_by_key(|(id, m)| (m.joined, **id))
                .map(|(id, _)| *id)
        };
        first(Role::Operator).or_else(|| first(Role::Member))
    }

    /// A join order after every member's.
    pub(crate) fn next_join_order(&self) -> i64 {
        self.members.values().map(|m| m.joined).max().unwrap_or(0) + 1
    }

    /// Number of sessions receiving this room.
    pub(crate) fn n_online(&self) -> usize {
        self.online.len()
    }

    /// Every session receiving this room now.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = &Arc<Peer>> {
        self.online.iter().map(|member| &member.peer)
    }

    /// Pushes one event to every online session but `except`, at once,
    /// after the messages gathered so far. The bytes are shared: each push
    /// clones a reference, never the frame.
    pub(crate) fn push_all(&mut self, event: &Event, except: Option<SessionId>) {
        self.flush_gathered();
        for member in &self.online {
            if Some(member.peer.id) != except {
                member.peer.link.push(event);
            }
        }
    }

    /// Encodes `msg` once and pushes it to every online session but `except`.
    pub(crate) fn notify(&mut self, msg: Message, except: Option<SessionId>) {
        if !self.online.is_empty() {
            self.push_all(&Event::push(msg), except);
        }
    }
}

/// The wire role of a stored role.
pub fn wire_role(role: Role) -> RoomRole {
    match role {
        Role::Member => RoomRole::Member,
        Role::Operator => RoomRole::Operator,
        Role::Owner => RoomRole::Owner,
    }
}
