//! Rooms that gather their messages for the edge's write pass: nothing is
//! pushed before the flush, then one push per recipient, in order, and
//! every promise about order still holds.

use std::sync::atomic::AtomicUsize;

use super::*;
use crate::room::Pacer;

/// A pacer that counts how often it was asked for a flush.
#[derive(Default)]
struct Asked(AtomicUsize);

impl Pacer for Asked {
    fn gathered(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A core whose rooms gather, its pacer, and three members of "rust".
async fn gathering() -> (Harness, Arc<Asked>, [User; 3]) {
    let h = Harness::new().await;
    let users = h.room_of_three().await;
    let asked = Arc::new(Asked::default());
    h.core.gather_room_messages(asked.clone());
    (h, asked, users)
}

/// What `user` was pushed, oldest first, as `name` names it (skipping
/// what it does not name).
fn kinds(user: &User, name: impl Fn(&Message) -> Option<String>) -> Vec<String> {
    user.rec()
        .messages()
        .iter()
        .filter_map(|(_, msg)| name(msg))
        .collect()
}

#[tokio::test]
async fn gathered_messages_reach_each_member_at_the_flush_in_one_push() {
    let (h, asked, [alice, bob, carol]) = gathering().await;
    let pushes_before = carol.rec().n_pushes();
    for round in 0..3 {
        h.say(&alice, "rust", &format!("alice {round}"))
            .await
            .expect("chat");
        h.say(&bob, "rust", &format!("bob {round}"))
            .await
            .expect("chat");
    }
    assert!(
        carol.rec().all(of!(ChatMessage)).is_empty(),
        "nothing is pushed before the flush"
    );
    assert_eq!(
        asked.0.load(Ordering::Relaxed),
        1,
        "the pacer is asked once per flush"
    );

    h.core.flush_gathered();
    assert_eq!(carol.received_seqs("rust"), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        carol.rec().n_pushes() - pushes_before,
        1,
        "one push for the six"
    );
    // A sender gets the others' messages, in order, never its own.
    assert_eq!(alice.received_seqs("rust"), [2, 4, 6]);
    assert_eq!(bob.received_seqs("rust"), [1, 3, 5]);
    let texts: Vec<String> = bob
        .rec()
        .all(of!(ChatMessage))
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["alice 0", "alice 1", "alice 2"]);

    // The next message asks for the next flush.
    h.say(&alice, "rust", "again").await.expect("chat");
    assert_eq!(asked.0.load(Ordering::Relaxed), 2);
    h.core.flush_gathered();
    assert_eq!(carol.received_seqs("rust"), [1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn a_newcomer_gets_no_message_numbered_before_it_came() {
    let (h, _, [alice, _, _]) = gathering().await;
    h.say(&alice, "rust", "before dave").await.expect("chat");
    h.say(&alice, "rust", "also before").await.expect("chat");
    let dave = h.user("dave").await;
    let joined = h.join(&dave, "rust").await;
    assert_eq!(joined.last_seq, 2);
    h.say(&alice, "rust", "after dave").await.expect("chat");
    h.core.flush_gathered();
    assert_eq!(
        dave.received_seqs("rust"),
        [3],
        "the first live message is the one after last_seq"
    );
}

#[tokio::test]
async fn a_member_who_leaves_gets_what_came_while_it_was_there() {
    let (h, _, [alice, bob, carol]) = gathering().await;
    h.say(&alice, "rust", "bob is still here")
        .await
        .expect("chat");
    h.core.leave(&bob.caller(7), "rust").await.expect("leave");
    h.say(&alice, "rust", "bob is gone").await.expect("chat");
    h.core.flush_gathered();
    assert_eq!(bob.received_seqs("rust"), [1]);
    // Carol sees the message, then that bob left, then the next message.
    let order = kinds(&carol, |msg| match msg {
        Message::ChatMessage(_) => Some("chat".into()),
        Message::MemberLeft(_) => Some("left".into()),
        _ => None,
    });
    assert_eq!(order, ["chat", "left", "chat"]);
}

#[tokio::test]
async fn a_whisper_comes_after_the_lobby_messages_handled_before_it() {
    let (h, _, [alice, bob, _]) = gathering().await;
    h.say(&alice, "", "in the lobby").await.expect("chat");
    h.core
        .whisper(&alice.caller(9), "bob", "psst".into())
        .await
        .expect("whisper");
    let order = kinds(&bob, |msg| match msg {
        Message::ChatMessage(_) => Some("lobby".into()),
        Message::WhisperMessage(_) => Some("whisper".into()),
        _ => None,
    });
    assert_eq!(order, ["lobby", "whisper"]);
}

#[tokio::test]
async fn an_ack_comes_after_the_lower_numbers_its_sender_receives() {
    let (h, _, [alice, bob, _]) = gathering().await;
    h.say(&bob, "rust", "first").await.expect("chat");
    let request = h.say(&alice, "rust", "second").await.expect("chat");
    // The ack waits for the disk, then for the next flush, which pushes
    // what the rooms gathered first.
    let answered = || alice.rec().answer(request);
    eventually("the ack on disk", || {
        assert!(answered().is_none(), "an ack before the flush");
        h.core.hub.gathering.is_waiting().then_some(())
    })
    .await;
    h.core.flush_gathered();
    let ack = alice.ack(request).await;
    assert_eq!(ack.seq, 2);
    let order = kinds(&alice, |msg| match msg {
        Message::ChatMessage(m) => Some(format!("message {}", m.seq)),
        Message::ChatAck(a) => Some(format!("ack {}", a.seq)),
        _ => None,
    });
    assert_eq!(order, ["message 1", "ack 2"]);
}
