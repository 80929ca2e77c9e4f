-- Rooms, their members, bans and invites; room history; offline whispers.
--
-- Written to carry over to PostgreSQL as is, except where marked SQLITE: the
-- `INTEGER PRIMARY KEY` ids (SQLite's rowid alias; BIGINT GENERATED ALWAYS AS
-- IDENTITY in PostgreSQL), `AUTOINCREMENT`, `WITHOUT ROWID`, and INTEGER
-- being 64-bit (BIGINT in PostgreSQL). Constraint names follow the accounts migration: the store
-- recognises `rooms_name_key` by name, as it does the account name keys.

-- Room names are unique case-insensitively through `name_key`, the name
-- lowercased by Rust's `str::to_lowercase`, exactly like account names. The
-- lobby is the room named '' with no owner.
CREATE TABLE rooms (
    id            INTEGER PRIMARY KEY, -- SQLITE: rowid alias
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    topic         TEXT    NOT NULL,
    invite_only   BOOLEAN NOT NULL,
    owner_id      INTEGER NULL,
    created_at_ms INTEGER NOT NULL,
    CONSTRAINT rooms_name_key UNIQUE (name_key),
    CONSTRAINT rooms_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES accounts (id)
);

-- `role` is `sori_store::Role` as its integer: 1 member, 2 operator, 3 owner.
CREATE TABLE room_members (
    room_id      INTEGER NOT NULL,
    account_id   INTEGER NOT NULL,
    role         INTEGER NOT NULL,
    joined_at_ms INTEGER NOT NULL,
    CONSTRAINT room_members_pkey PRIMARY KEY (room_id, account_id),
    CONSTRAINT room_members_role_check CHECK (role IN (1, 2, 3)),
    CONSTRAINT room_members_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE,
    CONSTRAINT room_members_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
-- "Which rooms is this account in", and the foreign key's cascade.
CREATE INDEX room_members_account_id_idx ON room_members (account_id);

-- `banned_by` is kept without a foreign key: a ban outlives the operator who
-- made it.
CREATE TABLE room_bans (
    room_id       INTEGER NOT NULL,
    account_id    INTEGER NOT NULL,
    banned_by     INTEGER NOT NULL,
    reason        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    CONSTRAINT room_bans_pkey PRIMARY KEY (room_id, account_id),
    CONSTRAINT room_bans_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE,
    CONSTRAINT room_bans_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX room_bans_account_id_idx ON room_bans (account_id);

CREATE TABLE room_invites (
    room_id    INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    CONSTRAINT room_invites_pkey PRIMARY KEY (room_id, account_id),
    CONSTRAINT room_invites_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE,
    CONSTRAINT room_invites_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX room_invites_account_id_idx ON room_invites (account_id);

-- Room history. `seq` is the server's per-room sequence number (a u64 that
-- never exceeds i64::MAX). Every read is a range of one room's seqs, so the
-- primary key is the only index needed, and storing the rows in its order
-- (SQLITE: WITHOUT ROWID; PostgreSQL has no equivalent and needs none) makes
-- those reads one contiguous scan. The sender's names are copied, not
-- joined: history shows the names as they were, and `sender_id` has no
-- foreign key so an append never pays for a lookup in `accounts`.
CREATE TABLE messages (
    room_id             INTEGER NOT NULL,
    seq                 INTEGER NOT NULL,
    timestamp_ms        INTEGER NOT NULL,
    sender_id           INTEGER NOT NULL,
    sender_username     TEXT    NOT NULL,
    sender_display_name TEXT    NOT NULL,
    text                TEXT    NOT NULL,
    CONSTRAINT messages_pkey PRIMARY KEY (room_id, seq),
    CONSTRAINT messages_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE
) WITHOUT ROWID; -- SQLITE

-- Whispers waiting for their recipient to log in, delivered in id order.
-- The server deletes them by id once delivered, so an id is never reused
-- (SQLITE: AUTOINCREMENT; a plain rowid may hand a deleted id out again, and
-- a late delete of the old id would then remove an undelivered whisper).
CREATE TABLE offline_whispers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT, -- SQLITE
    to_account        INTEGER NOT NULL,
    from_username     TEXT    NOT NULL,
    from_display_name TEXT    NOT NULL,
    text              TEXT    NOT NULL,
    timestamp_ms      INTEGER NOT NULL,
    CONSTRAINT offline_whispers_to_account_fkey FOREIGN KEY (to_account)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX offline_whispers_to_account_id_idx ON offline_whispers (to_account, id);
