//! The PostgreSQL backend: a pool of connections to a database server,
//! opened from a URL and migrated on connect. Rooms and history are in the
//! submodules; accounts, moderation and session tokens, whose statements
//! are the same on both backends, are written once in `sql`.
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

use crate::{StoreError, sql::backend};

mod message;
mod room;
#[cfg(test)]
mod tests;
mod token;

/// An [`AccountStore`](crate::AccountStore), [`RoomStore`](crate::RoomStore),
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

// Accounts, moderation and session tokens: the statements are the same on
// both backends, so they are written once, in `sql`.
crate::sql::account::account_store!(PgStore);
crate::sql::moderation::moderation_store!(PgStore);
crate::sql::token::token_store!(PgStore);
