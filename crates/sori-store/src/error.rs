//! The one error enum every store trait and every backend returns.

use std::error::Error;

/// Why a store operation failed. Shared by all traits and all backends, so
/// the server maps store failures to protocol errors in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another account already has this username (compared case-insensitively).
    #[error("username is already taken")]
    UsernameTaken,
    /// Another account already has this display name (compared case-insensitively).
    #[error("display name is already taken")]
    DisplayNameTaken,
    /// Another room already has this name (compared case-insensitively).
    #[error("room name is already taken")]
    RoomNameTaken,
    /// An id the operation names does not exist: no account, or no room, has
    /// it. Writes that refer to a missing room or account report this rather
    /// than [`Backend`](Self::Backend), because it is the caller's mistake.
    #[error("account or room not found")]
    NotFound,
    /// The operation would delete the lobby, the room every user is in,
    /// which the server needs to exist.
    #[error("the lobby cannot be deleted")]
    LobbyNotDeletable,
    /// A sequence number is above `i64::MAX`, the largest a database integer
    /// holds. The server never hands out one that large; this is a caller bug
    /// caught before it reaches the database.
    #[error("sequence number {0} is out of range")]
    SeqOutOfRange(u64),
    /// The backend failed: the database could not be opened or migrated, or
    /// an operation hit an I/O error, a lock timeout, a corrupt file, a
    /// duplicate message sequence number, ... The message includes the cause,
    /// so logging `to_string()` is enough; the cause itself is in the field
    /// (and not also `source()`, so error-chain printers don't repeat it).
    #[error("database error: {0}")]
    Backend(Box<dyn Error + Send + Sync>),
}
