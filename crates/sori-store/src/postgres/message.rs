//! [`MessageStore`] for [`PgStore`]: room history and offline whispers.

use sqlx::PgConnection;

use super::PgStore;
use crate::{
    AccountId, MessageStore, NewWhisper, RoomId, StoreError, StoredMessage, StoredWhisper,
    sql::{
        MESSAGE_COLUMNS, MessageRow, WHISPER_COLUMNS, WhisperRow, backend, classify,
        message_from_row, seq_to_db, whisper_from_row,
    },
};

#[async_trait::async_trait]
impl MessageStore for PgStore {
    async fn append_messages_reserving(
        &self,
        batch: &[StoredMessage],
        reservations: &[(RoomId, u64)],
    ) -> Result<(), StoreError> {
        if batch.is_empty() && reservations.is_empty() {
            return Ok(());
        }
        // Convert every seq before writing anything, so a bad one fails the
        // batch without opening a transaction.
        let mut columns = MessageColumns::with_capacity(batch.len());
        for message in batch {
            columns.push(message, seq_to_db(message.seq)?);
        }
        let mut reservations = reservations
            .iter()
            .map(|&(room, up_to)| Ok((room, seq_to_db(up_to)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // In room order, so two writers (of two servers sharing the
        // database) that reserve in the same rooms lock their rows in the
        // same order and cannot deadlock. The order does not change the
        // result: each reservation only raises its room's.
        reservations.sort_unstable();

        let mut tx = self.pool.begin().await.map_err(backend)?;
        if !batch.is_empty() {
            // The whole batch in one statement, one array per column, so
            // its text (and prepared statement) is the same for any length
            // and the batch is one round trip.
            sqlx::query(
                "INSERT INTO messages \
                 (room_id, seq, timestamp_ms, sender_id, sender_username, \
                 sender_display_name, text) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], \
                 $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[])",
            )
            .bind(&columns.room_ids)
            .bind(&columns.seqs)
            .bind(&columns.timestamps_ms)
            .bind(&columns.sender_ids)
            .bind(&columns.sender_usernames)
            .bind(&columns.sender_display_names)
            .bind(&columns.texts)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        for (room, up_to) in reservations {
            reserve(&mut tx, room, up_to).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn reserve_seq(&self, room: RoomId, up_to: u64) -> Result<(), StoreError> {
        let up_to = seq_to_db(up_to)?;
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        reserve(&mut conn, room, up_to).await
    }

    async fn release_seq(&self, room: RoomId, last_used: u64) -> Result<(), StoreError> {
        let last_used = seq_to_db(last_used)?;
        // The highest stored seq comes from the end of the messages primary
        // key, as in `load_rooms`.
        let res = sqlx::query(
            "UPDATE rooms SET seq_reserved = GREATEST(stored.last_seq, $2) \
             FROM (SELECT COALESCE(MAX(seq), 0) AS last_seq FROM messages WHERE room_id = $1) \
             AS stored \
             WHERE rooms.id = $1",
        )
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
        // Every stored seq is at most i64::MAX, so `before` values above it
        // (u64::MAX included) exclude nothing.
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

    async fn put_offline_whisper(&self, whisper: NewWhisper) -> Result<i64, StoreError> {
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
            "SELECT {WHISPER_COLUMNS} FROM offline_whispers WHERE to_account = $1 ORDER BY id"
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
        // One statement for any number of ids: the list is one array.
        sqlx::query("DELETE FROM offline_whispers WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// A batch of messages turned into one array per column, for `UNNEST`.
struct MessageColumns<'a> {
    room_ids: Vec<i64>,
    seqs: Vec<i64>,
    timestamps_ms: Vec<i64>,
    sender_ids: Vec<i64>,
    sender_usernames: Vec<&'a str>,
    sender_display_names: Vec<&'a str>,
    texts: Vec<&'a str>,
}

impl<'a> MessageColumns<'a> {
    fn with_capacity(n_rows: usize) -> Self {
        MessageColumns {
            room_ids: Vec::with_capacity(n_rows),
            seqs: Vec::with_capacity(n_rows),
            timestamps_ms: Vec::with_capacity(n_rows),
            sender_ids: Vec::with_capacity(n_rows),
            sender_usernames: Vec::with_capacity(n_rows),
            sender_display_names: Vec::with_capacity(n_rows),
            texts: Vec::with_capacity(n_rows),
        }
    }

    /// Adds a message, with its seq already converted.
    fn push(&mut self, message: &'a StoredMessage, seq: i64) {
        self.room_ids.push(message.room_id);
        self.seqs.push(seq);
        self.timestamps_ms.push(message.timestamp_ms);
        self.sender_ids.push(message.sender_id);
        self.sender_usernames.push(&message.sender_username);
        self.sender_display_names.push(&message.sender_display_name);
        self.texts.push(&message.text);
    }
}

/// Raises the room's `seq_reserved` to `up_to` (already checked to fit a
/// database integer) unless it is higher. One UPDATE: if another
/// transaction changed the row meanwhile, PostgreSQL waits for it and
/// applies `GREATEST` to the row it committed, so concurrent reservations
/// end at the largest. The UPDATE matches the room whether or not the value
/// changes, so no match means no room.
async fn reserve(conn: &mut PgConnection, room: RoomId, up_to: i64) -> Result<(), StoreError> {
    let res =
        sqlx::query("UPDATE rooms SET seq_reserved = GREATEST(seq_reserved, $2) WHERE id = $1")
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
