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
    /// has none. The server continues numbering from here after a restart.
    pub last_seq: u64,
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
    /// Every room with its members (with their current names), bans,
    /// invites and `last_seq`, sorted by room id. Called once at startup.
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
}

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
