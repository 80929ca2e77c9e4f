//! Sign-up, login and display names, against a real SQLite store.

use std::sync::Arc;

use sori_client::Event;
use sori_core::config::DuplicateLogin;
use sori_protocol::pb::ErrorCode;
use sori_store::SqliteStore;

use crate::support::{self, PASSWORD, expect_kicked, next, server_code};

#[tokio::test]
async fn register_then_login_returns_the_user_and_a_session_id() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    client
        .register("alice", PASSWORD, "Alice A.")
        .await
        .unwrap();
    let ok = client.login("alice", PASSWORD).await.unwrap();
    let user = ok.user.unwrap();
    assert_eq!(
        (user.username.as_str(), user.display_name.as_str()),
        ("alice", "Alice A.")
    );
    assert_ne!(ok.session_id, 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn display_name_defaults_to_the_username_and_usernames_ignore_case() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    client.register("Bob_1", PASSWORD, "").await.unwrap();
    let ok = client.login("bob_1", PASSWORD).await.unwrap();
    assert_eq!(ok.user.unwrap().display_name, "Bob_1");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    client.register("carol", PASSWORD, "").await.unwrap();
    assert_eq!(
        server_code(client.login("carol", "wrong password").await),
        ErrorCode::BadCredentials
    );
    assert_eq!(
        server_code(client.login("nobody", PASSWORD).await),
        ErrorCode::BadCredentials
    );
    // A refused login leaves the connection usable.
    client.login("carol", PASSWORD).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn taken_names_are_refused_in_any_case() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    client.register("dave", PASSWORD, "Dave").await.unwrap();
    assert_eq!(
        server_code(client.register("DAVE", PASSWORD, "Other").await),
        ErrorCode::UsernameTaken
    );
    assert_eq!(
        server_code(client.register("dave2", PASSWORD, "dave").await),
        ErrorCode::DisplayNameTaken
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_names_and_passwords_get_their_own_codes() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    let cases: &[(&str, &str, &str, ErrorCode)] = &[
        ("ab", PASSWORD, "", ErrorCode::InvalidUsername),
        ("has space", PASSWORD, "", ErrorCode::InvalidUsername),
        (
            "robert'); DROP TABLE accounts;--",
            PASSWORD,
            "",
            ErrorCode::InvalidUsername,
        ),
        (&"x".repeat(21), PASSWORD, "", ErrorCode::InvalidUsername),
        ("erin", "short", "", ErrorCode::InvalidPassword),
        ("erin", PASSWORD, " lead", ErrorCode::InvalidDisplayName),
        ("erin", PASSWORD, "bell\u{7}", ErrorCode::InvalidDisplayName),
    ];
    for (username, password, display_name, code) in cases {
        let res = client.register(username, password, display_name).await;
        assert_eq!(
            server_code(res),
            *code,
            "register {username:?} / {display_name:?}"
        );
    }
    // A Korean display name is fine.
    client.register("erin", PASSWORD, "김철수").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn requests_before_login_are_refused_without_disconnecting() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    assert_eq!(
        server_code(client.chat("hi").await),
        ErrorCode::NotAuthenticated
    );
    assert_eq!(
        server_code(client.whisper("x", "hi").await),
        ErrorCode::NotAuthenticated
    );
    assert_eq!(
        server_code(client.list_users().await),
        ErrorCode::NotAuthenticated
    );
    assert_eq!(
        server_code(client.set_display_name("X").await),
        ErrorCode::NotAuthenticated
    );
    client.ping().await.unwrap();
    client.register("frank", PASSWORD, "").await.unwrap();
    client.login("frank", PASSWORD).await.unwrap();
    assert_eq!(
        server_code(client.login("frank", PASSWORD).await),
        ErrorCode::AlreadyAuthenticated
    );
    assert_eq!(
        server_code(client.register("frank2", PASSWORD, "").await),
        ErrorCode::AlreadyAuthenticated
    );
    client.chat("now it works").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hello_reports_the_servers_limits() {
    let server = support::start(support::config()).await;
    let (client, _events) = server.connect().await;
    let welcome = client.hello().await.unwrap();
    assert_eq!(welcome.protocol_version, 1);
    assert_eq!(welcome.max_frame_len, 16 * 1024);
    assert_eq!(welcome.max_text_len, 2000);
    assert_eq!(welcome.login_timeout_ms, 10_000);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_newer_login_replaces_the_older_session_by_default() {
    let server = support::start(support::config()).await;
    let (watcher, mut watcher_events) = server.user("watcher").await;
    let (old, mut old_events) = server.user("gina").await;
    assert!(
        matches!(next(&mut watcher_events).await, Event::UserJoined(u) if u.username == "gina")
    );

    let (new, _new_events) = server.connect().await;
    new.login("gina", PASSWORD).await.unwrap();
    expect_kicked(&mut old_events, ErrorCode::LoggedInElsewhere).await;
    assert!(old.chat("still here?").await.is_err());

    new.chat("from the new session").await.unwrap();
    // The user never went offline: the watcher sees the chat, no Left/Joined.
    match next(&mut watcher_events).await {
        Event::Chat(msg) => assert_eq!(msg.text, "from the new session"),
        other => panic!("expected the chat, got {other:?}"),
    }
    let users = watcher.list_users().await.unwrap();
    assert_eq!(users.iter().filter(|u| u.username == "gina").count(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reject_policy_refuses_the_newer_login() {
    let config = sori_server::Config {
        duplicate_login: DuplicateLogin::Reject,
        ..support::config()
    };
    let server = support::start(config).await;
    let (old, _old_events) = server.user("hank").await;
    let (new, _new_events) = server.connect().await;
    assert_eq!(
        server_code(new.login("hank", PASSWORD).await),
        ErrorCode::AlreadyLoggedIn
    );
    old.chat("still mine").await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn display_names_are_unique_and_changeable() {
    let server = support::start(support::config()).await;
    let (ivy, _ivy_events) = server.user("ivy").await;
    let (jack, mut jack_events) = server.user("jack").await;
    assert_eq!(
        server_code(ivy.set_display_name("JACK").await),
        ErrorCode::DisplayNameTaken
    );
    assert_eq!(
        server_code(ivy.set_display_name("").await),
        ErrorCode::InvalidDisplayName
    );
    ivy.set_display_name("Ivy the Brave").await.unwrap();
    ivy.chat("renamed").await.unwrap();
    let msg = crate::support::next_chat(&mut jack_events).await;
    assert_eq!(msg.from.unwrap().display_name, "Ivy the Brave");
    let users = jack.list_users().await.unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.username == "ivy" && u.display_name == "Ivy the Brave")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_on_the_same_sqlite_file_keeps_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("sori.db");

    let store = SqliteStore::open(&path).await.unwrap();
    let server = support::start_with(support::config(), Arc::new(store)).await;
    let (client, _events) = server.connect().await;
    client.register("kate", PASSWORD, "Kate").await.unwrap();
    drop(client);
    server.stop().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let server = support::start_with(support::config(), Arc::new(store)).await;
    let (client, _events) = server.connect().await;
    assert_eq!(
        server_code(client.register("kate", PASSWORD, "").await),
        ErrorCode::UsernameTaken
    );
    let ok = client.login("kate", PASSWORD).await.unwrap();
    assert_eq!(ok.user.unwrap().display_name, "Kate");
    server.stop().await.unwrap();
}
