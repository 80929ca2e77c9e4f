//! Whispers: delivered live through the bus, stored for users offline up
//! to their mailbox's size, refused to oneself and to nobody.

use sori_protocol::Message;
use sori_protocol::pb::ErrorCode;

use super::*;

#[tokio::test]
async fn a_whisper_to_someone_online_is_delivered_at_once() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;

    // Usernames are case-insensitive.
    h.core
        .whisper(&alice.caller(7), "BOB", "psst".into())
        .await
        .expect("whisper");

    let got = bob.rec().first(of!(WhisperMessage)).expect("delivered");
    assert_eq!(got.from, Some(alice.info()));
    assert_eq!(got.text, "psst");
    assert!(!got.offline);
    let Some(Message::WhisperAck(ack)) = alice.rec().answer(7) else {
        panic!("acked");
    };
    assert!(!ack.stored, "delivered live, not stored");
    assert_eq!(ack.timestamp_ms, got.timestamp_ms);
    assert!(carol.rec().take().is_empty(), "nobody else hears it");
}

#[tokio::test]
async fn a_whisper_to_someone_offline_waits_for_their_login() {
    let h = Harness::with(|s| s.max_offline_whispers = 2).await;
    let alice = h.user("alice").await;
    h.register("bob").await;

    for (request_id, text) in [(1, "one"), (2, "two")] {
        h.core
            .whisper(&alice.caller(request_id), "bob", text.into())
            .await
            .expect("stored");
        let Some(Message::WhisperAck(ack)) = alice.rec().answer(request_id) else {
            panic!("acked");
        };
        assert!(ack.stored);
    }
    let refusal = h
        .core
        .whisper(&alice.caller(3), "bob", "three".into())
        .await
        .expect_err("mailbox full");
    assert_eq!(refusal.code, ErrorCode::MailboxFull);

    let bob = h.login("bob").await.expect("login");
    let Some(Message::LoginOk(ok)) = bob.rec().answer(1) else {
        panic!("logged in");
    };
    assert_eq!(ok.offline_whispers, 2);
    let waiting = bob.rec().all(of!(WhisperMessage));
    let texts: Vec<&str> = waiting.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"], "oldest first");
    assert!(
        waiting
            .iter()
            .all(|w| w.offline && w.from == Some(alice.info()))
    );
    // Delivered once: the next login finds none, and the mailbox has room.
    let pushed = bob.rec().messages();
    let login_ok = pushed
        .iter()
        .position(|(_, m)| matches!(m, Message::LoginOk(_)));
    let first_whisper = pushed
        .iter()
        .position(|(_, m)| matches!(m, Message::WhisperMessage(_)));
    assert!(login_ok < first_whisper, "LoginOk comes first");
    h.core.logout(&bob.dyn_peer, &bob.session);
    let again = h.login("bob").await.expect("login");
    assert!(again.rec().all(of!(WhisperMessage)).is_empty());
}

#[tokio::test]
async fn whisper_refusals() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.register("bob").await;
    let check = async |to: &str, text: &str, expected: ErrorCode| {
        let res = h.core.whisper(&alice.caller(1), to, text.into()).await;
        assert_eq!(code(res), expected, "to {to:?}: {text:?}");
    };
    check("alice", "hi me", ErrorCode::WhisperToSelf).await;
    check("ALICE", "hi me", ErrorCode::WhisperToSelf).await;
    check("nobody", "hi", ErrorCode::NoSuchUser).await;
    check("not a name!", "hi", ErrorCode::NoSuchUser).await;
    check("bob", "", ErrorCode::EmptyMessage).await;
    check("bob", "\u{7}", ErrorCode::InvalidText).await;
    assert!(alice.rec().take().is_empty(), "no ack for a refusal");
}

#[tokio::test]
async fn without_offline_whispers_an_offline_user_is_refused() {
    let h = Harness::with(|s| s.offline_whispers = false).await;
    let alice = h.user("alice").await;
    h.register("bob").await;
    let res = h.core.whisper(&alice.caller(1), "bob", "hi".into()).await;
    assert_eq!(code(res), ErrorCode::UserOffline);
}
