-- Accounts: the PostgreSQL twin of migrations/sqlite/0001_accounts.sql, with
-- the same tables, columns and constraint names, so the store reads and
-- classifies errors alike on both backends. Integers are BIGINT (SQLite's
-- INTEGER is 64-bit); ids are identity columns, whose sequence never hands
-- an id out twice (GENERATED ALWAYS also refuses an id given by hand).
--
-- Names are unique case-insensitively: the `*_key` columns hold the name
-- lowercased by Rust's `str::to_lowercase` (not the database's `lower()`,
-- whose result depends on the server's locale), and the UNIQUE constraints
-- on them are what decide a race between two registrations: the second
-- INSERT waits for the first to commit, then fails.
CREATE TABLE accounts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY,
    username         TEXT   NOT NULL,
    username_key     TEXT   NOT NULL,
    display_name     TEXT   NOT NULL,
    display_name_key TEXT   NOT NULL,
    password_hash    TEXT   NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_username_key UNIQUE (username_key),
    CONSTRAINT accounts_display_name_key UNIQUE (display_name_key)
);
