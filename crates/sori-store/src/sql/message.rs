//! [`MessageStore`](crate::MessageStore) for both backends: room history
//! and offline whispers. The reads and single-row writes are the same on
//! SQLite and PostgreSQL; what differs (how a batch is written, how the
//! larger of two numbers is spelled, how a list of ids is deleted) each
//! backend supplies as the private items the macro uses.

/// Implements [`MessageStore`](crate::MessageStore) for a store type with a
/// `pool` field, given its driver's connection type, and an inherent
/// `reserve(&mut Connection, RoomId, up_to: i64)` the backend may call in
/// its own transactions. The backend supplies:
///
/// - `const RESERVE_SEQ_SQL: &str`: raises room `$1`'s `seq_reserved` to
///   `$2` unless it is higher.
/// - `const RELEASE_SEQ_SQL: &str`: sets room `$1`'s `seq_reserved` to the
///   larger of `$2` and its highest stored seq.
/// - `async fn append_batch(&self, batch: &[StoredMessage], seqs: &[i64],
///   reservations: Vec<(RoomId, i64)>) -> Result<(), StoreError>`:
///   `append_messages_reserving` for a batch and reservations not both
///   empty, their seqs already converted (`seqs[i]` is `batch[i]`'s).
/// - `async fn delete_whispers(&self, &[i64]) -> Result<(), StoreError>`:
///   `delete_offline_whispers` for a list that is not empty.
///
/// A macro for the reason given at [`token_store`](super::token::token_store).
macro_rules! message_store {
    ($store:ty, $conn:ty) => {
        const _: () = {
            use $crate::{
                AccountId, MessageStore, NewWhisper, RoomId, StoreError, StoredMessage,
                StoredWhisper,
                sql::{
                    MESSAGE_COLUMNS, MessageRow, WHISPER_COLUMNS, WhisperRow, backend, classify,
                    message_from_row, seq_to_db, whisper_from_row,
                },
            };

            #[async_trait::async_trait]
            impl MessageStore for $store {
                async fn append_messages_reserving(
                    &self,
                    batch: &[StoredMessage],
                    reservations: &[(RoomId, u64)],
                ) -> Result<(), StoreError> {
                    if batch.is_empty() && reservations.is_empty() {
                        return Ok(());
                    }
                    // Convert every seq before writing anything, so a bad one
                    // fails the batch without opening a transaction.
                    let seqs = batch
                        .iter()
                        .map(|message| seq_to_db(message.seq))
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    let reservations = reservations
                        .iter()
                        .map(|&(room, up_to)| Ok((room, seq_to_db(up_to)?)))
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    self.append_batch(batch, &seqs, reservations).await
                }

                async fn reserve_seq(&self, room: RoomId, up_to: u64) -> Result<(), StoreError> {
                    let up_to = seq_to_db(up_to)?;
                    let mut conn = self.pool.acquire().await.map_err(backend)?;
                    Self::reserve(&mut conn, room, up_to).await
                }

                async fn seq_high_water(&self, room: RoomId) -> Result<u64, StoreError> {
                    let row: Option<(i64, i64)> = sqlx::query_as(
                        "SELECT seq_reserved, \
                         COALESCE((SELECT MAX(seq) FROM messages WHERE room_id = $1), 0) \
                         FROM rooms WHERE id = $1",
                    )
                    .bind(room)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                    let (reserved, stored) = row.ok_or(StoreError::NotFound)?;
                    Ok(u64::try_from(reserved.max(stored)).unwrap_or(0))
                }

                async fn release_seq(
                    &self,
                    room: RoomId,
                    last_used: u64,
                ) -> Result<(), StoreError> {
                    let last_used = seq_to_db(last_used)?;
                    // The highest stored seq comes from the end of the messages primary
                    // key, as in `load_rooms`.
                    let res = sqlx::query(Self::RELEASE_SEQ_SQL)
                        .bind(room)
                        .bind(last_used)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn messages_after(
                    &self,
                    room: RoomId,
                    after: u64,
                    limit: u32,
                ) -> Result<Vec<StoredMessage>, StoreError> {
                    // No stored seq exceeds i64::MAX, so nothing is after a larger one.
                    let Ok(after) = i64::try_from(after) else {
                        return Ok(Vec::new());
                    };
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages \
                         WHERE room_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                    );
                    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
                        .bind(room)
                        .bind(after)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    rows.into_iter().map(message_from_row).collect()
                }

                async fn messages_before(
                    &self,
                    room: RoomId,
                    before: u64,
                    limit: u32,
                ) -> Result<Vec<StoredMessage>, StoreError> {
                    // `seq < before` as `seq <= before - 1`, which fits in an i64 for
                    // every `before` that can exclude a stored seq; larger ones (u64::MAX,
                    // "newest") exclude nothing.
                    let Some(last) = before.checked_sub(1) else {
                        return Ok(Vec::new());
                    };
                    let last = i64::try_from(last).unwrap_or(i64::MAX);
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    // Newest first to take the newest `limit`, then turned around.
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages \
                         WHERE room_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3"
                    );
                    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
                        .bind(room)
                        .bind(last)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    rows.into_iter().rev().map(message_from_row).collect()
                }

                async fn put_offline_whisper(
                    &self,
                    whisper: NewWhisper,
                ) -> Result<i64, StoreError> {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO offline_whispers \
                         (to_account, from_username, from_display_name, text, timestamp_ms) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(whisper.to_account)
                    .bind(&whisper.from_username)
                    .bind(&whisper.from_display_name)
                    .bind(&whisper.text)
                    .bind(whisper.timestamp_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(classify)?;
                    Ok(id)
                }

                async fn offline_whispers(
                    &self,
                    to_account: AccountId,
                ) -> Result<Vec<StoredWhisper>, StoreError> {
                    let sql = format!(
                        "SELECT {WHISPER_COLUMNS} FROM offline_whispers \
                         WHERE to_account = $1 ORDER BY id"
                    );
                    let rows: Vec<WhisperRow> = sqlx::query_as(&sql)
                        .bind(to_account)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(rows.into_iter().map(whisper_from_row).collect())
                }

                async fn delete_offline_whispers(&self, ids: &[i64]) -> Result<(), StoreError> {
                    if ids.is_empty() {
                        return Ok(());
                    }
                    self.delete_whispers(ids).await
                }
            }

            impl $store {
                /// Raises the room's `seq_reserved` to `up_to` (already checked to fit a
                /// database integer) unless it is higher, by `Self::RESERVE_SEQ_SQL`. The
                /// UPDATE matches the room whether or not the value changes, so no match
                /// means no room.
                async fn reserve(
                    conn: &mut $conn,
                    room: RoomId,
                    up_to: i64,
                ) -> Result<(), StoreError> {
                    let res = sqlx::query(Self::RESERVE_SEQ_SQL)
                        .bind(room)
                        .bind(up_to)
                        .execute(conn)
                        .await
                        .map_err(backend)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }
            }
        };
    };
}

pub(crate) use message_store;
