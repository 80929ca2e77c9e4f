//! The embedded SQLite backend: one database file, created and migrated on
//! first open. Accounts are here; rooms, history, moderation and session
//! tokens are in the submodules.

use std::{path::Path, time::Duration};

use sqlx::{
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
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
/// [`TokenStore`](crate::TokenStore) in one SQLite database.
///
/// Cheap to clone: clones share one connection pool. Hand the server one
/// `Arc<SqliteStore>` coerced to each trait object.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// The schema migrations, embedded in the binary so a deployment is one file.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before
/// failing. SQLite allows one writer at a time; every write transaction is
/// short (the largest, a batch of messages, takes milliseconds), so this is
/// only reached if something is badly wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::migrated(pool).await
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
        Self::migrated(pool).await
    }

    /// Closes the pool, waiting for in-flight operations, and checkpoints the
    /// WAL. Optional: dropping the store loses no committed data either.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for tests that look at the tables themselves.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrated(pool: SqlitePool) -> Result<Self, StoreError> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|err| StoreError::Backend(err.into()))?;
        Ok(Self { pool })
    }
}

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
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
            // When both names are taken the database may report either one;
            // the username is what the user must change first, so say that.
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
        account_id: i64,
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
