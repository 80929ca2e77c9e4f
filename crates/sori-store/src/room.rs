//! The backend-neutral room model: the [`RoomStore`] trait and its record
//! types.
//!
//! The server keeps every room in memory and is the authority on who may do
//! what; the store only records the outcome, so a restart can rebuild the
//! same rooms with [`RoomStore::load_rooms`]. The store checks nothing but
//! what the schema guarantees: unique room names, and that rooms and
//! accounts exist.

use crate::{AccountId, StoreError};

/// A room's database id; stable for the room's life.
pub type RoomId = i64;

/// What a member may do in a room; what each role allows is the server's
/// policy. Ordered by power, so `role >= Role::Operator` asks "may
/// moderate".
///
/// Stored as its integer value; the numbers are part of the schema and must
/// not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// An ordinary member.
    Member = 1,
    /// A moderator, appointed by an owner or another operator.
    Operator = 2,
    /// The room's creator.
    Owner = 3,
}

/// A room as stored, with everything the server needs to rebuild it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    /// The database id.
    pub id: RoomId,
    /// The name, case preserved. Empty for the lobby.
    pub name: String,
    /// The topic; empty when none is set.
    pub topic: String,
    /// Whether joining needs an invite.
    pub invite_only: bool,
    /// The account that created the room; `None` for the lobby, which the
    /// server creates.
    pub owner: Option<AccountId>,
    /// When the room was created, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// The highest sequence number of the room's stored messages, 0 if it
    /// has none.
    pub last_seq: u64,
    /// Every sequence number the server may have handed out for the room is
    /// at most this or [`last_seq`](Self::last_seq): see
    /// [`MessageStore::reserve_seq`](crate::MessageStore::reserve_seq). 0
    /// for a new room. After a restart the server continues from
    /// [`next_seq`](Self::next_seq).
    pub seq_reserved: u64,
    /// The members, sorted by account id.
    pub members: Vec<StoredMember>,
    /// The banned accounts, sorted by account id.
    pub bans: Vec<AccountId>,
    /// The accounts with a pending invite, sorted by account id.
    pub invites: Vec<AccountId>,
}

/// A room member, with the account's current names so the server need not
/// look them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    /// The member's account.
    pub account_id: AccountId,
    /// The account's login name.
    pub username: String,
    /// The account's display name, as it is now (not when they joined).
    pub display_name: String,
    /// What the member may do in the room.
    pub role: Role,
    /// Where the member stands in the room's join order: of two members,
    /// the one with the smaller number joined first. Numbers start at 1
    /// and are unique within the room but not dense (members leave), and a
    /// role change keeps the number; a member who leaves and rejoins gets
    /// a number above every current member's. Only the order means
    /// anything: the number of a member who left may be given again.
    pub joined_seq: i64,
}

/// A room to create. The caller validates the name and topic first
/// ([`validate_room_name`](crate::validate_room_name),
/// [`validate_topic`](crate::validate_topic)); the store only enforces
/// uniqueness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    /// The name; the empty name is the lobby.
    pub name: String,
    /// The topic; empty for none.
    pub topic: String,
    /// Whether joining needs an invite.
    pub invite_only: bool,
    /// The creator, who becomes a member with [`Role::Owner`]; `None` for
    /// the lobby.
    pub owner: Option<AccountId>,
}

/// Persistent storage of rooms, memberships, bans and invites.
///
/// Object-safe so the server can hold an `Arc<dyn RoomStore>`. Every write
/// is one transaction, durable when it returns `Ok`. Writes that name a
/// room or account that does not exist fail with [`StoreError::NotFound`].
#[async_trait::async_trait]
pub trait RoomStore: Send + Sync + 'static {
    /// Every room with its members (with their current names and join
    /// order), bans, invites, `last_seq` and `seq_reserved`, sorted by room
    /// id. Called once at startup.
    async fn load_rooms(&self) -> Result<Vec<StoredRoom>, StoreError>;

    /// Creates a room and returns it. If `owner` is set, the owner is made a
    /// member with [`Role::Owner`] in the same transaction, so there is never
    /// an ownerless room on disk.
    ///
    /// Fails with [`StoreError::RoomNameTaken`] if another room has the name
    /// in any letter case (compared as account names are), and with
    /// [`StoreError::NotFound`] if the owner account does not exist.
    async fn create_room(&self, room: NewRoom) -> Result<StoredRoom, StoreError>;

    /// Replaces a room's topic.
    ///
    /// Fails with [`StoreError::NotFound`] if the room does not exist.
    async fn set_topic(&self, room: RoomId, topic: &str) -> Result<(), StoreError>;

    /// Makes the account a member with `role`: adds it (joining) or changes
    /// its role. Consumes any pending invite for the pair in the same
    /// transaction. A role change keeps the original join time.
    async fn put_member(
        &self,
        room: RoomId,
        account: AccountId,
        role: Role,
    ) -> Result<(), StoreError>;

    /// Removes a membership (leaving, or a kick). Idempotent: removing a
    /// non-member is `Ok`.
    async fn remove_member(&self, room: RoomId, account: AccountId) -> Result<(), StoreError>;

    /// Bans the account from the room and removes its membership, in one
    /// transaction. Idempotent: banning again is `Ok` and keeps the first
    /// ban's `by`, `reason` and time. Pending invites are left alone; the
    /// server checks bans before invites.
    async fn put_ban(
        &self,
        room: RoomId,
        account: AccountId,
        by: AccountId,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// Lifts a ban. Idempotent: unbanning an account that is not banned is
    /// `Ok`. Does not restore the membership.
    async fn remove_ban(&self, room: RoomId, account: AccountId) -> Result<(), StoreError>;

    /// Records a pending invite, consumed by the next
    /// [`put_member`](Self::put_member) for the pair. Idempotent.
    async fn put_invite(&self, room: RoomId, account: AccountId) -> Result<(), StoreError>;

    /// Hands the room over: sets its owner to `owner` and, if it is `Some`,
    /// that member's role to [`Role::Owner`], in one transaction. `None`
    /// leaves the room ownerless. Nobody else's membership changes: if the
    /// previous owner is still a member, the caller demotes them with
    /// [`put_member`](Self::put_member).
    ///
    /// Fails with [`StoreError::NotFound`], changing nothing, if the room
    /// does not exist or the new owner is not a member of it.
    async fn set_owner(&self, room: RoomId, owner: Option<AccountId>) -> Result<(), StoreError>;

    /// Deletes the room with its members, bans, invites, history and
    /// sequence number reservation, in one transaction. The room's id is
    /// never given to another room, so nothing stale can name the new one;
    /// its name is free again at once. Idempotent: deleting a room that does
    /// not exist (any more) is `Ok`.
    ///
    /// Fails with [`StoreError::LobbyNotDeletable`] for the lobby (the room
    /// named `""`), which the server needs.
    async fn delete_room(&self, room: RoomId) -> Result<(), StoreError>;
}

impl StoredRoom {
    /// The first sequence number the server may hand out for this room
    /// after a restart, clean or not: one above both the stored history and
    /// the reservation, so numbers may be skipped but are never repeated.
    pub fn next_seq(&self) -> u64 {
        // Both are at most i64::MAX (the largest a database integer holds),
        // so adding one cannot overflow.
        self.last_seq.max(self.seq_reserved) + 1
    }
}

// Only the backends read and write the codes; add each backend's feature
// to the condition.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Role {
    /// The role stored as `code`, or `None` for a number no role has.
    pub(crate) fn from_code(code: i64) -> Option<Role> {
        match code {
            1 => Some(Role::Member),
            2 => Some(Role::Operator),
            3 => Some(Role::Owner),
            _ => None,
        }
    }

    /// The number the role is stored as.
    pub(crate) fn code(self) -> i64 {
        self as i64
    }
}
