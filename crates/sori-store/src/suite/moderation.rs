//! Server-wide sanctions: account bans, IP bans and mutes, their expiry,
//! and what happens to them when accounts go.

use std::ops::Deref;

use super::support::{TestDb, register, store_tests, with_pool};
use crate::{AccountId, IpBan, Sanction, Store, StoreError, sql::now_ms};

store_tests!(
    put_replace_and_remove,
    bans_and_mutes_are_separate,
    expiry_at_the_boundary,
    removing_an_expired_sanction_lifts_nothing,
    ip_bans_in_force_are_listed,
    sanctions_survive_a_restart,
    missing_accounts_are_not_found,
    sanctions_go_with_their_account_and_outlive_the_admin,
);

/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn sanction(until_ms: Option<i64>, reason: &str, by: AccountId) -> Sanction {
    Sanction {
        until_ms,
        reason: reason.to_owned(),
        by,
        created_at_ms: 1_700_000_000_000,
    }
}

fn ip_ban(net: &str, until_ms: Option<i64>, by: AccountId) -> IpBan {
    IpBan {
        net: net.to_owned(),
        sanction: sanction(until_ms, &format!("ban of {net}"), by),
    }
}

/// The nets of `bans`, in order.
fn nets(bans: &[IpBan]) -> Vec<&str> {
    bans.iter().map(|ban| ban.net.as_str()).collect()
}

/// Account bans and mutes behave alike; the tests run through both.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Ban,
    Mute,
}

impl Kind {
    async fn put(
        self,
        store: &impl Deref<Target = dyn Store>,
        account: AccountId,
        sanction: Sanction,
    ) -> Result<(), StoreError> {
        match self {
            Kind::Ban => store.put_account_ban(account, sanction).await,
            Kind::Mute => store.put_mute(account, sanction).await,
        }
    }

    async fn remove(
        self,
        store: &impl Deref<Target = dyn Store>,
        account: AccountId,
    ) -> Result<bool, StoreError> {
        match self {
            Kind::Ban => store.remove_account_ban(account).await,
            Kind::Mute => store.remove_mute(account).await,
        }
    }

    async fn get(
        self,
        store: &impl Deref<Target = dyn Store>,
        account: AccountId,
        now_ms: i64,
    ) -> Option<Sanction> {
        let res = match self {
            Kind::Ban => store.account_ban(account, now_ms).await,
            Kind::Mute => store.mute(account, now_ms).await,
        };
        res.unwrap()
    }
}

async fn put_replace_and_remove(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let other_admin = register(&store, "other_admin").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    // Bans first, then mutes: their tables are separate, so the mutes
    // start from none.
    for kind in [Kind::Ban, Kind::Mute] {
        let now = now_ms();
        assert_eq!(kind.get(&store, bob.id, now).await, None, "{kind:?}");

        let forever = sanction(None, "spam 스팸", admin.id);
        kind.put(&store, bob.id, forever.clone()).await.unwrap();
        assert_eq!(kind.get(&store, bob.id, now).await, Some(forever));
        assert_eq!(kind.get(&store, carol.id, now).await, None, "{kind:?}");

        // The newest decision wins, even a shorter one by someone else.
        let a_day = Sanction {
            created_at_ms: now,
            ..sanction(Some(now + DAY_MS), "", other_admin.id)
        };
        kind.put(&store, bob.id, a_day.clone()).await.unwrap();
        assert_eq!(kind.get(&store, bob.id, now).await, Some(a_day.clone()));
        let sql = match kind {
            Kind::Ban => "SELECT COUNT(*) FROM account_bans",
            Kind::Mute => "SELECT COUNT(*) FROM mutes",
        };
        let (n_rows,): (i64,) = with_pool!(store, |pool| sqlx::query_as(sql)
            .fetch_one(pool)
            .await
            .unwrap());
        assert_eq!(n_rows, 1, "{kind:?}: replaced, not added");

        assert!(kind.remove(&store, bob.id).await.unwrap(), "{kind:?}");
        assert!(!kind.remove(&store, bob.id).await.unwrap(), "{kind:?}");
        assert!(!kind.remove(&store, carol.id).await.unwrap(), "{kind:?}");
        assert_eq!(kind.get(&store, bob.id, now).await, None, "{kind:?}");

        // Banned again after being lifted.
        kind.put(&store, bob.id, a_day.clone()).await.unwrap();
        assert_eq!(kind.get(&store, bob.id, now).await, Some(a_day));
    }
}

async fn bans_and_mutes_are_separate(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let bob = register(&store, "bob").await;
    let ban = sanction(None, "banned", admin.id);
    let mute = sanction(Some(5_000), "muted", admin.id);
    store.put_account_ban(bob.id, ban.clone()).await.unwrap();
    store.put_mute(bob.id, mute.clone()).await.unwrap();
    assert_eq!(store.account_ban(bob.id, 0).await.unwrap(), Some(ban));
    assert_eq!(store.mute(bob.id, 0).await.unwrap(), Some(mute.clone()));

    assert!(store.remove_account_ban(bob.id).await.unwrap());
    assert_eq!(store.account_ban(bob.id, 0).await.unwrap(), None);
    assert_eq!(store.mute(bob.id, 0).await.unwrap(), Some(mute));
}

/// A sanction is over at its `until_ms`; every read agrees with
/// [`Sanction::in_force_at`], and reading does not delete.
async fn expiry_at_the_boundary(db: TestDb) {
    const UNTIL_MS: i64 = 1_700_000_000_000;
    let cases = [
        (Some(UNTIL_MS), i64::MIN, true),
        (Some(UNTIL_MS), 0, true),
        (Some(UNTIL_MS), UNTIL_MS - 1, true),
        (Some(UNTIL_MS), UNTIL_MS, false),
        (Some(UNTIL_MS), UNTIL_MS + 1, false),
        (Some(UNTIL_MS), i64::MAX, false),
        // A ban that ended before the epoch, or at it.
        (Some(-5), -6, true),
        (Some(-5), -5, false),
        (Some(0), 0, false),
        (None, i64::MIN, true),
        (None, 0, true),
        (None, i64::MAX, true),
    ];
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let bob = register(&store, "bob").await;

    for (until_ms, now, want) in cases {
        let sanction = sanction(until_ms, "", admin.id);
        assert_eq!(sanction.in_force_at(now), want, "{until_ms:?} at {now}");
        let want = want.then(|| sanction.clone());
        let case = format!("until {until_ms:?} at {now}");

        store
            .put_account_ban(bob.id, sanction.clone())
            .await
            .unwrap();
        store.put_mute(bob.id, sanction.clone()).await.unwrap();
        store
            .put_ip_ban(IpBan {
                net: "203.0.113.0/24".to_owned(),
                sanction: sanction.clone(),
            })
            .await
            .unwrap();
        let ban = store.account_ban(bob.id, now).await.unwrap();
        assert_eq!(ban, want, "account ban, {case}");
        let mute = store.mute(bob.id, now).await.unwrap();
        assert_eq!(mute, want, "mute, {case}");
        let ip_bans = store.ip_bans(now).await.unwrap();
        let ip_ban = ip_bans.into_iter().map(|ban| ban.sanction).next();
        assert_eq!(ip_ban, want, "ip ban, {case}");
    }

    // Reading at a time after the end deletes nothing: a reader at an
    // earlier time still sees the sanction.
    let ending = sanction(Some(UNTIL_MS), "", admin.id);
    store.put_account_ban(bob.id, ending.clone()).await.unwrap();
    store.put_mute(bob.id, ending.clone()).await.unwrap();
    store
        .put_ip_ban(IpBan {
            net: "203.0.113.0/24".to_owned(),
            sanction: ending.clone(),
        })
        .await
        .unwrap();
    assert_eq!(store.account_ban(bob.id, UNTIL_MS).await.unwrap(), None);
    assert_eq!(store.mute(bob.id, UNTIL_MS).await.unwrap(), None);
    assert!(store.ip_bans(UNTIL_MS).await.unwrap().is_empty());
    let earlier = UNTIL_MS - 1;
    let ban = store.account_ban(bob.id, earlier).await.unwrap();
    assert_eq!(ban, Some(ending.clone()));
    assert_eq!(store.mute(bob.id, earlier).await.unwrap(), Some(ending));
    assert_eq!(store.ip_bans(earlier).await.unwrap().len(), 1);
}

async fn removing_an_expired_sanction_lifts_nothing(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    // Long over by the host's clock, which is what `remove_*` judge by.
    let expired = sanction(Some(1_000_000_000_000), "", admin.id);
    let in_force = sanction(Some(now_ms() + DAY_MS), "", admin.id);

    store
        .put_account_ban(bob.id, expired.clone())
        .await
        .unwrap();
    store.put_mute(bob.id, expired.clone()).await.unwrap();
    store
        .put_ip_ban(IpBan {
            net: "192.0.2.1".to_owned(),
            sanction: expired.clone(),
        })
        .await
        .unwrap();
    assert!(!store.remove_account_ban(bob.id).await.unwrap());
    assert!(!store.remove_mute(bob.id).await.unwrap());
    assert!(!store.remove_ip_ban("192.0.2.1").await.unwrap());
    // The expired rows were deleted all the same.
    assert_eq!(store.account_ban(bob.id, i64::MIN).await.unwrap(), None);
    assert_eq!(store.mute(bob.id, i64::MIN).await.unwrap(), None);
    assert!(store.ip_bans(i64::MIN).await.unwrap().is_empty());

    store.put_account_ban(carol.id, in_force).await.unwrap();
    assert!(store.remove_account_ban(carol.id).await.unwrap());
}

async fn ip_bans_in_force_are_listed(db: TestDb) {
    // The host's clock, which `remove_ip_ban` judges by.
    let now = now_ms();
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    assert!(store.ip_bans(now).await.unwrap().is_empty());

    let bans = [
        ip_ban("203.0.113.0/24", None, admin.id),
        ip_ban("2001:db8::1/128", Some(now + 1), admin.id),
        ip_ban("198.51.100.7", Some(now), admin.id), // just expired
        ip_ban("192.0.2.0/25", Some(now - DAY_MS), admin.id), // long expired
        ip_ban("10.0.0.0/8", Some(now + DAY_MS), admin.id),
    ];
    for ban in &bans {
        store.put_ip_ban(ban.clone()).await.unwrap();
    }
    let in_force = store.ip_bans(now).await.unwrap();
    assert_eq!(
        nets(&in_force),
        ["10.0.0.0/8", "2001:db8::1/128", "203.0.113.0/24"]
    );
    assert_eq!(in_force[1], bans[1]);
    assert_eq!(in_force[2], bans[0]);
    assert_eq!(
        nets(&store.ip_bans(now + 1).await.unwrap()),
        ["10.0.0.0/8", "203.0.113.0/24"]
    );
    assert_eq!(store.ip_bans(now - DAY_MS - 1).await.unwrap().len(), 5);

    // Replacing: the newest decision wins, here lifting the expiry.
    let renewed = ip_ban("198.51.100.7", None, admin.id + 1000);
    store.put_ip_ban(renewed.clone()).await.unwrap();
    let in_force = store.ip_bans(now).await.unwrap();
    assert_eq!(in_force.len(), 4);
    assert_eq!(in_force[1], renewed);

    // The key is the text as given: another spelling of the same range is
    // another ban, for the server to avoid by normalising.
    assert!(!store.remove_ip_ban("10.0.0.0/08").await.unwrap());
    assert!(store.remove_ip_ban("10.0.0.0/8").await.unwrap());
    assert!(!store.remove_ip_ban("10.0.0.0/8").await.unwrap());
    assert_eq!(
        nets(&store.ip_bans(now).await.unwrap()),
        ["198.51.100.7", "2001:db8::1/128", "203.0.113.0/24"]
    );
}

async fn sanctions_survive_a_restart(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    let ban = sanction(Some(now_ms() + DAY_MS), "flooding", admin.id);
    let mute = sanction(None, "shouting", admin.id);
    // In the order `ip_bans` returns them: by net text.
    let bans = [
        ip_ban("2001:db8::/32", Some(now_ms() + DAY_MS), admin.id),
        ip_ban("203.0.113.0/24", None, admin.id),
    ];
    store.put_account_ban(bob.id, ban.clone()).await.unwrap();
    store.put_mute(carol.id, mute.clone()).await.unwrap();
    for ban in &bans {
        store.put_ip_ban(ban.clone()).await.unwrap();
    }
    // Dropped without `close`, as in a crash of the process.
    drop(store);

    let store = db.open().await;
    let now = now_ms();
    assert_eq!(store.account_ban(bob.id, now).await.unwrap(), Some(ban));
    assert_eq!(store.mute(carol.id, now).await.unwrap(), Some(mute));
    assert_eq!(store.account_ban(carol.id, now).await.unwrap(), None);
    assert_eq!(store.mute(bob.id, now).await.unwrap(), None);
    assert_eq!(store.ip_bans(now).await.unwrap(), bans);
    assert!(store.remove_account_ban(bob.id).await.unwrap());
}

async fn missing_accounts_are_not_found(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let no_account = admin.id + 1000;
    let results = [
        (
            "put_account_ban",
            store
                .put_account_ban(no_account, sanction(None, "", admin.id))
                .await,
        ),
        (
            "put_mute",
            store
                .put_mute(no_account, sanction(None, "", admin.id))
                .await,
        ),
    ];
    for (what, res) in results {
        assert!(matches!(res, Err(StoreError::NotFound)), "{what}: {res:?}");
    }
    // Reads and removals of a missing account find nothing, like those of
    // an account with no sanction.
    assert_eq!(store.account_ban(no_account, 0).await.unwrap(), None);
    assert_eq!(store.mute(no_account, 0).await.unwrap(), None);
    assert!(!store.remove_account_ban(no_account).await.unwrap());
    assert!(!store.remove_mute(no_account).await.unwrap());

    // `by` is not checked: a sanction outlives its admin's account.
    let by_nobody = sanction(None, "", no_account);
    store
        .put_account_ban(admin.id, by_nobody.clone())
        .await
        .unwrap();
    store
        .put_ip_ban(IpBan {
            net: "192.0.2.1".to_owned(),
            sanction: by_nobody.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.account_ban(admin.id, 0).await.unwrap(),
        Some(by_nobody)
    );
}

async fn sanctions_go_with_their_account_and_outlive_the_admin(db: TestDb) {
    let store = db.open().await;
    let admin = register(&store, "admin").await;
    let bob = register(&store, "bob").await;
    let carol = register(&store, "carol").await;
    store
        .put_account_ban(bob.id, sanction(None, "", admin.id))
        .await
        .unwrap();
    store
        .put_mute(bob.id, sanction(None, "", admin.id))
        .await
        .unwrap();
    store
        .put_account_ban(carol.id, sanction(None, "", admin.id))
        .await
        .unwrap();
    store
        .put_ip_ban(ip_ban("192.0.2.1", None, admin.id))
        .await
        .unwrap();

    // The store has no account deletion yet; the schema must be ready for it.
    for account_id in [bob.id, admin.id] {
        with_pool!(store, |pool| {
            sqlx::query("DELETE FROM accounts WHERE id = $1")
                .bind(account_id)
                .execute(pool)
                .await
                .unwrap();
        });
    }
    assert_eq!(store.account_ban(bob.id, 0).await.unwrap(), None);
    assert_eq!(store.mute(bob.id, 0).await.unwrap(), None);
    let carol_ban = store.account_ban(carol.id, 0).await.unwrap().unwrap();
    assert_eq!(carol_ban.by, admin.id);
    assert_eq!(store.ip_bans(0).await.unwrap()[0].sanction.by, admin.id);
}
