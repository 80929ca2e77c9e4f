//! Sign-up, login (by password or by session token), display names,
//! password changes and logout: how a connection becomes a [`Session`] and
//! stops being one.
//!
//! Session tokens: a password login always issues a new token; a token
//! login gives the same token back with its expiry unchanged (no rotation,
//! so two tabs of one browser, which share the token, never log each other
//! out of it). A token is revoked by its session's Logout, and every token
//! of an account by a ban, a password change (the changing session gets a
//! new one) and AdminRevokeTokens. The store keeps only their SHA-256.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{Account, AccountId, NewToken, TokenHash};

use crate::clock::now_ms;
use crate::event::Event;
use crate::moderation::banned_error;
use crate::node::{Core, Outcome, Session};
use crate::peer::Peer;
use crate::refusal::Refusal;

pub(crate) mod revoker;

/// Expired tokens are deleted by a login at most this often: an hour.
pub(crate) const TOKEN_SWEEP_MS: i64 = 60 * 60 * 1000;

/// A successful login: the session, and the LoginOk to answer with.
#[derive(Debug)]
pub struct LoggedIn {
    /// The new session's identity.
    pub session: Session,
    /// The answer: the user, the rooms, the count of stored whispers.
    pub login_ok: pb::LoginOk,
}

impl Core {
    /// Creates an account; the display name defaults to the username.
    pub async fn register(&self, req: pb::Register) -> Result<(), Refusal> {
        self.accounts
            .register(&req.username, &req.password, &req.display_name)
            .await?;
        tracing::info!(username = %req.username, "account registered");
        Ok(())
    }

    /// Logs `peer` in with a password: checks it, then starts the session
    /// as [`Core::login_with_token`] does, with a new session token (none
    /// when tokens are off). The LoginOk (request `request_id`) and the
    /// whispers stored while the user was offline are queued to `peer`.
    pub async fn login(
        &self,
        peer: &Arc<Peer>,
        request_id: u32,
        username: &str,
        password: &str,
    ) -> Result<Session, Refusal> {
        let account = self.accounts.login(username, password).await?;
        self.start_session(peer, request_id, account, None).await
    }

    /// Logs `peer` in with a session token instead of a password: the token
    /// must be valid (made by this server, not expired, not revoked) and
    /// the account's, or the answer is TOKEN_INVALID. Then the same checks
    /// as a password login (bans, mutes, the duplicate-login policy), and
    /// the LoginOk carries the same token and expiry.
    pub async fn login_with_token(
        &self,
        peer: &Arc<Peer>,
        request_id: u32,
        username: &str,
        token: &str,
    ) -> Result<Session, Refusal> {
        if self.settings.session_token_ttl.is_none() || token.is_empty() {
            return Err(token_invalid());
        }
        let Some(account) = self.accounts.find(username).await? else {
            return Err(token_invalid());
        };
        let hash = TokenHash::of(token);
        let valid = self.store.find_token(&hash, now_ms()).await?;
        let Some(stored) = valid.filter(|stored| stored.account_id == account.id) else {
            return Err(token_invalid());
        };
        let kept = IssuedToken {
            token: token.to_owned(),
            hash,
            expires_at_ms: stored.expires_at_ms,
        };
        self.start_session(peer, request_id, account, Some(kept))
            .await
    }

    /// Starts a session for an account whose credentials were checked:
    /// checks bans and mutes, issues a token unless `kept` is the one it
    /// logged in with, applies the duplicate-login policy and starts the
    /// session receiving the lobby and its rooms.
    async fn start_session(
        &self,
        peer: &Arc<Peer>,
        request_id: u32,
        account: Account,
        kept: Option<IssuedToken>,
    ) -> Result<Session, Refusal> {
        let now = now_ms();
        if let Some(ban) = self.store.account_ban(account.id, now).await? {
            return Err(banned_error(&ban));
        }
        if let Some(mute) = self.store.mute(account.id, now).await? {
            peer.set_muted_until(mute.until_ms.unwrap_or(i64::MAX));
        }
        let user = Arc::new(pb::UserInfo {
            username: account.username.clone(),
            display_name: account.display_name.clone(),
        });
        // Read before going online: a whisper stored after this read finds
        // the user online and is delivered live, or waits for the next login.
        let whispers = self.stored_whispers(account.id).await?;
        let by_token = kept.is_some();
        let token = match kept {
            Some(kept) => Some(kept),
            None => self.issue_token(account.id).await?,
        };
        let rooms = match self
            .hub
            .login(self.bus.as_ref(), peer, account.id, user.clone())
        {
            Ok(rooms) => rooms,
            Err(refusal) => {
                // Refused by the duplicate-login policy: a token just made
                // for this login is nobody's.
                if let Some(token) = token.as_ref().filter(|_| !by_token)
                    && let Err(err) = self.store.revoke_token(&token.hash).await
                {
                    tracing::warn!(%err, "revoking an unused session token failed");
                }
                return Err(refusal);
            }
        };
        // Never the token itself: logs are read by more people than should
        // log in as this user.
        tracing::debug!(session = %peer.id, username = %user.username, by_token, "logged in");
        let (session_token, token_expires_ms) = match &token {
            Some(token) => (token.token.clone(), token.expires_at_ms),
            None => (String::new(), 0),
        };
        let login_ok = Message::LoginOk(pb::LoginOk {
            session_id: peer.id.to_u64(),
            user: Some(pb::UserInfo::clone(&user)),
            rooms,
            offline_whispers: u32::try_from(whispers.len()).unwrap_or(u32::MAX),
            session_token,
            token_expires_ms,
        });
        peer.push(&Event::new(request_id, login_ok));
        if !whispers.is_empty() {
            let ids: Vec<i64> = whispers.iter().map(|(id, _)| *id).collect();
            for (_, whisper) in whispers {
                peer.push(&Event::push(Message::WhisperMessage(whisper)));
            }
            // Queued to this session: delivered once, so forget them.
            self.store.delete_offline_whispers(&ids).await?;
        }
        Ok(Session {
            account_id: account.id,
            user,
            token: token.map(|token| token.hash),
        })
    }

    /// Changes the session's password, given the old one (BAD_CREDENTIALS
    /// if wrong; INVALID_PASSWORD if the new one fails the rules). Every
    /// session token of the account is revoked, and this session gets a new
    /// one in the answer. Sessions already logged in stay logged in.
    pub async fn change_password(
        &self,
        session: &mut Session,
        old_password: &str,
        new_password: &str,
    ) -> Result<pb::PasswordChanged, Refusal> {
        self.accounts
            .change_password(&session.user.username, old_password, new_password)
            .await?;
        self.store.revoke_tokens(session.account_id).await?;
        session.token = None;
        let token = self.issue_token(session.account_id).await?;
        tracing::info!(username = %session.user.username, "password changed");
        let answer = match token {
            Some(token) => {
                session.token = Some(token.hash);
                pb::PasswordChanged {
                    session_token: token.token,
                    token_expires_ms: token.expires_at_ms,
                }
            }
            None => pb::PasswordChanged::default(),
        };
        Ok(answer)
    }

    /// A session's Logout (request `request_id`): revokes the token this
    /// session logged in with or was given, so a stored copy of it logs
    /// nobody in again, then ends the session.
    ///
    /// Nothing waits: the revoker writes the logouts that queue up
    /// meanwhile in one transaction (many at once share one fsync) and
    /// then queues each session's Ok and its end (a Kicked LOGGED_OUT),
    /// or an INTERNAL refusal if the write failed; the answer is
    /// [`Outcome::Sent`]. A session waiting for its Logout so costs a
    /// queue entry, not its request's state and read buffer, and 19,000 of
    /// them logging out at once stay as small as they were idle.
    /// [`Outcome::Logout`] (answer Ok and end the session at once) when
    /// there is no token to revoke, or once the revoker is closed and the
    /// token was revoked here.
    pub async fn logout_request(
        &self,
        peer: &Arc<Peer>,
        session: &Session,
        request_id: u32,
    ) -> Result<Outcome, Refusal> {
        let Some(hash) = session.token else {
            return Ok(Outcome::Logout);
        };
        if self.revoker.logout(hash, peer.clone(), request_id) {
            return Ok(Outcome::Closing);
        }
        // Closed (the node is shutting down): revoke it alone.
        self.store.revoke_token(&hash).await?;
        Ok(Outcome::Logout)
    }

    /// Revokes the token this session logged in with or was given, so a
    /// stored copy of it logs nobody in again. `Ok` once it is revoked on
    /// disk. It shares the revoker's transactions with the Logouts; what
    /// waits here is a oneshot receiver.
    pub async fn revoke_session_token(&self, session: &Session) -> Result<(), Refusal> {
        let Some(hash) = session.token else {
            return Ok(());
        };
        let Some(answer) = self.revoker.submit(hash) else {
            // Closed (the node is shutting down): revoke it alone.
            self.store.revoke_token(&hash).await?;
            return Ok(());
        };
        match answer.await {
            Ok(true) => Ok(()),
            // The write failed (the revoker logged why), or the revoker
            // ended without answering.
            Ok(false) | Err(_) => Err(revoker::not_revoked()),
        }
    }

    /// Revokes every session token of an account: its clients must log in
    /// with the password again.
    pub(crate) async fn revoke_tokens(&self, account_id: AccountId) -> Result<(), Refusal> {
        let n_revoked = self.store.revoke_tokens(account_id).await?;
        tracing::debug!(account_id, n_revoked, "session tokens revoked");
        Ok(())
    }

    /// Makes and stores a new token for `account_id`, valid for the
    /// configured lifetime; `None` when tokens are off. Now and then also
    /// deletes the expired ones.
    async fn issue_token(&self, account_id: AccountId) -> Result<Option<IssuedToken>, Refusal> {
        let Some(ttl) = self.settings.session_token_ttl else {
            return Ok(None);
        };
        let now = now_ms();
        let new = NewToken::generate().map_err(|err| {
            tracing::error!(%err, "making a session token failed");
            Refusal::new(ErrorCode::Internal, "internal server error; try again")
        })?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at_ms = now.saturating_add(ttl_ms);
        self.store
            .create_token(account_id, &new.hash, now, expires_at_ms)
            .await?;
        self.sweep_tokens(now).await;
        Ok(Some(IssuedToken {
            token: new.token,
            hash: new.hash,
            expires_at_ms,
        }))
    }

    /// Deletes the expired tokens if nobody did within `TOKEN_SWEEP_MS`.
    /// A failure is logged and waits for the next sweep: expired tokens log
    /// nobody in, they only take room.
    async fn sweep_tokens(&self, now: i64) {
        let last = self.last_token_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < TOKEN_SWEEP_MS
            || self
                .last_token_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self.store.delete_expired_tokens(now).await {
            Ok(n_deleted) => tracing::debug!(n_deleted, "expired session tokens deleted"),
            Err(err) => tracing::warn!(%err, "deleting expired session tokens failed"),
        }
    }

    /// Changes the session's display name, everywhere it is shown.
    pub async fn set_display_name(
        &self,
        peer: &Peer,
        session: &mut Session,
        display_name: String,
    ) -> Result<(), Refusal> {
        self.accounts
            .set_display_name(session.account_id, &display_name)
            .await?;
        let renamed = Arc::new(pb::UserInfo {
            username: session.user.username.clone(),
            display_name,
        });
        self.hub
            .rename(peer.id, session.account_id, renamed.clone());
        session.user = renamed;
        Ok(())
    }

    /// Takes an ended session out of its rooms and the user table, telling
    /// the others, unless a newer login already replaced it.
    pub fn logout(&self, peer: &Peer, session: &Session) {
        self.hub.logout(
            self.bus.as_ref(),
            peer.id,
            session.account_id,
            &session.user.username,
        );
    }
}

/// A session token as a login hands it out.
struct IssuedToken {
    /// The text, for the LoginOk; never logged.
    token: String,
    hash: TokenHash,
    expires_at_ms: i64,
}

/// What a Login with a token that does not log in gets: the client should
/// ask for the password.
fn token_invalid() -> Refusal {
    Refusal::new(
        ErrorCode::TokenInvalid,
        "the session token is unknown, expired or revoked; log in with the password",
    )
}
