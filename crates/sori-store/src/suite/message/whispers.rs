//! Offline whispers: kept in the order they were stored until they are
//! delivered and deleted.

use crate::suite::support::{TestDb, register, store_tests};
use crate::{Account, NewWhisper, StoreError};

store_tests!(
    offline_whispers_are_kept_in_order_until_deleted,
    whisper_to_a_missing_account_is_not_found,
);

fn whisper(to: &Account, from: &Account, text: &str, timestamp_ms: i64) -> NewWhisper {
    NewWhisper {
        to_account: to.id,
        from_username: from.username.clone(),
        from_display_name: from.display_name.clone(),
        text: text.to_owned(),
        timestamp_ms,
    }
}

async fn offline_whispers_are_kept_in_order_until_deleted(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    assert!(store.offline_whispers(bob.id).await.unwrap().is_empty());

    // Timestamps deliberately out of order: delivery follows storage order.
    let first = store
        .put_offline_whisper(whisper(&bob, &alice, "one", 3_000))
        .await
        .unwrap();
    let to_carol = store
        .put_offline_whisper(whisper(&carol, &alice, "for carol", 1_000))
        .await
        .unwrap();
    let second = store
        .put_offline_whisper(whisper(&bob, &carol, "two 둘", 2_000))
        .await
        .unwrap();
    let third = store
        .put_offline_whisper(whisper(&bob, &alice, "three", 4_000))
        .await
        .unwrap();
    drop(store);

    let store = db.open().await;
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    let ids: Vec<i64> = for_bob.iter().map(|whisper| whisper.id).collect();
    assert_eq!(ids, [first, second, third]);
    let second_whisper = &for_bob[1];
    assert_eq!(second_whisper.to_account, bob.id);
    assert_eq!(second_whisper.from_username, "carol");
    assert_eq!(second_whisper.from_display_name, "CAROL");
    assert_eq!(second_whisper.text, "two 둘");
    assert_eq!(second_whisper.timestamp_ms, 2_000);

    // Delivered: deleted, and deleting again (or nothing) is a no-op.
    store
        .delete_offline_whispers(&[first, third])
        .await
        .unwrap();
    store.delete_offline_whispers(&[first]).await.unwrap();
    store.delete_offline_whispers(&[]).await.unwrap();
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    assert_eq!(for_bob.len(), 1);
    assert_eq!(for_bob[0].id, second);

    // The newest id was deleted, yet it is not handed out again, so a late
    // delete of it cannot remove a new whisper.
    let fourth = store
        .put_offline_whisper(whisper(&bob, &alice, "four", 5_000))
        .await
        .unwrap();
    assert!(fourth > third, "{fourth} > {third}");
    drop(store);

    let store = db.open().await;
    let for_bob = store.offline_whispers(bob.id).await.unwrap();
    let ids: Vec<i64> = for_bob.iter().map(|whisper| whisper.id).collect();
    assert_eq!(ids, [second, fourth]);
    let for_carol = store.offline_whispers(carol.id).await.unwrap();
    assert_eq!(for_carol.len(), 1);
    assert_eq!(for_carol[0].id, to_carol);
    assert!(store.offline_whispers(alice.id).await.unwrap().is_empty());
}

async fn whisper_to_a_missing_account_is_not_found(db: TestDb) {
    let store = db.open().await;
    let alice = register(&store, "alice").await;
    let mut nobody = alice.clone();
    nobody.id += 1000;
    let res = store
        .put_offline_whisper(whisper(&nobody, &alice, "hello?", 1))
        .await;
    assert!(matches!(res, Err(StoreError::NotFound)), "{res:?}");
}
