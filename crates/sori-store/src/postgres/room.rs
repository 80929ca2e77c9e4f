//! [`RoomStore`](crate::RoomStore) for [`PgStore`]: what differs from
//! SQLite, under the statements both share (`sql::room`).

use sqlx::{PgConnection, Postgres, Transaction};

use super::PgStore;
use crate::{RoomId, StoreError, sql::backend};

crate::sql::room::room_store!(PgStore);

impl PgStore {
    /// Inserts a room, returning its id. The id comes from the identity
    /// column, which never gives one out twice. A name taken by a room being
    /// created concurrently makes this INSERT wait for that transaction,
    /// then fail on the unique key if it committed.
    const INSERT_ROOM_SQL: &str = "INSERT INTO rooms \
         (name, name_key, topic, invite_only, owner_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

    /// One snapshot for the queries of `load_rooms`: at PostgreSQL's default
    /// READ COMMITTED each statement would see the commits made since the
    /// last one, and a member could show up in a room read before it was
    /// created.
    async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        Ok(tx)
    }

    /// Joins of one room take turns: each locks the room's row before it
    /// reads MAX(joined_seq), and the join's INSERT, a statement of its own,
    /// sees every join committed before the lock was granted. (At READ
    /// COMMITTED two joins would otherwise read the same MAX, and the second
    /// would fail on the unique (room_id, joined_seq) index.) NO KEY UPDATE,
    /// not UPDATE: it does not block the KEY SHARE locks that the foreign
    /// keys of message and member inserts take, so the history writer never
    /// waits for a join.
    async fn lock_room_for_join(conn: &mut PgConnection, room: RoomId) -> Result<(), StoreError> {
        let locked: Option<i64> =
            sqlx::query_scalar("SELECT id FROM rooms WHERE id = $1 FOR NO KEY UPDATE")
                .bind(room)
                .fetch_optional(conn)
                .await
                .map_err(backend)?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
