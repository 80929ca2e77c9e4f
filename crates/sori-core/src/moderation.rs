//! Server moderation: admins kick, ban (account and/or IP range, for a
//! duration or forever), mute and revoke session tokens. Bans and mutes
//! persist in the store; IP bans are also kept in memory, because every
//! accepted connection is checked against them.

use ipnet::IpNet;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{IpBan, Sanction};

use crate::clock::now_ms;
use crate::event::Event;
use crate::ip_bans::parse_net;
use crate::node::{Caller, Core};
use crate::refusal::Refusal;

/// The Kicked frame a banned client gets, saying until when.
pub fn banned_kick(sanction: &Sanction) -> Message {
    Message::Kicked(pb::Kicked {
        code: ErrorCode::BannedFromServer as i32,
        message: banned_text(sanction),
        until_ms: wire_until(sanction),
    })
}

/// The Error a banned account's Login gets.
pub fn banned_error(sanction: &Sanction) -> Refusal {
    Refusal::until(
        ErrorCode::BannedFromServer,
        banned_text(sanction),
        wire_until(sanction),
    )
}

/// The Error a muted session's Chat or Whisper gets.
pub(crate) fn muted_error(until_ms: i64) -> Refusal {
    let wire = if until_ms == i64::MAX { 0 } else { until_ms };
    let text = if wire == 0 {
        "you are muted".to_owned()
    } else {
        format!("you are muted until {}", human_time(wire))
    };
    Refusal::until(ErrorCode::Muted, text, wire)
}

impl Core {
    /// Handles an admin request (the AdminKick, AdminBan, AdminUnban,
    /// AdminMute, AdminUnmute and AdminRevokeTokens frames; an admin HTTP
    /// API calls the same).
    pub async fn admin(&self, caller: &Caller<'_>, message: Message) -> Result<(), Refusal> {
        if !self.is_admin(&caller.user.username) {
            return Err(Refusal::new(
                ErrorCode::NotAdmin,
                "only server admins may do that",
            ));
        }
        let by = caller.account_id;
        match message {
            Message::AdminKick(req) => self.admin_kick(&req.username, req.reason).await?,
            Message::AdminBan(req) => self.admin_ban(by, req).await?,
            Message::AdminUnban(req) => self.admin_unban(&req.username, &req.ip).await?,
            Message::AdminMute(req) => {
                self.admin_mute(by, &req.username, req.duration_secs, req.reason)
                    .await?
            }
            Message::AdminUnmute(req) => self.admin_unmute(&req.username).await?,
            Message::AdminRevokeTokens(req) => self.admin_revoke_tokens(&req.username).await?,
            other => {
                return Err(Refusal::new(
                    ErrorCode::UnexpectedMessage,
                    format!("{:?} is not an admin request", other.msg_type()),
                ));
            }
        }
        tracing::info!(admin = %caller.user.username, "admin request done");
        caller.answer(Message::Ok(pb::Ok {}));
        Ok(())
    }

    /// Ends a user's session.
    pub async fn admin_kick(&self, username: &str, reason: String) -> Result<(), Refusal> {
        let account = self.target_account(username).await?;
        let reason = if reason.is_empty() {
            "kicked by an admin".to_owned()
        } else {
            reason
        };
        let kicked = Event::push(Message::kicked(ErrorCode::KickedByAdmin, reason));
        if !self.bus.close_user(&self.hub, account, &kicked) {
            return Err(Refusal::new(
                ErrorCode::UserOffline,
                format!("{username} is not online"),
            ));
        }
        Ok(())
    }

    /// Bans an account, an address range, or both; their sessions end, and
    /// a banned account's session tokens are revoked (a ban that ends does
    /// not bring them back).
    pub async fn admin_ban(&self, by: i64, req: pb::AdminBan) -> Result<(), Refusal> {
        if req.username.is_empty() && req.ip.is_empty() {
            return Err(Refusal::new(
                ErrorCode::InvalidIp,
                "name a username, an ip, or both",
            ));
        }
        let net = if req.ip.is_empty() {
            None
        } else {
            Some(ip_net(&req.ip)?)
        };
        let account = if req.username.is_empty() {
            None
        } else {
            Some(self.target_account(&req.username).await?)
        };
        let sanction = sanction(by, req.duration_secs, req.reason);
        let kicked = Event::push(banned_kick(&sanction));
        if let Some(account) = account {
            self.store
                .put_account_ban(account, sanction.clone())
                .await?;
            self.revoke_tokens(account).await?;
            self.bus.close_user(&self.hub, account, &kicked);
        }
        if let Some(net) = net {
            self.store
                .put_ip_ban(IpBan {
                    net: net.to_string(),
                    sanction: sanction.clone(),
                })
                .await?;
            self.ip_bans.put(net, sanction);
            self.bus.close_net(&self.hub, net, &kicked);
        }
        Ok(())
    }

    /// Lifts an account ban, an address-range ban, or both.
    pub async fn admin_unban(&self, username: &str, ip: &str) -> Result<(), Refusal> {
        if !username.is_empty() {
            let account = self.target_account(username).await?;
            self.store.remove_account_ban(account).await?;
        }
        if !ip.is_empty() {
            let net = ip_net(ip)?;
            self.store.remove_ip_ban(&net.to_string()).await?;
            self.ip_bans.remove(net);
        }
        Ok(())
    }

    /// Mutes an account for `duration_secs` (0: until unmuted).
    pub async fn admin_mute(
        &self,
        by: i64,
        username: &str,
        duration_secs: u64,
        reason: String,
    ) -> Result<(), Refusal> {
        let account = self.target_account(username).await?;
        let sanction = sanction(by, duration_secs, reason);
        self.store.put_mute(account, sanction.clone()).await?;
        let until = sanction.until_ms.unwrap_or(i64::MAX);
        self.bus.mute(&self.hub, account, until);
        Ok(())
    }

    /// Revokes every session token of an account; its sessions online
    /// stay (an AdminKick ends them).
    pub async fn admin_revoke_tokens(&self, username: &str) -> Result<(), Refusal> {
        let account = self.target_account(username).await?;
        self.revoke_tokens(account).await
    }

    /// Lifts a mute.
    pub async fn admin_unmute(&self, username: &str) -> Result<(), Refusal> {
        let account = self.target_account(username).await?;
        self.store.remove_mute(account).await?;
        self.bus.mute(&self.hub, account, 0);
        Ok(())
    }
}

fn sanction(by: i64, duration_secs: u64, reason: String) -> Sanction {
    let now = now_ms();
    let until_ms = (duration_secs > 0).then(|| {
        let ms = i64::try_from(duration_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        now.saturating_add(ms)
    });
    Sanction {
        until_ms,
        reason,
        by,
        created_at_ms: now,
    }
}

/// An IP address (a single-address range) or a CIDR range, normalized.
fn ip_net(text: &str) -> Result<IpNet, Refusal> {
    parse_net(text).ok_or_else(|| {
        Refusal::new(
            ErrorCode::InvalidIp,
            format!("{text:?} is not an IP address or CIDR range"),
        )
    })
}

fn wire_until(sanction: &Sanction) -> i64 {
    sanction.until_ms.unwrap_or(0)
}

fn banned_text(sanction: &Sanction) -> String {
    let mut text = match sanction.until_ms {
        Some(until) => format!("banned until {}", human_time(until)),
        None => "banned".to_owned(),
    };
    if !sanction.reason.is_empty() {
        text.push_str(": ");
        text.push_str(&sanction.reason);
    }
    text
}

/// A timestamp for people: RFC 3339 in UTC, to the second.
fn human_time(ms: i64) -> String {
    let secs = u64::try_from(ms / 1000).unwrap_or(0);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}
