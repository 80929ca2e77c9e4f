//! The end of a session: what its outbox is told, and leaving the hub.

use sori_core::event::Event;
use sori_core::session::SessionId;
use sori_protocol::Message;
use sori_protocol::pb;

use super::{End, Handler, State};
use crate::writer::Stop;

impl Handler {
    /// Takes the session out of the hub and sets its outbox to how the
    /// connection ends; the writer then does what the outbox says.
    pub(super) fn finish(&mut self, end: End) {
        let ip = self.peer.ip;
        let id: SessionId = self.peer.id;
        let outbox = &self.peer.link.outbox;
        match &end {
            End::Eof => {
                outbox.finish(None);
            }
            End::Kick(refusal) => {
                let kicked = Message::Kicked(pb::Kicked {
                    code: refusal.code as i32,
                    message: refusal.message.clone(),
                    until_ms: refusal.until_ms,
                });
                self.peer
                    .link
                    .close_with(&Event::push(kicked), self.conn.ws_close_code());
            }
            End::Stopped(Stop::Overflowed) => self.shared.metrics.slow_consumers.inc(),
            End::Stopped(Stop::Closing | Stop::Dead) | End::Closing => {}
            End::Stopped(Stop::Failed(_)) => {
                self.shared.metrics.write_errors.inc();
                outbox.kill();
            }
            End::Failed(_) => outbox.kill(),
        }
        if let State::Authenticated(session) = &self.state {
            self.shared.core.logout(&*self.peer, session);
        }
        self.shared.core.hub.disconnect(id);
        self.shared.metrics.sessions.sub(1);
        match end {
            End::Eof => tracing::debug!(session = %id, %ip, "connection closed by client"),
            End::Kick(refusal) => {
                tracing::debug!(session = %id, %ip, code = ?refusal.code, reason = %refusal.message, "session closed")
            }
            End::Stopped(Stop::Failed(err)) => {
                tracing::debug!(session = %id, %ip, %err, "writing failed")
            }
            End::Stopped(stop) => {
                tracing::debug!(session = %id, %ip, ?stop, "session stopped")
            }
            End::Closing => tracing::debug!(session = %id, %ip, "session closed by its answer"),
            End::Failed(err) => {
                tracing::debug!(session = %id, %ip, %err, "connection failed")
            }
        }
    }
}
