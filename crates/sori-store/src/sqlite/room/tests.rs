use std::sync::Arc;

use tempfile::TempDir;

use super::super::tests::{file_store, register};
use crate::{
    Account, AccountStore, NewRoom, Role, RoomStore, SqliteStore, StoreError, StoredMember,
    StoredRoom,
};

fn new_room(name: &str, owner: Option<&Account>) -> NewRoom {
    NewRoom {
        name: name.to_owned(),
        topic: String::new(),
        invite_only: false,
        owner: owner.map(|account| account.id),
    }
}

fn member(account: &Account, role: Role) -> StoredMember {
    StoredMember {
        account_id: account.id,
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        role,
    }
}

/// The room with this id, from a fresh `load_rooms`.
async fn loaded(store: &SqliteStore, room_id: i64) -> StoredRoom {
    let rooms = store.load_rooms().await.unwrap();
    rooms
        .into_iter()
        .find(|room| room.id == room_id)
        .expect("room is loaded")
}

#[tokio::test]
async fn create_and_load_rooms() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let dave = register(&store, "dave").await;
    assert!(store.load_rooms().await.unwrap().is_empty());

    let lobby = store.create_room(new_room("", None)).await.unwrap();
    assert_eq!(lobby.owner, None);
    assert!(lobby.members.is_empty());

    let rust = store
        .create_room(NewRoom {
            name: "Rust#한국".to_owned(),
            topic: " Ferris says hi ".to_owned(),
            invite_only: true,
            owner: Some(alice.id),
        })
        .await
        .unwrap();
    assert_eq!(rust.name, "Rust#한국");
    assert_eq!(rust.topic, " Ferris says hi ");
    assert!(rust.invite_only);
    assert_eq!(rust.owner, Some(alice.id));
    assert!(rust.created_at_ms > 1_600_000_000_000, "ms since epoch");
    assert_eq!(rust.last_seq, 0);
    assert_eq!(rust.members, vec![member(&alice, Role::Owner)]);
    assert_ne!(rust.id, lobby.id);

    // Added in reverse id order, to check that loading sorts them.
    store.put_invite(rust.id, dave.id).await.unwrap();
    store.put_invite(rust.id, bob.id).await.unwrap();
    store
        .put_member(rust.id, carol.id, Role::Operator)
        .await
        .unwrap();
    store
        .put_member(rust.id, bob.id, Role::Member)
        .await
        .unwrap();
    store
        .put_ban(rust.id, dave.id, alice.id, "spam")
        .await
        .unwrap();
    store
        .put_ban(rust.id, carol.id, alice.id, "")
        .await
        .unwrap();
    store.put_invite(rust.id, carol.id).await.unwrap();
    store.set_topic(rust.id, "").await.unwrap();

    let rooms = store.load_rooms().await.unwrap();
    let want_rust = StoredRoom {
        topic: String::new(),
        members: vec![member(&alice, Role::Owner), member(&bob, Role::Member)],
        bans: vec![carol.id, dave.id],
        invites: vec![carol.id, dave.id],
        ..rust.clone()
    };
    assert_eq!(rooms, vec![lobby, want_rust]);
}

#[tokio::test]
async fn members_show_current_display_names() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let room = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    store
        .set_display_name(alice.id, "Queen Alice")
        .await
        .unwrap();
    let members = loaded(&store, room.id).await.members;
    assert_eq!(members[0].display_name, "Queen Alice");
}

#[tokio::test]
async fn taken_room_name_in_any_case() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    store.create_room(new_room("", None)).await.unwrap();
    store
        .create_room(new_room("Rust", Some(&alice)))
        .await
        .unwrap();
    store
        .create_room(new_room("Ünïcode", Some(&alice)))
        .await
        .unwrap();
    for name in ["", "Rust", "rust", "RUST", "üNÏCODE"] {
        let res = store.create_room(new_room(name, Some(&bob))).await;
        assert!(
            matches!(res, Err(StoreError::RoomNameTaken)),
            "{name:?}: {res:?}"
        );
    }
    // Refused creations leave nothing behind: bob owns and joined nothing.
    let rooms = store.load_rooms().await.unwrap();
    assert_eq!(rooms.len(), 3);
    assert!(
        rooms.iter().all(|room| room.owner != Some(bob.id)
            && room.members.iter().all(|m| m.account_id != bob.id))
    );
}

#[tokio::test]
async fn missing_ids_are_not_found() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let room = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    let no_account = alice.id + 1000;
    let no_room = room.id + 1000;

    let res = store
        .create_room(NewRoom {
            owner: Some(no_account),
            ..new_room("ghost", None)
        })
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
    let results = [
        ("set_topic", store.set_topic(no_room, "x").await),
        (
            "put_member room",
            store.put_member(no_room, alice.id, Role::Member).await,
        ),
        (
            "put_member account",
            store.put_member(room.id, no_account, Role::Member).await,
        ),
        (
            "put_ban room",
            store.put_ban(no_room, alice.id, alice.id, "").await,
        ),
        (
            "put_ban account",
            store.put_ban(room.id, no_account, alice.id, "").await,
        ),
        ("put_invite room", store.put_invite(no_room, alice.id).await),
        (
            "put_invite account",
            store.put_invite(room.id, no_account).await,
        ),
    ];
    for (what, res) in results {
        assert!(matches!(res, Err(StoreError::NotFound)), "{what}: {res:?}");
    }
    // Nothing was half-written: only alice's room, unchanged.
    assert_eq!(store.load_rooms().await.unwrap(), vec![room]);
}

#[tokio::test]
async fn put_member_consumes_the_invite_and_changes_roles() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let room = store
        .create_room(NewRoom {
            invite_only: true,
            ..new_room("secret", Some(&alice))
        })
        .await
        .unwrap();

    store.put_invite(room.id, bob.id).await.unwrap();
    store.put_invite(room.id, bob.id).await.unwrap(); // idempotent
    store.put_invite(room.id, carol.id).await.unwrap();
    assert_eq!(
        loaded(&store, room.id).await.invites,
        vec![bob.id, carol.id]
    );

    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.invites, vec![carol.id], "bob's invite is used up");
    assert_eq!(
        now.members,
        vec![member(&alice, Role::Owner), member(&bob, Role::Member)]
    );

    // Granting and taking operator rights update the one membership.
    store
        .put_member(room.id, bob.id, Role::Operator)
        .await
        .unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members[1],
        member(&bob, Role::Operator)
    );
    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members,
        vec![member(&alice, Role::Owner), member(&bob, Role::Member)]
    );

    // Leaving, twice: the second is a no-op.
    store.remove_member(room.id, bob.id).await.unwrap();
    store.remove_member(room.id, bob.id).await.unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members,
        vec![member(&alice, Role::Owner)]
    );
}

#[tokio::test]
async fn ban_removes_the_membership_and_is_idempotent() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let room = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    store
        .put_member(room.id, bob.id, Role::Operator)
        .await
        .unwrap();

    store
        .put_ban(room.id, bob.id, alice.id, "spam")
        .await
        .unwrap();
    store
        .put_ban(room.id, bob.id, alice.id, "again")
        .await
        .unwrap();
    // Banning a non-member works too, so a user can be banned pre-emptively.
    store
        .put_ban(room.id, carol.id, alice.id, "")
        .await
        .unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.members, vec![member(&alice, Role::Owner)]);
    assert_eq!(now.bans, vec![bob.id, carol.id]);
    let (n_bans, reason): (i64, String) = sqlx::query_as(
        "SELECT COUNT(*), MIN(reason) FROM room_bans WHERE room_id = $1 AND account_id = $2",
    )
    .bind(room.id)
    .bind(bob.id)
    .fetch_one(&store.pool)
    .await
    .unwrap();
    assert_eq!(
        (n_bans, reason.as_str()),
        (1, "spam"),
        "the first ban stands"
    );

    store.remove_ban(room.id, bob.id).await.unwrap();
    store.remove_ban(room.id, bob.id).await.unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.bans, vec![carol.id]);
    assert_eq!(
        now.members,
        vec![member(&alice, Role::Owner)],
        "unbanning does not rejoin"
    );
    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(loaded(&store, room.id).await.members.len(), 2);
}

#[tokio::test]
async fn rooms_survive_a_restart() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sori.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    store.create_room(new_room("", None)).await.unwrap();
    let room = store
        .create_room(NewRoom {
            topic: "all things Rust".to_owned(),
            invite_only: true,
            ..new_room("rust", Some(&alice))
        })
        .await
        .unwrap();
    store
        .put_member(room.id, bob.id, Role::Operator)
        .await
        .unwrap();
    store
        .put_ban(room.id, carol.id, bob.id, "spam")
        .await
        .unwrap();
    store.put_invite(room.id, carol.id).await.unwrap();
    let before = store.load_rooms().await.unwrap();
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    let after = store.load_rooms().await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after[1].members[1], member(&bob, Role::Operator));
    assert_eq!(after[1].bans, vec![carol.id]);
    assert_eq!(after[1].invites, vec![carol.id]);
    let res = store.create_room(new_room("RUST", Some(&bob))).await;
    assert!(matches!(res, Err(StoreError::RoomNameTaken)), "{res:?}");
}

#[tokio::test]
async fn is_usable_as_a_trait_object() {
    let (store, _dir) = file_store().await;
    let alice = register(&store, "alice").await;
    let rooms: Arc<dyn RoomStore> = Arc::new(store);
    let room = rooms
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    assert_eq!(rooms.load_rooms().await.unwrap(), vec![room]);
}
