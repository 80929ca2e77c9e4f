//! The batch revocation of session tokens for [`SqliteStore`]; the other
//! token statements are shared with PostgreSQL (`sql::token`).

use super::SqliteStore;
use crate::{StoreError, TokenHash, sql::backend};

/// The most hashes one DELETE names: 128 bound parameters, far under
/// SQLite's limit (32,766).
const MAX_CHUNK: usize = 128;

impl SqliteStore {
    /// Deletes the tokens with these hashes in one transaction, whose commit
    /// is the batch's one fsync.
    ///
    /// `DELETE ... WHERE token_hash IN (?, ...)` in chunks rather than one
    /// prepared DELETE per hash: each statement is a round trip to sqlx's
    /// SQLite worker thread, and the unique index finds each listed hash
    /// either way.
    pub(super) async fn delete_token_hashes(
        &self,
        hashes: &[TokenHash],
    ) -> Result<u64, StoreError> {
        let hexes: Vec<String> = hashes.iter().map(TokenHash::to_hex).collect();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut n_deleted = 0;
        let mut rest = hexes.as_slice();
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(super::chunk_len(rest.len(), MAX_CHUNK));
            rest = after;
            let sql = delete_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for hex in chunk {
                query = query.bind(hex);
            }
            let res = query.execute(&mut *tx).await.map_err(backend)?;
            n_deleted += res.rows_affected();
        }
        tx.commit().await.map_err(backend)?;
        Ok(n_deleted)
    }
}

/// `DELETE FROM session_tokens WHERE token_hash IN (?, ..., ?)` naming
/// `n_hashes` hashes. Anonymous parameters, as in `insert_messages_sql`:
/// SQLite places each argument without looking up a name.
fn delete_sql(n_hashes: usize) -> String {
    let mut sql = String::with_capacity(64 + 3 * n_hashes);
    sql.push_str("DELETE FROM session_tokens WHERE token_hash IN (");
    for idx in 0..n_hashes {
        if idx > 0 {
            sql.push_str(", ");
        }
        sql.push('?');
    }
    sql.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_a_batch_with_eight_statement_texts() {
        let mut texts = std::collections::HashSet::new();
        for n in 1..=1024 {
            let mut left = n;
            while left > 0 {
                let len = super::super::chunk_len(left, MAX_CHUNK);
                assert!((1..=left.min(MAX_CHUNK)).contains(&len));
                texts.insert(delete_sql(len));
                left -= len;
            }
        }
        assert_eq!(texts.len(), 8);
        assert_eq!(
            delete_sql(2),
            "DELETE FROM session_tokens WHERE token_hash IN (?, ?)"
        );
    }
}
