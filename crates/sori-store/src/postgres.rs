//! The PostgreSQL backend: a pool of connections to a database server,
//! opened from a URL and migrated on connect. Accounts are here; rooms,
//! history, moderation and session tokens are in the submodules.
//!
//! What SQLite's single writer gave for free is spelled out here, since
//! PostgreSQL runs transactions side by side (at READ COMMITTED):
//!
//! - Names (usernames, display names, room names) are unique by the UNIQUE
//!   constraints on their lowercased keys, as on SQLite: of two concurrent
//!   INSERTs of one name, the second waits for the first and fails.
//! - A join takes the room's number in the join order while it holds the
//!   room's row locked (`put_member`), so two joins of one room are numbered
//!   one after the other.
//! - `reserve_seq` is one `UPDATE ... GREATEST(...)`, which PostgreSQL
//!   re-evaluates against the newest row when another transaction changed
//!   it, so a reservation never shrinks however the updates interleave.
//! - `load_rooms` reads in one REPEATABLE READ transaction, so its queries
//!   see one snapshot.
//! - Ids are identity columns, which never hand out an id twice.

use std::{str::FromStr, time::Duration};

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};

use crate::{
    Account, AccountId, AccountStore, NewAccount, StoreError,
    sql::{ACCOUNT_COLUMNS, AccountRow, account_from_row, backend, classify, name_key, now_ms},
};

mod message;
mod moderation;
mod room;
#[cfg(test)]
mod tests;
mod token;

/// An [`AccountStore`], [`RoomStore`](crate::RoomStore),
/// [`MessageStore`](crate::MessageStore),
/// [`ModerationStore`](crate::ModerationStore) and
/// [`TokenStore`](crate::TokenStore) in one PostgreSQL database.
///
/// Cheap to clone: clones share one connection pool (of sqlx's default size,
/// 10 connections). Hand the server one `Arc<PgStore>` coerced to each trait
/// object. Several servers may share one database.
///
/// Every write is one transaction, acknowledged (its method returns `Ok`)
/// only once PostgreSQL has committed it. With the server's default
/// `synchronous_commit = on` a commit is flushed to the write-ahead log on
/// disk first, so an acknowledged write survives a crash or power loss of
/// the database server, as `synchronous = FULL` makes it on SQLite. The
/// store does not change that setting: a server set to `off` trades that
/// guarantee for speed for every client, and one set to `remote_apply`
/// waits for its standbys too.
///
/// PostgreSQL's TEXT holds no NUL character; a string with one fails its
/// write with [`StoreError::Backend`]. The server's rules refuse control
/// characters in names, topics and messages before they reach the store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

/// The schema migrations, embedded in the binary. sqlx runs each in a
/// transaction under an advisory lock, so servers starting at once against
/// one database migrate it once.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long [`PgStore::connect`] (and then any operation waiting for a
/// connection) keeps trying to reach the server: long enough for a database
/// started at the same time as the server (a container, a failover) to come
/// up. A refused login or a missing database fails at once.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `application_name` the store's connections show in
/// `pg_stat_activity`, unless the URL names another.
const APPLICATION_NAME: &str = "sori";

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date.
    ///
    /// The URL is libpq's: `postgres://user:password@host:port/database`,
    /// with parameters such as `sslmode` (`disable`, `prefer` (the default),
    /// `require`, `verify-ca`, `verify-full`), `sslrootcert`,
    /// `application_name` and `options`. TLS is rustls (on ring), trusting
    /// the Mozilla root certificates and, if `sslrootcert` names one, that
    /// certificate too; as with libpq, `require` encrypts without checking
    /// the certificate, `verify-full` checks it and the host name. A password with
    /// reserved characters must be percent-encoded. The database must exist;
    /// the tables are created in the first schema of the search path.
    ///
    /// Fails with [`StoreError::Backend`] if the URL is malformed, the
    /// server refuses the login or has no such database, a migration fails,
    /// or the server cannot be reached for 30 seconds.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgPoolOptions::new()).await
    }

    /// Connects as [`connect`](Self::connect) does, with a pool of at most
    /// `max_connections`: the test suite runs many stores at once against
    /// one server, whose connection limit (100 by default) sqlx's default
    /// pools of 10 could exceed on a machine with many cores.
    #[cfg(test)]
    pub(crate) async fn connect_small(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, PgPoolOptions::new().max_connections(max_connections)).await
    }

    async fn connect_with(url: &str, pool_options: PgPoolOptions) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url).map_err(backend)?;
        if options.get_application_name().is_none() {
            options = options.application_name(APPLICATION_NAME);
        }
        let pool = pool_options
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|err| StoreError::Backend(err.into()))?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for in-flight operations. Optional: dropping
    /// the store loses no committed data either.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for tests that look at the tables themselves.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        let created_at_ms = now_ms();
        let sql = format!(
            "INSERT INTO accounts \
             (username, username_key, display_name, display_name_key, password_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ACCOUNT_COLUMNS}"
        );
        let row: Result<AccountRow, StoreError> = sqlx::query_as(&sql)
            .bind(&new.username)
            .bind(name_key(&new.username))
            .bind(&new.display_name)
            .bind(name_key(&new.display_name))
            .bind(&new.password_hash)
            .bind(created_at_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(classify);
        match row {
            Ok(row) => Ok(account_from_row(row)),
            // When both names are taken PostgreSQL reports the first
            // constraint it checks; the username is what the user must
            // change first, so say that.
            Err(StoreError::DisplayNameTaken)
                if self.account_by_username(&new.username).await?.is_some() =>
            {
                Err(StoreError::UsernameTaken)
            }
            Err(err) => Err(err),
        }
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_key = $1");
        let row: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(name_key(username))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.map(account_from_row))
    }

    async fn set_display_name(
        &self,
        account_id: AccountId,
        display_name: &str,
    ) -> Result<(), StoreError> {
        let res = sqlx::query(
            "UPDATE accounts SET display_name = $1, display_name_key = $2 WHERE id = $3",
        )
        .bind(display_name)
        .bind(name_key(display_name))
        .bind(account_id)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_password_hash(
        &self,
        account_id: AccountId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
