//! Rooms: names unique in any letter case, members in join order (also
//! when they join at once), bans, invites, hand-overs and deletion.

use std::ops::Deref;

use super::support::{TestDb, TestStore, register, store_tests, with_pool};
use crate::{
    Account, NewRoom, Role, RoomId, Store, StoreError, StoredMember, StoredMessage, StoredRoom,
};

store_tests!(
    create_and_load_rooms,
    members_show_current_display_names,
    taken_room_name_in_any_case,
    missing_ids_are_not_found,
    put_member_consumes_the_invite_and_changes_roles,
    ban_removes_the_membership_and_is_idempotent,
    rooms_survive_a_restart,
    join_order_survives_role_changes_leaves_and_restarts,
    set_owner_hands_the_room_over,
    delete_room_takes_everything_with_it,
    deleted_room_ids_are_never_reused,
    concurrent_creations_of_one_name_have_one_winner,
    concurrent_joins_take_places_in_turn,
);

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

async fn members_show_current_display_names(db: TestDb) {
    let store = db.open().await;
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

async fn put_member_consumes_the_invite_and_changes_roles(db: TestDb) {
    let store = db.open().await;
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
        vec![
            member(&alice, Role::Owner, 1),
            member(&bob, Role::Member, 2)
        ]
    );

    // Granting and taking operator rights update the one membership.
    store
        .put_member(room.id, bob.id, Role::Operator)
        .await
        .unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members[1],
        member(&bob, Role::Operator, 2)
    );
    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members,
        vec![
            member(&alice, Role::Owner, 1),
            member(&bob, Role::Member, 2)
        ]
    );

    // Leaving, twice: the second is a no-op.
    store.remove_member(room.id, bob.id).await.unwrap();
    store.remove_member(room.id, bob.id).await.unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members,
        vec![member(&alice, Role::Owner, 1)]
    );
}

async fn ban_removes_the_membership_and_is_idempotent(db: TestDb) {
    let store = db.open().await;
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
    assert_eq!(now.members, vec![member(&alice, Role::Owner, 1)]);
    assert_eq!(now.bans, vec![bob.id, carol.id]);
    let (n_bans, reason): (i64, String) = with_pool!(store, |pool| {
        sqlx::query_as(
            "SELECT COUNT(*), MIN(reason) FROM room_bans WHERE room_id = $1 AND account_id = $2",
        )
        .bind(room.id)
        .bind(bob.id)
        .fetch_one(pool)
        .await
        .unwrap()
    });
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
        vec![member(&alice, Role::Owner, 1)],
        "unbanning does not rejoin"
    );
    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(loaded(&store, room.id).await.members.len(), 2);
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

async fn join_order_survives_role_changes_leaves_and_restarts(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let dave = register(&store, "dave").await;
    let room = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    let other = store
        .create_room(new_room("go", Some(&dave)))
        .await
        .unwrap();

    // Joined in the reverse of account id order, to tell the join order
    // from the sort order.
    for account in [&dave, &carol, &bob] {
        store
            .put_member(room.id, account.id, Role::Member)
            .await
            .unwrap();
    }
    store
        .put_member(other.id, carol.id, Role::Member)
        .await
        .unwrap();
    assert_eq!(
        loaded(&store, room.id).await.members,
        vec![
            member(&alice, Role::Owner, 1),
            member(&bob, Role::Member, 4),
            member(&carol, Role::Member, 3),
            member(&dave, Role::Member, 2),
        ],
        "sorted by account id, numbered in join order"
    );
    assert_eq!(
        loaded(&store, other.id).await.members,
        vec![
            member(&carol, Role::Member, 2),
            member(&dave, Role::Owner, 1)
        ],
        "numbered per room"
    );

    // A role change keeps the place; leaving and rejoining goes to the end.
    store
        .put_member(room.id, carol.id, Role::Operator)
        .await
        .unwrap();
    store.remove_member(room.id, dave.id).await.unwrap();
    store
        .put_member(room.id, dave.id, Role::Member)
        .await
        .unwrap();
    // A ban ends the membership too.
    store.put_ban(room.id, bob.id, alice.id, "").await.unwrap();
    let want = vec![
        member(&alice, Role::Owner, 1),
        member(&carol, Role::Operator, 3),
        member(&dave, Role::Member, 5),
    ];
    assert_eq!(loaded(&store, room.id).await.members, want);
    drop(store);

    let store = db.open().await;
    assert_eq!(loaded(&store, room.id).await.members, want);
    store.remove_ban(room.id, bob.id).await.unwrap();
    store
        .put_member(room.id, bob.id, Role::Member)
        .await
        .unwrap();
    let members = loaded(&store, room.id).await.members;
    let bob_now = members.iter().find(|m| m.account_id == bob.id).unwrap();
    assert!(
        members
            .iter()
            .all(|m| m.account_id == bob.id || m.joined_seq < bob_now.joined_seq),
        "a rejoin is last: {members:?}"
    );
}

async fn set_owner_hands_the_room_over(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let dave = register(&store, "dave").await;
    let room = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    store
        .put_member(room.id, bob.id, Role::Operator)
        .await
        .unwrap();
    store
        .put_member(room.id, carol.id, Role::Member)
        .await
        .unwrap();

    // The owner leaves; the server picks bob, the first operator.
    store.remove_member(room.id, alice.id).await.unwrap();
    store.set_owner(room.id, Some(bob.id)).await.unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.owner, Some(bob.id));
    assert_eq!(
        now.members,
        vec![
            member(&bob, Role::Owner, 2),
            member(&carol, Role::Member, 3)
        ],
        "only the new owner's role changes, and not its place"
    );

    // Refusals change nothing: a non-member, a missing account, a missing
    // room.
    let no_account = dave.id + 1000;
    let no_room = room.id + 1000;
    let results = [
        ("non-member", store.set_owner(room.id, Some(dave.id)).await),
        (
            "missing account",
            store.set_owner(room.id, Some(no_account)).await,
        ),
        ("missing room", store.set_owner(no_room, Some(bob.id)).await),
        (
            "missing room, no owner",
            store.set_owner(no_room, None).await,
        ),
    ];
    for (what, res) in results {
        assert!(matches!(res, Err(StoreError::NotFound)), "{what}: {res:?}");
    }
    assert_eq!(loaded(&store, room.id).await, now);

    // The last member leaves: the room is ownerless.
    store.remove_member(room.id, bob.id).await.unwrap();
    store.remove_member(room.id, carol.id).await.unwrap();
    store.set_owner(room.id, None).await.unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.owner, None);
    assert!(now.members.is_empty());
    // And a later joiner can be made its owner.
    store
        .put_member(room.id, dave.id, Role::Member)
        .await
        .unwrap();
    store.set_owner(room.id, Some(dave.id)).await.unwrap();
    let now = loaded(&store, room.id).await;
    assert_eq!(now.owner, Some(dave.id));
    assert_eq!(now.members[0].role, Role::Owner);
}

/// How many rows of `table` belong to the room.
async fn n_rows(store: &TestStore, table: &str, room_id: RoomId) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE room_id = $1");
    with_pool!(store, |pool| sqlx::query_scalar(&sql)
        .bind(room_id)
        .fetch_one(pool)
        .await
        .unwrap())
}

const ROOM_CHILD_TABLES: [&str; 4] = ["room_members", "room_bans", "room_invites", "messages"];

async fn delete_room_takes_everything_with_it(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let lobby = store.create_room(new_room("", None)).await.unwrap();
    let kept = store
        .create_room(new_room("go", Some(&alice)))
        .await
        .unwrap();
    let doomed = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    for room in [kept.id, doomed.id] {
        store
            .put_member(room, bob.id, Role::Operator)
            .await
            .unwrap();
        store.put_ban(room, carol.id, bob.id, "spam").await.unwrap();
        store.put_invite(room, carol.id).await.unwrap();
        let messages: Vec<StoredMessage> = (1..=3)
            .map(|seq| StoredMessage {
                room_id: room,
                seq,
                timestamp_ms: 1_700_000_000_000,
                sender_id: bob.id,
                sender_username: bob.username.clone(),
                sender_display_name: bob.display_name.clone(),
                text: format!("message {seq}"),
            })
            .collect();
        store
            .append_messages_reserving(&messages, &[(room, 10)])
            .await
            .unwrap();
    }
    let kept = loaded(&store, kept.id).await;

    store.delete_room(doomed.id).await.unwrap();
    assert_eq!(store.load_rooms().await.unwrap(), vec![lobby.clone(), kept]);
    for table in ROOM_CHILD_TABLES {
        assert_eq!(n_rows(&store, table, doomed.id).await, 0, "{table}");
    }
    assert!(
        store
            .messages_after(doomed.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Again, or a room that never was: nothing to do.
    store.delete_room(doomed.id).await.unwrap();
    store.delete_room(doomed.id + 1000).await.unwrap();

    // The lobby stays, with everything in it.
    store
        .put_member(lobby.id, bob.id, Role::Member)
        .await
        .unwrap();
    let res = store.delete_room(lobby.id).await;
    assert!(matches!(res, Err(StoreError::LobbyNotDeletable)), "{res:?}");
    assert_eq!(res.unwrap_err().to_string(), "the lobby cannot be deleted");
    assert_eq!(
        loaded(&store, lobby.id).await.members,
        vec![member(&bob, Role::Member, 1)]
    );
}

async fn deleted_room_ids_are_never_reused(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    store.create_room(new_room("", None)).await.unwrap();
    let first = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();

    // The newest room, whose id a plain SQLite rowid would hand out again.
    store.delete_room(first.id).await.unwrap();
    let second = store
        .create_room(new_room("RUST", Some(&alice)))
        .await
        .unwrap();
    assert!(second.id > first.id, "{} > {}", second.id, first.id);
    assert_eq!(second.members, vec![member(&alice, Role::Owner, 1)]);
    assert_eq!((second.last_seq, second.seq_reserved), (0, 0));

    // Across a restart too.
    store.delete_room(second.id).await.unwrap();
    drop(store);
    let store = db.open().await;
    let third = store
        .create_room(new_room("rust", Some(&alice)))
        .await
        .unwrap();
    assert!(third.id > second.id, "{} > {}", third.id, second.id);

    // A refused creation may use up an id (a PostgreSQL sequence does not
    // roll back), but never makes one be given twice.
    let res = store.create_room(new_room("Rust", Some(&alice))).await;
    assert!(matches!(res, Err(StoreError::RoomNameTaken)), "{res:?}");
    let fourth = store
        .create_room(new_room("go", Some(&alice)))
        .await
        .unwrap();
    assert!(fourth.id > third.id, "{} > {}", fourth.id, third.id);
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

/// Joins of one room at once each get a place of their own after the
/// owner's, as they do one at a time.
async fn concurrent_joins_take_places_in_turn(db: TestDb) {
    const N_JOINERS: usize = 24;
    let store = db.open().await;
    let owner = register(&store, "owner").await;
    let room = store
        .create_room(new_room("busy", Some(&owner)))
        .await
        .unwrap();
    let mut joiners = Vec::with_capacity(N_JOINERS);
    for joiner_idx in 0..N_JOINERS {
        joiners.push(register(&store, &format!("joiner{joiner_idx}")).await);
    }
    let store = store.into_arc();

    let mut tasks = Vec::with_capacity(N_JOINERS);
    for joiner in &joiners {
        let store = store.clone();
        let account_id = joiner.id;
        tasks.push(tokio::spawn(async move {
            store.put_member(room.id, account_id, Role::Member).await
        }));
    }
    for task in tasks {
        task.await.expect("task panicked").expect("join");
    }
    let members = loaded(&store, room.id).await.members;
    let mut places: Vec<i64> = members.iter().map(|m| m.joined_seq).collect();
    places.sort_unstable();
    let want: Vec<i64> = (1..=i64::try_from(N_JOINERS).unwrap() + 1).collect();
    assert_eq!(places, want, "one place each, none skipped or shared");
}
