//! [`ModerationStore`] for [`SqliteStore`]: account bans, IP bans and mutes.

use sqlx::SqlitePool;

use super::{SqliteStore, backend, classify, now_ms};
use crate::{AccountId, IpBan, ModerationStore, Sanction, StoreError};

#[cfg(test)]
mod tests;

/// A table of sanctions keyed by account. `account_bans` and `mutes` differ
/// only in their names, so one implementation serves both.
struct AccountSanctions {
    table: &'static str,
    /// The column holding [`Sanction::by`].
    by_column: &'static str,
}

const ACCOUNT_BANS: AccountSanctions = AccountSanctions {
    table: "account_bans",
    by_column: "banned_by",
};

const MUTES: AccountSanctions = AccountSanctions {
    table: "mutes",
    by_column: "muted_by",
};

/// A sanction's columns, in the order [`sanction_from_row`] reads them; `by`
/// stands for the table's `banned_by` or `muted_by`.
type SanctionRow = (Option<i64>, String, i64, i64);

/// A row of `ip_bans`: net, then a [`SanctionRow`].
type IpBanRow = (String, Option<i64>, String, i64, i64);

#[async_trait::async_trait]
impl ModerationStore for SqliteStore {
    async fn put_account_ban(
        &self,
        account: AccountId,
        sanction: Sanction,
    ) -> Result<(), StoreError> {
        ACCOUNT_BANS.put(&self.pool, account, &sanction).await
    }

    async fn remove_account_ban(&self, account: AccountId) -> Result<bool, StoreError> {
        ACCOUNT_BANS.remove(&self.pool, account).await
    }

    async fn account_ban(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> Result<Option<Sanction>, StoreError> {
        ACCOUNT_BANS.get(&self.pool, account, now_ms).await
    }

    async fn put_ip_ban(&self, ban: IpBan) -> Result<(), StoreError> {
        let IpBan { net, sanction } = ban;
        sqlx::query(
            "INSERT INTO ip_bans (net, until_ms, reason, banned_by, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (net) DO UPDATE SET until_ms = excluded.until_ms, \
             reason = excluded.reason, banned_by = excluded.banned_by, \
             created_at_ms = excluded.created_at_ms",
        )
        .bind(net)
        .bind(sanction.until_ms)
        .bind(sanction.reason)
        .bind(sanction.by)
        .bind(sanction.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn remove_ip_ban(&self, net: &str) -> Result<bool, StoreError> {
        let row: Option<SanctionRow> = sqlx::query_as(
            "DELETE FROM ip_bans WHERE net = $1 \
             RETURNING until_ms, reason, banned_by, created_at_ms",
        )
        .bind(net)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(was_in_force(row))
    }

    async fn ip_bans(&self, now_ms: i64) -> Result<Vec<IpBan>, StoreError> {
        let rows: Vec<IpBanRow> = sqlx::query_as(
            "SELECT net, until_ms, reason, banned_by, created_at_ms FROM ip_bans \
             WHERE until_ms IS NULL OR until_ms > $1 ORDER BY net",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(net, until_ms, reason, by, created_at_ms)| IpBan {
                net,
                sanction: sanction_from_row((until_ms, reason, by, created_at_ms)),
            })
            .collect())
    }

    async fn put_mute(&self, account: AccountId, sanction: Sanction) -> Result<(), StoreError> {
        MUTES.put(&self.pool, account, &sanction).await
    }

    async fn remove_mute(&self, account: AccountId) -> Result<bool, StoreError> {
        MUTES.remove(&self.pool, account).await
    }

    async fn mute(&self, account: AccountId, now_ms: i64) -> Result<Option<Sanction>, StoreError> {
        MUTES.get(&self.pool, account, now_ms).await
    }
}

impl AccountSanctions {
    /// Inserts or replaces the account's sanction. A missing account fails
    /// the foreign key, which [`classify`] reports as `NotFound`.
    async fn put(
        &self,
        pool: &SqlitePool,
        account: AccountId,
        sanction: &Sanction,
    ) -> Result<(), StoreError> {
        let Self { table, by_column } = self;
        let sql = format!(
            "INSERT INTO {table} (account_id, until_ms, reason, {by_column}, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id) DO UPDATE SET until_ms = excluded.until_ms, \
             reason = excluded.reason, {by_column} = excluded.{by_column}, \
             created_at_ms = excluded.created_at_ms"
        );
        sqlx::query(&sql)
            .bind(account)
            .bind(sanction.until_ms)
            .bind(&sanction.reason)
            .bind(sanction.by)
            .bind(sanction.created_at_ms)
            .execute(pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Deletes the account's sanction, expired or not, and says whether it
    /// was in force.
    async fn remove(&self, pool: &SqlitePool, account: AccountId) -> Result<bool, StoreError> {
        let Self { table, by_column } = self;
        let sql = format!(
            "DELETE FROM {table} WHERE account_id = $1 \
             RETURNING until_ms, reason, {by_column}, created_at_ms"
        );
        let row: Option<SanctionRow> = sqlx::query_as(&sql)
            .bind(account)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
        Ok(was_in_force(row))
    }

    /// The account's sanction if it is in force at `now_ms`.
    async fn get(
        &self,
        pool: &SqlitePool,
        account: AccountId,
        now_ms: i64,
    ) -> Result<Option<Sanction>, StoreError> {
        let Self { table, by_column } = self;
        let sql = format!(
            "SELECT until_ms, reason, {by_column}, created_at_ms FROM {table} \
             WHERE account_id = $1 AND (until_ms IS NULL OR until_ms > $2)"
        );
        let row: Option<SanctionRow> = sqlx::query_as(&sql)
            .bind(account)
            .bind(now_ms)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
        Ok(row.map(sanction_from_row))
    }
}

/// Whether a deleted row was a sanction in force, by the host's clock: the
/// `remove_*` methods take no `now_ms`, and an expired sanction lifted is
/// no sanction lifted.
fn was_in_force(deleted: Option<SanctionRow>) -> bool {
    deleted.is_some_and(|row| sanction_from_row(row).in_force_at(now_ms()))
}

fn sanction_from_row(row: SanctionRow) -> Sanction {
    let (until_ms, reason, by, created_at_ms) = row;
    Sanction {
        until_ms,
        reason,
        by,
        created_at_ms,
    }
}
