//! [`RoomStore`](crate::RoomStore) for both backends: rooms, memberships,
//! bans and invites. The statements are the same on SQLite and PostgreSQL;
//! what differs (how a snapshot is read, how a room gets its id, how joins
//! of one room take turns) each backend supplies as the private methods
//! the macro calls.

/// Implements [`RoomStore`](crate::RoomStore) for a store type with a `pool`
/// field and these associated functions, `Connection` being its driver's
/// (they are called inside a transaction):
///
/// - `async fn begin_snapshot(&self) -> Result<Transaction<..>, StoreError>`:
///   a transaction whose reads all see one snapshot, for `load_rooms`.
/// - `const INSERT_ROOM_SQL: &str`: inserts a room's row with a fresh id
///   that no room has ever had, returning the id; binds name, name_key,
///   topic, invite_only, owner_id, created_at_ms.
/// - `async fn lock_room_for_join(&mut Connection, RoomId)
///   -> Result<(), StoreError>`: makes joins of the room take turns until
///   the transaction ends, so each reads the MAX(joined_seq) of the last.
///
/// A macro for the reason given at [`token_store`](super::token::token_store).
macro_rules! room_store {
    ($store:ty) => {
        const _: () = {
            use $crate::{
                AccountId, NewRoom, Role, RoomId, RoomStore, StoreError, StoredMember, StoredRoom,
                sql::{
                    FIRST_JOINED_SEQ, MemberRow, RoomRow, attach_to_rooms, backend, classify,
                    name_key, now_ms, room_from_row,
                },
            };

            #[async_trait::async_trait]
            impl RoomStore for $store {
                async fn load_rooms(&self) -> Result<Vec<StoredRoom>, StoreError> {
                    let mut tx = self.begin_snapshot().await?;
                    // The correlated MAX is answered from the end of the messages
                    // primary key, one lookup per room, instead of a scan of the history.
                    let room_rows: Vec<RoomRow> = sqlx::query_as(
                        "SELECT r.id, r.name, r.topic, r.invite_only, r.owner_id, r.created_at_ms, \
                         COALESCE((SELECT MAX(m.seq) FROM messages m WHERE m.room_id = r.id), 0), \
                         r.seq_reserved \
                         FROM rooms r ORDER BY r.id",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let member_rows: Vec<MemberRow> = sqlx::query_as(
                        "SELECT rm.room_id, rm.account_id, a.username, a.display_name, rm.role, \
                         rm.joined_seq \
                         FROM room_members rm JOIN accounts a ON a.id = rm.account_id \
                         ORDER BY rm.room_id, rm.account_id",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let ban_rows: Vec<(i64, i64)> = sqlx::query_as(
                        "SELECT room_id, account_id FROM room_bans ORDER BY room_id, account_id",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    let invite_rows: Vec<(i64, i64)> = sqlx::query_as(
                        "SELECT room_id, account_id FROM room_invites ORDER BY room_id, account_id",
                    )
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend)?;
                    tx.commit().await.map_err(backend)?;

                    let mut rooms = room_rows
                        .into_iter()
                        .map(room_from_row)
                        .collect::<Result<Vec<_>, _>>()?;
                    attach_to_rooms(&mut rooms, member_rows, ban_rows, invite_rows)?;
                    Ok(rooms)
                }

                async fn create_room(&self, room: NewRoom) -> Result<StoredRoom, StoreError> {
                    let created_at_ms = now_ms();
                    let mut tx = self.pool.begin().await.map_err(backend)?;
                    let (id,): (RoomId,) = sqlx::query_as(Self::INSERT_ROOM_SQL)
                        .bind(&room.name)
                        .bind(name_key(&room.name))
                        .bind(&room.topic)
                        .bind(room.invite_only)
                        .bind(room.owner)
                        .bind(created_at_ms)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(classify)?;

                    let mut members = Vec::new();
                    if let Some(owner) = room.owner {
                        // The room is not visible to anyone else before the commit, so
                        // its first place in the join order needs no lock.
                        sqlx::query(
                            "INSERT INTO room_members \
                             (room_id, account_id, role, joined_at_ms, joined_seq) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(id)
                        .bind(owner)
                        .bind(Role::Owner.code())
                        .bind(created_at_ms)
                        .bind(FIRST_JOINED_SEQ)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                        // The owner exists: the foreign keys just checked it.
                        let (username, display_name): (String, String) = sqlx::query_as(
                            "SELECT username, display_name FROM accounts WHERE id = $1",
                        )
                        .bind(owner)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(backend)?;
                        members.push(StoredMember {
                            account_id: owner,
                            username,
                            display_name,
                            role: Role::Owner,
                            joined_seq: FIRST_JOINED_SEQ,
                        });
                    }
                    tx.commit().await.map_err(backend)?;

                    Ok(StoredRoom {
                        id,
                        name: room.name,
                        topic: room.topic,
                        invite_only: room.invite_only,
                        owner: room.owner,
                        created_at_ms,
                        last_seq: 0,
                        seq_reserved: 0,
                        members,
                        bans: Vec::new(),
                        invites: Vec::new(),
                    })
                }

                async fn set_topic(&self, room: RoomId, topic: &str) -> Result<(), StoreError> {
                    let res = sqlx::query("UPDATE rooms SET topic = $1 WHERE id = $2")
                        .bind(topic)
                        .bind(room)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                }

                async fn put_member(
                    &self,
                    room: RoomId,
                    account: AccountId,
                    role: Role,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(backend)?;
                    Self::lock_room_for_join(&mut tx, room).await?;
                    // A new member goes to the end of the join order; the MAX comes
                    // from the end of the (room_id, joined_seq) index. A role change
                    // keeps both the join time and the place.
                    sqlx::query(
                        "INSERT INTO room_members \
                         (room_id, account_id, role, joined_at_ms, joined_seq) \
                         VALUES ($1, $2, $3, $4, \
                         (SELECT COALESCE(MAX(joined_seq), 0) + 1 FROM room_members \
                         WHERE room_id = $1)) \
                         ON CONFLICT (room_id, account_id) DO UPDATE SET role = excluded.role",
                    )
                    .bind(room)
                    .bind(account)
                    .bind(role.code())
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    sqlx::query("DELETE FROM room_invites WHERE room_id = $1 AND account_id = $2")
                        .bind(room)
                        .bind(account)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    tx.commit().await.map_err(backend)
                }

                async fn remove_member(
                    &self,
                    room: RoomId,
                    account: AccountId,
                ) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND account_id = $2")
                        .bind(room)
                        .bind(account)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(())
                }

                async fn put_ban(
                    &self,
                    room: RoomId,
                    account: AccountId,
                    by: AccountId,
                    reason: &str,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await.map_err(backend)?;
                    sqlx::query(
                        "INSERT INTO room_bans \
                         (room_id, account_id, banned_by, reason, created_at_ms) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (room_id, account_id) DO NOTHING",
                    )
                    .bind(room)
                    .bind(account)
                    .bind(by)
                    .bind(reason)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND account_id = $2")
                        .bind(room)
                        .bind(account)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                    tx.commit().await.map_err(backend)
                }

                async fn remove_ban(
                    &self,
                    room: RoomId,
                    account: AccountId,
                ) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM room_bans WHERE room_id = $1 AND account_id = $2")
                        .bind(room)
                        .bind(account)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(())
                }

                async fn put_invite(
                    &self,
                    room: RoomId,
                    account: AccountId,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO room_invites (room_id, account_id) VALUES ($1, $2) \
                         ON CONFLICT (room_id, account_id) DO NOTHING",
                    )
                    .bind(room)
                    .bind(account)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                    Ok(())
                }

                async fn set_owner(
                    &self,
                    room: RoomId,
                    owner: Option<AccountId>,
                ) -> Result<(), StoreError> {
                    // The rooms UPDATE first, so that on SQLite the transaction takes
                    // the write lock at once; a missing owner account fails its foreign
                    // key, which `classify` reports as NotFound like a missing room.
                    let mut tx = self.pool.begin().await.map_err(backend)?;
                    let res = sqlx::query("UPDATE rooms SET owner_id = $1 WHERE id = $2")
                        .bind(owner)
                        .bind(room)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    if let Some(owner) = owner {
                        let res = sqlx::query(
                            "UPDATE room_members SET role = $1 \
                             WHERE room_id = $2 AND account_id = $3",
                        )
                        .bind(Role::Owner.code())
                        .bind(room)
                        .bind(owner)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                        // Not a member: dropping `tx` rolls the owner change back.
                        if res.rows_affected() == 0 {
                            return Err(StoreError::NotFound);
                        }
                    }
                    tx.commit().await.map_err(backend)
                }

                async fn delete_room(&self, room: RoomId) -> Result<(), StoreError> {
                    // One statement, so no explicit transaction: the foreign keys
                    // (which SQLite enforces on every connection, see
                    // `SqliteStore::open`) cascade the delete to members, bans, invites
                    // and messages within it.
                    let res = sqlx::query("DELETE FROM rooms WHERE id = $1 AND name_key <> ''")
                        .bind(room)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    if res.rows_affected() > 0 {
                        return Ok(());
                    }
                    // Nothing deleted: the lobby, or no such room. The lobby is never
                    // deleted, so this read cannot race with a delete of it.
                    let is_lobby: Option<bool> =
                        sqlx::query_scalar("SELECT name_key = '' FROM rooms WHERE id = $1")
                            .bind(room)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(backend)?;
                    match is_lobby {
                        Some(true) => Err(StoreError::LobbyNotDeletable),
                        // No such room: nothing to do. (A non-lobby room found here was
                        // created after the DELETE, under an id that named nothing when
                        // the delete was asked for: neither backend reuses an id.)
                        Some(false) | None => Ok(()),
                    }
                }
            }
        };
    };
}

pub(crate) use room_store;
