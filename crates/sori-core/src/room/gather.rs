//! Room messages gathered for the edge's next write pass.
//!
//! Pushing a message into each recipient's queue is most of what a fan-out
//! costs the sender's thread: at 100 recipients and 32,000 messages a
//! second, `Outbox::push_deferred` (a lock, a push and a shared reference
//! count per recipient) was 14% of the server's samples. When the edge
//! paces its writes (its writers are woken in passes, at most every
//! `write_coalesce`), a message pushed now is written no sooner than one
//! pushed just before the pass. So a room that gathers keeps its numbered
//! messages in order, and the edge's pacer ([`Pacer`]) has
//! [`Core::flush_gathered`](crate::Core::flush_gathered) push them just
//! before it wakes the writers: one push of one shared batch per recipient
//! for all the messages of the pass, not one per message.
//!
//! Order is kept where it is promised. Every change of who is online in the
//! room, and every push to all of them (notices), first pushes what was
//! gathered, so a member receives exactly the messages numbered while it
//! was online, in order, and a newcomer's first live message is the one
//! after its `last_seq`. A whisper first pushes the lobby's gathered
//! messages, so it reaches its recipient in order with them. The
//! persister's ChatAcks wait for the end of the next flush, so an ack never
//! overtakes a message with a lower number (and a commit does not cut the
//! rooms' batches short). A batch holds at most [`MAX_GATHERED`] messages,
//! [`MAX_GATHERED_BYTES`] (past which a room pushes it itself, so no batch
//! comes near a recipient's queue bound) and one timed message.

use std::sync::{Arc, Mutex, OnceLock};

use sori_protocol::{HEADER_LEN, Message};

use super::{Room, RoomState};
use crate::event::Event;
use crate::metrics::Probe;
use crate::peer::Peer;
use crate::session::SessionId;

/// Most messages a room gathers before it pushes them itself.
pub const MAX_GATHERED: usize = 256;

/// Most bytes of frames a room gathers before it pushes them itself.
pub const MAX_GATHERED_BYTES: usize = 64 * 1024;

/// The edge's write pacing, as the core sees it.
pub trait Pacer: Send + Sync {
    /// A room has gathered messages: have
    /// [`Core::flush_gathered`](crate::Core::flush_gathered) called before
    /// the next writers are woken.
    fn gathered(&self);
}

/// The rooms holding gathered messages, the answers that must follow
/// them, and who flushes them.
#[derive(Default)]
pub(crate) struct Gathering {
    /// Set once, by an edge that paces its writes; until then rooms push
    /// every message at once.
    pacer: OnceLock<Arc<dyn Pacer>>,
    /// std Mutex: held to push or swap, never across a push to a session.
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// Rooms that gathered since the last flush (each once: its
    /// `registered` flag says it is here).
    rooms: Vec<Arc<Room>>,
    /// The persister's answers (ChatAck, or the error that replaces it),
    /// in the order it made them: each after every message numbered
    /// before it.
    after: Vec<(Arc<Peer>, Event)>,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.rooms.is_empty() && self.after.is_empty()
    }
}

impl Gathering {
    /// Rooms gather from now on, and `pacer` has them flushed. Only the
    /// first call counts.
    pub(crate) fn start(&self, pacer: Arc<dyn Pacer>) {
        let _ = self.pacer.set(pacer);
    }

    /// Whether rooms gather.
    pub(crate) fn is_on(&self) -> bool {
        self.pacer.get().is_some()
    }

    /// Puts `room` on the list if it gathered a message and is not on it
    /// yet; `state` is its locked state.
    pub(crate) fn note(&self, room: &Arc<Room>, state: &mut RoomState) {
        if state.gathered.messages.is_empty() || state.gathered.registered {
            return;
        }
        state.gathered.registered = true;
        self.wait(|waiting| waiting.rooms.push(room.clone()));
    }

    /// Queues an answer of the persister for the end of the next flush,
    /// after every message gathered until then (and so after every message
    /// numbered before the one it answers).
    pub(crate) fn after_flush(&self, to: Arc<Peer>, answer: Event) {
        self.wait(|waiting| waiting.after.push((to, answer)));
    }

    fn wait(&self, add: impl FnOnce(&mut Waiting)) {
        let first = {
            let mut waiting = self.lock();
            let first = waiting.is_empty();
            add(&mut waiting);
            first
        };
        if first && let Some(pacer) = self.pacer.get() {
            pacer.gathered();
        }
    }

    /// Pushes every room's gathered messages to its online members, then
    /// the answers that waited for them.
    pub(crate) fn flush(&self) {
        // Taken together: an answer was queued after its message was
        // numbered, and its room listed then, so the rooms taken with it
        // hold every lower number.
        let Waiting { rooms, after } = std::mem::take(&mut *self.lock());
        for room in rooms {
            let mut state = room.lock();
            state.flush_gathered();
            state.gathered.registered = false;
        }
        for (to, answer) in after {
            to.push(&answer);
        }
    }

    /// Whether answers wait for the next flush.
    #[cfg(test)]
    pub(crate) fn is_waiting(&self) -> bool {
        !self.lock().after.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A room's messages gathered since its last flush.
#[derive(Default)]
pub(crate) struct Gathered {
    /// Numbered messages, in order.
    messages: Vec<Message>,
    /// The sending session of each, which does not receive it.
    senders: Vec<SessionId>,
    /// The timed one, if any: its index and its probe.
    probe: Option<(usize, Arc<Probe>)>,
    /// Their frames' length.
    bytes: usize,
    /// The room is on the [`Gathering`] list.
    registered: bool,
}

impl RoomState {
    /// Keeps a numbered message for the next flush (a second timed one
    /// starts a new batch; a full batch is pushed at once).
    pub(crate) fn gather(&mut self, msg: Message, from: SessionId, probe: Option<Arc<Probe>>) {
        if probe.is_some() && self.gathered.probe.is_some() {
            self.flush_gathered();
        }
        if let Some(probe) = probe {
            self.gathered.probe = Some((self.gathered.messages.len(), probe));
        }
        self.gathered.bytes += HEADER_LEN + msg.body_len();
        self.gathered.messages.push(msg);
        self.gathered.senders.push(from);
        if self.gathered.messages.len() >= MAX_GATHERED || self.gathered.bytes >= MAX_GATHERED_BYTES
        {
            self.flush_gathered();
        }
    }

    /// Pushes the gathered messages to everyone online: one shared batch
    /// to each member that sent none of them; to a sender, the parts of it
    /// between its own messages (which it never receives).
    pub(crate) fn flush_gathered(&mut self) {
        if self.gathered.messages.is_empty() {
            return;
        }
        let messages = std::mem::take(&mut self.gathered.messages);
        let senders = std::mem::take(&mut self.gathered.senders);
        let probe = self.gathered.probe.take();
        self.gathered.bytes = 0;
        let n = messages.len();
        let Some(all) = Event::batch(messages) else {
            return;
        };
        let all = all.with_probe(probe.as_ref().map(|(_, probe)| probe.clone()));
        let mut distinct = senders.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for member in &self.online {
            let id = member.peer.id;
            if distinct.binary_search(&id).is_err() {
                member.peer.link.push_batched(&all);
                continue;
            }
            let mut start = 0;
            let ends = senders
                .iter()
                .enumerate()
                .filter(|(_, sender)| **sender == id)
                .map(|(i, _)| i)
                .chain(std::iter::once(n));
            for end in ends {
                if let Some(part) = all.slice(start..end) {
                    let timed = probe
                        .as_ref()
                        .filter(|(at, _)| (start..end).contains(at))
                        .map(|(_, probe)| probe.clone());
                    member.peer.link.push_batched(&part.with_probe(timed));
                }
                start = end + 1;
            }
        }
    }
}
