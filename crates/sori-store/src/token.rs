//! Session tokens: how they are made and hashed, and the backend-neutral
//! [`TokenStore`] trait that keeps them.
//!
//! A session token logs a client in again without its password, so that a
//! page reload or a terminal restart resumes and no client has to keep the
//! password. A token is [`TOKEN_BYTES`] bytes from the operating system's
//! random number generator, sent as unpadded base64url text. The store keeps
//! only its SHA-256 ([`TokenHash`]), never the text: a copy of the database
//! logs nobody in. A fast hash is right for this, unlike for passwords: the
//! token has 256 bits of entropy, so there is no dictionary to try and a
//! slow hash would only slow every reload down.

use std::fmt;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{AccountId, StoreError};

/// Random bytes in a token: 256 bits, twice the 128 that make guessing
/// hopeless, and 43 characters of base64url.
pub const TOKEN_BYTES: usize = 32;

/// A token just made: the text for the client and the hash for the store.
pub struct NewToken {
    /// What the client gets, once, and sends back in `Login.token`.
    pub token: String,
    /// What the store keeps.
    pub hash: TokenHash,
}

/// The SHA-256 of a token's text: what the store keeps and looks tokens up
/// by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// A token the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The account it logs in to.
    pub account_id: AccountId,
    /// When it was made, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When it stops working, in milliseconds since the Unix epoch: it is
    /// valid while `now_ms < expires_at_ms`.
    pub expires_at_ms: i64,
}

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Rng(String),
}

/// Persistent storage of session tokens, by their hashes.
///
/// Object-safe so the server can hold an `Arc<dyn TokenStore>`. Like
/// [`ModerationStore`](crate::ModerationStore), reads take the time from the
/// caller and never write; expired tokens stay stored until
/// [`delete_expired_tokens`](Self::delete_expired_tokens) or a revocation
/// deletes them. An account's tokens go with it when it is deleted.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a token of `account`, valid while `now_ms < expires_at_ms`.
    ///
    /// Fails with [`StoreError::NotFound`] if the account does not exist,
    /// and with [`StoreError::Backend`] if the hash is stored already (two
    /// tokens of 256 random bits never collide; a caller that stores one
    /// twice has a bug).
    async fn create_token(
        &self,
        account: AccountId,
        hash: &TokenHash,
        created_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// The token with this hash if it is valid at `now_ms`: `None` if there
    /// is none, or if its `expires_at_ms <= now_ms`.
    async fn find_token(
        &self,
        hash: &TokenHash,
        now_ms: i64,
    ) -> Result<Option<StoredToken>, StoreError>;

    /// Deletes one token (a logout). `Ok(false)` if there was none, expired
    /// or not.
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError>;

    /// Deletes the tokens with these hashes (the logouts that queued up
    /// while the last batch was written) in one transaction: all of them or,
    /// on an error, none. Returns how many were deleted; a hash with no
    /// token counts nothing, and a hash listed twice counts once.
    async fn revoke_token_hashes(&self, hashes: &[TokenHash]) -> Result<u64, StoreError>;

    /// Deletes every token of an account (a ban, a password change, an
    /// admin's revocation) and returns how many there were, expired ones
    /// included.
    async fn revoke_tokens(&self, account: AccountId) -> Result<u64, StoreError>;

    /// Deletes every token expired at `now_ms` and returns how many.
    async fn delete_expired_tokens(&self, now_ms: i64) -> Result<u64, StoreError>;
}

impl NewToken {
    /// Draws a new token from the operating system's random number
    /// generator.
    pub fn generate() -> Result<NewToken, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|err| TokenError::Rng(err.to_string()))?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = TokenHash::of(&token);
        Ok(NewToken { token, hash })
    }
}

impl TokenHash {
    /// The hash of a token's text, as a client sends it.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// The hash as 64 lowercase hex digits, as the backends store it.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        let mut hex = String::with_capacity(64);
        for byte in self.0 {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

// Hand-written so that logging a new token never prints it.
impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &"<redacted>")
            .field("hash", &self.hash)
            .finish()
    }
}

// A hash logs nobody in, but a log has no use for all of it: the first
// bytes tell tokens apart.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests;
