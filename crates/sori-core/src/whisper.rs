//! Whispers: to a user online wherever they are, or stored for one
//! offline.

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{AccountId, NewWhisper};

use crate::clock::now_ms;
use crate::event::Event;
use crate::node::{Caller, Core};
use crate::refusal::Refusal;

impl Core {
    /// A whisper to someone online, or stored for someone offline.
    pub async fn whisper(
        &self,
        caller: &Caller<'_>,
        to_username: &str,
        text: String,
    ) -> Result<(), Refusal> {
        let shared = self;
        crate::refusal::check_text(&text, shared.settings.max_text_len)?;
        crate::checks::check_muted(caller)?;
        if crate::hub::username_key(to_username) == crate::hub::username_key(&caller.user.username)
        {
            return Err(Refusal::new(
                ErrorCode::WhisperToSelf,
                "you cannot whisper to yourself",
            ));
        }
        let timestamp_ms = now_ms();
        let msg = Event::push(Message::WhisperMessage(pb::WhisperMessage {
            from: Some(caller.user.clone()),
            text: text.clone(),
            timestamp_ms,
            offline: false,
        }));
        // In order with the lobby's messages handled before it.
        shared.hub.flush_lobby();
        if shared.bus.to_user(&shared.hub, to_username, &msg) {
            shared.metrics.messages.inc();
            caller.answer(Message::WhisperAck(pb::WhisperAck {
                timestamp_ms,
                stored: false,
            }));
            return Ok(());
        }
        let Some(account) = shared.accounts.find(to_username).await? else {
            return Err(Refusal::new(
                ErrorCode::NoSuchUser,
                format!("there is no user named {to_username:?}"),
            ));
        };
        if !shared.settings.offline_whispers {
            return Err(Refusal::new(
                ErrorCode::UserOffline,
                format!("{to_username} is not online"),
            ));
        }
        let waiting = shared.store.offline_whispers(account.id).await?.len();
        if waiting >= shared.settings.max_offline_whispers {
            return Err(Refusal::new(
                ErrorCode::MailboxFull,
                format!("{to_username} is offline with {waiting} whispers waiting; try later"),
            ));
        }
        shared
            .store
            .put_offline_whisper(NewWhisper {
                to_account: account.id,
                from_username: caller.user.username.clone(),
                from_display_name: caller.user.display_name.clone(),
                text,
                timestamp_ms,
            })
            .await?;
        shared.metrics.messages.inc();
        caller.answer(Message::WhisperAck(pb::WhisperAck {
            timestamp_ms,
            stored: true,
        }));
        Ok(())
    }

    /// The whispers stored for `account` while it was offline, oldest first,
    /// with their store ids.
    pub(crate) async fn stored_whispers(
        &self,
        account: AccountId,
    ) -> Result<Vec<(i64, pb::WhisperMessage)>, Refusal> {
        let shared = self;
        if !shared.settings.offline_whispers {
            return Ok(Vec::new());
        }
        let stored = shared.store.offline_whispers(account).await?;
        Ok(stored
            .into_iter()
            .map(|w| {
                let msg = pb::WhisperMessage {
                    from: Some(pb::UserInfo {
                        username: w.from_username,
                        display_name: w.from_display_name,
                    }),
                    text: w.text,
                    timestamp_ms: w.timestamp_ms,
                    offline: true,
                };
                (w.id, msg)
            })
            .collect())
    }
}
