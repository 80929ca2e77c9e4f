//! Sign-up and login: name rules, Argon2id, and the account store.
//!
//! Hashing is CPU-heavy by design, so it runs on tokio's blocking threads,
//! never on the I/O threads, and at most `max_concurrent` hashes run at once:
//! a login storm queues here instead of freezing chat.

use std::sync::Arc;

use sori_protocol::pb::ErrorCode;
use sori_store::{
    Account, AccountStore, NewAccount, PasswordHasher, validate_display_name, validate_password,
    validate_username,
};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::refusal::Refusal;

/// The server's view of accounts.
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    hasher: Arc<PasswordHasher>,
    hash_permits: Semaphore,
}

impl Accounts {
    pub(crate) fn new(store: Arc<dyn AccountStore>, cost: &HashCost) -> Result<Self, String> {
        let hasher = PasswordHasher::new(cost.memory_kib, cost.iterations, cost.parallelism)
            .map_err(|err| format!("invalid password_hash settings: {err}"))?;
        Ok(Accounts {
            store,
            hasher: Arc::new(hasher),
            hash_permits: Semaphore::new(cost.max_concurrent.max(1)),
        })
    }

    /// Creates an account; the display name defaults to the username.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: &str,
    ) -> Result<(), Refusal> {
        validate_username(username)?;
        validate_password(password)?;
        let display_name = if display_name.is_empty() {
            username
        } else {
            display_name
        };
        validate_display_name(display_name)?;
        let password = password.to_owned();
        let password_hash = self
            .hash(move |hasher| hasher.hash(&password).map_err(|err| err.to_string()))
            .await?
            .map_err(|err| internal(&err))?;
        self.store
            .create_account(NewAccount {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                password_hash,
            })
            .await?;
        Ok(())
    }

    /// Checks a username and password. Unknown users and wrong passwords get
    /// the same answer after the same work, so neither leaks which it was.
    pub async fn login(&self, username: &str, password: &str) -> Result<Account, Refusal> {
        let bad = || {
            Refusal::new(
                ErrorCode::BadCredentials,
                "unknown username or wrong password",
            )
        };
        let account = if validate_username(username).is_ok() {
            self.store.account_by_username(username).await?
        } else {
            None
        };
        let password = password.to_owned();
        match account {
            Some(account) => {
                let phc = account.password_hash.clone();
                let ok = self
                    .hash(move |hasher| hasher.verify(&password, &phc))
                    .await?;
                if ok { Ok(account) } else { Err(bad()) }
            }
            None => {
                self.hash(move |hasher| hasher.dummy_verify(&password))
                    .await?;
                Err(bad())
            }
        }
    }

    /// Changes an account's password, given the old one: the new one is
    /// checked against the length rules (INVALID_PASSWORD) before the old
    /// one is verified (BAD_CREDENTIALS), so a bad new password costs no
    /// hash. Returns the account.
    pub async fn change_password(
        &self,
        username: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<Account, Refusal> {
        validate_password(new_password)?;
        let account = self.login(username, old_password).await?;
        let new_password = new_password.to_owned();
        let password_hash = self
            .hash(move |hasher| hasher.hash(&new_password).map_err(|err| err.to_string()))
            .await?
            .map_err(|err| internal(&err))?;
        self.store
            .set_password_hash(account.id, &password_hash)
            .await?;
        Ok(account)
    }

    /// The account with this username, if any.
    pub async fn find(&self, username: &str) -> Result<Option<Account>, Refusal> {
        if validate_username(username).is_err() {
            return Ok(None);
        }
        Ok(self.store.account_by_username(username).await?)
    }

    /// Changes an account's display name (unique server-wide).
    pub async fn set_display_name(
        &self,
        account_id: i64,
        display_name: &str,
    ) -> Result<(), Refusal> {
        validate_display_name(display_name)?;
        Ok(self
            .store
            .set_display_name(account_id, display_name)
            .await?)
    }

    /// Runs `work` on a blocking thread once a hashing permit is free.
    async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        // Invariant: the semaphore is never closed.
        let _permit = self
            .hash_permits
            .acquire()
            .await
            .expect("hash semaphore is never closed");
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || work(&hasher))
            .await
            .map_err(|err| internal(&err.to_string()))
    }
}

fn internal(detail: &str) -> Refusal {
    tracing::error!(%detail, "account store failed");
    Refusal::new(ErrorCode::Internal, "internal server error; try again")
}
