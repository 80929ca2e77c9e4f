//! The batch revocation of session tokens for [`PgStore`]; the other token
//! statements are shared with SQLite (`sql::token`).

use super::PgStore;
use crate::{StoreError, TokenHash, sql::backend};

impl PgStore {
    /// Deletes the tokens with these hashes: one statement for any number,
    /// the list bound as one array, so one transaction and one commit.
    pub(super) async fn delete_token_hashes(
        &self,
        hashes: &[TokenHash],
    ) -> Result<u64, StoreError> {
        let hexes: Vec<String> = hashes.iter().map(TokenHash::to_hex).collect();
        let res = sqlx::query("DELETE FROM session_tokens WHERE token_hash = ANY($1)")
            .bind(&hexes)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(res.rows_affected())
    }
}
