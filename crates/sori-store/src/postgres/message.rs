//! [`MessageStore`](crate::MessageStore) for [`PgStore`]: what differs from
//! SQLite, under the statements both share (`sql::message`).

use sqlx::PgConnection;

use super::PgStore;
use crate::{
    RoomId, StoreError, StoredMessage,
    sql::{backend, classify},
};

crate::sql::message::message_store!(PgStore, PgConnection);

impl PgStore {
    /// Raises room `$1`'s `seq_reserved` to `$2` unless it is higher. One
    /// UPDATE: if another transaction changed the row meanwhile, PostgreSQL
    /// waits for it and applies `GREATEST` to the row it committed, so
    /// concurrent reservations end at the largest.
    const RESERVE_SEQ_SQL: &str =
        "UPDATE rooms SET seq_reserved = GREATEST(seq_reserved, $2) WHERE id = $1";

    /// Sets room `$1`'s `seq_reserved` to the larger of `$2` and its highest
    /// stored seq.
    const RELEASE_SEQ_SQL: &str = "UPDATE rooms SET seq_reserved = GREATEST(stored.last_seq, $2) \
         FROM (SELECT COALESCE(MAX(seq), 0) AS last_seq FROM messages WHERE room_id = $1) \
         AS stored \
         WHERE rooms.id = $1";

    /// Writes the batch and the reservations in one transaction.
    async fn append_batch(
        &self,
        batch: &[StoredMessage],
        seqs: &[i64],
        mut reservations: Vec<(RoomId, i64)>,
    ) -> Result<(), StoreError> {
        let mut columns = MessageColumns::with_capacity(batch.len());
        for (message, &seq) in batch.iter().zip(seqs) {
            columns.push(message, seq);
        }
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
            Self::reserve(&mut tx, room, up_to).await?;
        }
        tx.commit().await.map_err(backend)
    }

    /// Deletes the whispers with these ids.
    async fn delete_whispers(&self, ids: &[i64]) -> Result<(), StoreError> {
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
