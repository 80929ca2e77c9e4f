//! One connection's task: reads frames, runs the session state machine,
//! enforces the login and idle timeouts, and cleans up at the end.
//!
//! States: Connected (not logged in) -> Authenticated -> Closing. Requests
//! that need a login are handled by functions that take a `Session`, so no
//! code path can reach them without one.

use std::future::poll_fn;
use std::net::IpAddr;
use std::sync::Arc;

use sori_core::event::Event;
use sori_core::peer::Peer;
use sori_core::refusal::Refusal;
use sori_core::{Caller, ChatStep, Session};
use sori_protocol::pb::{self, ErrorCode};
use sori_protocol::{Direction, Frame, Message};
use tokio::time::Instant;

use crate::connection::Connection;
use crate::dispatch;
use crate::link::{Format, SessionLink, SessionPeer};
use crate::rate::SessionLimits;
use crate::shared::{Place, Shared};
use crate::transport;
use crate::writer::{Stop, Writer};

use deadline::{Stamp, Timer};

mod deadline;
mod finish;
mod park;
mod read;
mod slow;

/// Most reads in a row before the handler lets other tasks run, so one
/// flooding client cannot hog a worker thread.
const MAX_READS_PER_WAKE: usize = 16;

enum State {
    Connected,
    /// Boxed: every idle session's task carries this enum, and a pointer
    /// keeps the task a size class smaller.
    Authenticated(Box<Session>),
}

/// Where handling a read left off.
enum Step {
    /// Everything read is handled.
    Done,
    /// The connection ends.
    End(End),
    /// This request needs `handle_slow` before the rest can go on.
    Slow(u32, Message),
}

/// Why a connection ended.
enum End {
    /// The client closed cleanly.
    Eof,
    /// The server ends the session and tells the client why.
    Kick(Refusal),
    /// The session's writes stopped: someone else closed it (replaced
    /// login, moderation, shutdown), it is a slow consumer, or the socket
    /// failed while writing; its outbox says how.
    Stopped(Stop),
    /// The socket failed.
    Failed(std::io::Error),
    /// A request (Logout) is answered later by someone who then closes the
    /// session; until then it reads nothing more (`run` waits for that, so
    /// no session ends with this).
    Closing,
}

/// A session's state, which every idle session carries in its task: what
/// is only needed while a request is handled lives elsewhere (boxed, or on
/// the stack of a poll), and times are kept as [`Stamp`]s.
struct Handler {
    shared: Arc<Shared>,
    peer: Arc<SessionPeer>,
    conn: Connection,
    state: State,
    /// When the connection was accepted: the login timeout counts from
    /// here, handshakes included. It is also the zero of the session's
    /// clock, which the stamps below are read on.
    accepted_at: Instant,
    /// When bytes last arrived.
    last_rx: Stamp,
    /// Since when the buffer has held an unfinished frame (slowloris).
    partial_since: Option<Stamp>,
    /// The session's message and byte rate limits.
    limits: SessionLimits,
    /// Frames handled so far, to tell when a partial frame made progress.
    frames_seen: u32,
    /// A heartbeat Ping was sent and not yet followed by any traffic.
    pinged: bool,
    /// The timer must be re-armed: a deadline moved earlier (login swaps
    /// the login timeout for the shorter heartbeat).
    rearm: bool,
    /// A request (Logout) is answered later by someone who then closes the
    /// session: it reads nothing more, and waits (parked, if it can) until
    /// then or until the idle timeout.
    closing: bool,
    /// The earliest the session may park: every request from the client
    /// moves it on by `park_idle`. `None` until the next look sets it
    /// (after login, after a try to park that did not).
    park_at: Option<Stamp>,
}

/// Sets a session up and returns the future that runs it. Not an `async
/// fn`: one of those keeps its arguments beside the state built from them,
/// and this future is what every idle session costs.
pub(crate) fn session(
    shared: Arc<Shared>,
    conn: Connection,
    write_half: transport::Writer,
    ip: IpAddr,
    format: Format,
    place: Place,
    accepted_at: Instant,
) -> impl Future<Output = ()> + Send + 'static {
    let link = SessionLink::new(
        shared.config.outbound_queue_bytes,
        shared.coalescer.clone(),
        format,
    );
    let peer = shared.core.hub.connect(ip, link);
    shared.metrics.sessions.inc();
    if shared.shutdown.is_cancelled() {
        // Shutdown closes every session it finds in the hub; this one
        // joined after it looked.
        peer.close(Some(&shutting_down()));
    }
    let writer = Writer::new(write_half);
    let limits = SessionLimits::new(&shared.config.limits);
    let mut handler = Handler {
        conn,
        shared,
        peer,
        state: State::Connected,
        accepted_at,
        last_rx: Stamp::ZERO,
        partial_since: None,
        limits,
        frames_seen: 0,
        pinged: false,
        rearm: false,
        closing: false,
        park_at: None,
    };
    handler.last_rx = handler.now();
    drive(handler, writer, place)
}

/// Runs a session until it ends or parks: what every session's task is,
/// the first one and each one after a wake from the lot (which first takes
/// its socket back).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments beside the locals moved out of them: 760 bytes of future, not 536"
)]
fn drive(
    mut handler: Handler,
    mut writer: Writer,
    mut place: Place,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let resumed = park::resume(&mut handler, &mut writer);
        let end = match resumed {
            Err(end) => end,
            Ok(()) => loop {
                match handler.run(&mut writer).await {
                    Ran::End(end) => break end,
                    Ran::Idle(deadline) => match park::park(handler, writer, place, deadline) {
                        park::Parking::Parked => return,
                        park::Parking::Stayed(back) => {
                            (handler, writer, place) = *back;
                            // Look again in a while, not at once.
                            handler.park_at = None;
                        }
                        park::Parking::Ended(back, end) => {
                            (handler, writer, place) = *back;
                            break end;
                        }
                    },
                }
            },
        };
        // Boxed: only the end of a session needs it.
        Box::pin(handler.end(end, writer)).await;
        // The session's place is free once its socket is closed.
        drop(place);
    }
}

/// How [`Handler::run`] returned.
enum Ran {
    /// The session ends.
    End(End),
    /// The session has been quiet for `park_idle` and may park, until this
    /// deadline at the latest.
    Idle(Instant),
}

/// What shutdown tells every session.
pub(crate) fn shutting_down() -> Event {
    Event::push(Message::kicked(
        ErrorCode::ShuttingDown,
        "the server is shutting down",
    ))
}

impl Handler {
    /// Runs the session until it ends or has been quiet long enough to
    /// park. Its first deadline is the login timeout for a new connection,
    /// and whatever is next for one that resumes.
    async fn run(&mut self, writer: &mut Writer) -> Ran {
        // Nothing queued for a session that resumes: the lot woke it (its
        // client sent something, or its heartbeat is due), not a message.
        let woken_by_lot = self.peer.link.outbox.is_empty();
        // Set for a resumed session's first pass when it is still quiet:
        // what it writes in that pass (a heartbeat's Ping, the Pong to its
        // client's Ping) does not make it busy.
        let mut quiet_pass = false;
        let first = if self.closing {
            // Back from the lot while it waits for its answer: it waits on
            // here, in its task, until the answer or the timeout (woken by
            // its socket, it would be woken again at once if it parked).
            self.closing_deadline()
        } else {
            match self.timer_deadline(writer) {
                Ok(Timer::At(at)) => at,
                // A resumed session may park again at once, but not before
                // it has written what woke it and read what its client
                // sent: the timer fires after this pass's writes and reads.
                Ok(Timer::Idle(_)) => {
                    quiet_pass = woken_by_lot;
                    Instant::now()
                }
                Err(end) => return Ran::End(end),
            }
        };
        let timer = tokio::time::sleep_until(first);
        tokio::pin!(timer);
        // After a request that is answered later by someone who then
        // closes the session (a Logout), the session reads nothing more
        // and writes until it is closed, bounded by the idle timeout in
        // case the answer never comes. It parks for that wait if it can:
        // 19,000 sessions logging out at once each took a task and a
        // registration back from the lot, and held them until the
        // revoker's answer came.
        loop {
            tokio::select! {
                biased;
                // Writes first: what is queued goes out before more is read.
                stop = poll_fn(|cx| writer.poll_drive(cx, &self.peer.link.outbox, &self.shared.metrics)) => {
                    return Ran::End(End::Stopped(stop));
                }
                res = poll_fn(|cx| self.conn.poll_fill(cx)), if !self.closing => {
                    let fill = match res {
                        Ok(fill) => fill,
                        Err(err) => return Ran::End(End::Failed(err)),
                    };
                    match self.read_and_handle(fill, writer).await {
                        None => {}
                        Some(End::Closing) => {
                            self.closing = true;
                            self.conn.stop_reading();
                            let deadline = self.closing_deadline();
                            if self.parks(writer).is_some() && self.can_park(writer) {
                                return Ran::Idle(deadline);
                            }
                            timer.as_mut().reset(deadline);
                            continue;
                        }
                        Some(end) => return Ran::End(end),
                    }
                    if std::mem::take(&mut self.rearm) {
                        match self.timer_deadline(writer) {
                            Ok(Timer::At(at)) => timer.as_mut().reset(at),
                            // The timer's branch parks it, after this pass.
                            Ok(Timer::Idle(_)) => timer.as_mut().reset(Instant::now()),
                            Err(end) => return Ran::End(end),
                        }
                    }
                }
                () = &mut timer => {
                    if self.closing {
                        return Ran::End(End::Kick(Refusal::new(
                            ErrorCode::Internal,
                            "the request was not answered in time",
                        )));
                    }
                    if std::mem::take(&mut quiet_pass) {
                        writer.take_wrote();
                    }
                    // Deadlines move with traffic; the timer is only reset
                    // when it fires, not on every read.
                    match self.timer_deadline(writer) {
                        Ok(Timer::At(at)) => timer.as_mut().reset(at),
                        Ok(Timer::Idle(at)) => return Ran::Idle(at),
                        Err(end) => return Ran::End(end),
                    }
                }
            }
        }
    }

    /// Ends the session: takes it out of the hub, then writes what it must
    /// and closes the socket.
    async fn end(&mut self, end: End, writer: Writer) {
        // Nothing more is read: the read buffer goes now.
        self.conn.stop_reading();
        self.finish(end);
        let grace = self.shared.config.shutdown_grace;
        writer
            .finish(&self.peer.link, &self.shared.metrics, grace)
            .await;
    }

    /// Handles one frame if it can be answered without waiting (`Done`);
    /// otherwise hands it back for `slow` (`Slow`).
    fn handle(&mut self, frame: Frame) -> Step {
        let Frame {
            request_id,
            message,
        } = frame;
        if message.msg_type().direction() == Direction::ServerToClient {
            self.shared.metrics.bad_frames.inc();
            let refusal = Refusal::new(
                ErrorCode::UnexpectedMessage,
                format!("{:?} is sent by servers, not clients", message.msg_type()),
            );
            self.push(request_id, refusal.to_message());
            return Step::Done;
        }
        // The hot requests are answered without awaiting anything; the
        // rest (logins, room changes, moderation: rare, and with deep
        // futures) run boxed, so their state is not carried in every
        // idle session's task.
        let reply = match (message, &self.state) {
            (Message::Hello(hello), _) => Ok(Some(dispatch::welcome(&self.shared.config, &hello))),
            (Message::Ping(ping), _) => Ok(Some(Message::Pong(pb::Pong { nonce: ping.nonce }))),
            // A Pong answers our heartbeat; receiving it was the point.
            (Message::Pong(_), _) => Ok(None),
            (Message::Chat(chat), State::Authenticated(session)) => {
                let peer: Arc<Peer> = self.peer.clone();
                let read_at = self.last_rx.at(self.accepted_at);
                let caller = Caller::new(&peer, session, request_id, read_at);
                match self.shared.core.chat(&caller, &chat.room, chat.text) {
                    Ok(ChatStep::Sent) => Ok(None),
                    Ok(ChatStep::Wait(text)) => {
                        let chat = pb::Chat {
                            room: chat.room,
                            text,
                        };
                        return Step::Slow(request_id, Message::Chat(chat));
                    }
                    Err(refusal) => Err(refusal),
                }
            }
            (message, _) => return Step::Slow(request_id, message),
        };
        self.answer(request_id, reply);
        Step::Done
    }

    /// Queues the answer to a request, if it has one to queue.
    fn answer(&self, request_id: u32, reply: Result<Option<Message>, Refusal>) {
        match reply {
            Ok(Some(msg)) => self.push(request_id, msg),
            Ok(None) => {}
            Err(refusal) => self.push(request_id, refusal.to_message()),
        }
    }

    /// Encodes and queues a frame for this session.
    fn push(&self, request_id: u32, msg: Message) {
        self.peer.push(&Event::new(request_id, msg));
    }
}

#[cfg(test)]
mod tests;
