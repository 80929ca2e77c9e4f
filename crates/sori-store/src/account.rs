//! The backend-neutral account model: the [`AccountStore`] trait and its
//! record types.

use std::fmt;

use crate::StoreError;

/// An account's database id; stable for the account's life.
pub type AccountId = i64;

/// A stored account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The database id.
    pub id: AccountId,
    /// The login name, as the user registered it (case preserved).
    pub username: String,
    /// The name shown to other users, case preserved.
    pub display_name: String,
    /// The Argon2id PHC string from [`PasswordHasher::hash`](crate::PasswordHasher::hash).
    pub password_hash: String,
    /// When the account was created, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// An account to create. The caller validates the names and hashes the
/// password first; the store only enforces uniqueness.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// The login name.
    pub username: String,
    /// The name shown to other users.
    pub display_name: String,
    /// The Argon2id PHC string of the password, never the password itself.
    pub password_hash: String,
}

/// Persistent storage of accounts.
///
/// Object-safe so the server can hold an `Arc<dyn AccountStore>`. Uniqueness
/// of usernames and of display names is case-insensitive and is enforced by
/// the backend atomically (by a unique index, not a check-then-insert), so
/// concurrent registrations of one name see exactly one winner.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates an account and returns it with its id and creation time.
    ///
    /// Fails with [`StoreError::UsernameTaken`] or
    /// [`StoreError::DisplayNameTaken`] if another account has either name in
    /// any letter case (which one is reported when both are taken is up to
    /// the backend).
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError>;

    /// Finds the account with this username, in any letter case.
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError>;

    /// Changes an account's display name.
    ///
    /// Fails with [`StoreError::DisplayNameTaken`] if another account has the
    /// name in any letter case (the account's own current name, in any case,
    /// is fine), and with [`StoreError::NotFound`] if no account has this id.
    async fn set_display_name(
        &self,
        account_id: AccountId,
        display_name: &str,
    ) -> Result<(), StoreError>;

    /// Replaces an account's password hash (a password change). Revoking
    /// the account's session tokens is [`TokenStore`](crate::TokenStore)'s.
    ///
    /// Fails with [`StoreError::NotFound`] if no account has this id.
    async fn set_password_hash(
        &self,
        account_id: AccountId,
        password_hash: &str,
    ) -> Result<(), StoreError>;
}

// Hand-written so that logging an account never prints its password hash: a
// leaked hash can be attacked offline.
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}
