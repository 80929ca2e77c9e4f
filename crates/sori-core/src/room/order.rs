//! A room's order: the sequence numbers it hands out (below its
//! reservation in the store), the fan-out of each numbered message, the
//! acks held until a message is durable (and, on a cluster, delivered), and
//! the in-memory tail of its newest messages.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb;

use super::{NeedReservation, PROBE_EVERY, PROBE_IDLE, RoomState, SEQ_BLOCK};
use crate::event::Event;
use crate::metrics::Probe;
use crate::peer::Peer;
use crate::session::SessionId;

impl RoomState {
    /// The next sequence number and a timestamp that never goes back, or
    /// the reservation needed before one can be handed out.
    pub(crate) fn next_number(&mut self, now_ms: i64) -> Result<(u64, i64), NeedReservation> {
        if self.seq >= self.reserved {
            return Err(NeedReservation {
                up_to: self.seq + SEQ_BLOCK,
            });
        }
        self.seq += 1;
        self.last_ts = self.last_ts.max(now_ms);
        Ok((self.seq, self.last_ts))
    }

    /// True if the next number needs a reservation first.
    pub(crate) fn next_number_would_wait(&self) -> bool {
        self.seq >= self.reserved
    }

    /// A reservation worth extending before it runs out: half of a block
    /// is left. `None` while one is being written.
    pub(crate) fn reservation_due(&self) -> Option<u64> {
        (!self.reserving && self.reserved - self.seq < SEQ_BLOCK / 2)
            .then_some(self.seq + SEQ_BLOCK)
    }

    /// As [`RoomState::reservation_due`], for a counter kept off this node
    /// that stands at `seq`.
    pub(crate) fn reservation_due_at(&self, seq: u64) -> Option<u64> {
        (!self.reserving && self.reserved.saturating_sub(seq) < SEQ_BLOCK / 2)
            .then_some(seq + SEQ_BLOCK)
    }

    /// Highest number the store has reserved.
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Records a reservation written to the store.
    pub(crate) fn reserved_up_to(&mut self, up_to: u64) {
        self.reserved = self.reserved.max(up_to);
    }

    /// Keeps a numbered message in the tail and fans it out to everyone
    /// online but the sender, in this room's order, batched into the
    /// recipients' next write window (with `gather`, gathered for the
    /// edge's next write pass: `gather.rs`), and hands the message back.
    /// Some broadcasts are timed: one in [`PROBE_EVERY`], and the first
    /// after [`PROBE_IDLE`] without one.
    pub(crate) fn fan_out(
        &mut self,
        msg: pb::ChatMessage,
        from: SessionId,
        probe: impl FnOnce(usize) -> Option<Arc<Probe>>,
        tail_len: usize,
        gather: bool,
    ) -> pb::ChatMessage {
        self.tail.push_back(msg.clone());
        self.trim_tail(tail_len);
        let recipients = self.online.len() - usize::from(self.position(from).is_some());
        let sampled = recipients > 0
            && (msg.seq % PROBE_EVERY == 0
                || self.probed_at.is_none_or(|at| at.elapsed() >= PROBE_IDLE));
        let probe = if sampled {
            self.probed_at = Some(std::time::Instant::now());
            probe(recipients)
        } else {
            None
        };
        if gather {
            self.gather(Message::ChatMessage(msg.clone()), from, probe);
            return msg;
        }
        // Anything gathered goes first (a room gathers on one bus only,
        // so this finds nothing).
        self.flush_gathered();
        let event = Event::push(Message::ChatMessage(msg)).with_probe(probe);
        for member in &self.online {
            if member.peer.id != from {
                member.peer.link.push_batched(&event);
            }
        }
        match event.into_message() {
            Message::ChatMessage(msg) => msg,
            // Built as a ChatMessage just above.
            _ => unreachable!("the event is a ChatMessage"),
        }
    }

    /// Takes a message a bus numbered (off this node) as the room's next
    /// and fans it out to everyone online here but `from`; every number
    /// below it counts as seen. Releases the acks it was holding back.
    pub(crate) fn accept_numbered(
        &mut self,
        msg: pb::ChatMessage,
        from: Option<SessionId>,
        probe: impl FnOnce(usize) -> Option<Arc<Probe>>,
        tail_len: usize,
    ) {
        self.seq = msg.seq;
        self.last_ts = self.last_ts.max(msg.timestamp_ms);
        let seq = msg.seq;
        // No local sender means another node stores it.
        let remote = from.is_none();
        // A session id no session has: every online member receives it.
        let from = from.unwrap_or(SessionId::NONE);
        self.fan_out(msg, from, probe, tail_len, false);
        if remote {
            self.durable_seq = self.durable_seq.max(seq);
        }
        self.release_acks();
    }

    /// Moves the room's position to `seq` (a bus's counter), without a
    /// message: numbers skipped are never delivered here.
    pub(crate) fn set_position(&mut self, seq: u64) {
        self.seq = seq;
        self.durable_seq = self.durable_seq.min(seq);
        self.release_acks();
    }

    /// Sends `ack` to `peer` once message `seq` has been delivered here, so
    /// an ack never arrives before a message with a lower number.
    pub(crate) fn ack_when_delivered(&mut self, seq: u64, peer: Arc<Peer>, ack: Event) {
        if self.seq >= seq {
            peer.push(&ack);
        } else {
            self.held_acks.push((seq, peer, ack));
        }
    }

    fn release_acks(&mut self) {
        if self.held_acks.is_empty() {
            return;
        }
        let seq = self.seq;
        self.held_acks.retain(|(at, peer, ack)| {
            let due = *at <= seq;
            if due {
                peer.push(ack);
            }
            !due
        });
    }

    /// Records that every message up to `seq` is on disk.
    pub(crate) fn mark_durable(&mut self, seq: u64, tail_len: usize) {
        self.durable_seq = self.durable_seq.max(seq);
        self.trim_tail(tail_len);
    }

    /// Without history, everything is as durable as it will get. What the
    /// room gathered stays for the write pass: without history the ack is
    /// queued at once, and lower numbers may follow it (protocol.md §3.1).
    pub(crate) fn mark_all_durable(&mut self, tail_len: usize) {
        self.mark_durable(self.seq, tail_len);
    }

    fn trim_tail(&mut self, tail_len: usize) {
        while self.tail.len() > tail_len
            && self.tail.front().is_some_and(|m| m.seq <= self.durable_seq)
        {
            self.tail.pop_front();
        }
    }

    /// The messages with `after < seq <= last_seq` from the tail, or `None`
    /// if the tail does not reach back that far.
    pub(crate) fn tail_after(&self, after: u64) -> Option<Vec<pb::ChatMessage>> {
        if after >= self.seq {
            return Some(Vec::new());
        }
        let first = self.tail.front()?.seq;
        if first > after + 1 {
            return None;
        }
        Some(
            self.tail
                .iter()
                .filter(|m| m.seq > after)
                .cloned()
                .collect(),
        )
    }

    /// The newest `limit` messages from the tail alone.
    pub(crate) fn tail_newest(&self, limit: usize) -> Vec<pb::ChatMessage> {
        let skip = self.tail.len().saturating_sub(limit);
        self.tail.iter().skip(skip).cloned().collect()
    }
}
