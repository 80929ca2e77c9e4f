//! A room: its members, its order, its fan-out, and the in-memory tail of
//! its newest messages.
//!
//! The lobby is a room too (the empty name): every logged-in session is
//! online in it, and it has no stored members. Other rooms have persistent
//! members (`members`) and, among them, the sessions online now (`online`),
//! which are who a message is pushed to.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use bytes::Bytes;
use sori_protocol::pb::{self, RoomRole};
use sori_protocol::{Message, encode_to_bytes};
use sori_store::{AccountId, Role, RoomId, StoredRoom};
use tokio::time::Instant;

use crate::metrics::{Metrics, Probe};
use crate::peer::Peer;
use crate::session::SessionId;

/// Rooms with at least this many recipients time every broadcast.
const PROBE_ALL_FROM: usize = 1000;

/// Smaller rooms time one broadcast in this many.
const PROBE_EVERY: u64 = 64;

/// A room. Its mutable state sits behind one lock: fan-out, joins, leaves
/// and role changes are serialized per room, which is what gives every
/// member one order.
pub(crate) struct Room {
    pub(crate) id: RoomId,
    /// The name as created; "" for the lobby.
    pub(crate) name: String,
    state: Mutex<RoomState>,
}

/// A stored member of a room.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) role: Role,
}

pub(crate) struct RoomState {
    pub(crate) topic: String,
    pub(crate) invite_only: bool,
    pub(crate) owner: Option<AccountId>,
    /// Sequence number of the newest message.
    seq: u64,
    /// Timestamp of the newest message: timestamps never go backwards in a
    /// room even if the wall clock does.
    last_ts: i64,
    pub(crate) members: HashMap<AccountId, Member>,
    pub(crate) bans: HashSet<AccountId>,
    pub(crate) invites: HashSet<AccountId>,
    /// Sessions receiving this room now.
    online: Vec<OnlineMember>,
    /// Position of each session in `online`, for O(1) removal.
    index: HashMap<SessionId, usize>,
    /// The newest messages, oldest first: at least every message not yet
    /// on disk, and up to `tail_len` more. Joins and resumes read it to fill
    /// the gap between the database and the live stream.
    tail: VecDeque<pb::ChatMessage>,
    /// Highest sequence number known to be on disk.
    durable_seq: u64,
}

struct OnlineMember {
    peer: Arc<Peer>,
    account_id: AccountId,
}

impl Room {
    pub(crate) fn new(stored: StoredRoom) -> Self {
        let members = stored
            .members
            .into_iter()
            .map(|m| {
                let member = Member {
                    username: m.username,
                    display_name: m.display_name,
                    role: m.role,
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
                seq: stored.last_seq,
                last_ts: 0,
                members,
                bans: stored.bans.into_iter().collect(),
                invites: stored.invites.into_iter().collect(),
                online: Vec::new(),
                index: HashMap::new(),
                tail: VecDeque::new(),
                durable_seq: stored.last_seq,
            }),
        }
    }

    pub(crate) fn is_lobby(&self) -> bool {
        self.name.is_empty()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, RoomState> {
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

    /// Starts pushing this room's messages to `peer`.
    pub(crate) fn attach(&mut self, peer: Arc<Peer>, account_id: AccountId) {
        if self.index.contains_key(&peer.id) {
            return;
        }
        self.index.insert(peer.id, self.online.len());
        self.online.push(OnlineMember { peer, account_id });
    }

    /// Stops pushing this room's messages to session `id`.
    pub(crate) fn detach(&mut self, id: SessionId) {
        let Some(pos) = self.index.remove(&id) else {
            return;
        };
        self.online.swap_remove(pos);
        if let Some(moved) = self.online.get(pos) {
            self.index.insert(moved.peer.id, pos);
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

    /// Number of sessions receiving this room.
    pub(crate) fn n_online(&self) -> usize {
        self.online.len()
    }

    /// Pushes one encoded frame to every online session but `except`. The
    /// bytes are shared: each push clones a reference, never the frame.
    pub(crate) fn broadcast(&self, frame: &Bytes, except: Option<SessionId>) {
        for member in &self.online {
            if Some(member.peer.id) != except {
                member.peer.send(frame.clone());
            }
        }
    }

    /// Encodes `msg` once and pushes it to every online session but `except`.
    pub(crate) fn push_all(&self, msg: &Message, except: Option<SessionId>) {
        if !self.online.is_empty() {
            self.broadcast(&encode_to_bytes(0, msg), except);
        }
    }

    /// Assigns the next sequence number and timestamp to a message, fans it
    /// out to everyone online but the sender, and keeps it in the tail.
    /// Some broadcasts are timed (`timing`: when the message was read, and
    /// where to record it): every one to a large room, one in
    /// [`PROBE_EVERY`] elsewhere.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn post(
        &mut self,
        room_name: &str,
        from: SessionId,
        user: &pb::UserInfo,
        text: String,
        now_ms: i64,
        tail_len: usize,
        timing: (Instant, &Arc<Metrics>),
        wakers: &mut Vec<Waker>,
    ) -> pb::ChatMessage {
        self.seq += 1;
        self.last_ts = self.last_ts.max(now_ms);
        let msg = pb::ChatMessage {
            room: room_name.to_owned(),
            seq: self.seq,
            timestamp_ms: self.last_ts,
            from: Some(user.clone()),
            text,
        };
        self.tail.push_back(msg.clone());
        self.trim_tail(tail_len);
        let msg = Message::ChatMessage(msg);
        let frame = encode_to_bytes(0, &msg);
        let recipients = self.online.len() - usize::from(self.index.contains_key(&from));
        let sampled =
            recipients >= PROBE_ALL_FROM || (recipients > 0 && self.seq % PROBE_EVERY == 0);
        let probe = sampled.then(|| {
            let (read_at, metrics) = timing;
            Arc::new(Probe::new(read_at, recipients, metrics.clone()))
        });
        for member in &self.online {
            if member.peer.id != from {
                member
                    .peer
                    .send_deferred(frame.clone(), probe.as_ref(), wakers);
            }
        }
        match msg {
            Message::ChatMessage(msg) => msg,
            // Built as a ChatMessage just above.
            _ => unreachable!("msg is a ChatMessage"),
        }
    }

    /// Records that every message up to `seq` is on disk.
    pub(crate) fn mark_durable(&mut self, seq: u64, tail_len: usize) {
        self.durable_seq = self.durable_seq.max(seq);
        self.trim_tail(tail_len);
    }

    /// Without a database, everything is as durable as it will get.
    pub(crate) fn mark_all_durable(&mut self, tail_len: usize) {
        self.mark_durable(self.seq, tail_len);
    }

    fn trim_tail(&mut self, tail_len: usize) {
        while self.tail.len() > tail_len
            && self.tail.front().is_some_and(|m| m.seq <= self.durable_seq)
        {
            self.tail.pop_front();
        }
    }

    /// The messages with `after < seq <= last_seq` from the tail, or `None`
    /// if the tail does not reach back that far.
    pub(crate) fn tail_after(&self, after: u64) -> Option<Vec<pb::ChatMessage>> {
        if after >= self.seq {
            return Some(Vec::new());
        }
        let first = self.tail.front()?.seq;
        if first > after + 1 {
            return None;
        }
        Some(
            self.tail
                .iter()
                .filter(|m| m.seq > after)
                .cloned()
                .collect(),
        )
    }

    /// The newest `limit` messages from the tail alone.
    pub(crate) fn tail_newest(&self, limit: usize) -> Vec<pb::ChatMessage> {
        let skip = self.tail.len().saturating_sub(limit);
        self.tail.iter().skip(skip).cloned().collect()
    }
}

/// The wire role of a stored role.
pub(crate) fn wire_role(role: Role) -> RoomRole {
    match role {
        Role::Member => RoomRole::Member,
        Role::Operator => RoomRole::Operator,
        Role::Owner => RoomRole::Owner,
    }
}
