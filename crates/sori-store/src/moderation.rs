//! The backend-neutral server moderation model: the [`ModerationStore`]
//! trait for account bans, IP bans and mutes, and its record types.
//!
//! Server-wide sanctions, set by server admins; room bans are
//! [`RoomStore`](crate::RoomStore)'s. A kick is not stored: it ends a
//! session and nothing more. The server decides who may sanction whom and
//! what a sanction means; the store keeps them across restarts and answers
//! "in force at `now_ms`?" for the time the caller passes, so the server and
//! its tests decide what time it is. (Only the `remove_*` methods, which take
//! no time, read the host's clock, to say whether anything was lifted.)

use crate::{AccountId, StoreError};

/// A ban or a mute: until when, why, and who decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanction {
    /// When it ends, in milliseconds since the Unix epoch; `None` is
    /// forever. It is in force while `now_ms < until_ms` (see
    /// [`in_force_at`](Self::in_force_at)).
    pub until_ms: Option<i64>,
    /// The reason given, shown to the sanctioned user; may be empty.
    pub reason: String,
    /// The admin who decided it. Stored as a plain id, not checked against
    /// the accounts: a sanction outlives the admin's account.
    pub by: AccountId,
    /// When it was decided, in milliseconds since the Unix epoch. Set by the
    /// caller and stored as given.
    pub created_at_ms: i64,
}

/// A ban of an address or a range of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBan {
    /// An IP address or a CIDR range as text, e.g. `"203.0.113.0/24"` or
    /// `"2001:db8::1/128"`. Stored as given and not parsed: the server
    /// parses and normalises it before storing, and it is the key, so
    /// [`ModerationStore::remove_ip_ban`] needs the same text.
    pub net: String,
    /// Until when, why and by whom.
    pub sanction: Sanction,
}

/// Persistent storage of server-wide sanctions: account bans, IP bans and
/// mutes.
///
/// Object-safe so the server can hold an `Arc<dyn ModerationStore>`. An
/// account has at most one ban and one mute, and a `net` at most one ban:
/// each `put_*` replaces the previous one, so the newest decision wins, even
/// if it is shorter. Writes are single statements, durable when they return
/// `Ok`. Writes that name an account that does not exist fail with
/// [`StoreError::NotFound`]; a sanctioned account's ban and mute go with it
/// when it is deleted.
///
/// Reads never write: expired sanctions stay stored (at most one per account
/// or `net`, so they cannot pile up) until replaced or removed, and reads
/// leave them out. A read at a late `now_ms` therefore cannot delete a
/// sanction that another caller, at an earlier time, still sees in force,
/// and the check on the login path takes no write lock.
#[async_trait::async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// Bans an account, replacing any ban it has.
    ///
    /// Fails with [`StoreError::NotFound`] if the account does not exist.
    async fn put_account_ban(
        &self,
        account: AccountId,
        sanction: Sanction,
    ) -> Result<(), StoreError>;

    /// Lifts an account's ban. `Ok(false)` if it had none in force: none at
    /// all, or only an expired one (which is deleted too). Whether it was in
    /// force is judged by the host's clock, as this takes no `now_ms`.
    async fn remove_account_ban(&self, account: AccountId) -> Result<bool, StoreError>;

    /// The account's ban if it is in force at `now_ms`: `None` if it has
    /// none, or if its `until_ms <= now_ms`. `None` for an account that does
    /// not exist.
    async fn account_ban(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> Result<Option<Sanction>, StoreError>;

    /// Bans an address or range, replacing any ban on the same `net` text.
    async fn put_ip_ban(&self, ban: IpBan) -> Result<(), StoreError>;

    /// Lifts the ban on exactly this `net` text. `Ok(false)` if it had none
    /// in force, judged as [`remove_account_ban`](Self::remove_account_ban)
    /// does.
    async fn remove_ip_ban(&self, net: &str) -> Result<bool, StoreError>;

    /// Every IP ban in force at `now_ms`, sorted by `net` text. Called at
    /// startup; the server keeps them in memory from then on.
    async fn ip_bans(&self, now_ms: i64) -> Result<Vec<IpBan>, StoreError>;

    /// Mutes an account, replacing any mute it has. A muted user can still
    /// read; not sending is the server's to enforce.
    ///
    /// Fails with [`StoreError::NotFound`] if the account does not exist.
    async fn put_mute(&self, account: AccountId, sanction: Sanction) -> Result<(), StoreError>;

    /// Lifts an account's mute. `Ok(false)` if it had none in force, judged
    /// as [`remove_account_ban`](Self::remove_account_ban) does.
    async fn remove_mute(&self, account: AccountId) -> Result<bool, StoreError>;

    /// The account's mute if it is in force at `now_ms`, by the same rule
    /// as [`account_ban`](Self::account_ban).
    async fn mute(&self, account: AccountId, now_ms: i64) -> Result<Option<Sanction>, StoreError>;
}

impl Sanction {
    /// Whether it is in force at `now_ms`: forever, or `now_ms < until_ms`.
    /// A sanction is over at its `until_ms`, not a millisecond later. The
    /// rule every backend filters by, for the server's in-memory IP bans.
    pub fn in_force_at(&self, now_ms: i64) -> bool {
        self.until_ms.is_none_or(|until_ms| now_ms < until_ms)
    }
}
