//! [`App`]: the whole client as a state machine, with no terminal and no
//! sockets. Keys and [`NetEvent`](crate::exchange::NetEvent)s go in,
//! [`Request`]s come out, and `ui::draw` renders whatever state it is in.
//! Tests drive it directly.
//!
//! This file holds the state and its small helpers; the work is split by
//! what comes in: [`login`] is the login form, `keys` takes key presses,
//! `commands` carries out what is entered on the chat screen, `net_event`
//! takes in the network task's events and `push` the server's pushes, and
//! `sidebar` keeps the list of conversations and the one in view.

use std::collections::BTreeSet;

use sori_protocol::pb;

use crate::app::login::{Field, LoginForm};
use crate::clock::Clock;
use crate::conversation::{ConvKey, Conversation, room_key};
use crate::exchange::{ConnState, Request};
use crate::input::Input;
use crate::layout;

pub mod login;

mod commands;
mod keys;
mod net_event;
mod push;
mod sidebar;

/// The terminal client's state.
pub struct App {
    /// The server's address, for the login screen and the status line.
    pub server: String,
    /// Which screen is up.
    pub screen: Screen,
    /// The login form.
    pub login: LoginForm,
    /// This user, once logged in.
    pub me: Option<pb::UserInfo>,
    /// The sidebar: rooms (the lobby first, then by name), then whisper
    /// conversations in the order they started.
    pub convs: Vec<Conversation>,
    /// The conversation in view. A key, not an index: conversations come
    /// and go while it is shown.
    pub active: ConvKey,
    /// The input line.
    pub input: Input,
    /// The connection's state.
    pub conn: ConnState,
    /// The latest notice for the status line.
    pub notice: Option<Notice>,
    /// The help screen is up.
    pub help: bool,
    /// The member list: `None` shows it when the terminal is wide enough.
    pub members_shown: Option<bool>,
    /// The terminal's size, in columns and rows.
    pub size: (u16, u16),
    /// How times are shown.
    pub clock: Clock,
    /// Usernames seen, for completion.
    known_users: BTreeSet<String>,
    quit: bool,
}

/// The two screens; help is drawn over the chat screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The login or register form.
    Login,
    /// Rooms and conversations.
    Chat,
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// An error (shown in red) rather than information.
    pub error: bool,
}

impl App {
    /// A new app for `server`, at the login screen, with `username` filled
    /// in if given.
    pub fn new(server: &str, username: Option<&str>, clock: Clock) -> Self {
        let mut login = LoginForm::default();
        if let Some(username) = username {
            login.username.set(username);
            login.focus = Field::Password;
        }
        App {
            server: server.to_owned(),
            screen: Screen::Login,
            login,
            me: None,
            convs: vec![Conversation::new(room_key(""), "")],
            active: room_key(""),
            input: Input::default(),
            conn: ConnState::Idle,
            notice: None,
            help: false,
            members_shown: None,
            size: (80, 24),
            clock,
            known_users: BTreeSet::new(),
            quit: false,
        }
    }

    /// Whether the user asked to quit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The conversation in view.
    pub fn active_conv(&self) -> &Conversation {
        self.convs
            .iter()
            .find(|conv| conv.key == self.active)
            // The lobby is never removed, and `active` falls back to it.
            .unwrap_or(&self.convs[0])
    }

    /// Whether the member list is shown at the current size.
    pub fn members_visible(&self) -> bool {
        self.screen == Screen::Chat
            && self
                .members_shown
                .unwrap_or(self.size.0 >= layout::WIDE_COLUMNS)
    }

    /// Starts a login with the stored session token, before the user types
    /// anything.
    pub fn resume_with_token(&mut self) -> Vec<Request> {
        self.login.busy = true;
        self.say("logging in with the saved session…");
        vec![Request::Resume]
    }

    /// Takes in the terminal's new size.
    pub fn resize(&mut self, columns: u16, rows: u16) {
        self.size = (columns, rows);
    }

    fn quit(&mut self) -> Vec<Request> {
        self.quit = true;
        vec![Request::Quit]
    }

    fn now(&self) -> i64 {
        (self.clock.now_ms)()
    }

    fn say(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            error: true,
        });
    }
}

/// The sigil shown before a member's name for their role.
pub fn role_sigil(role: pb::RoomRole) -> &'static str {
    match role {
        pb::RoomRole::Owner => "~",
        pb::RoomRole::Operator => "@",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
