//! Logging in, and the session token kept between runs.
//!
//! The password is never written anywhere: it is held in memory only until
//! the server gives a session token, and then forgotten. The token is kept
//! in a file only the user can read (mode 0600, in a 0700 folder), one per
//! server and username, and the next run logs in with it.
//! A server with tokens turned off answers with an empty one: then the
//! password stays in memory (never on disk) for reconnects, as
//! `sori_client::Session` does.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sori_client::{Client, ClientError};
use sori_protocol::pb;

/// How a session logs in (again, after a reconnect).
#[derive(Clone)]
pub enum Secret {
    /// A password, kept in memory while the server gives no token.
    Password(String),
    /// A session token from the server.
    Token(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        match self {
            Secret::Password(_) => f.write_str("Password(..)"),
            Secret::Token(_) => f.write_str("Token(..)"),
        }
    }
}

/// The file holding one account's session token on one server.
#[derive(Debug, Clone)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// The token file for `username` on `server`, in `state_dir`.
    pub fn new(state_dir: &Path, server: &str, username: &str) -> Self {
        let name = format!(
            "token-{}-{}",
            file_safe(server),
            file_safe(&username.to_lowercase())
        );
        TokenFile {
            path: state_dir.join(name),
        }
    }

    /// Where the token lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored token, if there is one.
    pub fn load(&self) -> Option<String> {
        let token = fs::read_to_string(&self.path).ok()?;
        let token = token.trim();
        (!token.is_empty()).then(|| token.to_owned())
    }

    /// Stores a token, readable by the user only.
    pub fn save(&self, token: &str) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
            restrict(dir, 0o700)?;
        }
        // Written to a private temporary file, then renamed over the old
        // one, so the token is never readable by others, even briefly.
        let tmp = self.path.with_extension("tmp");
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        restrict(&tmp, 0o600)?;
        file.write_all(token.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)
    }

    /// Deletes the stored token (the server refused it).
    pub fn forget(&self) {
        // Nothing stored is not an error.
        let _ = fs::remove_file(&self.path);
    }
}

/// Logs in on `client` with a password or a token.
pub async fn login(
    client: &Client,
    username: &str,
    secret: &Secret,
) -> Result<pb::LoginOk, ClientError> {
    match secret {
        Secret::Password(password) => client.login(username, password).await,
        Secret::Token(token) => login_with_token(client, username, token).await,
    }
}

/// The session token a login answer carries, if the server gives one
/// (empty when it has tokens turned off).
pub fn session_token(login: &pb::LoginOk) -> Option<String> {
    (!login.session_token.is_empty()).then(|| login.session_token.clone())
}

/// Logs in with a stored session token.
async fn login_with_token(
    client: &Client,
    username: &str,
    token: &str,
) -> Result<pb::LoginOk, ClientError> {
    client.login_with_token(username, token).await
}

/// Makes a server address or username usable in a file name.
fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests;
