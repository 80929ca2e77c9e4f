-- Server-wide sanctions: account bans, IP bans and mutes. The PostgreSQL
-- twin of migrations/sqlite/0003_moderation.sql, with BIGINT for INTEGER.
-- Each table holds at most one sanction per account or net: a new
-- one replaces it (ON CONFLICT ... DO UPDATE), so the newest decision wins.
-- `until_ms` NULL is forever; a sanction is in force while now < until_ms.
-- Expired rows are not deleted by reads, only replaced or removed; with one
-- row per key they cannot pile up.
--
-- `banned_by` and `muted_by` are plain ids without a foreign key, as
-- `room_bans.banned_by` is: a sanction outlives the admin who made it, and
-- ON DELETE SET NULL would make them nullable for no other reason.

CREATE TABLE account_bans (
    account_id    BIGINT  NOT NULL,
    until_ms      BIGINT  NULL,
    reason        TEXT    NOT NULL,
    banned_by     BIGINT  NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    CONSTRAINT account_bans_pkey PRIMARY KEY (account_id),
    CONSTRAINT account_bans_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

-- `net` is an IP address or CIDR range as the server wrote it (it parses and
-- normalises it first); the store compares it as text only. The server loads
-- every ban in force at startup, so no index beyond the key is needed.
CREATE TABLE ip_bans (
    net           TEXT    NOT NULL,
    until_ms      BIGINT  NULL,
    reason        TEXT    NOT NULL,
    banned_by     BIGINT  NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    CONSTRAINT ip_bans_pkey PRIMARY KEY (net)
);

CREATE TABLE mutes (
    account_id    BIGINT  NOT NULL,
    until_ms      BIGINT  NULL,
    reason        TEXT    NOT NULL,
    muted_by      BIGINT  NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    CONSTRAINT mutes_pkey PRIMARY KEY (account_id),
    CONSTRAINT mutes_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);
