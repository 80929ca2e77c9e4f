//! What the SQL backends share: the name keys, the clock, the mapping of
//! database errors to [`StoreError`], and the row types with their
//! conversions to the store's records. The schemas of both backends have
//! the same tables, columns and constraint names, so a row reads the same
//! from either.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Account, IpBan, Role, Sanction, StoreError, StoredMessage, StoredRoom, StoredWhisper};

pub(crate) mod account;
pub(crate) mod message;
pub(crate) mod moderation;
pub(crate) mod room;
pub(crate) mod token;

/// The columns of [`Account`], in the order [`account_from_row`] reads them.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, username, display_name, password_hash, created_at_ms";

/// A row of [`ACCOUNT_COLUMNS`].
pub(crate) type AccountRow = (i64, String, String, String, i64);

/// A row of the rooms query of `load_rooms`: id, name, topic, invite_only,
/// owner_id, created_at_ms, last_seq, seq_reserved.
pub(crate) type RoomRow = (i64, String, String, bool, Option<i64>, i64, i64, i64);

/// A row of the members query of `load_rooms`: room_id, account_id,
/// username, display_name, role, joined_seq.
pub(crate) type MemberRow = (i64, i64, String, String, i64, i64);

/// The place in the join order of a room's first member, its creator.
pub(crate) const FIRST_JOINED_SEQ: i64 = 1;

/// The columns of [`StoredMessage`], in the order [`message_from_row`] reads
/// them.
pub(crate) const MESSAGE_COLUMNS: &str =
    "room_id, seq, timestamp_ms, sender_id, sender_username, sender_display_name, text";

/// A row of [`MESSAGE_COLUMNS`].
pub(crate) type MessageRow = (i64, i64, i64, i64, String, String, String);

/// The columns of [`StoredWhisper`], in the order [`whisper_from_row`] reads
/// them.
pub(crate) const WHISPER_COLUMNS: &str =
    "id, to_account, from_username, from_display_name, text, timestamp_ms";

/// A row of [`WHISPER_COLUMNS`].
pub(crate) type WhisperRow = (i64, i64, String, String, String, i64);

/// A sanction's columns, in the order [`sanction_from_row`] reads them; `by`
/// stands for the table's `banned_by` or `muted_by`.
pub(crate) type SanctionRow = (Option<i64>, String, i64, i64);

/// A row of `ip_bans`: net, then a [`SanctionRow`].
pub(crate) type IpBanRow = (String, Option<i64>, String, i64, i64);

/// A table of sanctions keyed by account. `account_bans` and `mutes` differ
/// only in their names, so one set of statements serves both.
pub(crate) struct AccountSanctions {
    table: &'static str,
    /// The column holding [`Sanction::by`].
    by_column: &'static str,
}

/// Server-wide account bans.
pub(crate) const ACCOUNT_BANS: AccountSanctions = AccountSanctions {
    table: "account_bans",
    by_column: "banned_by",
};

/// Mutes.
pub(crate) const MUTES: AccountSanctions = AccountSanctions {
    table: "mutes",
    by_column: "muted_by",
};

impl AccountSanctions {
    /// Inserts or replaces the account's sanction; binds account, until_ms,
    /// reason, by, created_at_ms. A missing account fails the foreign key,
    /// which [`classify`] reports as `NotFound`.
    pub(crate) fn put_sql(&self) -> String {
        let Self { table, by_column } = self;
        format!(
            "INSERT INTO {table} (account_id, until_ms, reason, {by_column}, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id) DO UPDATE SET until_ms = excluded.until_ms, \
             reason = excluded.reason, {by_column} = excluded.{by_column}, \
             created_at_ms = excluded.created_at_ms"
        )
    }

    /// Deletes the account's sanction, expired or not, returning a
    /// [`SanctionRow`]; binds account.
    pub(crate) fn remove_sql(&self) -> String {
        let Self { table, by_column } = self;
        format!(
            "DELETE FROM {table} WHERE account_id = $1 \
             RETURNING until_ms, reason, {by_column}, created_at_ms"
        )
    }

    /// The account's sanction in force at a time, as a [`SanctionRow`];
    /// binds account, now_ms.
    pub(crate) fn get_sql(&self) -> String {
        let Self { table, by_column } = self;
        format!(
            "SELECT until_ms, reason, {by_column}, created_at_ms FROM {table} \
             WHERE account_id = $1 AND (until_ms IS NULL OR until_ms > $2)"
        )
    }
}

/// The key a name is unique by: lowercased with Unicode rules, so "Alice" and
/// "ALICE" collide and non-Latin scripts are handled. Computed here rather
/// than by the database's `lower()`, whose result depends on the database's
/// locale, so both backends (and every PostgreSQL server) agree.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) fn account_from_row(row: AccountRow) -> Account {
    let (id, username, display_name, password_hash, created_at_ms) = row;
    Account {
        id,
        username,
        display_name,
        password_hash,
        created_at_ms,
    }
}

pub(crate) fn room_from_row(row: RoomRow) -> Result<StoredRoom, StoreError> {
    let (id, name, topic, invite_only, owner, created_at_ms, last_seq, seq_reserved) = row;
    let last_seq = u64::try_from(last_seq)
        .map_err(|_| corrupt(format!("negative seq {last_seq} in room {id}")))?;
    let seq_reserved = u64::try_from(seq_reserved)
        .map_err(|_| corrupt(format!("negative seq_reserved {seq_reserved} in room {id}")))?;
    Ok(StoredRoom {
        id,
        name,
        topic,
        invite_only,
        owner,
        created_at_ms,
        last_seq,
        seq_reserved,
        members: Vec::new(),
        bans: Vec::new(),
        invites: Vec::new(),
    })
}

/// Fills in the members, bans and invites of `rooms` (sorted by id, as
/// `load_rooms` reads them) from the rows of their queries.
pub(crate) fn attach_to_rooms(
    rooms: &mut [StoredRoom],
    member_rows: Vec<MemberRow>,
    ban_rows: Vec<(i64, i64)>,
    invite_rows: Vec<(i64, i64)>,
) -> Result<(), StoreError> {
    // Every child row has its room: the foreign keys guarantee it, and the
    // snapshot the queries share keeps them consistent.
    let room_of = |rooms: &[StoredRoom], room_id: i64| -> Result<usize, StoreError> {
        rooms
            .binary_search_by_key(&room_id, |room| room.id)
            .map_err(|_| corrupt(format!("row refers to missing room {room_id}")))
    };
    for (room_id, account_id, username, display_name, role, joined_seq) in member_rows {
        let role = Role::from_code(role)
            .ok_or_else(|| corrupt(format!("unknown role {role} in room {room_id}")))?;
        let room_idx = room_of(rooms, room_id)?;
        rooms[room_idx].members.push(crate::StoredMember {
            account_id,
            username,
            display_name,
            role,
            joined_seq,
        });
    }
    for (room_id, account_id) in ban_rows {
        let room_idx = room_of(rooms, room_id)?;
        rooms[room_idx].bans.push(account_id);
    }
    for (room_id, account_id) in invite_rows {
        let room_idx = room_of(rooms, room_id)?;
        rooms[room_idx].invites.push(account_id);
    }
    Ok(())
}

/// A seq as the database stores it.
pub(crate) fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::SeqOutOfRange(seq))
}

pub(crate) fn message_from_row(row: MessageRow) -> Result<StoredMessage, StoreError> {
    let (room_id, seq, timestamp_ms, sender_id, sender_username, sender_display_name, text) = row;
    let seq =
        u64::try_from(seq).map_err(|_| corrupt(format!("negative seq {seq} in room {room_id}")))?;
    Ok(StoredMessage {
        room_id,
        seq,
        timestamp_ms,
        sender_id,
        sender_username,
        sender_display_name,
        text,
    })
}

pub(crate) fn whisper_from_row(row: WhisperRow) -> StoredWhisper {
    let (id, to_account, from_username, from_display_name, text, timestamp_ms) = row;
    StoredWhisper {
        id,
        to_account,
        from_username,
        from_display_name,
        text,
        timestamp_ms,
    }
}

pub(crate) fn sanction_from_row(row: SanctionRow) -> Sanction {
    let (until_ms, reason, by, created_at_ms) = row;
    Sanction {
        until_ms,
        reason,
        by,
        created_at_ms,
    }
}

pub(crate) fn ip_ban_from_row(row: IpBanRow) -> IpBan {
    let (net, until_ms, reason, by, created_at_ms) = row;
    IpBan {
        net,
        sanction: sanction_from_row((until_ms, reason, by, created_at_ms)),
    }
}

/// Whether a deleted row was a sanction in force, by the host's clock: the
/// `remove_*` methods take no `now_ms`, and an expired sanction lifted is
/// no sanction lifted.
pub(crate) fn was_in_force(deleted: Option<SanctionRow>) -> bool {
    deleted.is_some_and(|row| sanction_from_row(row).in_force_at(now_ms()))
}

/// Maps a write error to what the caller did wrong, if anything: a name that
/// conflicted, found from the unique constraint that rejected it, or an id
/// that a foreign key found missing. SQLite names the column ("UNIQUE
/// constraint failed: accounts.username_key"), PostgreSQL the constraint
/// ("accounts_username_key"); both contain the column name.
pub(crate) fn classify(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db_err) = &err {
        if db_err.is_unique_violation() {
            let what = db_err.constraint().unwrap_or_else(|| db_err.message());
            if what.contains("rooms.name_key") || what.contains("rooms_name_key") {
                return StoreError::RoomNameTaken;
            }
            if what.contains("display_name_key") {
                return StoreError::DisplayNameTaken;
            }
            if what.contains("username_key") {
                return StoreError::UsernameTaken;
            }
        }
        if db_err.is_foreign_key_violation() {
            return StoreError::NotFound;
        }
    }
    backend(err)
}

/// A row the schema should have prevented; only a hand-edited or corrupt
/// database has one.
pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Backend(format!("corrupt database: {what}").into())
}

pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    StoreError::Backend(err.into())
}

pub(crate) fn now_ms() -> i64 {
    // A clock before 1970 is a broken host; record 0 rather than fail a
    // registration over it.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
