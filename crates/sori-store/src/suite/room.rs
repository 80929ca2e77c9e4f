//! Rooms: names unique in any letter case, members in join order (also
//! when they join at once), bans, invites, hand-overs and deletion.
//!
//! By theme: `creation.rs` (names, ids, loading and restarts),
//! `membership.rs` (members and their order, invites, bans, roles and
//! owners) and `deletion.rs`; the helpers they share are here.

use std::ops::Deref;

use crate::{Account, NewRoom, Role, Store, StoredMember, StoredRoom};

mod creation;
mod deletion;
mod membership;

fn new_room(name: &str, owner: Option<&Account>) -> NewRoom {
    NewRoom {
        name: name.to_owned(),
        topic: String::new(),
        invite_only: false,
        owner: owner.map(|account| account.id),
    }
}

fn member(account: &Account, role: Role, joined_seq: i64) -> StoredMember {
    StoredMember {
        account_id: account.id,
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        role,
        joined_seq,
    }
}

/// The room with this id, from a fresh `load_rooms`.
async fn loaded(store: &impl Deref<Target = dyn Store>, room_id: i64) -> StoredRoom {
    let rooms = store.load_rooms().await.unwrap();
    rooms
        .into_iter()
        .find(|room| room.id == room_id)
        .expect("room is loaded")
}
