//! Test doubles for the core's unit tests: links that record what the core
//! hands a session, and a store whose history writes a test can hold back,
//! with no sockets anywhere.

use std::sync::{Arc, Mutex};

use sori_protocol::Message;
use sori_store::{
    Account, AccountId, AccountStore, IpBan, MessageStore, ModerationStore, NewAccount, NewRoom,
    NewWhisper, Role, RoomId, RoomStore, Sanction, SqliteStore, StoreError, StoredMessage,
    StoredRoom, StoredToken, StoredWhisper, TokenHash, TokenStore,
};

use crate::event::Event;
use crate::peer::Link;

/// A link that drops everything.
pub(crate) struct NoLink;

impl Link for NoLink {
    fn push(&self, _event: &Event) {}
    fn push_batched(&self, _event: &Event) {}
    fn close(&self, _last: Option<&Event>) {}
}

/// A link that records every message pushed and whether it was closed.
#[derive(Default)]
pub(crate) struct Recorder {
    /// (request id, message), oldest first.
    pub(crate) pushed: Mutex<Vec<(u32, Message)>>,
    /// The last words, once closed.
    pub(crate) closed: Mutex<Option<Option<Message>>>,
    /// Events pushed, each one queue entry (a batch of notices is one).
    pub(crate) n_pushes: std::sync::atomic::AtomicUsize,
}

impl Recorder {
    /// Takes what was pushed so far.
    pub(crate) fn take(&self) -> Vec<(u32, Message)> {
        std::mem::take(&mut *self.pushed.lock().unwrap())
    }

    /// What was pushed so far, left in place.
    pub(crate) fn messages(&self) -> Vec<(u32, Message)> {
        self.pushed.lock().unwrap().clone()
    }

    /// Every pushed message `pick` selects, oldest first.
    pub(crate) fn all<T>(&self, pick: impl Fn(&Message) -> Option<T>) -> Vec<T> {
        self.pushed
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, msg)| pick(msg))
            .collect()
    }

    /// The first pushed message `pick` selects.
    pub(crate) fn first<T>(&self, pick: impl Fn(&Message) -> Option<T>) -> Option<T> {
        self.pushed
            .lock()
            .unwrap()
            .iter()
            .find_map(|(_, msg)| pick(msg))
    }

    /// The answer to request `request_id`, if one was pushed.
    pub(crate) fn answer(&self, request_id: u32) -> Option<Message> {
        self.pushed
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == request_id)
            .map(|(_, msg)| msg.clone())
    }

    /// `None` while open; once closed, the last message written, if any.
    pub(crate) fn closed(&self) -> Option<Option<Message>> {
        self.closed.lock().unwrap().clone()
    }

    /// How many events (queue entries) were pushed so far.
    pub(crate) fn n_pushes(&self) -> usize {
        self.n_pushes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn decoded(event: &Event) -> Vec<(u32, Message)> {
    // The frames the edges would write, decoded back: tests see exactly
    // what a client would (a batch is several frames back to back).
    let mut bytes = &event.frame()[..];
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (frame, len) = sori_protocol::decode(bytes, u32::MAX).expect("valid frame");
        frames.push((frame.request_id, frame.message));
        bytes = &bytes[len..];
    }
    frames
}

impl Link for Recorder {
    fn push(&self, event: &Event) {
        self.n_pushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pushed.lock().unwrap().extend(decoded(event));
    }
    fn push_batched(&self, event: &Event) {
        self.push(event);
    }
    fn close(&self, last: Option<&Event>) {
        *self.closed.lock().unwrap() = Some(last.map(|e| decoded(e).remove(0).1));
    }
}

/// A SQLite store whose message writes wait while a test holds
/// [`GatedStore::appends`]: the persister's writes can be held back to see
/// what clients get before a message is on disk. It also counts its batch
/// token revocations.
pub(crate) struct GatedStore {
    pub(crate) inner: Arc<SqliteStore>,
    /// Every batch of messages takes this before it is written.
    pub(crate) appends: tokio::sync::Mutex<()>,
    /// Calls of `revoke_token_hashes` so far.
    pub(crate) revocation_batches: std::sync::atomic::AtomicUsize,
}

impl GatedStore {
    pub(crate) fn new(inner: Arc<SqliteStore>) -> Self {
        GatedStore {
            inner,
            appends: tokio::sync::Mutex::new(()),
            revocation_batches: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl AccountStore for GatedStore {
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        self.inner.create_account(new).await
    }
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        self.inner.account_by_username(username).await
    }
    async fn set_display_name(
        &self,
        account_id: AccountId,
        display_name: &str,
    ) -> Result<(), StoreError> {
        self.inner.set_display_name(account_id, display_name).await
    }
    async fn set_password_hash(
        &self,
        account_id: AccountId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.inner
            .set_password_hash(account_id, password_hash)
            .await
    }
}

#[async_trait::async_trait]
impl RoomStore for GatedStore {
    async fn load_rooms(&self) -> Result<Vec<StoredRoom>, StoreError> {
        self.inner.load_rooms().await
    }
    async fn create_room(&self, room: NewRoom) -> Result<StoredRoom, StoreError> {
        self.inner.create_room(room).await
    }
    async fn set_topic(&self, room: RoomId, topic: &str) -> Result<(), StoreError> {
        self.inner.set_topic(room, topic).await
    }
    async fn put_member(
        &self,
        room: RoomId,
        account: AccountId,
        role: Role,
    ) -> Result<(), StoreError> {
        self.inner.put_member(room, account, role).await
    }
    async fn remove_member(&self, room: RoomId, account: AccountId) -> Result<(), StoreError> {
        self.inner.remove_member(room, account).await
    }
    async fn put_ban(
        &self,
        room: RoomId,
        account: AccountId,
        by: AccountId,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.inner.put_ban(room, account, by, reason).await
    }
    async fn remove_ban(&self, room: RoomId, account: AccountId) -> Result<(), StoreError> {
        self.inner.remove_ban(room, account).await
    }
    async fn put_invite(&self, room: RoomId, account: AccountId) -> Result<(), StoreError> {
        self.inner.put_invite(room, account).await
    }
    async fn set_owner(&self, room: RoomId, owner: Option<AccountId>) -> Result<(), StoreError> {
        self.inner.set_owner(room, owner).await
    }
    async fn delete_room(&self, room: RoomId) -> Result<(), StoreError> {
        self.inner.delete_room(room).await
    }
}

#[async_trait::async_trait]
impl MessageStore for GatedStore {
    async fn append_messages_reserving(
        &self,
        batch: &[StoredMessage],
        reservations: &[(RoomId, u64)],
    ) -> Result<(), StoreError> {
        let _open = self.appends.lock().await;
        self.inner
            .append_messages_reserving(batch, reservations)
            .await
    }
    async fn reserve_seq(&self, room: RoomId, up_to: u64) -> Result<(), StoreError> {
        self.inner.reserve_seq(room, up_to).await
    }
    async fn release_seq(&self, room: RoomId, last_used: u64) -> Result<(), StoreError> {
        self.inner.release_seq(room, last_used).await
    }
    async fn seq_high_water(&self, room: RoomId) -> Result<u64, StoreError> {
        self.inner.seq_high_water(room).await
    }
    async fn messages_after(
        &self,
        room: RoomId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.inner.messages_after(room, after, limit).await
    }
    async fn messages_before(
        &self,
        room: RoomId,
        before: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.inner.messages_before(room, before, limit).await
    }
    async fn put_offline_whisper(&self, whisper: NewWhisper) -> Result<i64, StoreError> {
        self.inner.put_offline_whisper(whisper).await
    }
    async fn offline_whispers(
        &self,
        to_account: AccountId,
    ) -> Result<Vec<StoredWhisper>, StoreError> {
        self.inner.offline_whispers(to_account).await
    }
    async fn delete_offline_whispers(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.inner.delete_offline_whispers(ids).await
    }
}

#[async_trait::async_trait]
impl ModerationStore for GatedStore {
    async fn put_account_ban(
        &self,
        account: AccountId,
        sanction: Sanction,
    ) -> Result<(), StoreError> {
        self.inner.put_account_ban(account, sanction).await
    }
    async fn remove_account_ban(&self, account: AccountId) -> Result<bool, StoreError> {
        self.inner.remove_account_ban(account).await
    }
    async fn account_ban(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> Result<Option<Sanction>, StoreError> {
        self.inner.account_ban(account, now_ms).await
    }
    async fn put_ip_ban(&self, ban: IpBan) -> Result<(), StoreError> {
        self.inner.put_ip_ban(ban).await
    }
    async fn remove_ip_ban(&self, net: &str) -> Result<bool, StoreError> {
        self.inner.remove_ip_ban(net).await
    }
    async fn ip_bans(&self, now_ms: i64) -> Result<Vec<IpBan>, StoreError> {
        self.inner.ip_bans(now_ms).await
    }
    async fn put_mute(&self, account: AccountId, sanction: Sanction) -> Result<(), StoreError> {
        self.inner.put_mute(account, sanction).await
    }
    async fn remove_mute(&self, account: AccountId) -> Result<bool, StoreError> {
        self.inner.remove_mute(account).await
    }
    async fn mute(&self, account: AccountId, now_ms: i64) -> Result<Option<Sanction>, StoreError> {
        self.inner.mute(account, now_ms).await
    }
}

#[async_trait::async_trait]
impl TokenStore for GatedStore {
    async fn create_token(
        &self,
        account: AccountId,
        hash: &TokenHash,
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner
            .create_token(account, hash, created_at_ms, expires_at_ms)
            .await
    }
    async fn find_token(
        &self,
        hash: &TokenHash,
        now_ms: i64,
    ) -> Result<Option<StoredToken>, StoreError> {
        self.inner.find_token(hash, now_ms).await
    }
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        self.inner.revoke_token(hash).await
    }
    async fn revoke_token_hashes(&self, hashes: &[TokenHash]) -> Result<u64, StoreError> {
        self.revocation_batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.revoke_token_hashes(hashes).await
    }
    async fn revoke_tokens(&self, account: AccountId) -> Result<u64, StoreError> {
        self.inner.revoke_tokens(account).await
    }
    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.inner.delete_expired_tokens(now_ms).await
    }
}
