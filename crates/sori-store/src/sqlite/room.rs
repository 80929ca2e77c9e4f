//! [`RoomStore`](crate::RoomStore) for [`SqliteStore`]: what differs from
//! PostgreSQL, under the statements both share (`sql::room`).

use sqlx::{Sqlite, SqliteConnection, Transaction};

use super::SqliteStore;
use crate::{RoomId, StoreError, sql::backend};

crate::sql::room::room_store!(SqliteStore);

impl SqliteStore {
    /// Inserts a room, returning its id. The INSERT comes first in its
    /// transaction, so the transaction takes the write lock at once rather
    /// than upgrading from a read (which WAL mode can refuse). The id is one
    /// above the highest ever used, not SQLite's default of one above the
    /// highest now in the table, so a deleted room's id is never given again
    /// (see the 0004 migration, whose trigger advances the high-water mark).
    const INSERT_ROOM_SQL: &str = "INSERT INTO rooms \
         (id, name, name_key, topic, invite_only, owner_id, created_at_ms) \
         VALUES ((SELECT last_id + 1 FROM room_id_high_water), $1, $2, $3, $4, $5, $6) \
         RETURNING id";

    /// One read transaction, so the queries of `load_rooms` see one
    /// snapshot: SQLite has one writer, and a reader sees the database as of
    /// its first read.
    async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    /// Nothing to do: SQLite has one writer, so the join's INSERT, which
    /// reads MAX(joined_seq) and takes the write lock in one statement,
    /// cannot interleave with another join's. A missing room fails that
    /// INSERT's foreign key instead, which `classify` reports as NotFound.
    async fn lock_room_for_join(
        _conn: &mut SqliteConnection,
        _room: RoomId,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}
