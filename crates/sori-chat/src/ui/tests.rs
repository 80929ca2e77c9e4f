//! Rendering tests: the app drawn into ratatui's `TestBackend`, read back
//! as the text a terminal would show (a wide character's second cell is
//! skipped, as the terminal draws it under the first).

use chrono::{FixedOffset, TimeZone as _};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use sori_protocol::pb;
use unicode_width::UnicodeWidthStr as _;

use super::*;
use crate::clock::Clock;
use crate::exchange::NetEvent;

/// Korea's offset: the tests' local time zone.
fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// Milliseconds since the epoch of a KST wall-clock time in March 2026.
fn at(day: u32, hour: u32, minute: u32) -> i64 {
    kst()
        .with_ymd_and_hms(2026, 3, day, hour, minute, 0)
        .single()
        .expect("valid time")
        .timestamp_millis()
}

fn user(username: &str, display_name: &str) -> pb::UserInfo {
    pb::UserInfo {
        username: username.into(),
        display_name: display_name.into(),
    }
}

fn message(room: &str, seq: u64, ts: i64, from: (&str, &str), text: &str) -> pb::ChatMessage {
    pb::ChatMessage {
        room: room.into(),
        seq,
        timestamp_ms: ts,
        from: Some(user(from.0, from.1)),
        text: text.into(),
    }
}

fn joined(name: &str, topic: &str, history: Vec<pb::ChatMessage>) -> pb::RoomJoined {
    pb::RoomJoined {
        room: Some(pb::RoomInfo {
            name: name.into(),
            topic: topic.into(),
            ..Default::default()
        }),
        last_seq: history.last().map_or(0, |msg| msg.seq),
        history,
        ..Default::default()
    }
}

fn new_app(columns: u16, rows: u16) -> App {
    let clock = Clock {
        offset: Some(kst()),
        now_ms: Box::new(|| at(3, 9, 30)),
    };
    let mut app = App::new("127.0.0.1:5252", Some("amy"), clock);
    app.resize(columns, rows);
    app
}

/// An app logged in as amy (display name Amy), in the lobby, a member of
/// #rust with two days of history.
fn logged_in(columns: u16, rows: u16) -> App {
    let mut app = new_app(columns, rows);
    app.net(NetEvent::Connection(ConnState::Online));
    let history = vec![
        message("rust", 1, at(2, 23, 50), ("bo", "Bo"), "good night"),
        message("rust", 2, at(3, 8, 0), ("bo", "Bo"), "morning"),
        message("rust", 3, at(3, 8, 1), ("amy", "Amy"), "hi Bo"),
    ];
    app.net(NetEvent::LoggedIn {
        user: user("amy", "Amy"),
        rooms: vec![
            joined("", "", Vec::new()),
            joined("rust", "Rust talk", history),
        ],
        resumed: false,
        dropped: Vec::new(),
    });
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.key(key(KeyCode::Char(c)));
    }
}

/// Draws the app and returns the screen as text, one line per row, with
/// trailing spaces cut, and the cursor.
fn render(app: &App) -> (Vec<String>, (u16, u16)) {
    let (columns, rows) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(columns, rows)).expect("terminal");
    terminal.draw(|frame| draw(frame, app)).expect("draw");
    let cursor = terminal.get_cursor_position().expect("cursor");
    (screen(terminal.backend().buffer()), (cursor.x, cursor.y))
}

fn screen(buffer: &Buffer) -> Vec<String> {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let mut line = String::new();
            let mut x = 0;
            while x < area.width {
                let symbol = buffer[(x, y)].symbol();
                line.push_str(symbol);
                x += symbol.width().max(1) as u16;
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[track_caller]
fn assert_has(lines: &[String], expected: &str) {
    assert!(
        lines.iter().any(|line| line == expected),
        "no line {expected:?} in:\n{}",
        lines.join("\n")
    );
}

#[test]
fn login_screen() {
    let app = new_app(80, 24);
    let (lines, cursor) = render(&app);
    assert_eq!(
        lines[6],
        "            ┌ Sori — log in ───────────────────────────────────────┐"
    );
    assert_eq!(
        lines[8],
        "            │ Server     127.0.0.1:5252                            │"
    );
    assert_eq!(
        lines[9],
        "            │ Username   amy                                       │"
    );
    assert_eq!(
        lines[10],
        "            │ Password                                             │"
    );
    assert_eq!(
        lines[12],
        "            │ Enter: log in · Tab: next field                      │"
    );
    assert_eq!(
        lines[13],
        "            │ F2: register a new account · Esc: quit               │"
    );
    assert_eq!(lines[23], " ○ 127.0.0.1:5252");
    // The cursor waits in the password field.
    assert_eq!(cursor, (25, 10));
}

#[test]
fn login_screen_masks_the_password_and_registers() {
    let mut app = new_app(80, 24);
    type_text(&mut app, "hunter2");
    app.key(key(KeyCode::F(2)));
    app.key(key(KeyCode::Tab));
    type_text(&mut app, "에이미");
    let (lines, cursor) = render(&app);
    assert_has(
        &lines,
        "            ┌ Sori — register ─────────────────────────────────────┐",
    );
    assert_has(
        &lines,
        "            │ Password   •••••••                                   │",
    );
    assert_has(
        &lines,
        "            │ Name       에이미                                    │",
    );
    assert!(!lines.iter().any(|line| line.contains("hunter2")));
    // After three two-column syllables.
    assert_eq!(cursor, (25 + 6, 11));
}

#[test]
fn room_with_messages_and_date_separators() {
    let mut app = logged_in(80, 24);
    app.key(ctrl('n'));
    let (lines, _) = render(&app);
    let expected_tail = [
        "                 │── start of #rust ────────────────────────────────────────────",
        "                 │── Monday, 2 March 2026 ──────────────────────────────────────",
        "                 │23:50 Bo: good night",
        "                 │── Tuesday, 3 March 2026 ─────────────────────────────────────",
        "                 │08:00 Bo: morning",
        "                 │08:01 Amy: hi Bo",
        " ● amy @ 127.0.0.1:5252 │ logged in as Amy — /help for commands",
        "#rust>",
    ];
    assert_eq!(lines[0], " #rust — Rust talk");
    assert_eq!(&lines[16..], expected_tail);
}

#[test]
fn sidebar_badges_and_read_marker() {
    let mut app = logged_in(80, 24);
    let push = |app: &mut App, seq: u64, text: &str| {
        let msg = message("rust", seq, at(3, 9, seq as u32), ("bo", "Bo"), text);
        app.net(NetEvent::Push(sori_client::Event::Chat(msg)));
    };
    push(&mut app, 4, "anyone around?");
    push(&mut app, 5, "amy: are you there");
    push(&mut app, 6, "never mind");
    app.net(NetEvent::Push(sori_client::Event::Whisper(
        pb::WhisperMessage {
            from: Some(user("jisu", "지수")),
            text: "안녕!".into(),
            timestamp_ms: at(3, 9, 10),
            offline: false,
        },
    )));
    let (lines, _) = render(&app);
    assert_eq!(
        &lines[1..6],
        [
            " Rooms           │",
            " lobby           │",
            " #rust      3 @1 │",
            " Whispers        │",
            " @지수      1 @1 │",
        ]
    );

    // Opening the room reads it, and the marker sits above the first
    // message that came while the user was away.
    app.key(ctrl('n'));
    let (lines, _) = render(&app);
    assert_eq!(lines[3], " #rust           │");
    let marker = lines
        .iter()
        .position(|line| line.contains("new since you were here"))
        .expect("read marker");
    assert_eq!(
        lines[marker + 1],
        "                 │09:04 Bo: anyone around?"
    );
    assert_eq!(lines[marker - 1], "                 │08:01 Amy: hi Bo");
}

#[test]
fn korean_and_emoji_are_aligned_at_80x24() {
    let mut app = logged_in(80, 24);
    let text = "안녕하세요 여러분 👋 오늘 저녁에 같이 러스트 공부할 사람 있나요? 🦀🦀 \
                장소는 도서관 3층입니다";
    let msg = message("", 1, at(3, 9, 20), ("jisu", "지수"), text);
    app.net(NetEvent::Push(sori_client::Event::Chat(msg)));
    type_text(&mut app, "네 좋아요 👍");
    let (lines, cursor) = render(&app);
    let expected = [
        "                 │09:20 지수: 안녕하세요 여러분 👋 오늘 저녁에 같이 러스트",
        "                 │            공부할 사람 있나요? 🦀🦀 장소는 도서관 3층입니다",
    ];
    assert_eq!(&lines[20..22], expected);
    // Every row is exactly as wide as the terminal (padding included) and
    // the sidebar's border stays in column 17.
    let (columns, rows) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(columns, rows)).expect("terminal");
    terminal.draw(|frame| draw(frame, &app)).expect("draw");
    for row in 1..22 {
        assert_eq!(
            terminal.backend().buffer()[(17, row)].symbol(),
            "│",
            "row {row}"
        );
    }
    assert_eq!(lines[23], "lobby> 네 좋아요 👍");
    // "lobby> " is 7 columns, the input 12.
    assert_eq!(cursor, (19, 23));
}

#[test]
fn long_names_and_text_are_cut_by_width() {
    let mut app = logged_in(40, 12);
    let msg = message(
        "",
        1,
        at(3, 9, 20),
        ("x", "아주아주아주긴이름입니다"),
        "가나다라마바사아자차카타파하",
    );
    app.net(NetEvent::Push(sori_client::Event::Chat(msg)));
    let (lines, _) = render(&app);
    for line in &lines {
        assert!(line.width() <= 40, "{line:?} is wider than the terminal");
    }
    assert_has(&lines, "         │09:20 아주아주아주긴…: 가나다");
    assert_has(&lines, "         │      라마바사아자차카타파하");
}

#[test]
fn help_screen() {
    let mut app = logged_in(80, 24);
    type_text(&mut app, "/help");
    app.key(key(KeyCode::Enter));
    let (lines, _) = render(&app);
    assert_eq!(
        lines[1],
        "┌ Help — Esc closes ───────────────────────────────────────────────────────────┐"
    );
    assert_eq!(
        lines[2],
        "│ Commands                                            Keys                     │"
    );
    assert_eq!(
        lines[3],
        "│ /join ROOM                join or open a room       Enter      send          │"
    );
    assert_has(
        &lines,
        "│ /w NAME [TEXT]            whisper, or open a chat   PgUp/PgDn  scroll, older │",
    );
    assert_has(
        &lines,
        "│ /quit                     exit                                               │",
    );
    app.key(key(KeyCode::Esc));
    let (lines, _) = render(&app);
    assert!(!lines.iter().any(|line| line.contains("Help")));
}

#[test]
fn members_on_a_wide_terminal() {
    let mut app = logged_in(120, 24);
    app.key(ctrl('n'));
    app.net(NetEvent::Members {
        room: "rust".into(),
        members: vec![
            pb::Member {
                user: Some(user("bo", "Bo")),
                role: pb::RoomRole::Member as i32,
                online: true,
            },
            pb::Member {
                user: Some(user("amy", "Amy")),
                role: pb::RoomRole::Owner as i32,
                online: true,
            },
        ],
        show: false,
    });
    let (lines, _) = render(&app);
    assert!(lines[1].ends_with("│ Members (2)"), "{:?}", lines[1]);
    assert!(lines[2].ends_with("│ ~Amy"), "{:?}", lines[2]);
    assert!(lines[3].ends_with("│ Bo"), "{:?}", lines[3]);
    // F2 hides it.
    app.key(key(KeyCode::F(2)));
    let (lines, _) = render(&app);
    assert!(!lines[1].contains("Members"));
}

#[test]
fn status_line_shows_reconnects_and_errors() {
    let mut app = logged_in(80, 24);
    app.net(NetEvent::Connection(ConnState::Reconnecting {
        attempt: 2,
        reason: "connection lost".into(),
    }));
    let (lines, _) = render(&app);
    assert!(
        lines[22].starts_with(" reconnecting… (try 2: connection lost)"),
        "{:?}",
        lines[22]
    );
    app.net(NetEvent::Connection(ConnState::Resumed));
    app.net(NetEvent::Failed {
        what: "join #den".into(),
        message: "the room is invite-only".into(),
    });
    let (lines, _) = render(&app);
    assert_eq!(lines[22], " ● resumed │ join #den: the room is invite-only");
}
