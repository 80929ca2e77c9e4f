//! [`MessageStore`] for [`SqliteStore`]: room history and offline whispers.

use std::fmt::Write as _;

use sqlx::SqliteConnection;

use super::SqliteStore;
use crate::{
    AccountId, MessageStore, NewWhisper, RoomId, StoreError, StoredMessage, StoredWhisper,
    sql::{
        MESSAGE_COLUMNS, MessageRow, WHISPER_COLUMNS, WhisperRow, backend, classify,
        message_from_row, seq_to_db, whisper_from_row,
    },
};

#[async_trait::async_trait]
impl MessageStore for SqliteStore {
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
        let rows = batch
            .iter()
            .map(|message| Ok((message, seq_to_db(message.seq)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let reservations = reservations
            .iter()
            .map(|&(room, up_to)| Ok((room, seq_to_db(up_to)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Multi-row INSERTs in chunks, in one transaction whose commit is the
        // batch's one fsync. A row per statement, even a prepared one, costs
        // a round trip to sqlx's SQLite worker thread each: about four times
        // slower for a batch of 500.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(chunk_len(rest.len()));
            rest = after;
            let sql = insert_messages_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for &(message, seq) in chunk {
                query = query
                    .bind(message.room_id)
                    .bind(seq)
                    .bind(message.timestamp_ms)
                    .bind(message.sender_id)
                    .bind(&message.sender_username)
                    .bind(&message.sender_display_name)
                    .bind(&message.text);
            }
            query.execute(&mut *tx).await.map_err(classify)?;
        }
        // After the messages, so a batch takes the write lock with its
        // first statement either way. One prepared UPDATE per room: a batch
        // names a few rooms, not hundreds.
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
            "UPDATE rooms SET seq_reserved = CASE WHEN stored.last_seq > $2 \
             THEN stored.last_seq ELSE $2 END \
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
        // One prepared DELETE per id rather than an `IN (...)` list, whose
        // text (and so its prepared statement) would change with its length.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for &id in ids {
            sqlx::query("DELETE FROM offline_whispers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

/// Raises the room's `seq_reserved` to `up_to` (already checked to fit a
/// database integer) unless it is higher: a `CASE`, not SQLite's
/// two-argument `MAX`, which PostgreSQL spells `GREATEST`. The UPDATE
/// matches the room whether or not the value changes, so no match means no
/// room.
async fn reserve(conn: &mut SqliteConnection, room: RoomId, up_to: i64) -> Result<(), StoreError> {
    let res = sqlx::query(
        "UPDATE rooms SET seq_reserved = CASE WHEN seq_reserved > $2 \
         THEN seq_reserved ELSE $2 END WHERE id = $1",
    )
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

/// The most rows one INSERT writes: 128 rows of 7 columns is 896 bound
/// parameters, well under the limits of SQLite (32,766) and PostgreSQL
/// (65,535).
const MAX_CHUNK_ROWS: usize = 128;

/// How many of `n_left` rows the next INSERT writes: full chunks, then the
/// rest in falling powers of two. Every statement text is then one of eight,
/// so sqlx's per-connection statement cache prepares each once, where an
/// exact-length remainder would prepare up to 127 different statements.
fn chunk_len(n_left: usize) -> usize {
    if n_left >= MAX_CHUNK_ROWS {
        MAX_CHUNK_ROWS
    } else {
        // The highest power of two not above `n_left` (which is at least 1).
        1 << n_left.ilog2()
    }
}

/// `INSERT INTO messages (...) VALUES ($1, ..., $7), ($8, ...), ...` for
/// `n_rows` rows.
fn insert_messages_sql(n_rows: usize) -> String {
    const N_COLUMNS: usize = 7;
    let mut sql = String::with_capacity(120 + n_rows * 40);
    sql.push_str(
        "INSERT INTO messages \
         (room_id, seq, timestamp_ms, sender_id, sender_username, sender_display_name, text) \
         VALUES ",
    );
    for row_idx in 0..n_rows {
        if row_idx > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column_idx in 0..N_COLUMNS {
            if column_idx > 0 {
                sql.push_str(", ");
            }
            let param = row_idx * N_COLUMNS + column_idx + 1;
            // Writing to a String cannot fail.
            let _ = write!(sql, "${param}");
        }
        sql.push(')');
    }
    sql
}
