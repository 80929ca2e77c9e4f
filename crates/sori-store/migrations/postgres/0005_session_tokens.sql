-- Session tokens: what lets a client log in again without its password.
-- The PostgreSQL twin of migrations/sqlite/0005_session_tokens.sql.
--
-- Only the token's SHA-256 is stored, as 64 lowercase hex digits: the token
-- itself is never written anywhere, and a copy of this table logs nobody
-- in. The UNIQUE constraint is also the lookup index of every token login.
--
-- A token is valid while now < expires_at_ms. Reads do not delete expired
-- rows; the server sweeps them now and then, and revocations (logout, ban,
-- password change, admin) delete rows outright. An account's tokens go with
-- it.

CREATE TABLE session_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY,
    account_id    BIGINT NOT NULL,
    token_hash    TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    CONSTRAINT session_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT session_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT session_tokens_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

-- Revoking all of an account's tokens, and the ON DELETE CASCADE.
CREATE INDEX session_tokens_account_id_idx ON session_tokens (account_id);
-- The sweep of expired tokens.
CREATE INDEX session_tokens_expires_at_ms_idx ON session_tokens (expires_at_ms);
