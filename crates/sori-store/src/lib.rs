//! Sori's storage, and the rules for what may be stored.
//!
//! Only this crate speaks SQL. The server talks to trait objects
//! (`Arc<dyn AccountStore>`, `Arc<dyn RoomStore>`, `Arc<dyn MessageStore>`,
//! `Arc<dyn ModerationStore>`, `Arc<dyn TokenStore>`, or all five as one
//! `Arc<dyn Store>`), so a
//! backend is chosen at startup and the server is not generic over it.
//! The traits use `async_trait` because native `async fn` in traits is not
//! object-safe, and all of them return the one [`StoreError`].
//! [`SqliteStore`] (feature `sqlite`, on by default) and [`PgStore`]
//! (feature `postgres`) implement all five, over schemas with the same
//! tables, columns and constraint names, and one test suite
//! (`src/suite/`) runs against both.
//!
//! The pure rules live here too: name and password validation
//! ([`validate_username`], [`validate_password`], [`validate_display_name`]),
//! room name and topic validation ([`validate_room_name`],
//! [`validate_topic`]), Argon2id hashing ([`PasswordHasher`]), and making and
//! hashing session tokens ([`NewToken`], [`TokenHash`]). Password hashing is
//! CPU-bound and synchronous; call it from `tokio::task::spawn_blocking`.
#![warn(missing_docs, unreachable_pub)]

mod account;
mod error;
mod message;
mod moderation;
mod password;
#[cfg(feature = "postgres")]
mod postgres;
mod room;
mod rules;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
// Both backends are on in every test build: the crate's dev-dependency on
// itself turns `postgres` on, and the default turns on `sqlite`.
#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod suite;
mod token;

pub use account::{Account, AccountId, AccountStore, NewAccount};
pub use error::StoreError;
pub use message::{MessageStore, NewWhisper, StoredMessage, StoredWhisper};
pub use moderation::{IpBan, ModerationStore, Sanction};
pub use password::{PasswordError, PasswordHasher};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use room::{NewRoom, Role, RoomId, RoomStore, StoredMember, StoredRoom};
pub use rules::{
    RuleError, validate_display_name, validate_password, validate_room_name, validate_topic,
    validate_username,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use token::{NewToken, StoredToken, TOKEN_BYTES, TokenError, TokenHash, TokenStore};

/// Everything the server needs from one backend: accounts, rooms, messages,
/// moderation and session tokens. Implemented for every type that
/// implements the five traits, so the server holds one `Arc<dyn Store>`.
pub trait Store: AccountStore + RoomStore + MessageStore + ModerationStore + TokenStore {}

impl<T: AccountStore + RoomStore + MessageStore + ModerationStore + TokenStore> Store for T {}
