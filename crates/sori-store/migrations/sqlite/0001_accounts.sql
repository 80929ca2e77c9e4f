-- Accounts. Names are unique case-insensitively: the `*_key` columns hold the
-- name lowercased by Rust's `str::to_lowercase` (so Korean and other scripts
-- work), and the UNIQUE constraints on them are what decide a race between two
-- registrations. The constraint names end in the column names so the store can
-- tell which one failed, on SQLite (which reports columns) and PostgreSQL
-- (which reports constraint names) alike.
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    username         TEXT    NOT NULL,
    username_key     TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    display_name_key TEXT    NOT NULL,
    password_hash    TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    CONSTRAINT accounts_username_key UNIQUE (username_key),
    CONSTRAINT accounts_display_name_key UNIQUE (display_name_key)
);
