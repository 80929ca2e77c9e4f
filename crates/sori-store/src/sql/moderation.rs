//! [`ModerationStore`](crate::ModerationStore) for both backends: account
//! bans, IP bans and mutes. The statements are the same on SQLite and
//! PostgreSQL.

/// Implements [`ModerationStore`](crate::ModerationStore) for a store type
/// with a `pool` field. A macro for the reason given at
/// [`token_store`](super::token::token_store).
macro_rules! moderation_store {
    ($store:ty) => {
        const _: () = {
            use $crate::{
                AccountId, IpBan, ModerationStore, Sanction, StoreError,
                sql::{
                    ACCOUNT_BANS, AccountSanctions, IpBanRow, MUTES, SanctionRow, backend,
                    classify, ip_ban_from_row, sanction_from_row, was_in_force,
                },
            };

            #[async_trait::async_trait]
            impl ModerationStore for $store {
                async fn put_account_ban(
                    &self,
                    account: AccountId,
                    sanction: Sanction,
                ) -> Result<(), StoreError> {
                    self.put_sanction(&ACCOUNT_BANS, account, &sanction).await
                }

                async fn remove_account_ban(&self, account: AccountId) -> Result<bool, StoreError> {
                    self.remove_sanction(&ACCOUNT_BANS, account).await
                }

                async fn account_ban(
                    &self,
                    account: AccountId,
                    now_ms: i64,
                ) -> Result<Option<Sanction>, StoreError> {
                    self.sanction(&ACCOUNT_BANS, account, now_ms).await
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
                    Ok(rows.into_iter().map(ip_ban_from_row).collect())
                }

                async fn put_mute(
                    &self,
                    account: AccountId,
                    sanction: Sanction,
                ) -> Result<(), StoreError> {
                    self.put_sanction(&MUTES, account, &sanction).await
                }

                async fn remove_mute(&self, account: AccountId) -> Result<bool, StoreError> {
                    self.remove_sanction(&MUTES, account).await
                }

                async fn mute(
                    &self,
                    account: AccountId,
                    now_ms: i64,
                ) -> Result<Option<Sanction>, StoreError> {
                    self.sanction(&MUTES, account, now_ms).await
                }
            }

            impl $store {
                /// Inserts or replaces the account's sanction.
                async fn put_sanction(
                    &self,
                    table: &AccountSanctions,
                    account: AccountId,
                    sanction: &Sanction,
                ) -> Result<(), StoreError> {
                    sqlx::query(&table.put_sql())
                        .bind(account)
                        .bind(sanction.until_ms)
                        .bind(&sanction.reason)
                        .bind(sanction.by)
                        .bind(sanction.created_at_ms)
                        .execute(&self.pool)
                        .await
                        .map_err(classify)?;
                    Ok(())
                }

                /// Deletes the account's sanction, expired or not, and says
                /// whether it was in force.
                async fn remove_sanction(
                    &self,
                    table: &AccountSanctions,
                    account: AccountId,
                ) -> Result<bool, StoreError> {
                    let row: Option<SanctionRow> = sqlx::query_as(&table.remove_sql())
                        .bind(account)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(was_in_force(row))
                }

                /// The account's sanction if it is in force at `now_ms`.
                async fn sanction(
                    &self,
                    table: &AccountSanctions,
                    account: AccountId,
                    now_ms: i64,
                ) -> Result<Option<Sanction>, StoreError> {
                    let row: Option<SanctionRow> = sqlx::query_as(&table.get_sql())
                        .bind(account)
                        .bind(now_ms)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(row.map(sanction_from_row))
                }
            }
        };
    };
}

pub(crate) use moderation_store;
