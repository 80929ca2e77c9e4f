//! [`AccountStore`](crate::AccountStore) for both backends. The statements
//! are the same on SQLite and PostgreSQL.

/// Implements [`AccountStore`](crate::AccountStore) for a store type with a
/// `pool` field. A macro for the reason given at
/// [`token_store`](super::token::token_store).
macro_rules! account_store {
    ($store:ty) => {
        const _: () = {
            use $crate::{
                Account, AccountId, AccountStore, NewAccount, StoreError,
                sql::{
                    ACCOUNT_COLUMNS, AccountRow, account_from_row, backend, classify, name_key,
                    now_ms,
                },
            };

            #[async_trait::async_trait]
            impl AccountStore for $store {
                async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
                    let created_at_ms = now_ms();
                    let sql = format!(
                        "INSERT INTO accounts \
                         (username, username_key, display_name, display_name_key, password_hash, \
                         created_at_ms) \
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
                        // When both names are taken the database may report
                        // either one (PostgreSQL reports the first constraint
                        // it checks); the username is what the user must
                        // change first, so say that.
                        Err(StoreError::DisplayNameTaken)
                            if self.account_by_username(&new.username).await?.is_some() =>
                        {
                            Err(StoreError::UsernameTaken)
                        }
                        Err(err) => Err(err),
                    }
                }

                async fn account_by_username(
                    &self,
                    username: &str,
                ) -> Result<Option<Account>, StoreError> {
                    let sql =
                        format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_key = $1");
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
                        "UPDATE accounts SET display_name = $1, display_name_key = $2 \
                         WHERE id = $3",
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
        };
    };
}

pub(crate) use account_store;
