//! [`MessageStore`](crate::MessageStore) for [`SqliteStore`]: what differs from
//! PostgreSQL, under the statements both share (`sql::message`).

use sqlx::SqliteConnection;

use super::{SqliteStore, Writer};
use crate::{
    RoomId, StoreError, StoredMessage,
    sql::{backend, classify},
};

crate::sql::message::message_store!(SqliteStore, SqliteConnection);

impl SqliteStore {
    /// Raises room `?1`'s `seq_reserved` to `?2` unless it is higher: a
    /// `CASE`, not SQLite's two-argument `MAX`, which PostgreSQL spells
    /// `GREATEST`. Also the history writer's (rusqlite, which binds by
    /// index): `?N` is parameter N wherever it first appears, where SQLite
    /// would number a `$N` by its order of appearance (`$2` first here).
    pub(super) const RESERVE_SEQ_SQL: &str = "UPDATE rooms SET seq_reserved = CASE WHEN seq_reserved > ?2 \
         THEN seq_reserved ELSE ?2 END WHERE id = ?1";

    /// Sets room `$1`'s `seq_reserved` to the larger of `$2` and its highest
    /// stored seq, again by a `CASE`.
    const RELEASE_SEQ_SQL: &str = "UPDATE rooms SET seq_reserved = CASE WHEN stored.last_seq > $2 \
         THEN stored.last_seq ELSE $2 END \
         FROM (SELECT COALESCE(MAX(seq), 0) AS last_seq FROM messages WHERE room_id = $1) \
         AS stored \
         WHERE rooms.id = $1";

    /// Writes the batch and the reservations in one transaction: on the
    /// history writer's thread, or (in memory) through the pool.
    async fn append_batch(
        &self,
        batch: &[StoredMessage],
        seqs: &[i64],
        reservations: Vec<(RoomId, i64)>,
    ) -> Result<(), StoreError> {
        match &self.writer {
            Writer::Thread(writer) => writer.append(batch, seqs, reservations).await,
            Writer::Pool => self.append_pooled(batch, seqs, reservations).await,
        }
    }

    /// `append_batch` through the pool.
    async fn append_pooled(
        &self,
        batch: &[StoredMessage],
        seqs: &[i64],
        reservations: Vec<(RoomId, i64)>,
    ) -> Result<(), StoreError> {
        let rows = batch.iter().zip(seqs).collect::<Vec<_>>();
        // Multi-row INSERTs in chunks, in one transaction whose commit is the
        // batch's one fsync. A row per statement, even a prepared one, costs
        // a round trip to sqlx's SQLite worker thread each: about four times
        // slower for a batch of 500.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(super::chunk_len(rest.len(), MAX_CHUNK_ROWS));
            rest = after;
            let sql = insert_messages_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for &(message, &seq) in chunk {
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
            Self::reserve(&mut tx, room, up_to).await?;
        }
        tx.commit().await.map_err(backend)
    }

    /// Deletes the whispers with these ids.
    async fn delete_whispers(&self, ids: &[i64]) -> Result<(), StoreError> {
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

/// The most rows one INSERT writes: 128 rows of 7 columns is 896 bound
/// parameters, well under the limits of SQLite (32,766) and PostgreSQL
/// (65,535).
const MAX_CHUNK_ROWS: usize = 128;

/// `INSERT INTO messages (...) VALUES (?, ..., ?), (?, ...), ...` for
/// `n_rows` rows.
///
/// Anonymous `?` parameters, not `$1`..`$896`: sqlx asks SQLite for each
/// parameter's name to place its argument, and SQLite finds a numbered
/// parameter's name by walking the statement's list of names, so a
/// 128-row INSERT spent ~400k steps on names alone (2–3% of the server's
/// CPU at 1.6 M deliveries/s). An anonymous parameter has no name to walk
/// to, and its argument is simply the next one.
pub(super) fn insert_messages_sql(n_rows: usize) -> String {
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
            sql.push('?');
        }
        sql.push(')');
    }
    sql
}
