//! Parking a quiet session (see `lot.rs`): its state moves into a box that
//! its waker points at, its socket into the lot, and its task ends. The
//! outbox and the lot keep that waker; the first wake (a frame for the
//! session, bytes or a hang-up from its client, its deadline) starts a new
//! task that takes the socket back and goes on where the session left off.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use tokio::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::{End, Handler, drive};
use crate::shared::Place;
use crate::transport;
use crate::writer::Writer;

/// What a session that tried to park became.
pub(super) enum Parking {
    /// Parked: its task ends.
    Parked,
    /// Not parked (something came for it meanwhile, or the lot refused
    /// it): it goes on in its task.
    Stayed(Box<(Handler, Writer, Place)>),
    /// Its socket or its outbox says it ends.
    Ended(Box<(Handler, Writer, Place)>, End),
}

/// What the outbox's and the lot's waker points at.
pub(super) struct Parked {
    slot: Mutex<Slot>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "the held variant is the parked session itself: a box would be a second allocation for each"
)]
enum Slot {
    /// On its way into the lot: a wake now is kept for it.
    Arming,
    /// Woken while on its way: it does not park.
    Woken,
    /// In the lot.
    Held(Body),
    /// Woken and gone on in a task.
    Gone,
}

/// Everything a parked session keeps.
struct Body {
    handler: Handler,
    writer: Writer,
    place: Place,
    /// Shutdown waits for every session's task; a parked session has
    /// none, so this stands in for it.
    _task: TaskTrackerToken,
}

impl Parked {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        // Every change of the slot is a single assignment.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let body = {
            let mut slot = self.slot();
            match std::mem::replace(&mut *slot, Slot::Gone) {
                Slot::Held(body) => body,
                Slot::Arming => {
                    *slot = Slot::Woken;
                    return;
                }
                other => {
                    *slot = other;
                    return;
                }
            }
        };
        let Body {
            handler,
            writer,
            place,
            _task,
        } = body;
        let shared = handler.shared.clone();
        shared.metrics.sessions_parked.sub(1);
        let Some(lot) = &shared.lot else {
            // Only sessions of a server with a lot park.
            return;
        };
        // The rest (taking the socket back) runs in the new task, not on
        // the thread that woke it: a broadcast wakes many at once.
        lot.waking();
        let task = drive(handler, writer, place);
        shared.tracker.spawn_on(task, lot.runtime());
    }
}

/// Parks a quiet session: `deadline` is when the lot wakes it if nothing
/// else does.
pub(super) fn park(
    mut handler: Handler,
    mut writer: Writer,
    place: Place,
    deadline: Instant,
) -> Parking {
    let shared = handler.shared.clone();
    let Some(lot) = &shared.lot else {
        return Parking::Stayed(Box::new((handler, writer, place)));
    };
    let parked = Arc::new(Parked {
        slot: Mutex::new(Slot::Arming),
    });
    let waker = Waker::from(parked.clone());
    // From here the outbox keeps the lot's waker: a frame queued for the
    // session wakes it, also while it is on its way into the lot.
    let outbox = &handler.peer.link.outbox;
    match writer.poll_drive(&mut Context::from_waker(&waker), outbox, &shared.metrics) {
        Poll::Ready(stop) => {
            return Parking::Ended(Box::new((handler, writer, place)), End::Stopped(stop));
        }
        // Something came, and the socket did not take it all.
        Poll::Pending if !writer.is_idle() => {
            return Parking::Stayed(Box::new((handler, writer, place)));
        }
        Poll::Pending => {}
    }
    // What went out now (a heartbeat, a message that came on the way) is
    // not traffic that keeps the session busy.
    writer.take_wrote();
    let stream = match transport::detach(handler.conn.socket_mut(), writer.socket_mut()) {
        None => return Parking::Stayed(Box::new((handler, writer, place))),
        Some(Ok(stream)) => stream,
        Some(Err(err)) => {
            return Parking::Ended(Box::new((handler, writer, place)), End::Failed(err));
        }
    };
    let fd = stream.as_raw_fd();
    let ticket = match lot.enter(fd, waker, deadline.into_std()) {
        Ok(ticket) => ticket,
        Err(err) => {
            tracing::warn!(%err, "the parking lot refused a session");
            return reattach(handler, writer, place, stream);
        }
    };
    let mut slot = parked.slot();
    match *slot {
        Slot::Arming => {
            transport::hold(writer.socket_mut(), stream, ticket);
            *slot = Slot::Held(Body {
                handler,
                writer,
                place,
                _task: shared.tracker.token(),
            });
            shared.metrics.sessions_parked.inc();
            Parking::Parked
        }
        _ => {
            // Woken on the way in: take the socket back and go on.
            drop(slot);
            lot.leave(ticket, fd);
            reattach(handler, writer, place, stream)
        }
    }
}

/// Takes a parked session's socket back from the lot and gives it to the
/// runtime, in the task that resumes the session. Nothing to do for a
/// session that was not parked.
pub(super) fn resume(handler: &mut Handler, writer: &mut Writer) -> Result<(), End> {
    let Some((stream, ticket)) = transport::held(writer.socket_mut()) else {
        return Ok(());
    };
    if let Some(lot) = &handler.shared.lot {
        lot.leave(ticket, stream.as_raw_fd());
        lot.resumed();
    }
    transport::attach(stream, handler.conn.socket_mut(), writer.socket_mut()).map_err(End::Failed)
}

/// Gives a session that did not park its socket back.
fn reattach(
    mut handler: Handler,
    mut writer: Writer,
    place: Place,
    stream: std::net::TcpStream,
) -> Parking {
    match transport::attach(stream, handler.conn.socket_mut(), writer.socket_mut()) {
        Ok(()) => Parking::Stayed(Box::new((handler, writer, place))),
        Err(err) => Parking::Ended(Box::new((handler, writer, place)), End::Failed(err)),
    }
}
