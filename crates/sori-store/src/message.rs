//! The backend-neutral message model: the [`MessageStore`] trait for room
//! history and offline whispers, and its record types.
//!
//! The server numbers each room's messages itself (a per-room `seq`, from 1
//! up with no gaps) and writes them in batches off the fan-out path; the
//! store keeps them and pages through them by `seq`.

use crate::{AccountId, RoomId, StoreError};

/// A room message as stored.
///
/// The sender's names are copied into the message, so history shows the
/// names the sender had when they wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The room it was sent to.
    pub room_id: RoomId,
    /// Its position in the room, from 1 up. At most `i64::MAX`, the largest
    /// a database integer holds.
    pub seq: u64,
    /// The server's time when it was sequenced, in milliseconds since the
    /// Unix epoch.
    pub timestamp_ms: i64,
    /// The sender's account.
    pub sender_id: AccountId,
    /// The sender's login name at the time.
    pub sender_username: String,
    /// The sender's display name at the time.
    pub sender_display_name: String,
    /// The message text.
    pub text: String,
}

/// A whisper stored for a user who was offline when it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWhisper {
    /// The database id; increases with each whisper stored, so it orders
    /// them, and names them for [`MessageStore::delete_offline_whispers`].
    pub id: i64,
    /// The recipient.
    pub to_account: AccountId,
    /// The sender's login name at the time.
    pub from_username: String,
    /// The sender's display name at the time.
    pub from_display_name: String,
    /// The whisper text.
    pub text: String,
    /// When it was sent, in milliseconds since the Unix epoch; delivered as
    /// is, not as the time of delivery.
    pub timestamp_ms: i64,
}

/// A whisper to store for an offline user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWhisper {
    /// The recipient.
    pub to_account: AccountId,
    /// The sender's login name.
    pub from_username: String,
    /// The sender's display name.
    pub from_display_name: String,
    /// The whisper text.
    pub text: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Persistent storage of room history and offline whispers.
///
/// Object-safe so the server can hold an `Arc<dyn MessageStore>`. Every
/// write is durable when it returns `Ok`: the SQLite backend commits with
/// `synchronous = FULL`, so a power loss right after cannot lose it.
#[async_trait::async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Appends a batch of messages, possibly to several rooms, in one
    /// transaction: all are stored or none. An empty batch is `Ok`.
    ///
    /// A `(room_id, seq)` that is already stored, or repeated in the batch,
    /// fails the whole batch with [`StoreError::Backend`]; the server never
    /// reuses one. A `seq` above `i64::MAX` fails it with
    /// [`StoreError::SeqOutOfRange`], and a room that does not exist with
    /// [`StoreError::NotFound`].
    async fn append_messages(&self, batch: &[StoredMessage]) -> Result<(), StoreError>;

    /// Up to `limit` of the room's messages with `seq > after`, oldest
    /// first. Resuming after the last seen `seq` gets exactly what was
    /// missed.
    async fn messages_after(
        &self,
        room: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// The newest `limit` of the room's messages with `seq < before`,
    /// returned oldest first. `before = u64::MAX` gets the newest messages;
    /// paging on with the first returned `seq` as `before` walks back
    /// through the history with no gap and no duplicate.
    async fn messages_before(
        &self,
        room: RoomId,
        before: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// Stores a whisper for an offline user and returns its id.
    ///
    /// Fails with [`StoreError::NotFound`] if the recipient account does not
    /// exist.
    async fn put_offline_whisper(&self, whisper: NewWhisper) -> Result<i64, StoreError>;

    /// The account's stored whispers, oldest first (by id).
    async fn offline_whispers(
        &self,
        to_account: AccountId,
    ) -> Result<Vec<StoredWhisper>, StoreError>;

    /// Deletes whispers by id, once delivered, in one transaction. Ids that
    /// are not stored are ignored, so a repeated delete is `Ok`.
    async fn delete_offline_whispers(&self, ids: &[i64]) -> Result<(), StoreError>;
}
