//! Sign-up, login, display names and logout: how a connection becomes a
//! [`Session`] and stops being one.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb;

use crate::event::Event;
use crate::hub::now_ms;
use crate::moderation::banned_error;
use crate::peer::Peer;
use crate::refusal::Refusal;
use crate::{Core, Session};

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

    /// Logs `peer` in: checks the password, bans and mutes, applies the
    /// duplicate-login policy and starts the session receiving the lobby
    /// and its rooms. The whispers stored while the user was offline are
    /// queued after the LoginOk, which the caller queues with
    /// `answer_login` first.
    pub async fn login(
        &self,
        peer: &Arc<Peer>,
        request_id: u32,
        username: &str,
        password: &str,
    ) -> Result<Session, Refusal> {
        let account = self.accounts.login(username, password).await?;
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
        let rooms = self
            .hub
            .login(self.bus.as_ref(), peer, account.id, user.clone())?;
        tracing::debug!(session = %peer.id, username = %user.username, "logged in");
        let login_ok = Message::LoginOk(pb::LoginOk {
            session_id: peer.id.to_u64(),
            user: Some(pb::UserInfo::clone(&user)),
            rooms,
            offline_whispers: u32::try_from(whispers.len()).unwrap_or(u32::MAX),
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
        })
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
