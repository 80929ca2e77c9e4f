//! The backend-neutral message model: the [`MessageStore`] trait for room
//! history and offline whispers, and its record types.
//!
//! The server numbers each room's messages itself (a per-room `seq`, from 1
//! up) and writes them in batches off the fan-out path; the store keeps them
//! and pages through them by `seq`. Because a number is handed out before
//! its message is on disk, the server first reserves numbers in the store
//! ([`MessageStore::reserve_seq`]), so a crash can skip numbers but never
//! make it hand one out twice.

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
///
/// # Sequence number reservation
///
/// The server hands out a room's sequence numbers in memory, before the
/// messages are stored, so a crash loses the numbers of messages not yet
/// written. Each room therefore stores `seq_reserved`, and the rule is:
/// every number the server may hand out is at most `seq_reserved` (or at
/// most the highest stored seq). The server raises it ahead of use
/// ([`reserve_seq`](Self::reserve_seq), or with a batch in
/// [`append_messages_reserving`](Self::append_messages_reserving)), and
/// after any restart resumes numbering at
/// `max(last_seq, seq_reserved) + 1` ([`StoredRoom::next_seq`]): numbers
/// may be skipped, but a `(room_id, seq)` never names two messages. A clean
/// shutdown gives the unused numbers back with
/// [`release_seq`](Self::release_seq), so a clean restart skips none.
///
/// [`StoredRoom::next_seq`]: crate::StoredRoom::next_seq
#[async_trait::async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Appends a batch of messages, possibly to several rooms, in one
    /// transaction: all are stored or none. An empty batch is `Ok`. The
    /// same as [`append_messages_reserving`](Self::append_messages_reserving)
    /// with no reservations.
    ///
    /// A `(room_id, seq)` that is already stored, or repeated in the batch,
    /// fails the whole batch with [`StoreError::Backend`]; the server never
    /// reuses one. A `seq` above `i64::MAX` fails it with
    /// [`StoreError::SeqOutOfRange`], and a room that does not exist with
    /// [`StoreError::NotFound`].
    async fn append_messages(&self, batch: &[StoredMessage]) -> Result<(), StoreError> {
        self.append_messages_reserving(batch, &[]).await
    }

    /// Appends a batch of messages as
    /// [`append_messages`](Self::append_messages) does and, in the same
    /// transaction, applies [`reserve_seq`](Self::reserve_seq) for each
    /// `(room, up_to)` in `reservations`, so the writer's one commit both
    /// stores messages and reserves the next numbers. All or nothing: a bad
    /// message or reservation stores no message and reserves nothing. Both
    /// empty is `Ok`.
    ///
    /// Fails as `append_messages` does, and also with
    /// [`StoreError::SeqOutOfRange`] for an `up_to` above `i64::MAX` and
    /// [`StoreError::NotFound`] for a reservation in a missing room.
    async fn append_messages_reserving(
        &self,
        batch: &[StoredMessage],
        reservations: &[(RoomId, u64)],
    ) -> Result<(), StoreError>;

    /// Reserves the room's sequence numbers up to `up_to`: sets its
    /// `seq_reserved` to `max(seq_reserved, up_to)`, so a reservation never
    /// shrinks by this call. Durable when it returns `Ok`; only then may the
    /// server hand out numbers up to `up_to`.
    ///
    /// Fails with [`StoreError::SeqOutOfRange`] if `up_to` is above
    /// `i64::MAX`, and with [`StoreError::NotFound`] if the room does not
    /// exist.
    async fn reserve_seq(&self, room: RoomId, up_to: u64) -> Result<(), StoreError>;

    /// The highest number the room may have handed out: the larger of its
    /// `seq_reserved` and its highest stored seq. A cluster seeds a room's
    /// lost counter from it, so no number is handed out twice.
    ///
    /// Fails with [`StoreError::NotFound`] if the room does not exist.
    async fn seq_high_water(&self, room: RoomId) -> Result<u64, StoreError>;

    /// Gives back the reserved numbers above `last_used`, the last number
    /// the server handed out, at a clean shutdown (after the last batch is
    /// written): sets `seq_reserved` to `last_used`, but never below the
    /// room's highest stored seq, so the next start continues at
    /// `last_used + 1`. It may lower the reservation; call it only when no
    /// number above `last_used` is in use.
    ///
    /// Fails with [`StoreError::SeqOutOfRange`] if `last_used` is above
    /// `i64::MAX`, and with [`StoreError::NotFound`] if the room does not
    /// exist.
    async fn release_seq(&self, room: RoomId, last_used: u64) -> Result<(), StoreError>;

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
