//! The requests that wait: for the store (a registration, a room change,
//! moderation) or the password hasher (a login). They run boxed, beside the
//! session's writes, so an idle session's task does not carry their state.

use std::future::poll_fn;
use std::sync::Arc;

use sori_core::peer::Peer;
use sori_core::refusal::Refusal;
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};

use super::{End, Handler, State};
use crate::dispatch;
use crate::writer::{Stop, Writer};

impl Handler {
    /// Handles a request that waits for the store or the password hasher,
    /// while the session's writes go on.
    pub(super) async fn slow(
        &mut self,
        request_id: u32,
        message: Message,
        writer: &mut Writer,
    ) -> Option<End> {
        let peer = self.peer.clone();
        let metrics = self.shared.metrics.clone();
        let work = self.handle_slow(request_id, message);
        match while_writing(work, writer, &peer.link.outbox, &metrics).await {
            (_, Some(stop)) => Some(End::Stopped(stop)),
            (end, None) => end,
        }
    }

    /// Requests that may wait for the store or the password hasher.
    async fn handle_slow(&mut self, request_id: u32, message: Message) -> Option<End> {
        let core = &self.shared.core;
        let reply = match (message, &mut self.state) {
            (Message::Register(req), State::Connected) => core
                .register(req)
                .await
                .map(|()| Some(Message::Ok(pb::Ok {}))),
            (Message::Login(req), State::Connected) => self.login(request_id, req).await,
            (Message::Register(_) | Message::Login(_), State::Authenticated(_)) => {
                Err(already_authenticated())
            }
            (_, State::Connected) => Err(Refusal::new(ErrorCode::NotAuthenticated, "log in first")),
            (message, State::Authenticated(session)) => {
                let peer: Arc<Peer> = self.peer.clone();
                let res = dispatch::authenticated(
                    core,
                    &self.shared.login_throttle,
                    &peer,
                    session,
                    request_id,
                    message,
                    self.last_rx.at(self.accepted_at),
                )
                .await;
                match res {
                    Ok(sori_core::Outcome::Logout) => {
                        self.push(request_id, Message::Ok(pb::Ok {}));
                        return Some(End::Kick(Refusal::new(ErrorCode::LoggedOut, "logged out")));
                    }
                    Ok(sori_core::Outcome::Reply(msg)) => Ok(Some(msg)),
                    Ok(sori_core::Outcome::Sent) => Ok(None),
                    Ok(sori_core::Outcome::Closing) => return Some(End::Closing),
                    Err(refusal) => Err(refusal),
                }
            }
        };
        self.answer(request_id, reply);
        None
    }

    /// Logs in by password, behind the failed-login throttle (an edge's
    /// concern: it is keyed by the client's address), or by session token.
    ///
    /// A token login skips the throttle: a token cannot be guessed, so
    /// there is nothing to slow down, and someone guessing at an account's
    /// password then cannot lock that account's own clients out of their
    /// reloads. Its failures (TOKEN_INVALID) are not counted either.
    async fn login(&mut self, request_id: u32, req: pb::Login) -> Result<Option<Message>, Refusal> {
        let shared = &self.shared;
        let peer: Arc<Peer> = self.peer.clone();
        let session = if req.token.is_empty() {
            let key = sori_core::hub::username_key(&req.username);
            let ip = self.peer.ip;
            dispatch::login_throttled(&shared.login_throttle, &key, ip)?;
            let res = shared
                .core
                .login(&peer, request_id, &req.username, &req.password)
                .await;
            dispatch::record_attempt(&shared.login_throttle, &key, ip, &res);
            res?
        } else if req.password.is_empty() {
            shared
                .core
                .login_with_token(&peer, request_id, &req.username, &req.token)
                .await?
        } else {
            return Err(Refusal::new(
                ErrorCode::BadCredentials,
                "send a password or a session token, not both",
            ));
        };
        self.rearm = true;
        self.state = State::Authenticated(Box::new(session));
        Ok(None)
    }
}

/// Runs `work` (a request that waits for the store or the hasher) while
/// the session's writes go on, so its queue keeps draining meanwhile. If
/// the writes stop, `work` still runs to its end (it may be half way
/// through changing shared state) and the stop is handed back beside its
/// result.
async fn while_writing<T>(
    work: impl Future<Output = T>,
    writer: &mut Writer,
    outbox: &crate::outbox::Outbox,
    metrics: &sori_core::metrics::Metrics,
) -> (T, Option<Stop>) {
    let mut work = std::pin::pin!(work);
    let mut stop = None;
    loop {
        tokio::select! {
            biased;
            out = &mut work => return (out, stop),
            stopped = poll_fn(|cx| writer.poll_drive(cx, outbox, metrics)), if stop.is_none() => {
                stop = Some(stopped);
            }
        }
    }
}

fn already_authenticated() -> Refusal {
    Refusal::new(
        ErrorCode::AlreadyAuthenticated,
        "this session is already logged in",
    )
}
