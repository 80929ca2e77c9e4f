//! The hub: who is connected, who is logged in, and the rooms.
//!
//! Locks, always taken in this order and never across `.await`: `registry`,
//! `users`, `memberships`, `rooms`, then one room's state. Fan-out happens
//! under the room's lock, which is what gives every member the same order:
//! the sequence number is assigned and the frame pushed to every member's
//! queue in one critical section. Pushes never wait (see `outbox`), so the
//! lock is held for a bounded, short time. Presence notices wait in the
//! node's batch (`presence`), whose lock comes after the lobby's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode, UserInfo};
use sori_store::{AccountId, RoomId, StoredRoom};

use crate::bus::{Bus, Directory, Presence};
use crate::config::DuplicateLogin;
use crate::event::Event;
use crate::peer::{Link, Peer};
use crate::presence::PresenceBatch;
use crate::refusal::Refusal;
use crate::registry::Registry;
use crate::room::{Gathering, Room};
use crate::session::SessionId;

/// This node's chat state: its sessions, its logged-in users, the rooms.
pub struct Hub {
    registry: Mutex<Registry>,
    /// Logged-in sessions by normalized username.
    users: Mutex<HashMap<String, Online>>,
    /// The rooms each account is a stored member of (never the lobby).
    memberships: Mutex<HashMap<AccountId, Vec<Arc<Room>>>>,
    /// Every room by normalized name; the lobby is under "".
    rooms: RwLock<HashMap<String, Arc<Room>>>,
    /// The same rooms by database id, for messages a bus delivers. Written
    /// under `rooms`' write lock.
    by_id: RwLock<HashMap<RoomId, Arc<Room>>>,
    lobby: Arc<Room>,
    duplicate_login: DuplicateLogin,
    /// Presence notices go out only while at most this many are online.
    presence_limit: usize,
    /// The lobby's presence notices waiting for the end of their window.
    pub(crate) presence: Arc<PresenceBatch>,
    /// Rooms whose messages wait for the edge's next write pass.
    pub(crate) gathering: Arc<Gathering>,
}

/// A logged-in user's entry.
#[derive(Clone)]
pub struct Online {
    /// The session.
    pub peer: Arc<Peer>,
    /// The account it is logged in to.
    pub account_id: AccountId,
    /// Shared with the session's own state: one copy per logged-in user.
    pub user: Arc<UserInfo>,
}

impl Hub {
    /// A hub over the rooms loaded from the store; `lobby` is the room
    /// named "".
    pub(crate) fn new(
        lobby: StoredRoom,
        rooms: Vec<StoredRoom>,
        duplicate_login: DuplicateLogin,
        presence_limit: usize,
        gathering: Arc<Gathering>,
    ) -> Self {
        let lobby = Arc::new(Room::new(lobby));
        let mut by_name = HashMap::new();
        let mut memberships: HashMap<AccountId, Vec<Arc<Room>>> = HashMap::new();
        by_name.insert(String::new(), lobby.clone());
        for stored in rooms {
            let members: Vec<AccountId> = stored.members.iter().map(|m| m.account_id).collect();
            let room = Arc::new(Room::new(stored));
            for account in members {
                memberships.entry(account).or_default().push(room.clone());
            }
            by_name.insert(room_key(&room.name), room);
        }
        let by_id = by_name.values().map(|r| (r.id, r.clone())).collect();
        let presence = Arc::new(PresenceBatch::new(lobby.clone()));
        Hub {
            registry: Mutex::new(Registry::default()),
            users: Mutex::new(HashMap::new()),
            memberships: Mutex::new(memberships),
            rooms: RwLock::new(by_name),
            by_id: RwLock::new(by_id),
            lobby,
            duplicate_login,
            presence_limit,
            presence,
            gathering,
        }
    }

    /// Pushes the lobby's gathered messages now: what must reach a session
    /// in order with them (a whisper) comes after.
    pub(crate) fn flush_lobby(&self) {
        self.lobby.lock().flush_gathered();
    }

    /// Gives a new connection a session id; the core reaches it through
    /// `link`.
    pub fn connect<L: Link + 'static>(&self, ip: std::net::IpAddr, link: L) -> Arc<Peer<L>> {
        let mut link = Some(link);
        let mut made = None;
        lock(&self.registry).insert(|id| {
            // Invariant: `insert` calls this exactly once.
            let peer = Arc::new(Peer::new(id, ip, link.take().expect("called once")));
            made = Some(peer.clone());
            peer
        });
        // Invariant: set by the closure above.
        made.expect("insert made the peer")
    }

    /// Every connected session, logged in or not.
    pub fn peers(&self) -> Vec<Arc<Peer>> {
        lock(&self.registry).peers()
    }

    /// Frees a connection's slot. Call after `logout`.
    pub fn disconnect(&self, id: SessionId) {
        lock(&self.registry).remove(id);
    }

    /// Number of connected sessions.
    pub fn n_sessions(&self) -> usize {
        lock(&self.registry).len()
    }

    /// Marks `peer` as logged in, applying the duplicate-login policy; the
    /// session starts receiving the lobby and every room the account is a
    /// member of. Returns those rooms as listed, the lobby first, each with
    /// its last sequence number at the moment the session started receiving
    /// it.
    pub(crate) fn login(
        &self,
        bus: &dyn Bus,
        peer: &Arc<Peer>,
        account_id: AccountId,
        user: Arc<UserInfo>,
    ) -> Result<Vec<pb::RoomInfo>, Refusal> {
        let key = username_key(&user.username);
        let mut users = lock(&self.users);
        let replaced = match users.get(&key) {
            None => None,
            Some(_) if self.duplicate_login == DuplicateLogin::Reject => {
                return Err(Refusal::new(
                    ErrorCode::AlreadyLoggedIn,
                    "this account is already logged in elsewhere",
                ));
            }
            Some(_) => users.remove(&key),
        };
        users.insert(
            key,
            Online {
                peer: peer.clone(),
                account_id,
                user: user.clone(),
            },
        );
        bus.logged_in(&Presence {
            session: peer.id,
            account_id,
            user: user.clone(),
        });
        let rooms = self.rooms_of(account_id);
        let mut infos = Vec::with_capacity(rooms.len() + 1);
        {
            let mut lobby = self.lobby.lock();
            match &replaced {
                Some(old) => {
                    // The user never went offline: no Left/Joined notices.
                    lobby.detach(old.peer.id);
                    let kicked = Message::kicked(
                        ErrorCode::LoggedInElsewhere,
                        "this account logged in from another connection",
                    );
                    bus.replace(&old.peer, &Event::push(kicked));
                }
                None if lobby.n_online() < self.presence_limit && !bus.relays_presence() => {
                    let joined = Message::UserJoined(pb::UserJoined {
                        user: Some(UserInfo::clone(&user)),
                    });
                    self.presence.queue(&lobby, joined);
                }
                None => {}
            }
            lobby.attach(peer.clone(), account_id);
            // Its own notice, and any still waiting, are not for it.
            self.presence.attached(&lobby, peer.id);
            // Read under the lock that attached the session: every lobby
            // message after this last_seq reaches it live.
            infos.push(self.lobby.info(&lobby));
        }
        for room in &rooms {
            let mut state = room.lock();
            if let Some(old) = &replaced {
                state.detach(old.peer.id);
            }
            state.attach(peer.clone(), account_id);
            infos.push(room.info(&state));
        }
        Ok(infos)
    }

    /// Takes a logged-in session out of its rooms and the user table,
    /// telling the others, unless a newer login already replaced it.
    pub(crate) fn logout(
        &self,
        bus: &dyn Bus,
        id: SessionId,
        account_id: AccountId,
        username: &str,
    ) {
        let key = username_key(username);
        let mut users = lock(&self.users);
        let rooms = self.rooms_of(account_id);
        for room in &rooms {
            room.lock().detach(id);
        }
        let mut lobby = self.lobby.lock();
        lobby.detach(id);
        if users.get(&key).is_some_and(|online| online.peer.id == id) {
            // Invariant: the entry was just seen.
            let online = users.remove(&key).expect("entry present");
            if crate::room::mostly_empty(users.len(), users.capacity()) {
                // The table grew for a crowd that has left: give it back.
                let keep = users.len() * 2;
                users.shrink_to(keep);
            }
            bus.logged_out(&Presence {
                session: id,
                account_id,
                user: online.user.clone(),
            });
            if lobby.n_online() < self.presence_limit && !bus.relays_presence() {
                let left = Message::UserLeft(pb::UserLeft {
                    user: Some(Arc::unwrap_or_clone(online.user)),
                });
                self.presence.queue(&lobby, left);
            }
        }
    }

    /// Queues a presence notice another node sent for this node's lobby,
    /// while fewer than `presence_limit` are online: here, or `online` in
    /// the whole cluster, whichever is more.
    pub(crate) fn relayed_presence(&self, notice: Message, online: usize) {
        let lobby = self.lobby.lock();
        if lobby.n_online().max(online) < self.presence_limit {
            self.presence.queue(&lobby, notice);
        }
    }

    /// The logged-in session of `username`, if any.
    pub(crate) fn online(&self, username: &str) -> Option<Online> {
        lock(&self.users).get(&username_key(username)).cloned()
    }

    /// The logged-in session of `account`, if any.
    pub(crate) fn online_account(&self, account: AccountId) -> Option<Online> {
        lock(&self.users)
            .values()
            .find(|online| online.account_id == account)
            .cloned()
    }

    /// Every logged-in session here.
    pub fn logged_in(&self) -> Vec<Online> {
        lock(&self.users).values().cloned().collect()
    }

    /// Every logged-in user, sorted by username.
    pub(crate) fn list_users(&self) -> Vec<UserInfo> {
        let mut list: Vec<UserInfo> = lock(&self.users)
            .values()
            .map(|online| UserInfo::clone(&online.user))
            .collect();
        list.sort_by(|a, b| a.username.cmp(&b.username));
        list
    }

    /// Records a logged-in user's new display name, in the user table and
    /// in every room they are a member of.
    pub(crate) fn rename(&self, id: SessionId, account_id: AccountId, user: Arc<UserInfo>) {
        let mut users = lock(&self.users);
        for room in self.rooms_of(account_id) {
            if let Some(member) = room.lock().members.get_mut(&account_id) {
                member.display_name.clone_from(&user.display_name);
            }
        }
        if let Some(online) = users.get_mut(&username_key(&user.username))
            && online.peer.id == id
        {
            online.user = user;
        }
    }

    /// The room with this name ("" is the lobby), compared case-insensitively.
    pub(crate) fn room(&self, name: &str) -> Option<Arc<Room>> {
        read(&self.rooms).get(&room_key(name)).cloned()
    }

    /// Every room.
    pub(crate) fn all_rooms(&self) -> Vec<Arc<Room>> {
        read(&self.rooms).values().cloned().collect()
    }

    /// Number of rooms, the lobby included.
    pub(crate) fn n_rooms(&self) -> usize {
        read(&self.rooms).len()
    }

    /// The room with this database id.
    pub(crate) fn room_by_id(&self, id: RoomId) -> Option<Arc<Room>> {
        read(&self.by_id).get(&id).cloned()
    }

    /// Takes the stored state of a room another node changed, or adds a
    /// room another node created; the sessions of new members logged in
    /// here start receiving it.
    pub(crate) fn refresh_room(&self, fresh: Room) {
        let existing = self.room_by_id(fresh.id);
        let room = match existing {
            Some(room) => room,
            None => {
                let room = Arc::new(fresh);
                if !self.add_room(room.clone()) {
                    return;
                }
                let members: Vec<AccountId> = room.lock().members.keys().copied().collect();
                for account in members {
                    self.add_membership(account, &room);
                    self.attach_online(account, &room);
                }
                return;
            }
        };
        let (joined, left) = room.lock().take_stored(fresh.into_state());
        for account in left {
            self.remove_membership(account, &room);
        }
        for account in joined {
            self.add_membership(account, &room);
            self.attach_online(account, &room);
        }
    }

    /// Starts pushing `room` to `account`'s session here, if it is online.
    fn attach_online(&self, account: AccountId, room: &Arc<Room>) {
        if let Some(online) = self.online_account(account) {
            room.lock().attach(online.peer, account);
        }
    }

    /// Takes a deleted room out of the room table and every membership.
    pub(crate) fn remove_room(&self, room: &Room) {
        let mut memberships = lock(&self.memberships);
        memberships.retain(|_, rooms| {
            rooms.retain(|r| r.id != room.id);
            !rooms.is_empty()
        });
        let mut rooms = write(&self.rooms);
        if rooms
            .get(&room_key(&room.name))
            .is_some_and(|r| r.id == room.id)
        {
            rooms.remove(&room_key(&room.name));
        }
        write(&self.by_id).remove(&room.id);
    }

    /// Adds a newly stored room. False if the name is taken in memory.
    pub(crate) fn add_room(&self, room: Arc<Room>) -> bool {
        let mut rooms = write(&self.rooms);
        let key = room_key(&room.name);
        if rooms.contains_key(&key) {
            return false;
        }
        write(&self.by_id).insert(room.id, room.clone());
        rooms.insert(key, room);
        true
    }

    /// The rooms `account` is a stored member of.
    pub(crate) fn rooms_of(&self, account: AccountId) -> Vec<Arc<Room>> {
        lock(&self.memberships)
            .get(&account)
            .cloned()
            .unwrap_or_default()
    }

    /// Number of rooms `account` is a stored member of.
    pub(crate) fn n_memberships(&self, account: AccountId) -> usize {
        lock(&self.memberships).get(&account).map_or(0, Vec::len)
    }

    /// Records that `account` is now a member of `room`.
    pub(crate) fn add_membership(&self, account: AccountId, room: &Arc<Room>) {
        let mut memberships = lock(&self.memberships);
        let rooms = memberships.entry(account).or_default();
        if !rooms.iter().any(|r| r.id == room.id) {
            rooms.push(room.clone());
        }
    }

    /// Records that `account` is no longer a member of `room`.
    pub(crate) fn remove_membership(&self, account: AccountId, room: &Room) {
        let mut memberships = lock(&self.memberships);
        if let Some(rooms) = memberships.get_mut(&account) {
            rooms.retain(|r| r.id != room.id);
            if rooms.is_empty() {
                memberships.remove(&account);
            }
        }
    }
}

impl Directory for Hub {
    fn session_of(&self, username: &str) -> Option<Arc<Peer>> {
        self.online(username).map(|online| online.peer)
    }

    fn session_of_account(&self, account: AccountId) -> Option<Arc<Peer>> {
        self.online_account(account).map(|online| online.peer)
    }

    fn sessions(&self) -> Vec<Arc<Peer>> {
        self.peers()
    }

    fn users(&self) -> Vec<UserInfo> {
        self.list_users()
    }
}

/// The key under which a username is unique: case-insensitive.
pub fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// The key under which a room name is unique: case-insensitive, with the
/// same lowercasing as the store.
pub(crate) fn room_key(name: &str) -> String {
    name.to_lowercase()
}

// Every critical section here leaves its state consistent between
// statements that can panic, so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
