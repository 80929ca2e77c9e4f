//! The embedded SQLite backend: one database file, created and migrated on
//! first open. Rooms and history are in the submodules; accounts,
//! moderation and session tokens, whose statements are the same on both
//! backends, are written once in `sql`.

use std::{path::Path, time::Duration};

use sqlx::{
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use crate::{StoreError, sql::backend};
use history::HistoryWriter;

mod history;
mod message;
mod room;
#[cfg(test)]
mod tests;
mod token;

/// An [`AccountStore`](crate::AccountStore), [`RoomStore`](crate::RoomStore),
/// [`MessageStore`](crate::MessageStore),
/// [`ModerationStore`](crate::ModerationStore) and
/// [`TokenStore`](crate::TokenStore) in one SQLite database.
///
/// Cheap to clone: clones share one connection pool. Hand the server one
/// `Arc<SqliteStore>` coerced to each trait object.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Where batches of messages are written.
    writer: Writer,
}

/// Where a [`SqliteStore`] writes its batches of messages.
#[derive(Clone, Debug)]
enum Writer {
    /// A file's: a thread and connection of their own (`history`). Sharing
    /// the pool, successive batches went to whichever of its connections
    /// was free, each with its own thread, statement cache and page cache,
    /// which every other connection's write had made stale.
    Thread(HistoryWriter),
    /// In memory, the pool's one connection is the database: batches go
    /// through it too.
    Pool,
}

/// The schema migrations, embedded in the binary so a deployment is one file.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before
/// failing. SQLite allows one writer at a time; every write transaction is
/// short (the largest, a batch of messages, takes milliseconds), so this is
/// only reached if something is badly wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a pooled connection may sit idle before it is closed.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

impl SqliteStore {
    /// Opens the database file at `path`, creating it and its parent directory
    /// if needed, and brings its schema up to date.
    ///
    /// The file uses WAL journaling with `synchronous = FULL`: every write
    /// (a registration, a membership, a batch of messages) is durable once
    /// its method returns, even across a power loss (`NORMAL` would only
    /// protect against a crash of the process).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|err| StoreError::Backend(err.into()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // A burst (a login storm) opens up to ten connections, each with
        // its own thread and page cache of up to 2 MB; kept, they held
        // ~15 MB after 19,000 sessions had come and gone. Idle connections
        // now close after a few seconds (opening one again costs about a
        // millisecond). None is kept open while idle: the last one's page
        // cache, filled by the burst, held another megabyte or two of a
        // server that sat idle after it; the persister's, never idle under
        // load, stays while there is load.
        let pool = SqlitePoolOptions::new()
            .min_connections(0)
            .idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let writer = Writer::Thread(HistoryWriter::start(path)?);
        Self::migrated(pool, writer).await
    }

    /// Opens a fresh, empty database in memory, for tests.
    ///
    /// Every SQLite in-memory connection is its own database, so the pool
    /// holds exactly one connection and never closes it.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::migrated(pool, Writer::Pool).await
    }

    /// Closes the pool, waiting for in-flight operations, and checkpoints the
    /// WAL. Optional: dropping the store loses no committed data either.
    pub async fn close(&self) {
        if let Writer::Thread(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }

    /// The pool, for tests that look at the tables themselves.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrated(pool: SqlitePool, writer: Writer) -> Result<Self, StoreError> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|err| StoreError::Backend(err.into()))?;
        Ok(Self { pool, writer })
    }
}

// Accounts, moderation and session tokens: the statements are the same on
// both backends, so they are written once, in `sql`.
crate::sql::account::account_store!(SqliteStore);
crate::sql::moderation::moderation_store!(SqliteStore);
crate::sql::token::token_store!(SqliteStore);

/// How many of `n_left` rows (or values) the next multi-row statement
/// takes, at most `max`: full chunks, then the rest in falling powers of
/// two. Every statement text is then one of a few, so sqlx's
/// per-connection statement cache prepares each once, where an
/// exact-length remainder would prepare up to `max - 1` different ones.
fn chunk_len(n_left: usize, max: usize) -> usize {
    if n_left >= max {
        max
    } else {
        // The highest power of two not above `n_left` (which is at least 1).
        1 << n_left.ilog2()
    }
}
