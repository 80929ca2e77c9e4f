//! Chat in a room: checked, numbered by the bus, fanned out at once,
//! acknowledged once on disk.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::StoredMessage;

use crate::bus::{NumberError, Post, ToNumber};
use crate::checks::{check_muted, not_in_room};
use crate::clock::now_ms;
use crate::event::Event;
use crate::history::{Pending, Persister};
use crate::node::{Caller, Core};
use crate::refusal::{Refusal, check_text};
use crate::room::{NeedReservation, Room, RoomState};

/// Where a chat message stands after [`Core::chat`].
#[derive(Debug)]
pub enum ChatStep {
    /// Fanned out; the ack follows once it is on disk.
    Sent,
    /// Not sent yet: call [`Core::chat_waiting`] with the same text, which
    /// waits for what the message needs first. On one node that is a
    /// reservation of numbers in the store (the first message of each room
    /// after a start; later ones never wait, as reservations are extended
    /// in the background well before they run out); in a cluster, every
    /// message waits for the bus to number it.
    Wait(String),
}

/// What [`Core::post`] did.
enum Posted {
    /// Numbered and fanned out.
    Sent,
    /// Not posted: the text, and the reservation the room needs first.
    Reserve(String, NeedReservation),
}

impl Core {
    /// Chat in a room. Never waits: the message is fanned out before this
    /// returns, and its ack is queued once it is on disk (at once when the
    /// server keeps no history).
    pub fn chat(
        &self,
        caller: &Caller<'_>,
        room_name: &str,
        text: String,
    ) -> Result<ChatStep, Refusal> {
        check_text(&text, self.settings.max_text_len)?;
        check_muted(caller)?;
        let room = self.room(room_name)?;
        if self.bus.numbers_remotely() {
            // Every message waits for the cluster's bus to number it.
            return Ok(ChatStep::Wait(text));
        }
        match self.post(caller, &room, text)? {
            Posted::Sent => Ok(ChatStep::Sent),
            Posted::Reserve(text, _) => Ok(ChatStep::Wait(text)),
        }
    }

    /// Chat in a room after [`ChatStep::Wait`]: reserves numbers in the
    /// store, or has the cluster's bus number the message, then posts.
    pub async fn chat_waiting(
        &self,
        caller: &Caller<'_>,
        room_name: &str,
        mut text: String,
    ) -> Result<(), Refusal> {
        let room = self.room(room_name)?;
        if self.bus.numbers_remotely() {
            return self.post_numbered_remotely(caller, &room, text).await;
        }
        // A few tries: others may use up a fresh reservation meanwhile.
        for _ in 0..4 {
            match self.post(caller, &room, text)? {
                Posted::Sent => return Ok(()),
                Posted::Reserve(back, need) => {
                    text = back;
                    self.store.reserve_seq(room.id, need.up_to).await?;
                    room.lock().reserved_up_to(need.up_to);
                }
            }
        }
        Err(Refusal::new(
            ErrorCode::Internal,
            "the room's sequence numbers could not be reserved; try again",
        ))
    }

    /// Numbers and fans out one message under the room's lock, or hands
    /// the text back when the room must reserve numbers first.
    fn post(&self, caller: &Caller<'_>, room: &Arc<Room>, text: String) -> Result<Posted, Refusal> {
        let tail_len = self.settings.rooms.tail_len;
        let mut state = room.lock();
        may_post(caller, room, &state)?;
        if state.next_number_would_wait() {
            let need = NeedReservation {
                up_to: state.last_seq() + crate::room::SEQ_BLOCK,
            };
            return Ok(Posted::Reserve(text, need));
        }
        let post = Post {
            from: caller.peer.id,
            user: caller.user,
            text,
            now_ms: now_ms(),
            read_at: caller.read_at,
            metrics: &self.metrics,
            tail_len,
            gather: self.hub.gathering.is_on(),
        };
        let msg = match self.bus.publish(room, &mut state, post) {
            Ok(msg) => msg,
            // Checked just above, under the same lock.
            Err(need) => {
                tracing::error!(room = %room.name, ?need, "a reservation ran out under the lock");
                return Err(Refusal::new(ErrorCode::Internal, "try again"));
            }
        };
        self.metrics.messages.inc();
        self.hub.gathering.note(room, &mut state);
        if let Some(up_to) = state.reservation_due() {
            state.reserving = true;
            self.extend_reservation(room.clone(), up_to);
        }
        match &self.persister {
            Some(persister) => {
                // Submitted under the room's lock, so each room's messages
                // reach the disk in sequence order.
                submit(persister, caller, room, msg)?;
            }
            None => {
                state.mark_all_durable(tail_len);
                caller.answer(Message::ChatAck(pb::ChatAck {
                    room: msg.room,
                    seq: msg.seq,
                    timestamp_ms: msg.timestamp_ms,
                }));
            }
        }
        Ok(Posted::Sent)
    }

    /// Posts through a bus that numbers off this node: checks under the
    /// room's lock, awaits the number (reserving numbers in the store, or
    /// seeding a counter the bus lost, when it asks), then stores the
    /// message. The bus delivers it here as to every node, in the room's
    /// order; the ack waits for both.
    async fn post_numbered_remotely(
        &self,
        caller: &Caller<'_>,
        room: &Arc<Room>,
        text: String,
    ) -> Result<(), Refusal> {
        let mut seed = None;
        for _ in 0..4 {
            let (ceiling, floor) = {
                let state = room.lock();
                may_post(caller, room, &state)?;
                (state.reserved(), state.last_seq())
            };
            let msg = pb::ChatMessage {
                room: room.name.clone(),
                seq: 0,
                timestamp_ms: now_ms(),
                from: Some(caller.user.clone()),
                text: text.clone(),
            };
            let asked = ToNumber {
                room_id: room.id,
                from: caller.peer.id,
                msg,
                ceiling,
                floor,
                seed,
            };
            match self.bus.number(asked).await {
                Ok(numbered) => {
                    self.metrics.messages.inc();
                    let mut state = room.lock();
                    if let Some(up_to) = state.reservation_due_at(numbered.seq) {
                        state.reserving = true;
                        self.extend_reservation(room.clone(), up_to);
                    }
                    drop(state);
                    let msg = pb::ChatMessage {
                        room: room.name.clone(),
                        seq: numbered.seq,
                        timestamp_ms: numbered.timestamp_ms,
                        from: Some(caller.user.clone()),
                        text,
                    };
                    return self.after_numbering(caller, room, msg);
                }
                Err(NumberError::NeedSeed) => {
                    seed = Some(self.store.seq_high_water(room.id).await?);
                }
                Err(NumberError::NeedReservation { last }) => {
                    let up_to = last + crate::room::SEQ_BLOCK;
                    self.store.reserve_seq(room.id, up_to).await?;
                    room.lock().reserved_up_to(up_to);
                }
                Err(NumberError::Unavailable(why)) => {
                    tracing::warn!(room = %room.name, %why, "a room message was refused: the bus is away");
                    return Err(Refusal::new(
                        ErrorCode::Unavailable,
                        "the chat's cluster link is down; the message was not acknowledged; try again shortly",
                    ));
                }
            }
        }
        Err(Refusal::new(
            ErrorCode::Internal,
            "the message could not be numbered; try again",
        ))
    }

    /// Stores a message numbered by a bus off this node; its ack follows
    /// once it is both on disk and delivered here.
    fn after_numbering(
        &self,
        caller: &Caller<'_>,
        room: &Arc<Room>,
        msg: pb::ChatMessage,
    ) -> Result<(), Refusal> {
        match &self.persister {
            Some(persister) => submit(persister, caller, room, msg),
            None => {
                let ack = Event::new(
                    caller.request_id,
                    Message::ChatAck(pb::ChatAck {
                        room: msg.room,
                        seq: msg.seq,
                        timestamp_ms: msg.timestamp_ms,
                    }),
                );
                room.lock()
                    .ack_when_delivered(msg.seq, caller.peer.clone(), ack);
                Ok(())
            }
        }
    }

    /// Writes a longer reservation for `room` in the background, well
    /// before the current one runs out.
    fn extend_reservation(&self, room: Arc<Room>, up_to: u64) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let res = store.reserve_seq(room.id, up_to).await;
            let mut state = room.lock();
            state.reserving = false;
            match res {
                Ok(()) => state.reserved_up_to(up_to),
                Err(err) => {
                    tracing::warn!(room = %room.name, %err, "reserving sequence numbers failed")
                }
            }
        });
    }
}

/// Hands a numbered message to the persister; its sender's ack follows
/// once it is on disk.
fn submit(
    persister: &Persister,
    caller: &Caller<'_>,
    room: &Arc<Room>,
    msg: pb::ChatMessage,
) -> Result<(), Refusal> {
    let from = msg.from.unwrap_or_default();
    let stored = StoredMessage {
        room_id: room.id,
        seq: msg.seq,
        timestamp_ms: msg.timestamp_ms,
        sender_id: caller.account_id,
        sender_username: from.username,
        sender_display_name: from.display_name,
        text: msg.text,
    };
    let submitted = persister.submit(Pending {
        room: room.clone(),
        message: stored,
        sender: caller.peer.clone(),
        request_id: caller.request_id,
    });
    if submitted {
        Ok(())
    } else {
        Err(Refusal::new(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
        ))
    }
}

/// Whether `caller` may post in `room` now (its locked state): the room was
/// not deleted since it was looked up by name, and the caller is a member.
fn may_post(caller: &Caller<'_>, room: &Room, state: &RoomState) -> Result<(), Refusal> {
    if state.deleted {
        return Err(Refusal::new(
            ErrorCode::NoSuchRoom,
            format!("no room named {:?}", room.name),
        ));
    }
    if state.role_of(caller.account_id, room.is_lobby()).is_none() {
        return Err(not_in_room(room));
    }
    Ok(())
}
