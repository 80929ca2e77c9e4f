//! The app as a state machine: keys and network events in, requests out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sori_client::Event;
use sori_protocol::pb;

use super::*;
use crate::conversation::whisper_key;
use crate::exchange::NetEvent;
use crate::timeline::EntryKind;
use crate::transcript;

fn user(username: &str, display_name: &str) -> pb::UserInfo {
    pb::UserInfo {
        username: username.into(),
        display_name: display_name.into(),
    }
}

fn message(room: &str, seq: u64, from: &str, text: &str) -> pb::ChatMessage {
    pb::ChatMessage {
        room: room.into(),
        seq,
        timestamp_ms: 1_000 * seq as i64,
        from: Some(user(from, from)),
        text: text.into(),
    }
}

fn joined(name: &str, history: Vec<pb::ChatMessage>) -> pb::RoomJoined {
    pb::RoomJoined {
        room: Some(pb::RoomInfo {
            name: name.into(),
            ..Default::default()
        }),
        last_seq: history.last().map_or(0, |msg| msg.seq),
        history,
        ..Default::default()
    }
}

fn app() -> App {
    let clock = Clock {
        offset: None,
        now_ms: Box::new(|| 0),
    };
    let mut app = App::new("server", Some("amy"), clock);
    app.net(NetEvent::LoggedIn {
        user: user("amy", "Amy"),
        rooms: vec![joined("", Vec::new()), joined("Rust", Vec::new())],
        resumed: false,
        dropped: Vec::new(),
    });
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Types a line and presses Enter; the requests it made.
fn enter(app: &mut App, line: &str) -> Vec<Request> {
    for c in line.chars() {
        assert!(app.key(key(KeyCode::Char(c))).is_empty());
    }
    app.key(key(KeyCode::Enter))
}

fn texts(app: &App, key: &ConvKey) -> Vec<String> {
    let conv = app
        .convs
        .iter()
        .find(|conv| conv.key == *key)
        .expect("conversation");
    conv.timeline
        .entries()
        .iter()
        .filter_map(|entry| match &entry.kind {
            EntryKind::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn login_form_sends_the_password_once_and_forgets_it() {
    let mut app = App::new("server", None, Clock::default());
    for c in "amy".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    assert!(
        app.key(key(KeyCode::Enter)).is_empty(),
        "Enter moves to the password"
    );
    for c in "pw".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    let requests = app.key(key(KeyCode::Enter));
    assert_eq!(
        requests,
        [Request::Login {
            username: "amy".into(),
            password: "pw".into()
        }]
    );
    assert_eq!(app.login.password.text(), "");
    assert!(app.login.busy);
    app.net(NetEvent::LoginFailed("wrong username or password".into()));
    assert_eq!(app.screen, Screen::Login);
    assert_eq!(app.login.focus, Field::Password);
    assert_eq!(
        app.notice.as_ref().map(|n| n.text.as_str()),
        Some("wrong username or password")
    );
}

#[test]
fn lines_go_to_the_conversation_in_view() {
    let mut app = app();
    assert_eq!(
        enter(&mut app, "hello"),
        [Request::Chat {
            room: String::new(),
            text: "hello".into()
        }]
    );
    app.key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
    assert_eq!(app.active, room_key("rust"));
    assert_eq!(
        enter(&mut app, "//etc/hosts is a path"),
        [Request::Chat {
            room: "Rust".into(),
            text: "/etc/hosts is a path".into()
        }]
    );
    // /w opens the conversation and sends; later lines go there too.
    let requests = enter(&mut app, "/w bo hi");
    assert_eq!(
        requests,
        [Request::Whisper {
            to: "bo".into(),
            text: "hi".into()
        }]
    );
    assert_eq!(app.active, whisper_key("bo"));
    assert_eq!(
        enter(&mut app, "still there?"),
        [Request::Whisper {
            to: "bo".into(),
            text: "still there?".into()
        }]
    );
    assert!(enter(&mut app, "/bogus").is_empty());
    assert!(app.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(
        enter(&mut app, "/topic x"),
        Vec::<Request>::new(),
        "no room in view"
    );
}

#[test]
fn own_messages_and_pushes_are_kept_once_in_order() {
    let mut app = app();
    let rust = room_key("rust");
    app.net(NetEvent::Push(Event::Chat(message("Rust", 1, "bo", "one"))));
    // The ack of the user's own message 3 before the push of 2.
    app.net(NetEvent::ChatSent {
        text: "three".into(),
        ack: pb::ChatAck {
            room: "Rust".into(),
            seq: 3,
            timestamp_ms: 3_000,
        },
    });
    app.net(NetEvent::Push(Event::Chat(message("Rust", 2, "bo", "two"))));
    // A resume returns 2 and 3 again.
    app.net(NetEvent::LoggedIn {
        user: user("amy", "Amy"),
        rooms: vec![joined(
            "Rust",
            vec![
                message("Rust", 2, "bo", "two"),
                message("Rust", 3, "amy", "three"),
                message("Rust", 4, "bo", "four"),
            ],
        )],
        resumed: true,
        dropped: Vec::new(),
    });
    assert_eq!(texts(&app, &rust), ["one", "two", "three", "four"]);
    let conv = app
        .convs
        .iter()
        .find(|conv| conv.key == rust)
        .expect("room");
    // 1, 2 and 4 arrived while the lobby was in view; 3 is the user's own.
    assert_eq!(conv.unread.counts().unread, 3);
}

#[test]
fn page_up_loads_older_history_until_the_start() {
    let mut app = app();
    let history: Vec<_> = (51..=100)
        .map(|seq| message("Rust", seq, "bo", "msg"))
        .collect();
    app.net(NetEvent::Joined(joined("Rust", history)));
    assert_eq!(app.active, room_key("rust"));
    let mut requests = Vec::new();
    for _ in 0..10 {
        requests.extend(app.key(key(KeyCode::PageUp)));
    }
    assert_eq!(
        requests,
        [Request::History {
            room: "Rust".into(),
            before_seq: 51
        }]
    );
    app.net(NetEvent::History(pb::HistoryPage {
        room: "Rust".into(),
        messages: (1..=50)
            .map(|seq| message("Rust", seq, "bo", "old"))
            .collect(),
        has_more: false,
    }));
    let conv = app.active_conv();
    assert_eq!(conv.timeline.oldest_seq(), Some(1));
    assert!(!conv.has_more);
    // At the start: no more requests.
    for _ in 0..20 {
        assert!(app.key(key(KeyCode::PageUp)).is_empty());
    }
    let width = app.message_width();
    let lines = transcript::lines(&app.clock, app.active_conv(), width);
    assert!(lines[0].to_string().contains("start of #Rust"));
}

#[test]
fn kicked_and_deleted_rooms_leave_the_sidebar() {
    let mut app = app();
    app.key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
    app.net(NetEvent::Push(Event::MemberLeft(pb::MemberLeft {
        room: "Rust".into(),
        user: Some(user("amy", "Amy")),
        reason: pb::LeaveReason::Kicked as i32,
        by: Some(user("bo", "Bo")),
        message: "spam".into(),
    })));
    assert_eq!(app.convs.len(), 1);
    assert_eq!(app.active, room_key(""));
    assert_eq!(
        app.notice.as_ref().map(|n| n.text.as_str()),
        Some("kicked from #Rust by Bo: spam")
    );
}

#[test]
fn completion_knows_commands_members_and_rooms() {
    let mut app = app();
    app.net(NetEvent::Push(Event::UserJoined(user("jisu", "지수"))));
    for c in "/jo".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Tab));
    assert_eq!(app.input.text(), "/join ");
    for c in "Ru".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Tab));
    assert_eq!(app.input.text(), "/join Rust ");
    app.input.clear();
    for c in "hi ji".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    app.key(key(KeyCode::Tab));
    assert_eq!(app.input.text(), "hi jisu ");
}

#[test]
fn presence_is_condensed_in_the_lobby() {
    let mut app = app();
    app.net(NetEvent::Push(Event::UserJoined(user("bo", "Bo"))));
    app.net(NetEvent::Push(Event::UserJoined(user("cy", "Cy"))));
    app.net(NetEvent::Push(Event::UserLeft(user("bo", "Bo"))));
    let entries = app.active_conv().timeline.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].kind,
        EntryKind::Presence {
            joined: vec!["Bo".into(), "Cy".into()],
            left: vec!["Bo".into()],
        }
    );
}
