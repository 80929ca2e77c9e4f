//! History and offline whispers: batches, paging, and the numbering that
//! never repeats a seq, also across crashes and concurrent reservations.
//!
//! By theme: `history.rs` (batches and paging), `whispers.rs` (offline
//! whispers) and `numbering.rs` (reservations, releases and the high
//! water); the helpers they share are here.

use std::ops::Deref;

use crate::{Account, NewRoom, RoomId, Store, StoredMessage};

mod history;
mod numbering;
mod whispers;

/// A message whose text names its room and seq, so a wrong row shows.
fn message(room_id: RoomId, seq: u64, sender: &Account) -> StoredMessage {
    StoredMessage {
        room_id,
        seq,
        timestamp_ms: 1_700_000_000_000 + i64::try_from(seq % 1_000_000).unwrap(),
        sender_id: sender.id,
        sender_username: sender.username.clone(),
        sender_display_name: sender.display_name.clone(),
        text: format!("room {room_id} message {seq} 안녕"),
    }
}

async fn create_room(store: &impl Deref<Target = dyn Store>, name: &str) -> RoomId {
    let room = NewRoom {
        name: name.to_owned(),
        topic: String::new(),
        invite_only: false,
        owner: None,
    };
    store.create_room(room).await.unwrap().id
}

fn seqs(messages: &[StoredMessage]) -> Vec<u64> {
    messages.iter().map(|message| message.seq).collect()
}
