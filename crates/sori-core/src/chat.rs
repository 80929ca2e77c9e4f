//! Chat in a room: checked, numbered by the bus, fanned out at once,
//! acknowledged once on disk.

use std::sync::Arc;

use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::StoredMessage;

use crate::bus::Post;
use crate::checks::{check_muted, not_in_room};
use crate::clock::now_ms;
use crate::history::Pending;
use crate::node::{Caller, Core};
use crate::refusal::{Refusal, check_text};
use crate::room::{NeedReservation, Room};

/// Where a chat message stands after [`Core::chat`].
#[derive(Debug)]
pub enum ChatStep {
    /// Fanned out; the ack follows once it is on disk.
    Sent,
    /// The room has no number left until the store reserves more: call
    /// [`Core::chat_reserving`] (which waits for the store) with the same
    /// text. The first message of each room after a start takes this path;
    /// later ones do not, as reservations are extended in the background
    /// well before they run out.
    Reserve(String),
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
        match self.post(caller, &room, text)? {
            Posted::Sent => Ok(ChatStep::Sent),
            Posted::Reserve(text, _) => Ok(ChatStep::Reserve(text)),
        }
    }

    /// Chat in a room whose numbers ran out: reserves more in the store,
    /// then posts.
    pub async fn chat_reserving(
        &self,
        caller: &Caller<'_>,
        room_name: &str,
        mut text: String,
    ) -> Result<(), Refusal> {
        let room = self.room(room_name)?;
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
        if state.deleted {
            // Deleted between the lookup by name and this lock.
            return Err(Refusal::new(
                ErrorCode::NoSuchRoom,
                format!("no room named {:?}", room.name),
            ));
        }
        if state.role_of(caller.account_id, room.is_lobby()).is_none() {
            return Err(not_in_room(room));
        }
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
        if let Some(up_to) = state.reservation_due() {
            state.reserving = true;
            self.extend_reservation(room.clone(), up_to);
        }
        match &self.persister {
            Some(persister) => {
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
                // Submitted under the room's lock, so each room's messages
                // reach the disk in sequence order.
                let submitted = persister.submit(Pending {
                    room: room.clone(),
                    message: stored,
                    sender: caller.peer.clone(),
                    request_id: caller.request_id,
                });
                if !submitted {
                    return Err(Refusal::new(
                        ErrorCode::ShuttingDown,
                        "the server is shutting down",
                    ));
                }
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
