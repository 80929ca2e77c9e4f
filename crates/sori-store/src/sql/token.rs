//! [`TokenStore`](crate::TokenStore) for both backends: session tokens, by
//! their hashes. The statements are the same on SQLite and PostgreSQL but
//! for the batch revocation, which each backend writes as an inherent
//! method (`sqlite::token`, `postgres::token`):
//!
//! - `async fn delete_token_hashes(&self, &[TokenHash]) -> Result<u64,
//!   StoreError>`: deletes them in one transaction, returning how many.

/// Implements [`TokenStore`](crate::TokenStore) for a store type with a
/// `pool` field. A macro rather than functions generic over sqlx's
/// `Database`: those would need an `Encode`/`Decode`/`Type` bound for every
/// value bound or read, longer than the bodies, while each expansion here
/// is checked against its own driver like hand-written code.
macro_rules! token_store {
    ($store:ty) => {
        const _: () = {
            use $crate::{
                AccountId, StoreError, StoredToken, TokenHash, TokenStore,
                sql::{backend, classify},
            };

            #[async_trait::async_trait]
            impl TokenStore for $store {
                async fn create_token(
                    &self,
                    account: AccountId,
                    hash: &TokenHash,
                    created_at_ms: i64,
                    expires_at_ms: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO session_tokens \
                         (account_id, token_hash, created_at_ms, expires_at_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(account)
                    .bind(hash.to_hex())
                    .bind(created_at_ms)
                    .bind(expires_at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                    Ok(())
                }

                async fn find_token(
                    &self,
                    hash: &TokenHash,
                    now_ms: i64,
                ) -> Result<Option<StoredToken>, StoreError> {
                    let row: Option<(i64, i64, i64)> = sqlx::query_as(
                        "SELECT account_id, created_at_ms, expires_at_ms FROM session_tokens \
                         WHERE token_hash = $1 AND expires_at_ms > $2",
                    )
                    .bind(hash.to_hex())
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                    Ok(
                        row.map(|(account_id, created_at_ms, expires_at_ms)| StoredToken {
                            account_id,
                            created_at_ms,
                            expires_at_ms,
                        }),
                    )
                }

                async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
                    let res = sqlx::query("DELETE FROM session_tokens WHERE token_hash = $1")
                        .bind(hash.to_hex())
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(res.rows_affected() > 0)
                }

                async fn revoke_token_hashes(
                    &self,
                    hashes: &[TokenHash],
                ) -> Result<u64, StoreError> {
                    if hashes.is_empty() {
                        return Ok(0);
                    }
                    self.delete_token_hashes(hashes).await
                }

                async fn revoke_tokens(&self, account: AccountId) -> Result<u64, StoreError> {
                    let res = sqlx::query("DELETE FROM session_tokens WHERE account_id = $1")
                        .bind(account)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(res.rows_affected())
                }

                async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError> {
                    let res = sqlx::query("DELETE FROM session_tokens WHERE expires_at_ms <= $1")
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    Ok(res.rows_affected())
                }
            }
        };
    };
}

pub(crate) use token_store;
