//! Creating and loading rooms: names unique in any letter case (also when
//! created at once), missing ids, and what a restart keeps.

use crate::suite::room::{member, new_room};
use crate::suite::support::{TestDb, register, store_tests};
use crate::{NewRoom, Role, StoreError, StoredRoom};

store_tests!(
    create_and_load_rooms,
    taken_room_name_in_any_case,
    missing_ids_are_not_found,
    rooms_survive_a_restart,
    concurrent_creations_of_one_name_have_one_winner,
);

async fn create_and_load_rooms(db: TestDb) {
    let store = db.open().await;
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
    assert_eq!(rust.members, vec![member(&alice, Role::Owner, 1)]);
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
        members: vec![
            member(&alice, Role::Owner, 1),
            member(&bob, Role::Member, 3),
        ],
        bans: vec![carol.id, dave.id],
        invites: vec![carol.id, dave.id],
        ..rust.clone()
    };
    assert_eq!(rooms, vec![lobby, want_rust]);
}

async fn taken_room_name_in_any_case(db: TestDb) {
    let store = db.open().await;
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

async fn missing_ids_are_not_found(db: TestDb) {
    let store = db.open().await;
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

async fn rooms_survive_a_restart(db: TestDb) {
    let store = db.open().await;
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

    let store = db.open().await;
    let after = store.load_rooms().await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after[1].members[1], member(&bob, Role::Operator, 2));
    assert_eq!(after[1].bans, vec![carol.id]);
    assert_eq!(after[1].invites, vec![carol.id]);
    let res = store.create_room(new_room("RUST", Some(&bob))).await;
    assert!(matches!(res, Err(StoreError::RoomNameTaken)), "{res:?}");
}

async fn concurrent_creations_of_one_name_have_one_winner(db: TestDb) {
    const N_TASKS: usize = 16;
    let store = db.open().await;
    let mut owners = Vec::with_capacity(N_TASKS);
    for owner_idx in 0..N_TASKS {
        owners.push(register(&store, &format!("owner{owner_idx}")).await);
    }
    let store = store.into_arc();

    let mut tasks = Vec::with_capacity(N_TASKS);
    for (task_idx, owner) in owners.iter().enumerate() {
        let store = store.clone();
        let room = new_room(if task_idx % 2 == 0 { "Race" } else { "RACE" }, Some(owner));
        tasks.push(tokio::spawn(async move { store.create_room(room).await }));
    }
    let (mut n_ok, mut n_taken) = (0, 0);
    for task in tasks {
        match task.await.expect("task panicked") {
            Ok(_) => n_ok += 1,
            Err(StoreError::RoomNameTaken) => n_taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((n_ok, n_taken), (1, N_TASKS - 1));
    // The losers left nothing behind: one room, with its one owner.
    let rooms = store.load_rooms().await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].members.len(), 1);
}
