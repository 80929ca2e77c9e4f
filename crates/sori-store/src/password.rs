//! Argon2id password hashing, stored as PHC strings
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) so each hash carries its own
//! parameters and old hashes keep verifying after the cost is raised.
//!
//! Everything here is synchronous and deliberately slow: call it from
//! `tokio::task::spawn_blocking`, never on an async worker thread.

use std::sync::OnceLock;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{
        PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
    },
};

#[cfg(test)]
mod tests;

/// Why a [`PasswordHasher`] could not be built or could not hash. The
/// message includes argon2's own reason.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The memory, iteration or parallelism cost is out of Argon2's range.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(argon2::Error),
    /// Hashing failed; with valid parameters this does not happen in practice.
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// Hashes and verifies passwords with Argon2id at a configurable cost.
///
/// Holds no password, so its `Debug` output is safe to log. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    /// The cost for new hashes. Verification uses the cost recorded in each
    /// stored hash instead.
    params: Params,
    /// A hash of a fixed string under `params`, made on the first
    /// [`dummy_verify`](Self::dummy_verify). Made with this hasher's own cost
    /// rather than shipped as a constant, so a dummy verify costs what a real
    /// one does whatever the configured cost.
    dummy_hash: OnceLock<String>,
}

/// What [`PasswordHasher::dummy_verify`] hashes. Its value does not matter.
const DUMMY_PASSWORD: &str = "sori-dummy-password";

impl PasswordHasher {
    /// A hasher with the given cost: memory in KiB, iterations (passes over
    /// the memory) and parallelism (lanes).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(PasswordError::InvalidParams)?;
        Ok(Self {
            params,
            dummy_hash: OnceLock::new(),
        })
    }

    /// Hashes `password` with a fresh random salt and returns the PHC string.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(PasswordError::Hash)?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string `phc`. False on a mismatch
    /// and on a `phc` that does not parse. The comparison is constant-time.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        self.argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    /// Does the work of a failed [`verify`](Self::verify) without a stored
    /// hash. Call it when the username is unknown, so that a login attempt
    /// takes as long as one with a wrong password and response times do not
    /// reveal which usernames exist.
    pub fn dummy_verify(&self, password: &str) {
        // If hashing ever failed, the empty string makes verify return at
        // once; then every real login fails too, so nothing extra leaks.
        let phc = self
            .dummy_hash
            .get_or_init(|| self.hash(DUMMY_PASSWORD).unwrap_or_default());
        std::hint::black_box(self.verify(password, phc));
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }
}

impl Default for PasswordHasher {
    /// Argon2's recommended defaults, which match OWASP's minimum for
    /// Argon2id: 19 MiB of memory, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            params: Params::DEFAULT,
            dummy_hash: OnceLock::new(),
        }
    }
}
