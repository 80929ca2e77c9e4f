//! Logging in (registering first if asked), and the session tokens kept
//! in the state folder to log in with next time.

use sori_client::{Client, ClientError};
use sori_protocol::pb;

use crate::auth::{self, Secret, TokenFile};
use crate::exchange::{ConnState, NetEvent};
use crate::net::{Account, Driver, JOIN_HISTORY, describe, refuses_login};

impl Driver {
    /// The token stored for the username given on the command line.
    pub(super) fn stored_token(&self) -> Option<(String, String)> {
        let username = self.config.username.clone()?;
        let token = self.token_file(&username)?.load()?;
        Some((username, token))
    }

    pub(super) async fn login(
        &mut self,
        username: String,
        secret: Secret,
        register: Option<String>,
    ) {
        if self.client.is_none() {
            self.tell(NetEvent::Connection(ConnState::Connecting));
            if let Err(err) = self.connect().await {
                self.tell(NetEvent::Connection(ConnState::Idle));
                let message = format!("cannot reach {}: {}", self.config.server, describe(&err));
                self.tell(NetEvent::LoginFailed(message));
                return;
            }
            self.retry_at = None;
            self.attempt = 0;
            self.tell(NetEvent::Connection(ConnState::Online));
        }
        let Some(client) = self.client.clone() else {
            return;
        };
        if let Err(err) = self
            .first_login(&client, &username, &secret, register)
            .await
        {
            let refused = matches!(&err, ClientError::Server { code, .. } if refuses_login(*code));
            if refused && matches!(secret, Secret::Token(_)) {
                // The server no longer takes it: the password is needed.
                if let Some(file) = self.token_file(&username) {
                    file.forget();
                }
            }
            self.tell(NetEvent::LoginFailed(describe(&err)));
        }
    }

    async fn first_login(
        &mut self,
        client: &Client,
        username: &str,
        secret: &Secret,
        register: Option<String>,
    ) -> Result<(), ClientError> {
        if let (Some(display_name), Secret::Password(password)) = (&register, secret) {
            client.register(username, password, display_name).await?;
        }
        let login = auth::login(client, username, secret).await?;
        let user = login.user.clone().unwrap_or_default();
        self.account = Some(Account {
            username: user.username.clone(),
            secret: secret.clone(),
        });
        self.stay_offline = false;
        self.keep_token(&login);
        let mut names: Vec<String> = login.rooms.iter().map(|room| room.name.clone()).collect();
        if !names.iter().any(String::is_empty) {
            names.insert(0, String::new());
        }
        let mut rooms = Vec::new();
        for name in names {
            let joined = client.join_room(&name, 0, JOIN_HISTORY).await?;
            self.track(&joined);
            rooms.push(joined);
        }
        self.tell(NetEvent::LoggedIn {
            user,
            rooms,
            resumed: false,
            dropped: Vec::new(),
        });
        Ok(())
    }

    /// Stores the login's session token, if any, and logs in with it from
    /// now on instead of the password.
    pub(super) fn keep_token(&mut self, login: &pb::LoginOk) {
        let Some(token) = auth::session_token(login) else {
            return;
        };
        let Some(account) = &mut self.account else {
            return;
        };
        account.secret = Secret::Token(token.clone());
        let username = account.username.clone();
        if let Some(file) = self.token_file(&username) {
            if let Err(err) = file.save(&token) {
                self.tell(NetEvent::Failed {
                    what: format!("saving the session to {}", file.path().display()),
                    message: err.to_string(),
                });
            }
        }
    }

    fn token_file(&self, username: &str) -> Option<TokenFile> {
        let dir = self.config.state_dir.as_ref()?;
        Some(TokenFile::new(dir, &self.config.server, username))
    }
}
