//! Members in join order (also when they join at once), with their current
//! display names; invites, bans, roles and hand-overs.

use crate::suite::room::{loaded, member, new_room};
use crate::suite::support::{TestDb, register, store_tests, with_pool};
use crate::{NewRoom, Role, StoreError};

store_tests!(
    members_show_current_display_names,
    put_member_consumes_the_invite_and_changes_roles,
    ban_removes_the_membership_and_is_idempotent,
    join_order_survives_role_changes_leaves_and_restarts,
    set_owner_hands_the_room_over,
    concurrent_joins_take_places_in_turn,
);

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
