//! The suite's harness: a fresh database per test on each backend, the
//! store opened on it, and the macros that run one test function on both.

use std::{future::Future, io::Write as _, ops::Deref, path::PathBuf, sync::Arc, time::Duration};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sqlx::{Connection as _, PgConnection};
use tempfile::TempDir;

use crate::{Account, NewAccount, PgStore, SqliteStore, Store};

/// The database the PostgreSQL runs use unless `SORI_TEST_POSTGRES` names
/// another: on the local server, with trust authentication. Each test
/// creates a schema of its own in it and drops it at the end, so the
/// database only needs to exist (and to let the user create schemas), and
/// its other schemas are left alone.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long a test waits for the PostgreSQL server before it counts as not
/// there: a refused connection fails at once, but a firewall that drops
/// packets would otherwise hold every test for the OS's TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections a test's PostgreSQL store opens: enough for the
/// concurrency tests to race, few enough that a test run on many cores
/// stays under the server's connection limit.
const POOL_SIZE: u32 = 4;

/// One test's database, which the test opens (and reopens, to restart) as
/// often as it likes.
pub(crate) struct TestDb {
    place: Place,
}

/// Where a test's database lives.
enum Place {
    /// A file in a temporary directory, deleted with it.
    Sqlite {
        path: PathBuf,
        /// Kept for the test's length; dropping it deletes the file.
        _dir: TempDir,
    },
    /// A schema of its own in the test database, dropped after the test;
    /// the URL puts it first in the search path.
    Postgres { url: String },
}

/// A store open on a test's database. Dereferences to `dyn Store`, so the
/// tests see only the traits; the backend shows only in [`with_pool!`].
pub(crate) enum TestStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl TestDb {
    /// Opens the test's database: the first time creates its schema, each
    /// later time opens the same data again, as a server does after a
    /// restart (drop the previous store first to restart "after a crash").
    pub(crate) async fn open(&self) -> TestStore {
        match &self.place {
            Place::Sqlite { path, .. } => TestStore::Sqlite(
                SqliteStore::open(path)
                    .await
                    .expect("open the SQLite store"),
            ),
            Place::Postgres { url } => TestStore::Postgres(
                PgStore::connect_small(url, POOL_SIZE)
                    .await
                    .expect("connect the PostgreSQL store"),
            ),
        }
    }
}

impl TestDb {
    /// The URL of the test's PostgreSQL schema; `None` on SQLite.
    pub(crate) fn postgres_url(&self) -> Option<&str> {
        match &self.place {
            Place::Sqlite { .. } => None,
            Place::Postgres { url } => Some(url),
        }
    }
}

impl TestStore {
    /// The store as the server holds it.
    pub(crate) fn into_arc(self) -> Arc<dyn Store> {
        match self {
            TestStore::Sqlite(store) => Arc::new(store),
            TestStore::Postgres(store) => Arc::new(store),
        }
    }

    /// Closes the store cleanly, as a server's shutdown does.
    pub(crate) async fn close(&self) {
        match self {
            TestStore::Sqlite(store) => store.close().await,
            TestStore::Postgres(store) => store.close().await,
        }
    }
}

impl Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match self {
            TestStore::Sqlite(store) => store,
            TestStore::Postgres(store) => store,
        }
    }
}

/// Binds `$pool` to the store's connection pool, whichever backend it is,
/// and evaluates `$body` (once per backend, so its queries are typed for
/// each): for the few tests that look at the tables with SQL both dialects
/// accept.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store {
            $crate::suite::support::TestStore::Sqlite(store) => {
                let $pool = store.pool();
                $body
            }
            $crate::suite::support::TestStore::Postgres(store) => {
                let $pool = store.pool();
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Makes each named `async fn name(db: TestDb)` of the calling module a test
/// on each backend: `sqlite::name` and `postgres::name`. A test function
/// missing from the list is dead code, which the lints refuse.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        /// The tests above, on SQLite.
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::suite::support::on_sqlite(super::$name).await;
                }
            )*
        }

        /// The tests above, on PostgreSQL.
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    $crate::suite::support::on_postgres(super::$name).await;
                }
            )*
        }
    };
}
pub(crate) use store_tests;

/// Runs `test` on a fresh SQLite file, in a directory that does not exist
/// yet, so every test also exercises creating it.
pub(crate) async fn on_sqlite<Test, Fut>(test: Test)
where
    Test: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = TempDir::new().expect("create temp dir");
    let path = dir.path().join("data/sori.db");
    test(TestDb {
        place: Place::Sqlite { path, _dir: dir },
    })
    .await;
}

/// Runs `test` in a fresh schema of the database named by
/// `SORI_TEST_POSTGRES` (default [`DEFAULT_POSTGRES_URL`]), and drops the
/// schema afterwards, also when the test fails.
///
/// With no server to reach, the test prints `SKIPPED (no PostgreSQL at
/// <url>): <error>` and passes, so `cargo test` works on a machine without
/// PostgreSQL; but with `CI=true` it fails, since CI machines have one and
/// a suite that silently skipped there would prove nothing.
pub(crate) async fn on_postgres<Test, Fut>(test: Test)
where
    Test: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server_url =
        std::env::var("SORI_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let mut admin = match connect_admin(&server_url).await {
        Ok(admin) => admin,
        Err(err) => {
            let url = redacted(&server_url);
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("no PostgreSQL at {url}, which CI=true requires: {err}");
            }
            // Straight to the process's stderr, past the test harness's
            // output capture, so a skip shows in a plain `cargo test`.
            // The harness names each test's thread after the test.
            let test_name = std::thread::current().name().unwrap_or("").to_owned();
            let _ = writeln!(
                std::io::stderr(),
                "{test_name}: SKIPPED (no PostgreSQL at {url}): {err}"
            );
            return;
        }
    };
    // A schema of its own rather than a database: as fresh, but dropping a
    // database makes PostgreSQL checkpoint (about a second each, one at a
    // time), which made the suite ten times slower. The store creates its
    // tables, and sqlx its migrations table, in the first schema of the
    // search path, which the URL sets. Unique among concurrent tests and
    // runs; PostgreSQL folds the unquoted name to lower case, which it is.
    let schema = format!("sori_test_{:016x}", OsRng.next_u64());
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .expect("create the test schema");
    let db = TestDb {
        place: Place::Postgres {
            url: with_param(&server_url, &format!("options[search_path]={schema}")),
        },
    };
    // On a task of its own, so a failed assertion comes back here as an
    // error and the schema is still dropped.
    let res = tokio::spawn(test(db)).await;
    let dropped = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    if let Err(err) = res {
        std::panic::resume_unwind(err.into_panic());
    }
    dropped.expect("drop the test schema");
}

/// Connects to the test server's maintenance database, or says why not.
async fn connect_admin(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer in {CONNECT_TIMEOUT:?}")),
    }
}

/// `url` with `param` (`key=value`) added to its parameters.
pub(crate) fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// `url` with its path (the database name) replaced by `database`, keeping
/// the credentials and parameters.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |idx| idx + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |idx| authority_start + idx);
    let mut with = format!("{}/{database}", &base[..path_start]);
    if let Some(params) = params {
        with.push('?');
        with.push_str(params);
    }
    with
}

/// `url` with any password replaced, for messages.
fn redacted(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |idx| idx + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |idx| authority_start + idx);
    let authority = &url[authority_start..authority_end];
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            format!(
                "{}{user}:***@{host}{}",
                &url[..authority_start],
                &url[authority_end..]
            )
        }
        _ => url.to_owned(),
    }
}

/// An account to create, with a fixed password hash.
pub(crate) fn new_account(username: &str, display_name: &str) -> NewAccount {
    NewAccount {
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
    }
}

/// Registers `username`, with its upper-case form as the display name.
pub(crate) async fn register(store: &impl Deref<Target = dyn Store>, username: &str) -> Account {
    store
        .create_account(new_account(username, &username.to_uppercase()))
        .await
        .expect("register")
}

#[test]
fn urls_for_the_test_databases() {
    let cases = [
        (
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@127.0.0.1:5432/sori_x",
        ),
        (
            "postgres://u:p%2Fw@db.example:5432/test?sslmode=require",
            "postgres://u:p%2Fw@db.example:5432/sori_x?sslmode=require",
        ),
        ("postgres://localhost", "postgres://localhost/sori_x"),
        (
            "postgresql://localhost?sslmode=disable",
            "postgresql://localhost/sori_x?sslmode=disable",
        ),
    ];
    for (url, want) in cases {
        assert_eq!(with_database(url, "sori_x"), want, "{url}");
    }
    assert_eq!(
        redacted("postgres://u:secret@db.example/test?sslmode=require"),
        "postgres://u:***@db.example/test?sslmode=require"
    );
    assert_eq!(
        redacted("postgres://postgres@127.0.0.1:5432/test"),
        "postgres://postgres@127.0.0.1:5432/test"
    );
}
