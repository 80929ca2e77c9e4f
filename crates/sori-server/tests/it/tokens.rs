//! Session tokens: a reload or a restart logs in again without the
//! password; Logout, bans, admins and password changes revoke tokens; they
//! expire; they can be turned off; they are neither stored nor logged as
//! sent.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sori_client::{Client, ClientError, ConnectOptions, Session};
use sori_protocol::Message;
use sori_protocol::pb::{self, ErrorCode};
use sori_store::{SqliteStore, TokenHash};
use tempfile::TempDir;

use crate::support::{self, PASSWORD, TestServer, expect_kicked, server_code};

/// The password a ChangePassword sets.
const NEW_PASSWORD: &str = "a new and better phrase";

/// Thirty days, the default lifetime, in milliseconds.
const THIRTY_DAYS_MS: i64 = 30 * 24 * 60 * 60 * 1000;

fn config() -> sori_server::Config {
    sori_server::Config {
        admins: vec!["boss".to_owned()],
        ..support::config()
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("ms since 1970 fit an i64")
}

/// Registers `name` and logs in with the password; returns the client and
/// its LoginOk.
async fn password_login(server: &TestServer, name: &str) -> (Client, pb::LoginOk) {
    let (client, _events) = server.connect().await;
    client.register(name, PASSWORD, "").await.expect("register");
    let ok = client.login(name, PASSWORD).await.expect("login");
    (client, ok)
}

/// Logs in by token on a new connection.
async fn token_login(
    server: &TestServer,
    name: &str,
    token: &str,
) -> (Client, Result<pb::LoginOk, ClientError>) {
    let (client, _events) = server.connect().await;
    let res = client.login_with_token(name, token).await;
    (client, res)
}

/// What a token login on a new connection is answered with, as an error
/// code (`Unspecified` for success).
async fn token_code(server: &TestServer, name: &str, token: &str) -> ErrorCode {
    match token_login(server, name, token).await.1 {
        Ok(_) => ErrorCode::Unspecified,
        err => server_code(err),
    }
}

async fn admin(client: &Client, msg: Message) -> Result<(), ClientError> {
    client.request(msg).await.map(|_| ())
}

fn revoke(username: &str) -> Message {
    Message::AdminRevokeTokens(pb::AdminRevokeTokens {
        username: username.into(),
    })
}

#[tokio::test]
async fn a_token_logs_in_on_a_new_connection_without_the_password() {
    let server = support::start(config()).await;
    let before = now_ms();
    let (_first, ok) = password_login(&server, "alice").await;
    assert!(ok.session_token.len() >= 22, "128 bits or more of base64");
    let lifetime = ok.token_expires_ms - before;
    assert!(
        (THIRTY_DAYS_MS..THIRTY_DAYS_MS + 60_000).contains(&lifetime),
        "expires in 30 days, not {lifetime} ms"
    );

    // A reload: the same token back, its expiry unchanged.
    let (reloaded, res) = token_login(&server, "alice", &ok.session_token).await;
    let again = res.expect("a token login");
    assert_eq!(again.user.expect("a user").username, "alice");
    assert_eq!(again.session_token, ok.session_token);
    assert_eq!(again.token_expires_ms, ok.token_expires_ms);
    reloaded.chat("back without a password").await.unwrap();
    // And again: a token login does not use the token up.
    assert_eq!(
        token_code(&server, "ALICE", &ok.session_token).await,
        ErrorCode::Unspecified,
        "usernames match in any case"
    );

    // A password login always makes a new token; the old one still works.
    let (third, _events) = server.connect().await;
    let newer = third.login("alice", PASSWORD).await.unwrap();
    assert_ne!(newer.session_token, ok.session_token);
    assert_eq!(
        token_code(&server, "alice", &ok.session_token).await,
        ErrorCode::Unspecified
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_token_that_is_not_the_accounts_is_refused() {
    let server = support::start(config()).await;
    let (_alice, ok) = password_login(&server, "alice").await;
    let (_bob, _) = password_login(&server, "bob").await;
    let token = ok.session_token.as_str();
    let mut near = token.to_owned();
    near.pop();
    for (name, token) in [
        ("bob", token),
        ("nobody", token),
        ("alice", near.as_str()),
        ("alice", "not a token at all"),
    ] {
        assert_eq!(
            token_code(&server, name, token).await,
            ErrorCode::TokenInvalid,
            "{name} with {token:?}"
        );
    }
    // A password and a token at once: which one is meant is unclear.
    let (client, _events) = server.connect().await;
    let both = Message::Login(pb::Login {
        username: "alice".into(),
        password: PASSWORD.into(),
        token: ok.session_token.clone(),
    });
    assert_eq!(
        server_code(client.request(both).await),
        ErrorCode::BadCredentials
    );
    // TOKEN_INVALID does not count as a failed password: the password
    // still logs in at once.
    client.login("alice", PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn logout_revokes_that_sessions_token_only() {
    let server = support::start(config()).await;
    let (first, first_ok) = password_login(&server, "alice").await;
    first.close();
    let (second, mut second_events) = server.connect().await;
    let second_ok = second.login("alice", PASSWORD).await.unwrap();
    second.logout().await.unwrap();
    expect_kicked(&mut second_events, ErrorCode::LoggedOut).await;
    assert_eq!(
        token_code(&server, "alice", &second_ok.session_token).await,
        ErrorCode::TokenInvalid
    );
    // Another device's token is not that session's.
    assert_eq!(
        token_code(&server, "alice", &first_ok.session_token).await,
        ErrorCode::Unspecified
    );

    // A session that logged in by token revokes that token at logout.
    let (by_token, res) = token_login(&server, "alice", &first_ok.session_token).await;
    res.unwrap();
    by_token.logout().await.unwrap();
    assert_eq!(
        token_code(&server, "alice", &first_ok.session_token).await,
        ErrorCode::TokenInvalid
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn many_logouts_at_once_each_revoke_their_token() {
    // Logouts that arrive together share the revoker's transactions; each
    // is still answered Ok only once its own token is gone.
    const N_SESSIONS: usize = 64;
    let server = support::start(config()).await;
    let mut sessions = Vec::new();
    for idx in 0..N_SESSIONS {
        let name = format!("user{idx}");
        let (client, ok) = password_login(&server, &name).await;
        sessions.push((name, client, ok.session_token));
    }
    let mut logouts = tokio::task::JoinSet::new();
    for (name, client, token) in sessions {
        logouts.spawn(async move {
            let res = client.logout().await;
            (name, token, res)
        });
    }
    let mut revoked = Vec::new();
    while let Some(joined) = logouts.join_next().await {
        let (name, token, res) = joined.expect("a logout task does not panic");
        res.unwrap_or_else(|err| panic!("{name}'s Logout: {err:?}"));
        revoked.push((name, token));
    }
    assert_eq!(revoked.len(), N_SESSIONS);
    for (name, token) in &revoked {
        assert_eq!(
            token_code(&server, name, token).await,
            ErrorCode::TokenInvalid,
            "{name}'s token"
        );
    }
    // The password still logs in, with a new token.
    let (again, _events) = server.connect().await;
    let ok = again.login("user0", PASSWORD).await.unwrap();
    assert_ne!(ok.session_token, revoked[0].1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_ban_revokes_every_token_of_the_account() {
    let server = support::start(config()).await;
    let (boss, _) = password_login(&server, "boss").await;
    let (_victim, ok) = password_login(&server, "victim").await;
    let ban = Message::AdminBan(pb::AdminBan {
        username: "victim".into(),
        ip: String::new(),
        duration_secs: 0,
        reason: "spam".into(),
    });
    admin(&boss, ban).await.unwrap();
    assert_eq!(
        token_code(&server, "victim", &ok.session_token).await,
        ErrorCode::TokenInvalid
    );
    // Lifting the ban does not bring the tokens back.
    let unban = Message::AdminUnban(pb::AdminUnban {
        username: "victim".into(),
        ip: String::new(),
    });
    admin(&boss, unban).await.unwrap();
    assert_eq!(
        token_code(&server, "victim", &ok.session_token).await,
        ErrorCode::TokenInvalid
    );
    let (client, _events) = server.connect().await;
    let fresh = client.login("victim", PASSWORD).await.unwrap();
    assert_eq!(
        token_code(&server, "victim", &fresh.session_token).await,
        ErrorCode::Unspecified
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_admin_revokes_every_token_of_an_account() {
    let server = support::start(config()).await;
    let (boss, _) = password_login(&server, "boss").await;
    let (victim, ok) = password_login(&server, "victim").await;
    let (_other, other_ok) = password_login(&server, "bystander").await;

    assert_eq!(
        server_code(admin(&victim, revoke("bystander")).await),
        ErrorCode::NotAdmin
    );
    assert_eq!(
        server_code(admin(&boss, revoke("ghost")).await),
        ErrorCode::NoSuchUser
    );
    admin(&boss, revoke("victim")).await.unwrap();
    assert_eq!(
        token_code(&server, "victim", &ok.session_token).await,
        ErrorCode::TokenInvalid
    );
    assert_eq!(
        token_code(&server, "bystander", &other_ok.session_token).await,
        ErrorCode::Unspecified,
        "only that account's"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_admin_revocation_leaves_the_session_online() {
    let server = support::start(config()).await;
    let (boss, _) = password_login(&server, "boss").await;
    let (victim, _) = password_login(&server, "victim").await;
    admin(&boss, revoke("victim")).await.unwrap();
    victim.chat("still here").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn change_password_revokes_the_other_tokens_and_returns_a_working_one() {
    let server = support::start(config()).await;
    let (first, first_ok) = password_login(&server, "alice").await;
    first.close();
    let (client, _events) = server.connect().await;
    let second_ok = client.login("alice", PASSWORD).await.unwrap();

    assert_eq!(
        server_code(client.change_password("wrong password", NEW_PASSWORD).await),
        ErrorCode::BadCredentials
    );
    assert_eq!(
        server_code(client.change_password(PASSWORD, "short").await),
        ErrorCode::InvalidPassword
    );
    // Refused changes change nothing.
    assert_eq!(
        token_code(&server, "alice", &first_ok.session_token).await,
        ErrorCode::Unspecified
    );
    // That token login replaced `client`'s session; log in there again.
    let (client, _events) = server.connect().await;
    let third_ok = client.login("alice", PASSWORD).await.unwrap();

    let before = now_ms();
    let changed = client
        .change_password(PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();
    assert!(!changed.session_token.is_empty());
    assert!(changed.token_expires_ms >= before + THIRTY_DAYS_MS);
    for old in [&first_ok, &second_ok, &third_ok] {
        assert_ne!(changed.session_token, old.session_token);
        assert_eq!(
            token_code(&server, "alice", &old.session_token).await,
            ErrorCode::TokenInvalid
        );
    }
    assert_eq!(
        token_code(&server, "alice", &changed.session_token).await,
        ErrorCode::Unspecified
    );
    let (again, _events) = server.connect().await;
    assert_eq!(
        server_code(again.login("alice", PASSWORD).await),
        ErrorCode::BadCredentials
    );
    again.login("alice", NEW_PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let server = support::start(sori_server::Config {
        session_token_ttl: Some(Duration::from_secs(1)),
        ..config()
    })
    .await;
    let before = now_ms();
    let (_client, ok) = password_login(&server, "alice").await;
    assert!(ok.token_expires_ms >= before + 1000);
    assert!(ok.token_expires_ms <= now_ms() + 1000);
    // Poll, within a bound, until the server refuses it; it must not refuse
    // it early.
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let code = token_code(&server, "alice", &ok.session_token).await;
        let seen_at = now_ms();
        if code == ErrorCode::TokenInvalid {
            assert!(
                seen_at >= ok.token_expires_ms,
                "refused {} ms before it expired",
                ok.token_expires_ms - seen_at
            );
            break;
        }
        assert_eq!(code, ErrorCode::Unspecified);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the token still works long after it expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tokens_turned_off_give_an_empty_token() {
    let server = support::start(sori_server::Config {
        session_token_ttl: None,
        ..config()
    })
    .await;
    let (client, ok) = password_login(&server, "alice").await;
    assert_eq!(ok.session_token, "");
    assert_eq!(ok.token_expires_ms, 0);
    assert_eq!(
        token_code(&server, "alice", "any token").await,
        ErrorCode::TokenInvalid
    );
    // The login above replaced `client`'s session only if it succeeded.
    let changed = client
        .change_password(PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();
    assert_eq!(changed, pb::PasswordChanged::default());
    server.stop().await.unwrap();
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bytes of every file in `dir` (the database, its WAL and its shared
/// memory), whatever is or is not checkpointed yet.
fn files_in(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the data dir") {
        let path = entry.expect("a dir entry").path();
        if path.is_file() {
            all.extend(std::fs::read(&path).expect("read a database file"));
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// A current-thread runtime (`#[tokio::test]`'s default) runs the server's
/// tasks on this thread, so a thread-local subscriber sees all its logs.
#[tokio::test]
async fn a_token_is_never_stored_as_sent_nor_logged() {
    // While only one dispatcher is registered, tracing-core decides whether
    // a log statement is wanted by the default of whichever thread reaches
    // it first: another test's thread, with no subscriber, would switch it
    // off for this one too. A second, idle dispatcher makes it ask every
    // registered one.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let dir = TempDir::new().unwrap();
    let store = SqliteStore::open(dir.path().join("sori.db")).await.unwrap();
    let server = support::start_with(config(), Arc::new(store.clone())).await;
    let (client, ok) = password_login(&server, "alice").await;
    let (by_token, res) = token_login(&server, "alice", &ok.session_token).await;
    let reloaded = res.unwrap();
    let changed = by_token
        .change_password(PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();
    drop((client, by_token));
    server.stop().await.unwrap();
    // Closed here, not in the background as the server drops it: the
    // checkpoint moves the WAL into the database file while it runs.
    store.close().await;

    let tokens = [
        &ok.session_token,
        &reloaded.session_token,
        &changed.session_token,
    ];
    let stored = files_in(dir.path());
    // The newest token's row is there, as its SHA-256 in hex...
    assert!(
        contains(&stored, &TokenHash::of(&changed.session_token).to_hex()),
        "the token's hash is stored"
    );
    // ...and no token, as sent, anywhere in the files.
    for token in tokens {
        assert!(!contains(&stored, token), "a token is stored as sent");
    }

    let logs = logs.0.lock().unwrap().clone();
    let logs = String::from_utf8_lossy(&logs);
    assert!(logs.contains("logged in"), "the logs were captured: {logs}");
    assert!(logs.contains("password changed"), "{logs}");
    for token in tokens {
        assert!(!logs.contains(token.as_str()), "a token is logged: {logs}");
    }
}

#[tokio::test]
async fn a_client_session_reconnects_with_its_token_not_its_password() {
    let server = support::start(config()).await;
    let (setup, _) = password_login(&server, "alice").await;
    drop(setup);
    let (mut session, events) =
        Session::connect(server.addr, ConnectOptions::default(), "alice", PASSWORD)
            .await
            .unwrap();
    let token = session.token().expect("the server gave a token").to_owned();
    assert_eq!(session.login_ok().session_token, token);
    assert!(!format!("{session:?}").contains(&token));

    session.client().close();
    session.reconnect().await.unwrap();
    assert_eq!(session.login_ok().session_token, token, "the same token");
    session.chat("reconnected").await.unwrap();

    // After a password change the session holds the new token, and
    // reconnects with it: the old one is revoked.
    let changed = session
        .change_password(PASSWORD, NEW_PASSWORD)
        .await
        .unwrap();
    assert_eq!(session.token(), Some(changed.session_token.as_str()));
    session.client().close();
    session.reconnect().await.unwrap();
    session.chat("reconnected again").await.unwrap();

    // A restarted client resumes from the kept token alone.
    let kept = session.token().unwrap().to_owned();
    drop((session, events));
    let (resumed, _events) =
        Session::connect_with_token(server.addr, ConnectOptions::default(), "alice", &kept)
            .await
            .unwrap();
    resumed.chat("restarted").await.unwrap();
    resumed.client().logout().await.unwrap();
    let refused =
        Session::connect_with_token(server.addr, ConnectOptions::default(), "alice", &kept)
            .await
            .map(|_| ());
    assert_eq!(server_code(refused), ErrorCode::TokenInvalid);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn nothing_sent_after_a_logout_is_answered() {
    // A Logout holds back every later frame of its session, as any request
    // that waits for the store does, and the session ends with it: a Ping
    // sent right behind it gets no Pong.
    let server = support::start(config()).await;
    let (first, _) = password_login(&server, "carol").await;
    first.close();
    let mut conn = server.raw().await;
    let login = Message::Login(pb::Login {
        username: "carol".into(),
        password: PASSWORD.into(),
        token: String::new(),
    });
    conn.write_frame(1, &login).await.unwrap();
    loop {
        match support::read_raw(&mut conn).await {
            Some(frame) if frame.request_id == 1 => {
                assert!(matches!(frame.message, Message::LoginOk(_)), "{frame:?}");
                break;
            }
            Some(_) => {}
            None => panic!("closed during login"),
        }
    }
    conn.write_frame(2, &Message::Logout(pb::Logout {}))
        .await
        .unwrap();
    conn.write_frame(3, &Message::Ping(pb::Ping { nonce: 7 }))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(frame) = support::read_raw(&mut conn).await {
        seen.push(frame);
    }
    assert!(
        seen.iter()
            .any(|f| f.request_id == 2 && matches!(f.message, Message::Ok(_))),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|f| matches!(f.message, Message::Pong(_))),
        "a frame after the Logout was answered: {seen:?}"
    );
    match &seen.last().map(|f| &f.message) {
        Some(Message::Kicked(kicked)) => assert_eq!(kicked.code, ErrorCode::LoggedOut as i32),
        other => panic!("the session did not end with Kicked LOGGED_OUT: {other:?}"),
    }
    server.stop().await.unwrap();
}
