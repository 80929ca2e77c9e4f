-- Rooms, their members, bans and invites; room history; offline whispers.
-- The PostgreSQL twin of migrations/sqlite/0002_rooms.sql: BIGINT for
-- INTEGER, identity columns for SQLite's rowid ids, and no WITHOUT ROWID.

-- Room names are unique case-insensitively through `name_key`, the name
-- lowercased by Rust's `str::to_lowercase`, exactly like account names. The
-- lobby is the room named '' with no owner.
CREATE TABLE rooms (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    topic         TEXT    NOT NULL,
    invite_only   BOOLEAN NOT NULL,
    owner_id      BIGINT  NULL,
    created_at_ms BIGINT  NOT NULL,
    CONSTRAINT rooms_pkey PRIMARY KEY (id),
    CONSTRAINT rooms_name_key UNIQUE (name_key),
    CONSTRAINT rooms_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES accounts (id)
);

-- `role` is `sori_store::Role` as its integer: 1 member, 2 operator, 3 owner.
CREATE TABLE room_members (
    room_id      BIGINT NOT NULL,
    account_id   BIGINT NOT NULL,
    role         BIGINT NOT NULL,
    joined_at_ms BIGINT NOT NULL,
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
    room_id       BIGINT NOT NULL,
    account_id    BIGINT NOT NULL,
    banned_by     BIGINT NOT NULL,
    reason        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    CONSTRAINT room_bans_pkey PRIMARY KEY (room_id, account_id),
    CONSTRAINT room_bans_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE,
    CONSTRAINT room_bans_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX room_bans_account_id_idx ON room_bans (account_id);

CREATE TABLE room_invites (
    room_id    BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    CONSTRAINT room_invites_pkey PRIMARY KEY (room_id, account_id),
    CONSTRAINT room_invites_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE,
    CONSTRAINT room_invites_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX room_invites_account_id_idx ON room_invites (account_id);

-- Room history. `seq` is the server's per-room sequence number (a u64 that
-- never exceeds i64::MAX). Every read is a range of one room's seqs, so the
-- primary key is the only index needed. The sender's names are copied, not
-- joined: history shows the names as they were, and `sender_id` has no
-- foreign key so an append never pays for a lookup in `accounts`.
CREATE TABLE messages (
    room_id             BIGINT NOT NULL,
    seq                 BIGINT NOT NULL,
    timestamp_ms        BIGINT NOT NULL,
    sender_id           BIGINT NOT NULL,
    sender_username     TEXT   NOT NULL,
    sender_display_name TEXT   NOT NULL,
    text                TEXT   NOT NULL,
    CONSTRAINT messages_pkey PRIMARY KEY (room_id, seq),
    CONSTRAINT messages_room_id_fkey FOREIGN KEY (room_id)
        REFERENCES rooms (id) ON DELETE CASCADE
);

-- Whispers waiting for their recipient to log in, delivered in id order.
-- The server deletes them by id once delivered, so an id is never reused,
-- which the identity column guarantees.
CREATE TABLE offline_whispers (
    id                BIGINT GENERATED ALWAYS AS IDENTITY,
    to_account        BIGINT NOT NULL,
    from_username     TEXT   NOT NULL,
    from_display_name TEXT   NOT NULL,
    text              TEXT   NOT NULL,
    timestamp_ms      BIGINT NOT NULL,
    CONSTRAINT offline_whispers_pkey PRIMARY KEY (id),
    CONSTRAINT offline_whispers_to_account_fkey FOREIGN KEY (to_account)
        REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX offline_whispers_to_account_id_idx ON offline_whispers (to_account, id);
